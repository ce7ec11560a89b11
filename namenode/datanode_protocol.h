// DataNodeProtocol: registration, heartbeats and block reports from DataNodes, feeding the
// DataNodeManager and BlockManager. Knows nothing about gRPC. Thread-safe.
#pragma once

#include <functional>

#include "namenode/block_manager.h"
#include "namenode/datanode_manager.h"
#include "proto/namenode.pb.h"

namespace cairn::namenode {

class DataNodeProtocol {
 public:
  using Done = std::function<void(Status)>;
  // Pointers must outlive this object.
  DataNodeProtocol(DataNodeManager* datanodes, BlockManager* blocks)
      : datanodes_(datanodes), blocks_(blocks) {}

  void RegisterDataNode(const cairn::v1::RegisterDataNodeRequest& req,
                        cairn::v1::RegisterDataNodeResponse* resp, Done done);
  void Heartbeat(const cairn::v1::HeartbeatRequest& req, cairn::v1::HeartbeatResponse* resp,
                 Done done);
  // FAILED_PRECONDITION from an unregistered DataNode (it must register first).
  void ReportBlocks(const cairn::v1::ReportBlocksRequest& req,
                    cairn::v1::ReportBlocksResponse* resp, Done done);
  void ReportIncrementalBlocks(const cairn::v1::ReportIncrementalBlocksRequest& req,
                               cairn::v1::ReportIncrementalBlocksResponse* resp, Done done);

 private:
  DataNodeManager* const datanodes_;
  BlockManager* const blocks_;
};

}  // namespace cairn::namenode
