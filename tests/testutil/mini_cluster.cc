#include "tests/testutil/mini_cluster.h"

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/logging.h"
#include "namenode/safe_mode.h"

namespace cairn::testing {

bool WaitFor(const std::function<bool()>& condition, int64_t timeout_ms) {
  const int64_t deadline = MonoMillis() + timeout_ms;
  int64_t backoff = 2;
  while (true) {
    if (condition()) return true;
    if (MonoMillis() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
    backoff = std::min<int64_t>(backoff * 2, 50);
  }
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

MiniCluster::MiniCluster(MiniClusterOptions options) : options_(std::move(options)) {
  DisableMutexDeadlockDetection();
  if (options_.root_dir.empty()) {
    std::string tmpl = "/tmp/cairn-minicluster-XXXXXX";
    root_ = mkdtemp(tmpl.data());
    own_root_ = true;
  } else {
    root_ = options_.root_dir;
  }
}

MiniCluster::~MiniCluster() {
  for (auto& dn : datanodes_) {
    if (dn) dn->Shutdown();
  }
  datanodes_.clear();
  StopNameNode();
  if (own_root_) {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
}

std::string MiniCluster::namenode_address() const {
  return absl::StrCat("127.0.0.1:", namenode_port_);
}

std::string MiniCluster::DataNodeVolume(int i, int volume) const {
  return absl::StrCat(root_, "/dn", i, "/vol", volume);
}

Status MiniCluster::StartNameNode(int port) {
  namenode::NameNodeOptions o;
  o.dir = root_ + "/nn";
  o.port = port;
  o.sync_metadata = options_.fsync;
  o.namespace_ops.default_replication = options_.replication;
  o.namespace_ops.default_block_size_bytes = options_.block_size;
  o.namespace_ops.min_block_size_bytes = 512;
  o.heartbeat_interval_ms = options_.heartbeat_interval_ms;
  o.stale_after_ms = options_.stale_after_ms;
  o.dead_after_ms = options_.dead_after_ms;
  o.lease_hard_limit_ms = options_.lease_hard_limit_ms;
  o.lease_soft_limit_ms = std::min(o.lease_soft_limit_ms, options_.lease_hard_limit_ms);
  o.replication_check_interval_ms = options_.replication_check_interval_ms;
  o.pending_replication_timeout_ms = options_.pending_replication_timeout_ms;
  o.safemode_extension_ms = options_.safemode_extension_ms;
  namenode_ = std::make_unique<namenode::NameNode>(o);
  RETURN_IF_ERROR(namenode_->Start());
  namenode_port_ = namenode_->port();
  return absl::OkStatus();
}

datanode::DataNodeOptions MiniCluster::MakeDataNodeOptions(int index) const {
  datanode::DataNodeOptions o;
  for (int v = 0; v < options_.volumes_per_datanode; ++v) o.volumes.push_back(DataNodeVolume(index, v));
  o.namenode = namenode_address();
  o.heartbeat_interval_ms = options_.heartbeat_interval_ms;
  o.block_report_interval_ms = 60000;
  o.fsync_on_finalize = options_.fsync;
  o.capacity_bytes_per_volume_for_tests = options_.capacity_bytes_per_volume;
  o.scan_period_ms = options_.scan_period_ms;
  o.volume_check_interval_ms = 500;
  o.file_pool_size = 16;  // exercised, without hundreds of files per DataNode start
  return o;
}

Status MiniCluster::Start() {
  RETURN_IF_ERROR(StartNameNode(0));
  for (int i = 0; i < options_.num_datanodes; ++i) {
    dn_options_.push_back(MakeDataNodeOptions(i));
    datanodes_.push_back(std::make_unique<datanode::DataNode>(dn_options_.back()));
    RETURN_IF_ERROR(datanodes_.back()->Start());
  }
  RETURN_IF_ERROR(WaitForDataNodes(options_.num_datanodes));
  return WaitForSafeModeOff();
}

StatusOr<std::unique_ptr<client::FileSystem>> MiniCluster::NewClient(
    std::function<void(client::ClientOptions*)> tweak) {
  client::ClientOptions o;
  o.namenode = namenode_address();
  o.rpc_timeout_ms = 20000;
  o.data_timeout_ms = 20000;
  o.lease_renew_interval_ms = 200;
  if (tweak) tweak(&o);
  return client::FileSystem::Connect(o);
}

Status MiniCluster::WaitForDataNodes(int n, int64_t timeout_ms) {
  auto fs = NewClient();
  if (!fs.ok()) return fs.status();
  bool ok = WaitFor([&] {
    auto st = (*fs)->GetFsStats();
    return st.ok() && static_cast<int>(st->live_datanodes) >= n;
  }, timeout_ms);
  if (!ok) return absl::DeadlineExceededError(absl::StrCat("fewer than ", n, " live DataNodes"));
  return absl::OkStatus();
}

Status MiniCluster::WaitForSafeModeOff(int64_t timeout_ms) {
  bool ok = WaitFor([&] { return !namenode_->safemode()->InSafeMode(); }, timeout_ms);
  return ok ? absl::OkStatus() : absl::DeadlineExceededError("NameNode stayed in safemode");
}

void MiniCluster::StopDataNode(int i) {
  if (datanodes_[i]) {
    dn_options_[i].port = datanodes_[i]->port();
    datanodes_[i]->Shutdown();
    datanodes_[i].reset();
  }
}

Status MiniCluster::RestartDataNode(int i) {
  StopDataNode(i);
  dn_options_[i].namenode = namenode_address();
  datanodes_[i] = std::make_unique<datanode::DataNode>(dn_options_[i]);
  Status s = datanodes_[i]->Start();
  if (!s.ok()) {
    // The old port may be taken: any port will do.
    dn_options_[i].port = 0;
    datanodes_[i] = std::make_unique<datanode::DataNode>(dn_options_[i]);
    s = datanodes_[i]->Start();
  }
  return s;
}

StatusOr<int> MiniCluster::AddDataNode(int64_t write_delay_ms) {
  const int i = static_cast<int>(datanodes_.size());
  dn_options_.push_back(MakeDataNodeOptions(i));
  dn_options_.back().write_delay_ms_for_tests = write_delay_ms;
  datanodes_.push_back(std::make_unique<datanode::DataNode>(dn_options_.back()));
  RETURN_IF_ERROR(datanodes_.back()->Start());
  return i;
}

void MiniCluster::StopNameNode() {
  if (namenode_) {
    namenode_->Shutdown();
    namenode_.reset();
  }
}

Status MiniCluster::RestartNameNode() {
  StopNameNode();
  return StartNameNode(namenode_port_);
}

}  // namespace cairn::testing
