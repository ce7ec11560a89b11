#include "namenode/datanode_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace cairn::namenode {

using cairn::v1::DataNodeCommand;
using cairn::v1::DataNodeId;

std::string HostOf(const std::string& address) {
  auto colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

DataNodeManager::DataNodeManager(DataNodeManagerOptions options, std::function<int64_t()> now_ms)
    : options_(std::move(options)), now_ms_(std::move(now_ms)) {}

Status DataNodeManager::Register(const cairn::v1::RegisterDataNodeRequest& req,
                                 cairn::v1::RegisterDataNodeResponse* resp) {
  // A new DataNode (no cluster id yet) joins; a formatted one must be of this cluster.
  if (!req.cluster_id().empty() && req.cluster_id() != options_.cluster_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "DataNode ", req.datanode_uuid(), " belongs to cluster '", req.cluster_id(),
        "', this NameNode serves '", options_.cluster_id, "'"));
  }
  if (req.datanode_uuid().empty() || req.address().empty() || req.datanode_uuid().size() > 128 ||
      req.address().size() > 256) {
    return absl::InvalidArgumentError("registration needs a DataNode uuid and address");
  }
  {
    absl::MutexLock l(&mu_);
    auto& node = nodes_[req.datanode_uuid()];
    const bool is_new = node.uuid.empty();
    node.uuid = req.datanode_uuid();
    node.address = req.address();
    node.storage = req.storage();
    node.last_heartbeat_ms = now_ms_();
    node.liveness = Liveness::kLive;
    node.scheduled_transfers = 0;
    LOG(INFO) << (is_new ? "registered" : "re-registered") << " DataNode " << node.uuid << " at "
              << node.address;
  }
  resp->set_cluster_id(options_.cluster_id);
  resp->set_epoch(options_.epoch);
  return absl::OkStatus();
}

bool DataNodeManager::Heartbeat(const cairn::v1::HeartbeatRequest& req,
                                cairn::v1::HeartbeatResponse* resp) {
  absl::MutexLock l(&mu_);
  auto it = nodes_.find(req.datanode_uuid());
  if (it == nodes_.end()) {
    DataNodeCommand cmd;
    cmd.set_kind(DataNodeCommand::KIND_REREGISTER);
    cmd.set_epoch(options_.epoch);
    *resp->add_commands() = std::move(cmd);
    return false;
  }
  const bool revived = it->second.liveness == Liveness::kDead;
  it->second.storage = req.storage();
  it->second.last_heartbeat_ms = now_ms_();
  it->second.liveness = Liveness::kLive;
  auto cit = commands_.find(req.datanode_uuid());
  if (cit != commands_.end()) {
    for (auto& c : cit->second) {
      c.set_epoch(options_.epoch);
      *resp->add_commands() = std::move(c);
    }
    commands_.erase(cit);
  }
  if (revived) LOG(INFO) << "DataNode " << req.datanode_uuid() << " is back";
  return revived;
}

void DataNodeManager::AddFailedTransfers(
    const std::string& source,
    const google::protobuf::RepeatedPtrField<cairn::v1::FailedTransfer>& failed) {
  absl::MutexLock l(&mu_);
  for (const auto& f : failed) {
    FailedTransfer t;
    t.source = source;
    t.block_id = f.block_id();
    t.targets.assign(f.target_uuids().begin(), f.target_uuids().end());
    failed_transfers_.push_back(std::move(t));
    if (failed_transfers_.size() > kMaxFailedTransfers) failed_transfers_.pop_front();
  }
}

std::vector<FailedTransfer> DataNodeManager::TakeFailedTransfers() {
  absl::MutexLock l(&mu_);
  std::vector<FailedTransfer> out(std::make_move_iterator(failed_transfers_.begin()),
                                  std::make_move_iterator(failed_transfers_.end()));
  failed_transfers_.clear();
  return out;
}

bool DataNodeManager::IsRegistered(const std::string& uuid) const {
  absl::MutexLock l(&mu_);
  return nodes_.count(uuid) > 0;
}

StatusOr<std::vector<DataNodeId>> DataNodeManager::ChooseTargets(
    size_t n, const std::set<std::string>& excluded, const std::string& writer_host,
    uint64_t block_bytes) const {
  absl::MutexLock l(&mu_);
  std::vector<const DataNodeInfo*> candidates;
  size_t live = 0, full = 0;
  for (const auto& [uuid, node] : nodes_) {
    if (node.liveness == Liveness::kDead) continue;
    ++live;
    if (node.liveness != Liveness::kLive || node.admin != AdminState::kNormal) continue;
    // A DataNode reserves a block with its checksum file (4 bytes per chunk of at least 512
    // bytes): a node with room for the data alone would refuse it.
    if (node.storage.remaining_bytes() < block_bytes + block_bytes / 128 + 4096 +
                                             options_.min_free_bytes) {
      ++full;
      continue;
    }
    if (excluded.count(uuid)) continue;
    candidates.push_back(&node);
  }
  if (live == 0) return absl::UnavailableError("no live DataNodes");
  if (candidates.empty()) {
    // Excluded nodes of a writer are the ones that refused or failed; a refusal is most often
    // a full disk the NameNode has not heard of yet.
    if (full > 0 || !excluded.empty()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "no space: no DataNode can take another block (", full, " of ", live,
          " live DataNodes are full, ", excluded.size(), " excluded by the writer)"));
    }
    return absl::UnavailableError("no DataNode in service can take a block");
  }
  std::sort(candidates.begin(), candidates.end(), [&](const DataNodeInfo* a, const DataNodeInfo* b) {
    const bool al = !writer_host.empty() && HostOf(a->address) == writer_host;
    const bool bl = !writer_host.empty() && HostOf(b->address) == writer_host;
    if (al != bl) return al;
    const uint64_t at = a->storage.active_transfers() + a->scheduled_transfers;
    const uint64_t bt = b->storage.active_transfers() + b->scheduled_transfers;
    // Free space in 1 GiB steps, so that load breaks ties between similar nodes.
    const uint64_t af = a->storage.remaining_bytes() >> 30, bf = b->storage.remaining_bytes() >> 30;
    if (af != bf) return af > bf;
    if (at != bt) return at < bt;
    return a->storage.remaining_bytes() > b->storage.remaining_bytes();
  });
  // Local node first only when the writer runs on a DataNode's host; on one host (tests,
  // local clusters) every node shares the host, so rotate the others by load.
  std::vector<DataNodeId> out;
  for (const DataNodeInfo* node : candidates) {
    if (out.size() >= n) break;
    DataNodeId id;
    id.set_datanode_uuid(node->uuid);
    id.set_address(node->address);
    out.push_back(std::move(id));
  }
  return out;
}

std::vector<DataNodeId> DataNodeManager::SortForRead(const std::vector<std::string>& uuids) const {
  absl::MutexLock l(&mu_);
  std::vector<const DataNodeInfo*> nodes;
  for (const auto& u : uuids) {
    auto it = nodes_.find(u);
    if (it == nodes_.end() || it->second.liveness == Liveness::kDead) continue;
    nodes.push_back(&it->second);
  }
  std::stable_sort(nodes.begin(), nodes.end(), [](const DataNodeInfo* a, const DataNodeInfo* b) {
    if ((a->liveness == Liveness::kStale) != (b->liveness == Liveness::kStale)) {
      return a->liveness != Liveness::kStale;
    }
    return a->storage.active_transfers() < b->storage.active_transfers();
  });
  std::vector<DataNodeId> out;
  for (const DataNodeInfo* n : nodes) {
    DataNodeId id;
    id.set_datanode_uuid(n->uuid);
    id.set_address(n->address);
    out.push_back(std::move(id));
  }
  return out;
}

void DataNodeManager::QueueCommand(const std::string& uuid, DataNodeCommand cmd) {
  absl::MutexLock l(&mu_);
  if (!nodes_.count(uuid)) return;
  auto& queue = commands_[uuid];
  // Merge deletions into one command.
  if (cmd.kind() == DataNodeCommand::KIND_DELETE && !queue.empty() &&
      queue.back().kind() == DataNodeCommand::KIND_DELETE && queue.back().blocks_size() < 10000) {
    for (const auto& b : cmd.blocks()) *queue.back().add_blocks() = b;
    return;
  }
  queue.push_back(std::move(cmd));
}

std::vector<std::string> DataNodeManager::CheckLiveness() {
  const int64_t now = now_ms_();
  std::vector<std::string> died;
  absl::MutexLock l(&mu_);
  for (auto& [uuid, node] : nodes_) {
    const int64_t age = now - node.last_heartbeat_ms;
    Liveness next = age >= options_.dead_after_ms    ? Liveness::kDead
                    : age >= options_.stale_after_ms ? Liveness::kStale
                                                     : Liveness::kLive;
    if (next == Liveness::kDead && node.liveness != Liveness::kDead) {
      LOG(WARNING) << "DataNode " << uuid << " at " << node.address << " is dead (no heartbeat for "
                   << age << " ms)";
      died.push_back(uuid);
      commands_.erase(uuid);
      node.scheduled_transfers = 0;
    }
    node.liveness = next;
  }
  return died;
}

Liveness DataNodeManager::LivenessOf(const std::string& uuid) const {
  absl::MutexLock l(&mu_);
  auto it = nodes_.find(uuid);
  return it == nodes_.end() ? Liveness::kDead : it->second.liveness;
}

bool DataNodeManager::IsUsableSource(const std::string& uuid) const {
  absl::MutexLock l(&mu_);
  auto it = nodes_.find(uuid);
  return it != nodes_.end() && it->second.liveness != Liveness::kDead;
}

AdminState DataNodeManager::AdminStateOf(const std::string& uuid) const {
  absl::MutexLock l(&mu_);
  auto it = nodes_.find(uuid);
  return it == nodes_.end() ? AdminState::kNormal : it->second.admin;
}

Status DataNodeManager::StartDecommission(const std::string& address_or_uuid,
                                          std::string* uuid_out) {
  absl::MutexLock l(&mu_);
  for (auto& [uuid, node] : nodes_) {
    if (uuid == address_or_uuid || node.address == address_or_uuid) {
      if (node.admin == AdminState::kNormal) {
        node.admin = AdminState::kDecommissioning;
        LOG(INFO) << "decommissioning DataNode " << uuid << " at " << node.address;
      }
      if (uuid_out) *uuid_out = uuid;
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(absl::StrCat(address_or_uuid, ": no such DataNode"));
}

Status DataNodeManager::SetAdminState(const std::string& address_or_uuid, AdminState state,
                                      std::string* uuid_out) {
  absl::MutexLock l(&mu_);
  for (auto& [uuid, node] : nodes_) {
    if (uuid == address_or_uuid || node.address == address_or_uuid) {
      node.admin = state;
      if (uuid_out) *uuid_out = uuid;
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(absl::StrCat(address_or_uuid, ": no such DataNode"));
}

void DataNodeManager::AddScheduledTransfers(const std::string& uuid, int delta) {
  absl::MutexLock l(&mu_);
  auto it = nodes_.find(uuid);
  if (it == nodes_.end()) return;
  int64_t v = static_cast<int64_t>(it->second.scheduled_transfers) + delta;
  it->second.scheduled_transfers = static_cast<uint32_t>(std::max<int64_t>(0, v));
}

void DataNodeManager::SetBlockCount(const std::string& uuid, uint64_t blocks) {
  absl::MutexLock l(&mu_);
  auto it = nodes_.find(uuid);
  if (it != nodes_.end()) it->second.blocks = blocks;
}

std::vector<DataNodeInfo> DataNodeManager::Snapshot() const {
  absl::MutexLock l(&mu_);
  std::vector<DataNodeInfo> out;
  for (const auto& [uuid, node] : nodes_) out.push_back(node);
  return out;
}

std::string DataNodeManager::AddressOf(const std::string& uuid) const {
  absl::MutexLock l(&mu_);
  auto it = nodes_.find(uuid);
  return it == nodes_.end() ? std::string() : it->second.address;
}

}  // namespace cairn::namenode
