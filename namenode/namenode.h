// NameNode: wires the namespace store, the core classes, a background monitor (DataNode
// liveness, lease expiry, safemode) and the gRPC server together. Start() once, then
// Shutdown() (also done by the destructor). Thread-safe.
#pragma once

#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "namenode/namenode_options.h"

namespace grpc {
class Server;
}

namespace cairn::namenode {

class NamespaceStore;
class NamespaceOps;
class NameNodeServer;
class DataNodeManager;
class BlockManager;
class LeaseManager;
class FileOps;
class DataNodeProtocol;
class SafeMode;
class ReplicationMonitor;
class AdminOps;

class NameNode {
 public:
  explicit NameNode(NameNodeOptions options);
  ~NameNode();
  NameNode(const NameNode&) = delete;
  NameNode& operator=(const NameNode&) = delete;

  // Opens the metadata, loads the block map and starts serving. REQUIRES: not started.
  Status Start();
  // Stops serving and closes the metadata; idempotent.
  void Shutdown();

  // The bound port. REQUIRES: Start() succeeded.
  int port() const { return port_; }
  const std::string& cluster_id() const { return cluster_id_; }
  NamespaceStore* store() { return store_.get(); }
  BlockManager* blocks() { return blocks_.get(); }
  DataNodeManager* datanodes() { return datanodes_.get(); }
  SafeMode* safemode() { return safemode_.get(); }
  LeaseManager* leases() { return leases_.get(); }

 private:
  Status LoadClusterId();
  void MonitorLoop();
  void RunMonitorOnce();

  NameNodeOptions options_;
  int port_ = 0;
  std::string cluster_id_;
  std::unique_ptr<NamespaceStore> store_;
  std::unique_ptr<NamespaceOps> ns_;
  std::unique_ptr<DataNodeManager> datanodes_;
  std::unique_ptr<BlockManager> blocks_;
  std::unique_ptr<LeaseManager> leases_;
  std::unique_ptr<SafeMode> safemode_;
  std::unique_ptr<FileOps> files_;
  std::unique_ptr<DataNodeProtocol> dn_protocol_;
  std::unique_ptr<ReplicationMonitor> replication_;
  std::unique_ptr<AdminOps> admin_;
  std::unique_ptr<NameNodeServer> service_;
  std::unique_ptr<grpc::Server> server_;
  uint64_t monitor_rounds_ = 0;  // monitor thread only

  absl::Mutex monitor_mu_;
  bool stopping_ ABSL_GUARDED_BY(monitor_mu_) = false;
  std::thread monitor_;
};

}  // namespace cairn::namenode
