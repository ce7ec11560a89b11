// DataNodeManager: the DataNodes the NameNode knows, their liveness, storage and the commands
// waiting for their next heartbeat. In memory only (rebuilt from registrations after a
// restart). Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "proto/namenode.pb.h"

namespace cairn::namenode {

enum class Liveness { kLive, kStale, kDead };
enum class AdminState { kNormal, kDecommissioning, kDecommissioned };

struct DataNodeInfo {
  std::string uuid;
  std::string address;
  cairn::v1::StorageReport storage;
  int64_t last_heartbeat_ms = 0;  // monotonic
  Liveness liveness = Liveness::kLive;
  AdminState admin = AdminState::kNormal;
  uint32_t scheduled_transfers = 0;  // replication tasks sent and not yet reported done
  uint64_t blocks = 0;
};

// A replicate command its source DataNode reported as failed.
struct FailedTransfer {
  std::string source;                // the reporting DataNode
  uint64_t block_id = 0;
  std::vector<std::string> targets;  // empty: the command was not started
};

struct DataNodeManagerOptions {
  std::string cluster_id;
  int64_t stale_after_ms = 5000;
  int64_t dead_after_ms = 30000;
  uint64_t epoch = 1;
  uint64_t min_free_bytes = 0;  // a node with less remaining space takes no new blocks
};

class DataNodeManager {
 public:
  // `now_ms` returns monotonic milliseconds (tests may pass a fake clock).
  DataNodeManager(DataNodeManagerOptions options, std::function<int64_t()> now_ms);

  // FAILED_PRECONDITION if the cluster id differs, INVALID_ARGUMENT for an empty uuid/address.
  Status Register(const cairn::v1::RegisterDataNodeRequest& req,
                  cairn::v1::RegisterDataNodeResponse* resp);
  // Records a heartbeat and hands out queued commands; an unknown DataNode is told to
  // register again. Returns true if the node was dead and is now back.
  bool Heartbeat(const cairn::v1::HeartbeatRequest& req, cairn::v1::HeartbeatResponse* resp);
  bool IsRegistered(const std::string& uuid) const;

  // Up to `n` distinct live, non-stale, normal DataNodes with room for `block_bytes`, not in
  // `excluded`: the one at `writer_host` first if any, then by most remaining space and fewest
  // active transfers. RESOURCE_EXHAUSTED if live nodes exist but none has room;
  // UNAVAILABLE if there are no live DataNodes at all.
  StatusOr<std::vector<cairn::v1::DataNodeId>> ChooseTargets(
      size_t n, const std::set<std::string>& excluded, const std::string& writer_host,
      uint64_t block_bytes) const;
  // Orders `uuids` for readers: live first, stale after, then fewest active transfers.
  // Dead or unknown nodes are dropped.
  std::vector<cairn::v1::DataNodeId> SortForRead(const std::vector<std::string>& uuids) const;

  void QueueCommand(const std::string& uuid, cairn::v1::DataNodeCommand cmd);
  // Updates liveness from heartbeat ages; returns the uuids that just became dead.
  std::vector<std::string> CheckLiveness();
  Liveness LivenessOf(const std::string& uuid) const;
  bool IsUsableSource(const std::string& uuid) const;  // live or stale, and registered
  AdminState AdminStateOf(const std::string& uuid) const;
  // Starts decommissioning the node (by address or uuid) unless it is already being or was
  // decommissioned. NOT_FOUND if unknown.
  Status StartDecommission(const std::string& address_or_uuid, std::string* uuid_out);
  Status SetAdminState(const std::string& address_or_uuid, AdminState state,
                       std::string* uuid_out);
  void AddScheduledTransfers(const std::string& uuid, int delta);
  void SetBlockCount(const std::string& uuid, uint64_t blocks);

  std::vector<DataNodeInfo> Snapshot() const;
  std::string AddressOf(const std::string& uuid) const;
  uint64_t epoch() const { return options_.epoch; }

  // Failed replicate commands, reported by `source` (from its incremental reports) and taken
  // by the replication monitor. At most kMaxFailedTransfers are kept (the oldest dropped:
  // their transfers then time out instead).
  void AddFailedTransfers(const std::string& source,
                          const google::protobuf::RepeatedPtrField<cairn::v1::FailedTransfer>& f);
  std::vector<FailedTransfer> TakeFailedTransfers();
  static constexpr size_t kMaxFailedTransfers = 10000;

 private:
  const DataNodeManagerOptions options_;
  const std::function<int64_t()> now_ms_;
  mutable absl::Mutex mu_;
  std::map<std::string, DataNodeInfo> nodes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<cairn::v1::DataNodeCommand>> commands_ ABSL_GUARDED_BY(mu_);
  std::deque<FailedTransfer> failed_transfers_ ABSL_GUARDED_BY(mu_);
};

// "host" of "host:port".
std::string HostOf(const std::string& address);

}  // namespace cairn::namenode
