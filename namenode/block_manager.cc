#include "namenode/block_manager.h"

#include "common/logging.h"

namespace cairn::namenode {

using cairn::v1::DataNodeCommand;

bool BlockManager::IsGood(const BlockEntry& b, const ReplicaState& r) const {
  return r.finalized && !r.corrupt && r.generation_stamp == b.generation_stamp &&
         (!b.complete || r.length == b.length);
}

void BlockManager::ScheduleDelete(const std::string& uuid, uint64_t block_id, uint64_t gs) {
  DataNodeCommand cmd;
  cmd.set_kind(DataNodeCommand::KIND_DELETE);
  auto* b = cmd.add_blocks();
  b->set_block_id(block_id);
  b->set_generation_stamp(gs);
  datanodes_->QueueCommand(uuid, std::move(cmd));
}

void BlockManager::LoadFile(const cairn::v1::InodeRecord& inode) {
  absl::MutexLock l(&mu_);
  for (const auto& rec : inode.blocks()) {
    BlockEntry& b = blocks_[rec.block_id()];
    b.inode_id = inode.inode_id();
    b.generation_stamp = rec.generation_stamp();
    b.length = rec.length_bytes();
    b.replication = inode.replication();
    b.complete = rec.state() == cairn::v1::BLOCK_STATE_COMPLETE;
  }
}

void BlockManager::AddUnderConstruction(uint64_t block_id, uint64_t inode_id, uint64_t gs,
                                        uint32_t replication,
                                        const std::vector<std::string>& pipeline) {
  absl::MutexLock l(&mu_);
  BlockEntry& b = blocks_[block_id];
  b.inode_id = inode_id;
  b.generation_stamp = gs;
  b.length = 0;
  b.replication = replication;
  b.complete = false;
  b.pipeline = pipeline;
}

void BlockManager::Commit(uint64_t block_id, uint64_t gs, uint64_t length) {
  absl::MutexLock l(&mu_);
  auto it = blocks_.find(block_id);
  if (it == blocks_.end()) return;
  BlockEntry& b = it->second;
  b.generation_stamp = gs;
  b.length = length;
  b.complete = true;
  b.pipeline.clear();
  // Replicas that cannot match the committed block are stale.
  for (auto rit = b.replicas.begin(); rit != b.replicas.end();) {
    const ReplicaState& r = rit->second;
    if (r.generation_stamp < gs || (r.finalized && r.length != length)) {
      ScheduleDelete(rit->first, block_id, r.generation_stamp);
      by_node_[rit->first].erase(block_id);
      rit = b.replicas.erase(rit);
    } else {
      ++rit;
    }
  }
}

void BlockManager::UpdateLength(uint64_t block_id, uint64_t length) {
  absl::MutexLock l(&mu_);
  auto it = blocks_.find(block_id);
  if (it != blocks_.end() && !it->second.complete && length > it->second.length) {
    it->second.length = length;
  }
}

void BlockManager::UpdatePipeline(uint64_t block_id, uint64_t gs,
                                  const std::vector<std::string>& pipeline) {
  absl::MutexLock l(&mu_);
  auto it = blocks_.find(block_id);
  if (it == blocks_.end()) return;
  it->second.generation_stamp = gs;
  it->second.pipeline = pipeline;
  for (auto rit = it->second.replicas.begin(); rit != it->second.replicas.end();) {
    if (rit->second.generation_stamp < gs) {
      by_node_[rit->first].erase(block_id);
      rit = it->second.replicas.erase(rit);
    } else {
      ++rit;
    }
  }
}

void BlockManager::SetReplication(const std::vector<uint64_t>& block_ids, uint32_t replication) {
  absl::MutexLock l(&mu_);
  for (uint64_t id : block_ids) {
    auto it = blocks_.find(id);
    if (it != blocks_.end()) it->second.replication = replication;
  }
}

void BlockManager::Remove(const std::vector<cairn::v1::BlockRecord>& blocks) {
  absl::MutexLock l(&mu_);
  for (const auto& rec : blocks) {
    auto it = blocks_.find(rec.block_id());
    if (it == blocks_.end()) continue;
    std::set<std::string> holders;
    for (const auto& [uuid, r] : it->second.replicas) holders.insert(uuid);
    for (const auto& uuid : it->second.pipeline) holders.insert(uuid);
    for (const auto& uuid : holders) {
      ScheduleDelete(uuid, rec.block_id(), it->second.generation_stamp);
      by_node_[uuid].erase(rec.block_id());
    }
    blocks_.erase(it);
  }
}

void BlockManager::AddReplicaLocked(uint64_t block_id, const std::string& uuid,
                                    const cairn::v1::ReplicaReport& r, bool full_report) {
  auto it = blocks_.find(block_id);
  const uint64_t gs = r.block().generation_stamp();
  if (it == blocks_.end()) {
    VLOG(1) << "DataNode " << uuid << " holds unknown blk_" << block_id << ": delete";
    ScheduleDelete(uuid, block_id, gs);
    return;
  }
  BlockEntry& b = it->second;
  const bool finalized = r.state() == cairn::v1::REPLICA_STATE_FINALIZED;
  if (gs < b.generation_stamp) {
    VLOG(1) << "DataNode " << uuid << " holds stale blk_" << block_id << "_" << gs << ": delete";
    ScheduleDelete(uuid, block_id, gs);
    b.replicas.erase(uuid);
    by_node_[uuid].erase(block_id);
    return;
  }
  if (gs > b.generation_stamp) return;  // ahead of the namespace: ignore until it catches up
  if (full_report && b.complete && !finalized) {
    // A copy that stopped before the end (its writer or the DataNode went away): useless.
    VLOG(1) << "DataNode " << uuid << " holds an unfinished copy of complete blk_" << block_id;
    ScheduleDelete(uuid, block_id, gs);
    b.replicas.erase(uuid);
    by_node_[uuid].erase(block_id);
    return;
  }
  if (b.complete && finalized && r.block().length_bytes() != b.length) {
    LOG(WARNING) << "DataNode " << uuid << " holds blk_" << block_id << "_" << gs << " with "
                 << r.block().length_bytes() << " bytes, expected " << b.length << ": corrupt";
    ReplicaState& rs = b.replicas[uuid];
    rs = {gs, r.block().length_bytes(), true, true};
    by_node_[uuid].insert(block_id);
    return;
  }
  ReplicaState& rs = b.replicas[uuid];
  const bool was_corrupt = rs.corrupt && rs.generation_stamp == gs;
  rs.generation_stamp = gs;
  rs.length = r.block().length_bytes();
  rs.finalized = finalized;
  rs.corrupt = was_corrupt;
  by_node_[uuid].insert(block_id);
}

void BlockManager::ProcessFullReport(
    const std::string& uuid,
    const google::protobuf::RepeatedPtrField<cairn::v1::ReplicaReport>& reports) {
  absl::MutexLock l(&mu_);
  std::set<uint64_t> reported;
  for (const auto& r : reports) {
    reported.insert(r.block().block_id());
    AddReplicaLocked(r.block().block_id(), uuid, r, /*full_report=*/true);
  }
  auto& held = by_node_[uuid];
  for (auto it = held.begin(); it != held.end();) {
    if (reported.count(*it)) {
      ++it;
      continue;
    }
    auto bit = blocks_.find(*it);
    if (bit != blocks_.end()) bit->second.replicas.erase(uuid);
    it = held.erase(it);
  }
  datanodes_->SetBlockCount(uuid, held.size());
}

void BlockManager::ProcessIncremental(const cairn::v1::ReportIncrementalBlocksRequest& req) {
  absl::MutexLock l(&mu_);
  const std::string& uuid = req.datanode_uuid();
  for (const auto& r : req.received()) {
    AddReplicaLocked(r.block().block_id(), uuid, r, /*full_report=*/false);
  }
  for (const auto& d : req.deleted()) {
    auto it = blocks_.find(d.block_id());
    if (it != blocks_.end()) {
      auto rit = it->second.replicas.find(uuid);
      if (rit != it->second.replicas.end() && rit->second.generation_stamp <= d.generation_stamp()) {
        it->second.replicas.erase(rit);
      }
    }
    by_node_[uuid].erase(d.block_id());
  }
  datanodes_->SetBlockCount(uuid, by_node_[uuid].size());
}

void BlockManager::MarkCorrupt(uint64_t block_id, uint64_t gs, const std::string& uuid) {
  absl::MutexLock l(&mu_);
  auto it = blocks_.find(block_id);
  if (it == blocks_.end()) return;
  auto rit = it->second.replicas.find(uuid);
  if (rit == it->second.replicas.end() || rit->second.generation_stamp != gs) return;
  if (!rit->second.corrupt) {
    LOG(WARNING) << "replica of blk_" << block_id << "_" << gs << " on " << uuid << " is corrupt";
  }
  rit->second.corrupt = true;
}

void BlockManager::RemoveDataNode(const std::string& uuid) {
  absl::MutexLock l(&mu_);
  auto it = by_node_.find(uuid);
  if (it == by_node_.end()) return;
  for (uint64_t id : it->second) {
    auto bit = blocks_.find(id);
    if (bit != blocks_.end()) bit->second.replicas.erase(uuid);
  }
  by_node_.erase(it);
}

Status BlockManager::Locate(uint64_t block_id, cairn::v1::LocatedBlock* out) const {
  std::vector<std::string> good;
  bool corrupt = false;
  {
    absl::MutexLock l(&mu_);
    auto it = blocks_.find(block_id);
    if (it == blocks_.end()) return absl::NotFoundError("unknown block");
    const BlockEntry& b = it->second;
    out->mutable_block()->set_block_id(block_id);
    out->mutable_block()->set_generation_stamp(b.generation_stamp);
    out->mutable_block()->set_length_bytes(b.length);
    out->set_under_construction(!b.complete);
    if (b.complete) {
      bool any_corrupt = false;
      for (const auto& [uuid, r] : b.replicas) {
        if (IsGood(b, r)) good.push_back(uuid);
        any_corrupt |= r.corrupt;
      }
      corrupt = good.empty() && any_corrupt;
    } else {
      // Under construction: the pipeline; each DataNode serves only bytes it has.
      good = b.pipeline;
      for (const auto& [uuid, r] : b.replicas) {
        if (!r.corrupt && r.generation_stamp == b.generation_stamp &&
            std::find(good.begin(), good.end(), uuid) == good.end()) {
          good.push_back(uuid);
        }
      }
    }
  }
  out->set_corrupt(corrupt);
  for (auto& id : datanodes_->SortForRead(good)) *out->add_locations() = std::move(id);
  return absl::OkStatus();
}

int BlockManager::GoodReplicas(uint64_t block_id) const {
  std::vector<std::string> good;
  {
    absl::MutexLock l(&mu_);
    auto it = blocks_.find(block_id);
    if (it == blocks_.end()) return 0;
    for (const auto& [uuid, r] : it->second.replicas) {
      if (IsGood(it->second, r)) good.push_back(uuid);
    }
  }
  int n = 0;
  for (const auto& u : good) n += datanodes_->IsUsableSource(u) ? 1 : 0;
  return n;
}

BlockCounts BlockManager::Counts() const {
  absl::MutexLock l(&mu_);
  BlockCounts c;
  for (const auto& [id, b] : blocks_) {
    if (!b.complete) {
      ++c.under_construction;
      continue;
    }
    ++c.total;
    for (const auto& [uuid, r] : b.replicas) {
      if (IsGood(b, r)) {
        ++c.with_replica;
        break;
      }
    }
  }
  return c;
}

uint64_t BlockManager::BlocksOn(const std::string& uuid) const {
  absl::MutexLock l(&mu_);
  auto it = by_node_.find(uuid);
  return it == by_node_.end() ? 0 : it->second.size();
}

bool BlockManager::Get(uint64_t block_id, BlockEntry* out) const {
  absl::MutexLock l(&mu_);
  auto it = blocks_.find(block_id);
  if (it == blocks_.end()) return false;
  *out = it->second;
  return true;
}

void BlockManager::ForEach(const std::function<void(uint64_t, const BlockEntry&)>& fn) const {
  absl::MutexLock l(&mu_);
  for (const auto& [id, b] : blocks_) fn(id, b);
}

void BlockManager::InvalidateReplica(uint64_t block_id, const std::string& uuid) {
  absl::MutexLock l(&mu_);
  auto it = blocks_.find(block_id);
  if (it == blocks_.end()) return;
  auto rit = it->second.replicas.find(uuid);
  if (rit == it->second.replicas.end()) return;
  ScheduleDelete(uuid, block_id, rit->second.generation_stamp);
  it->second.replicas.erase(rit);
  by_node_[uuid].erase(block_id);
}

}  // namespace cairn::namenode
