// BlockManager: the NameNode's in-memory block map -- for every block of every file, its
// expected generation stamp, length and replication, and which DataNodes hold which replica.
// Rebuilt at start from the namespace (LoadFile) and from DataNode block reports. Sends
// delete commands for stale, unknown and removed replicas through the DataNodeManager.
// Thread-safe. Lock order: BlockManager before DataNodeManager.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "namenode/datanode_manager.h"
#include "proto/metadata.pb.h"
#include "proto/namenode.pb.h"

namespace cairn::namenode {

struct ReplicaState {
  uint64_t generation_stamp = 0;
  uint64_t length = 0;
  bool finalized = false;
  bool corrupt = false;
};

struct BlockEntry {
  uint64_t inode_id = 0;
  uint64_t generation_stamp = 0;
  uint64_t length = 0;  // committed length (complete) or visible length (under construction)
  uint32_t replication = 0;
  bool complete = false;
  std::vector<std::string> pipeline;  // expected locations while under construction
  std::map<std::string, ReplicaState> replicas;  // by DataNode uuid
};

// Counts for safemode and fsck.
struct BlockCounts {
  uint64_t total = 0;           // complete blocks
  uint64_t with_replica = 0;    // complete blocks with >= 1 good finalized replica
  uint64_t under_construction = 0;
};

class BlockManager {
 public:
  // `datanodes` must outlive this.
  explicit BlockManager(DataNodeManager* datanodes) : datanodes_(datanodes) {}

  // ---- Changes that mirror committed namespace mutations ----
  void LoadFile(const cairn::v1::InodeRecord& inode);
  void AddUnderConstruction(uint64_t block_id, uint64_t inode_id, uint64_t generation_stamp,
                            uint32_t replication, const std::vector<std::string>& pipeline);
  // The block's final length is known (next block allocated, file completed, recovered).
  void Commit(uint64_t block_id, uint64_t generation_stamp, uint64_t length);
  void UpdateLength(uint64_t block_id, uint64_t length);
  void UpdatePipeline(uint64_t block_id, uint64_t generation_stamp,
                      const std::vector<std::string>& pipeline);
  void SetReplication(const std::vector<uint64_t>& block_ids, uint32_t replication);
  // Forgets blocks of removed files and tells their DataNodes to delete them.
  void Remove(const std::vector<cairn::v1::BlockRecord>& blocks);

  // ---- DataNode reports ----
  // A full report: replaces what this node is known to hold. Unknown and stale replicas are
  // scheduled for deletion.
  void ProcessFullReport(const std::string& uuid,
                         const google::protobuf::RepeatedPtrField<cairn::v1::ReplicaReport>& r);
  void ProcessIncremental(const cairn::v1::ReportIncrementalBlocksRequest& req);
  // A reader or scanner found this replica corrupt.
  void MarkCorrupt(uint64_t block_id, uint64_t generation_stamp, const std::string& uuid);
  // A dead DataNode's replicas no longer count.
  void RemoveDataNode(const std::string& uuid);

  // ---- Queries ----
  // Fills block, locations (good replicas, best first) and flags. NOT_FOUND if unknown.
  Status Locate(uint64_t block_id, cairn::v1::LocatedBlock* out) const;
  // Good (current, finalized, full-length, not corrupt) replicas on usable nodes.
  int GoodReplicas(uint64_t block_id) const;
  BlockCounts Counts() const;
  uint64_t BlocksOn(const std::string& uuid) const;
  bool Get(uint64_t block_id, BlockEntry* out) const;
  // Calls fn for every block (copy) — replication monitor and fsck. Holds the lock: fn must
  // be quick and must not call back into this object.
  void ForEach(const std::function<void(uint64_t, const BlockEntry&)>& fn) const;
  // Deletes `uuid`'s replica of `block_id` (excess or corrupt replica).
  void InvalidateReplica(uint64_t block_id, const std::string& uuid);

 private:
  bool IsGood(const BlockEntry& b, const ReplicaState& r) const;
  void ScheduleDelete(const std::string& uuid, uint64_t block_id, uint64_t gs)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddReplicaLocked(uint64_t block_id, const std::string& uuid,
                        const cairn::v1::ReplicaReport& r, bool full_report)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  DataNodeManager* const datanodes_;
  mutable absl::Mutex mu_;
  std::unordered_map<uint64_t, BlockEntry> blocks_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<uint64_t>> by_node_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cairn::namenode
