// Administration of a Cairn cluster (the `cairn fsck` and `cairn admin` commands).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "client/cairn/client.h"

namespace cairn::client {

struct DataNodeStatus {
  std::string uuid;
  std::string address;
  std::string state;        // LIVE, STALE, DEAD
  std::string admin_state;  // NORMAL, DECOMMISSIONING, DECOMMISSIONED
  uint64_t capacity = 0, used = 0, remaining = 0;  // bytes
  uint32_t failed_volumes = 0;
  uint32_t active_transfers = 0;
  uint64_t blocks = 0;
  int64_t last_heartbeat_age_ms = 0;
};

struct FsckFileReport {
  std::string path;
  uint64_t length = 0;
  uint32_t replication = 0;
  uint32_t blocks = 0;
  std::vector<std::string> problems;  // one line per bad block
};

struct FsckReport {
  uint64_t files = 0, directories = 0, blocks = 0, total_bytes = 0;
  uint64_t under_replicated = 0, missing = 0, corrupt = 0;
  bool healthy = true;  // no missing and no corrupt blocks
  std::vector<FsckFileReport> unhealthy_files;
};

enum class SafeModeAction { kGet, kEnter, kLeave };

// Thread-safe.
class Admin {
 public:
  static StatusOr<std::unique_ptr<Admin>> Connect(const ClientOptions& options);
  virtual ~Admin() = default;
  virtual StatusOr<std::vector<DataNodeStatus>> DataNodeReport() = 0;
  // Returns whether safemode is on after `action`, with a description.
  virtual StatusOr<std::pair<bool, std::string>> SafeMode(SafeModeAction action) = 0;
  // `datanode` is HOST:PORT or a DataNode uuid. NOT_FOUND if unknown.
  virtual Status Decommission(const std::string& datanode) = 0;
  virtual StatusOr<FsckReport> Fsck(const std::string& path) = 0;
};

}  // namespace cairn::client
