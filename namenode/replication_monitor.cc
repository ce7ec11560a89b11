#include "namenode/replication_monitor.h"

#include <algorithm>

#include "common/logging.h"

namespace cairn::namenode {

using cairn::v1::DataNodeCommand;

NodeStates SnapshotNodeStates(const DataNodeManager& datanodes) {
  NodeStates out;
  for (const auto& n : datanodes.Snapshot()) {
    out[n.uuid] = {n.liveness, n.admin, n.storage.remaining_bytes()};
  }
  return out;
}

BlockHealth AssessBlock(const BlockEntry& b, const NodeStates& nodes) {
  BlockHealth h;
  for (const auto& [uuid, r] : b.replicas) {
    auto it = nodes.find(uuid);
    const bool usable = it != nodes.end() && it->second.liveness != Liveness::kDead;
    if (!usable) continue;
    h.holders.push_back(uuid);
    if (r.corrupt) {
      h.corrupt.push_back(uuid);
      continue;
    }
    const bool good = r.finalized && r.generation_stamp == b.generation_stamp && r.length == b.length;
    if (!good) continue;
    h.good.push_back(uuid);
    if (it->second.admin == AdminState::kNormal) h.good_in_service.push_back(uuid);
  }
  return h;
}

void ReplicationMonitor::TakeFailedTransfers(int64_t now) {
  for (auto it = cooling_.begin(); it != cooling_.end();) {
    it = now >= it->second.until_ms ? cooling_.erase(it) : std::next(it);
  }
  for (const FailedTransfer& f : datanodes_->TakeFailedTransfers()) {
    auto pit = pending_.find(f.block_id);
    if (pit == pending_.end() || pit->second.source != f.source) continue;  // already handled
    LOG(INFO) << "replication of blk_" << f.block_id << " failed on " << f.source
              << "; scheduling it again";
    datanodes_->AddScheduledTransfers(pit->second.source, -1);
    pending_.erase(pit);
    if (!f.targets.empty()) {
      Cooling& c = cooling_[f.block_id];
      c.targets.insert(f.targets.begin(), f.targets.end());
      c.until_ms = now + pending_timeout_ms_ / 4;
    }
  }
}

void ReplicationMonitor::Run() {
  const int64_t now = now_ms_();
  TakeFailedTransfers(now);
  const NodeStates nodes = SnapshotNodeStates(*datanodes_);

  struct Work {
    uint64_t block_id;
    BlockEntry entry;
    BlockHealth health;
    int needed;
  };
  std::vector<Work> under;
  std::vector<std::pair<uint64_t, std::string>> deletions;
  std::map<std::string, bool> decommission_done;  // decommissioning node -> all safe so far
  for (const auto& [uuid, st] : nodes) {
    if (st.admin == AdminState::kDecommissioning) decommission_done[uuid] = true;
  }

  blocks_->ForEach([&](uint64_t id, const BlockEntry& b) {
    if (!b.complete) {
      for (const auto& u : b.pipeline) {
        if (decommission_done.count(u)) decommission_done[u] = false;
      }
      for (const auto& [u, r] : b.replicas) {
        if (decommission_done.count(u)) decommission_done[u] = false;
      }
      return;
    }
    BlockHealth h = AssessBlock(b, nodes);
    const int want = static_cast<int>(b.replication);
    const int in_service = static_cast<int>(h.good_in_service.size());
    if (in_service < want) {
      for (const auto& u : h.good) {
        if (decommission_done.count(u)) decommission_done[u] = false;
      }
    }
    auto pit = pending_.find(id);
    if (pit != pending_.end()) {
      bool all_there = true;
      for (const auto& t : pit->second.targets) {
        all_there &= std::find(h.good.begin(), h.good.end(), t) != h.good.end();
      }
      if (all_there || now >= pit->second.deadline_ms || in_service >= want) {
        if (!all_there && now >= pit->second.deadline_ms) {
          LOG(WARNING) << "replication of blk_" << id << " timed out; scheduling it again";
        }
        datanodes_->AddScheduledTransfers(pit->second.source, -1);
        pending_.erase(pit);
      } else {
        return;  // in flight
      }
    }
    if (h.good.empty()) return;  // missing or all corrupt: fsck reports it
    if (in_service < want) {
      under.push_back({id, b, h, want - in_service});
      return;
    }
    // Enough good replicas: corrupt ones can go.
    for (const auto& u : h.corrupt) deletions.emplace_back(id, u);
    // Excess: delete from in-service nodes with the least free space.
    if (in_service > want) {
      std::vector<std::string> victims = h.good_in_service;
      std::sort(victims.begin(), victims.end(), [&](const std::string& a, const std::string& c) {
        return nodes.at(a).remaining < nodes.at(c).remaining;
      });
      for (int i = 0; i < in_service - want; ++i) deletions.emplace_back(id, victims[i]);
    }
  });

  for (const auto& [id, uuid] : deletions) {
    VLOG(1) << "deleting replica of blk_" << id << " on " << uuid;
    blocks_->InvalidateReplica(id, uuid);
  }

  // Fewest live replicas first.
  std::stable_sort(under.begin(), under.end(), [](const Work& a, const Work& b) {
    return a.health.good.size() < b.health.good.size();
  });
  std::map<std::string, int> scheduled;
  for (const auto& n : datanodes_->Snapshot()) scheduled[n.uuid] = static_cast<int>(n.scheduled_transfers);
  for (const Work& w : under) {
    // Source: a good replica on the least busy node (decommissioning nodes may serve).
    std::string source;
    for (const auto& u : w.health.good) {
      if (nodes.at(u).liveness != Liveness::kLive && nodes.at(u).liveness != Liveness::kStale) continue;
      if (scheduled[u] >= max_streams_per_node_) continue;
      if (source.empty() || scheduled[u] < scheduled[source]) source = u;
    }
    if (source.empty()) continue;
    std::set<std::string> excluded(w.health.holders.begin(), w.health.holders.end());
    for (const auto& [u, r] : w.entry.replicas) excluded.insert(u);
    if (auto cit = cooling_.find(w.block_id); cit != cooling_.end()) {
      excluded.insert(cit->second.targets.begin(), cit->second.targets.end());
    }
    auto targets = datanodes_->ChooseTargets(w.needed, excluded, "", w.entry.length);
    if (!targets.ok() || targets->empty()) continue;
    DataNodeCommand cmd;
    cmd.set_kind(DataNodeCommand::KIND_REPLICATE);
    auto* blk = cmd.add_blocks();
    blk->set_block_id(w.block_id);
    blk->set_generation_stamp(w.entry.generation_stamp);
    blk->set_length_bytes(w.entry.length);
    Pending p;
    p.source = source;
    p.deadline_ms = now + pending_timeout_ms_;
    for (const auto& t : *targets) {
      *cmd.add_targets() = t;
      p.targets.push_back(t.datanode_uuid());
    }
    datanodes_->QueueCommand(source, std::move(cmd));
    datanodes_->AddScheduledTransfers(source, +1);
    ++scheduled[source];
    pending_[w.block_id] = std::move(p);
    VLOG(1) << "replicating blk_" << w.block_id << " from " << source << " to "
            << targets->size() << " node(s)";
  }

  for (const auto& [uuid, done] : decommission_done) {
    if (!done) continue;
    datanodes_->SetAdminState(uuid, AdminState::kDecommissioned, nullptr).IgnoreError();
    LOG(INFO) << "DataNode " << uuid << " is decommissioned: every block it held is safe elsewhere";
  }
}

}  // namespace cairn::namenode
