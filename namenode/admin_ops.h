// AdminOps: the NameNode's administrative operations (DataNode report, safemode,
// decommissioning, fsck). Knows nothing about gRPC. Thread-safe.
#pragma once

#include <functional>

#include "namenode/block_manager.h"
#include "namenode/datanode_manager.h"
#include "namenode/namespace_store.h"
#include "namenode/safe_mode.h"
#include "proto/namenode.pb.h"

namespace cairn::namenode {

class AdminOps {
 public:
  using Done = std::function<void(Status)>;
  // Pointers must outlive this.
  AdminOps(NamespaceStore* store, BlockManager* blocks, DataNodeManager* datanodes,
           SafeMode* safemode)
      : store_(store), blocks_(blocks), datanodes_(datanodes), safemode_(safemode) {}

  void GetDataNodeReport(const cairn::v1::GetDataNodeReportRequest& req,
                         cairn::v1::GetDataNodeReportResponse* resp, Done done);
  void SetSafeMode(const cairn::v1::SetSafeModeRequest& req, cairn::v1::SetSafeModeResponse* resp,
                   Done done);
  void Decommission(const cairn::v1::DecommissionRequest& req,
                    cairn::v1::DecommissionResponse* resp, Done done);
  // Walks the namespace below the path (blocking; runs on the RPC thread).
  void Fsck(const cairn::v1::FsckRequest& req, cairn::v1::FsckResponse* resp, Done done);

 private:
  NamespaceStore* const store_;
  BlockManager* const blocks_;
  DataNodeManager* const datanodes_;
  SafeMode* const safemode_;
};

}  // namespace cairn::namenode
