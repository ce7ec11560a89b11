// MiniCluster: a NameNode and N DataNodes in this process, on 127.0.0.1 with ports chosen by
// the kernel and data in a temporary directory (removed by the destructor). Nodes can be
// stopped, restarted and added. Not thread-safe: drive it from the test thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/cairn/client.h"
#include "common/status.h"
#include "datanode/datanode.h"
#include "namenode/namenode.h"

namespace cairn::testing {

struct MiniClusterOptions {
  int num_datanodes = 3;
  int volumes_per_datanode = 1;
  uint32_t replication = 3;
  uint64_t block_size = 1 << 20;  // small blocks: multi-block files in tests
  int64_t heartbeat_interval_ms = 100;
  int64_t stale_after_ms = 1000;
  int64_t dead_after_ms = 3000;
  int64_t lease_hard_limit_ms = 60000;
  int64_t replication_check_interval_ms = 100;
  int64_t pending_replication_timeout_ms = 10000;
  int64_t safemode_extension_ms = 0;
  bool fsync = false;  // tests do not need durability across power loss
  uint64_t capacity_bytes_per_volume = 0;  // 0 = the real disk
  int64_t scan_period_ms = 3600 * 1000;
  std::string root_dir;  // "" = a new temporary directory
};

class MiniCluster {
 public:
  explicit MiniCluster(MiniClusterOptions options = {});
  ~MiniCluster();

  // Starts the NameNode and the DataNodes and waits until all have registered.
  Status Start();

  std::string namenode_address() const;
  namenode::NameNode* namenode() { return namenode_.get(); }
  datanode::DataNode* datanode(int i) { return datanodes_[i].get(); }
  int num_datanodes() const { return static_cast<int>(datanodes_.size()); }
  const std::string& root_dir() const { return root_; }
  std::string DataNodeVolume(int i, int volume = 0) const;

  StatusOr<std::unique_ptr<client::FileSystem>> NewClient(
      std::function<void(client::ClientOptions*)> tweak = nullptr);

  // Waits until the NameNode counts `n` live DataNodes.
  Status WaitForDataNodes(int n, int64_t timeout_ms = 20000);
  // Waits until the NameNode is out of safemode.
  Status WaitForSafeModeOff(int64_t timeout_ms = 20000);

  void StopDataNode(int i);
  // Starts a stopped DataNode again on the same directories (and port, when it is free).
  Status RestartDataNode(int i);
  // Adds one more DataNode; returns its index.
  StatusOr<int> AddDataNode(int64_t write_delay_ms = 0);
  // Restarts the NameNode on the same directory and port.
  Status RestartNameNode();
  void StopNameNode();
  // Options a DataNode (index i) gets; tests may tweak before RestartDataNode.
  datanode::DataNodeOptions& datanode_options(int i) { return dn_options_[i]; }

 private:
  datanode::DataNodeOptions MakeDataNodeOptions(int index) const;
  Status StartNameNode(int port);

  MiniClusterOptions options_;
  std::string root_;
  bool own_root_ = false;
  int namenode_port_ = 0;
  std::unique_ptr<namenode::NameNode> namenode_;
  std::vector<std::unique_ptr<datanode::DataNode>> datanodes_;
  std::vector<datanode::DataNodeOptions> dn_options_;
};

// Polls `condition` every few milliseconds until it is true or `timeout_ms` passes.
bool WaitFor(const std::function<bool()>& condition, int64_t timeout_ms);

// Deterministic pseudo-random bytes.
std::string RandomBytes(size_t n, uint64_t seed);

}  // namespace cairn::testing
