// Heartbeater: the DataNode's side of the NameNode protocol. Registers (again whenever the
// NameNode asks), sends heartbeats with storage figures, a full block report after each
// registration and periodically, and incremental reports (finalized / deleted replicas) as
// soon as they happen; hands the commands in heartbeat replies to `execute`. Runs one thread.
// Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "datanode/block_store.h"
#include "datanode/datanode_options.h"
#include "datanode/replica_listener.h"
#include "proto/namenode.grpc.pb.h"

namespace cairn::datanode {

struct HeartbeaterIdentity {
  std::string uuid;
  std::string address;     // of this DataNode's service
  std::string cluster_id;  // "" until the first registration
};

class Heartbeater : public ReplicaListener {
 public:
  using ExecuteFn = std::function<void(const cairn::v1::DataNodeCommand&)>;
  // Called after a registration with the NameNode's cluster id (to persist it).
  using ClusterIdFn = std::function<void(const std::string&)>;

  // `store` and `active_transfers` must outlive this.
  Heartbeater(const DataNodeOptions& options, BlockStore* store, HeartbeaterIdentity identity,
              std::atomic<int>* active_transfers, ExecuteFn execute, ClusterIdFn on_cluster_id);
  ~Heartbeater() override;

  // The address registered with the NameNode. REQUIRES: before Start().
  void set_address(const std::string& address) {
    absl::MutexLock l(&mu_);
    identity_.address = address;
  }
  void Start();
  void Stop();

  void ReplicaFinalized(const ReplicaInfo& replica) override;
  void ReplicaDeleted(uint64_t block_id, uint64_t generation_stamp) override;
  // A replicate command for `block_id` towards `targets` failed (or was not run: no targets);
  // reported with the next incremental report, which is sent at once.
  void TransferFailed(uint64_t block_id, const std::vector<std::string>& target_uuids);

  bool registered() const;
  uint64_t epoch() const { return epoch_.load(); }
  // Sends a heartbeat (and pending reports) now.
  void TriggerNow();
  // Sends a full block report soon (replicas were lost, e.g. with a volume).
  void RequestFullReport();

 private:
  void Loop();
  Status Register();
  Status SendFullReport();
  Status SendIncremental();
  Status SendHeartbeat();

  const DataNodeOptions options_;
  BlockStore* const store_;
  std::atomic<int>* const active_transfers_;
  const ExecuteFn execute_;
  const ClusterIdFn on_cluster_id_;
  std::unique_ptr<cairn::v1::NameNodeService::Stub> stub_;
  std::atomic<uint64_t> epoch_{0};

  mutable absl::Mutex mu_;
  HeartbeaterIdentity identity_ ABSL_GUARDED_BY(mu_);
  bool registered_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool trigger_ ABSL_GUARDED_BY(mu_) = false;
  bool full_report_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<cairn::v1::ReplicaReport> received_ ABSL_GUARDED_BY(mu_);
  std::vector<cairn::v1::FailedTransfer> failed_transfers_ ABSL_GUARDED_BY(mu_);
  std::vector<cairn::v1::Block> deleted_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace cairn::datanode
