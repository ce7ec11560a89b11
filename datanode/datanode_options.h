// Configuration of a DataNode. Plain struct: the main() fills it from flags, tests directly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace cairn::datanode {

struct DataNodeOptions {
  std::vector<std::string> volumes;      // block directories; the first also holds DATANODE_ID
  std::string bind_host = "127.0.0.1";
  int port = 0;                          // 0 = any free port
  std::string namenode = "127.0.0.1:8020";
  int64_t heartbeat_interval_ms = 1000;
  int64_t block_report_interval_ms = 60000;
  bool fsync_on_finalize = true;
  bool direct_io = true;  // see BlockStoreOptions::direct_io
  size_t file_pool_size = 512;  // see BlockStoreOptions::file_pool_size
  // Hand finalized replicas to clients on this host (short-circuit local reads).
  bool local_reads = true;
  uint32_t bytes_per_checksum = 4096;
  uint64_t reserved_bytes_per_volume = 0;
  uint64_t capacity_bytes_per_volume_for_tests = 0;
  // Block scanner: verify every finalized replica once per period, at most this fast.
  int64_t scan_period_ms = 3600 * 1000;
  uint64_t scan_bytes_per_sec = 64ull << 20;
  int64_t volume_check_interval_ms = 10000;
  int max_replication_streams = 4;
  size_t forward_queue_bytes = 256 << 20;  // async followers may lag this far
  // Keepalive of connections to other DataNodes (see common/datanode_channels.h).
  int64_t peer_keepalive_ms = 10000;
  // Tests: sleep this long before writing each packet (a deliberately slow DataNode).
  int64_t write_delay_ms_for_tests = 0;

  Status Validate() const;
};

}  // namespace cairn::datanode
