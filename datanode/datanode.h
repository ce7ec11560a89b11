// DataNode: wires the block store, the data service, the heartbeater, the command executor
// (delete, replicate), the block scanner and the volume checker together.
// Start() once, then Shutdown() (also done by the destructor). Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "datanode/datanode_options.h"

namespace grpc {
class Server;
}
namespace cairn {
class DataNodeChannels;
}
namespace cairn::v1 {
class DataNodeCommand;
}

namespace cairn::datanode {

class BlockStore;
class BackgroundTasks;
class DataServiceImpl;
class Heartbeater;
class LocalReadServer;

class DataNode {
 public:
  explicit DataNode(DataNodeOptions options);
  ~DataNode();
  DataNode(const DataNode&) = delete;
  DataNode& operator=(const DataNode&) = delete;

  // Opens the volumes, starts serving and starts talking to the NameNode (registration
  // happens in the background; see registered()). REQUIRES: not started.
  Status Start();
  void Shutdown();

  int port() const { return port_; }
  const std::string& uuid() const { return uuid_; }
  std::string address() const;
  bool registered() const;
  BlockStore* store() { return store_.get(); }
  // Replicas handed to local readers so far (0 with local reads off).
  uint64_t local_read_grants() const;
  // Runs one full pass of the block scanner now (tests).
  void ScanNowForTests();
  void TriggerHeartbeatForTests();

 private:
  Status LoadIdentity();
  void SaveClusterId(const std::string& cluster_id);
  void Execute(const cairn::v1::DataNodeCommand& cmd);
  void ScanOnce(uint64_t bytes_per_sec);
  void MaintenanceLoop();
  void ReportCorrupt(uint64_t block_id, uint64_t gs);

  DataNodeOptions options_;
  int port_ = 0;
  std::string uuid_;
  std::string cluster_id_;
  std::atomic<int> active_transfers_{0};
  std::atomic<int> replications_{0};
  uint32_t failed_volumes_seen_ = 0;  // maintenance thread only
  std::unique_ptr<BlockStore> store_;
  std::unique_ptr<DataNodeChannels> channels_;
  std::unique_ptr<BackgroundTasks> background_;
  std::unique_ptr<Heartbeater> heartbeater_;
  std::unique_ptr<DataServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<LocalReadServer> local_reads_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread maintenance_;
  absl::Mutex scan_mu_;  // one scan at a time
};

}  // namespace cairn::datanode
