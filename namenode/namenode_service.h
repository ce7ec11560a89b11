// The gRPC adapter of the NameNode, on gRPC's asynchronous completion-queue API: each of a
// few threads polls its own completion queue and runs a request inline (reads) or hands it
// to the namespace store (mutations: committed on this thread when the store is idle, else
// by its commit thread), whose callback finishes the call. No
// thread hop per request. Each RPC is one line handing the request to a core class.
// See proto/namenode.proto for the semantics of each RPC. Thread-safe.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "namenode/admin_ops.h"
#include "namenode/batch_ops.h"
#include "namenode/datanode_protocol.h"
#include "namenode/file_ops.h"
#include "namenode/namespace_ops.h"
#include "proto/namenode.grpc.pb.h"

namespace cairn::namenode {

class NameNodeServer {
 public:
  // The core objects must outlive this server.
  NameNodeServer(NamespaceOps* ns, FileOps* files, DataNodeProtocol* dn, AdminOps* admin)
      : ns_(ns), files_(files), dn_(dn), admin_(admin), batch_(ns) {}
  ~NameNodeServer();

  // Adds the service and `threads` completion queues to `builder`.
  void Register(grpc::ServerBuilder* builder, int threads);
  // REQUIRES: the grpc::Server built from that builder has started.
  void Start();
  // REQUIRES: the grpc::Server was shut down and no core callback is still pending.
  void Stop();

 private:
  void PostAll(grpc::ServerCompletionQueue* cq);

  NamespaceOps* const ns_;
  FileOps* const files_;
  DataNodeProtocol* const dn_;
  AdminOps* const admin_;
  BatchOps batch_;
  cairn::v1::NameNodeService::AsyncService service_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs_;
  std::vector<std::thread> threads_;
};

}  // namespace cairn::namenode
