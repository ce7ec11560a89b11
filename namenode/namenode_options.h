// Configuration of a NameNode. Plain struct: the main() fills it from flags, tests directly.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "namenode/namespace_ops.h"

namespace cairn::namenode {

struct NameNodeOptions {
  std::string dir;                        // metadata directory (LevelDB lives in dir/meta)
  std::string bind_host = "127.0.0.1";
  int port = 8020;                        // 0 = any free port (see NameNode::port())
  std::string cluster_id;                 // "" = created on first start, then persisted
  bool sync_metadata = true;              // sync the namespace log before answering mutations
  int rpc_threads = 2;                    // completion-queue threads serving RPCs
  size_t read_cache_entries = 1 << 18;    // namespace keys cached in memory for reads
  uint64_t journal_retain_txns = 1000000; // newest journal records kept (0 = all)
  size_t log_preallocate_bytes = 1 << 20; // log files zero-filled this far ahead (0 = off)
  NamespaceOpsOptions namespace_ops;
  // Liveness (DataNodes).
  int64_t heartbeat_interval_ms = 1000;   // what DataNodes are told to use
  int64_t stale_after_ms = 5000;          // no heartbeat for this long: stale
  int64_t dead_after_ms = 30000;          // no heartbeat for this long: dead
  // Leases.
  int64_t lease_soft_limit_ms = 60000;    // another writer may recover the lease after this
  int64_t lease_hard_limit_ms = 300000;   // the NameNode recovers the file after this
  // Safemode: stay read-only until this fraction of blocks has a reported replica.
  double safemode_threshold = 0.999;
  int64_t safemode_extension_ms = 3000;
  int64_t replication_check_interval_ms = 1000;
  int max_replication_streams_per_node = 4;
  int64_t pending_replication_timeout_ms = 60000;

  Status Validate() const;
};

}  // namespace cairn::namenode
