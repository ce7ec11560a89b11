// ReplicationMonitor: keeps every complete block at its replication factor. Each Run():
//   - under-replicated blocks (fewest live replicas first) get a replicate command to a node
//     holding a good replica, towards targets chosen like a new block's, with at most
//     `max_streams_per_node` transfers per source node; a transfer not confirmed by a block
//     report within `pending_timeout_ms` is forgotten and scheduled again elsewhere, and one
//     its source reports as failed is scheduled again at once, its targets left out for that
//     block during a quarter of `pending_timeout_ms` (one of them may be dead and not yet
//     declared so, or still receiving the block as an asynchronous follower);
//   - excess replicas are deleted from the nodes with the least free space;
//   - corrupt replicas are deleted once enough good ones exist;
//   - decommissioning DataNodes whose blocks are all safe elsewhere become decommissioned.
// Called from the NameNode's monitor thread (not in safemode). Thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "namenode/block_manager.h"
#include "namenode/datanode_manager.h"

namespace cairn::namenode {

struct NodeState {
  Liveness liveness = Liveness::kDead;
  AdminState admin = AdminState::kNormal;
  uint64_t remaining = 0;
};
using NodeStates = std::map<std::string, NodeState>;
NodeStates SnapshotNodeStates(const DataNodeManager& datanodes);

// How a complete block stands.
struct BlockHealth {
  std::vector<std::string> good;           // good replicas on live/stale nodes, any admin state
  std::vector<std::string> good_in_service;  // ... on nodes not being decommissioned
  std::vector<std::string> corrupt;        // replicas marked corrupt
  std::vector<std::string> holders;        // every node with any replica of it
  bool missing() const { return good.empty() && corrupt.empty(); }
  bool all_corrupt() const { return good.empty() && !corrupt.empty(); }
};
BlockHealth AssessBlock(const BlockEntry& block, const NodeStates& nodes);

class ReplicationMonitor {
 public:
  // Pointers must outlive this.
  ReplicationMonitor(BlockManager* blocks, DataNodeManager* datanodes, int max_streams_per_node,
                     int64_t pending_timeout_ms, std::function<int64_t()> now_ms)
      : blocks_(blocks),
        datanodes_(datanodes),
        max_streams_per_node_(max_streams_per_node),
        pending_timeout_ms_(pending_timeout_ms),
        now_ms_(std::move(now_ms)) {}

  void Run();
  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    std::string source;
    std::vector<std::string> targets;
    int64_t deadline_ms = 0;
  };
  // Targets of a failed transfer of a block, not chosen again for it until `until_ms`.
  struct Cooling {
    std::set<std::string> targets;
    int64_t until_ms = 0;
  };
  // Drops the pending transfers their sources reported as failed.
  void TakeFailedTransfers(int64_t now);

  BlockManager* const blocks_;
  DataNodeManager* const datanodes_;
  const int max_streams_per_node_;
  const int64_t pending_timeout_ms_;
  const std::function<int64_t()> now_ms_;
  std::map<uint64_t, Pending> pending_;
  std::map<uint64_t, Cooling> cooling_;
};

}  // namespace cairn::namenode
