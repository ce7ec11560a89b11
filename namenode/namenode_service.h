// The gRPC adapter of the NameNode: one line per RPC handing the request to a core class.
// See proto/namenode.proto for the semantics of each RPC. Thread-safe.
#pragma once

#include "namenode/admin_ops.h"
#include "namenode/datanode_protocol.h"
#include "namenode/file_ops.h"
#include "namenode/namespace_ops.h"
#include "proto/namenode.grpc.pb.h"

namespace cairn::namenode {

class NameNodeServiceImpl final : public cairn::v1::NameNodeService::CallbackService {
 public:
  // The core objects must outlive this service.
  NameNodeServiceImpl(NamespaceOps* ns, FileOps* files, DataNodeProtocol* dn, AdminOps* admin)
      : ns_(ns), files_(files), dn_(dn), admin_(admin) {}

#define CAIRN_NN_RPC(core, Method)                                                          \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* ctx,                        \
                                   const cairn::v1::Method##Request* req,                   \
                                   cairn::v1::Method##Response* resp) override {            \
    auto* reactor = ctx->DefaultReactor();                                                  \
    core->Method(*req, resp, [reactor](Status s) { reactor->Finish(ToGrpc(s)); });          \
    return reactor;                                                                         \
  }
  CAIRN_NN_RPC(ns_, Mkdir)
  CAIRN_NN_RPC(ns_, CreateFile)
  CAIRN_NN_RPC(ns_, CreateSymlink)
  CAIRN_NN_RPC(ns_, GetFileInfo)
  CAIRN_NN_RPC(ns_, ListDirectory)
  CAIRN_NN_RPC(ns_, Rename)
  CAIRN_NN_RPC(ns_, Delete)
  CAIRN_NN_RPC(ns_, SetReplication)
  CAIRN_NN_RPC(ns_, SetPermission)
  CAIRN_NN_RPC(ns_, SetOwner)
  CAIRN_NN_RPC(ns_, SetTimes)
  CAIRN_NN_RPC(files_, GetFsStats)
  CAIRN_NN_RPC(files_, AddBlock)
  CAIRN_NN_RPC(files_, CompleteFile)
  CAIRN_NN_RPC(files_, AbandonBlock)
  CAIRN_NN_RPC(files_, GetBlockLocations)
  CAIRN_NN_RPC(files_, RenewLease)
  CAIRN_NN_RPC(files_, ReportBadBlocks)
  CAIRN_NN_RPC(files_, UpdateLength)
  CAIRN_NN_RPC(files_, UpdatePipeline)
  CAIRN_NN_RPC(admin_, GetDataNodeReport)
  CAIRN_NN_RPC(admin_, SetSafeMode)
  CAIRN_NN_RPC(admin_, Decommission)
  CAIRN_NN_RPC(admin_, Fsck)
  CAIRN_NN_RPC(dn_, RegisterDataNode)
  CAIRN_NN_RPC(dn_, Heartbeat)
  CAIRN_NN_RPC(dn_, ReportBlocks)
  CAIRN_NN_RPC(dn_, ReportIncrementalBlocks)
#undef CAIRN_NN_RPC

 private:
  static grpc::Status ToGrpc(const Status& s);
  NamespaceOps* const ns_;
  FileOps* const files_;
  DataNodeProtocol* const dn_;
  AdminOps* const admin_;
};

}  // namespace cairn::namenode
