// cairn-namenode: parses flags, fills NameNodeOptions, runs the NameNode until SIGTERM/SIGINT.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "common/daemon.h"
#include "common/info_file.h"
#include "common/logging.h"
#include "namenode/namenode.h"

int main(int argc, char** argv) {
  cairn::BlockTerminationSignals();
  cairn::namenode::NameNodeOptions o;
  std::string info_file;
  CLI::App app{"Cairn NameNode: namespace, block map and DataNode coordination"};
  app.add_option("--dir", o.dir, "Metadata directory")->required();
  app.add_option("--bind", o.bind_host, "Address to listen on")->capture_default_str();
  app.add_option("--port", o.port, "Port to listen on (0 = any free port)")->capture_default_str();
  app.add_option("--info-file", info_file, "Write port=... and pid=... here once listening");
  app.add_option("--cluster-id", o.cluster_id, "Cluster id (default: generated once)");
  app.add_option("--default-replication", o.namespace_ops.default_replication)->capture_default_str();
  app.add_option("--default-block-size", o.namespace_ops.default_block_size_bytes,
                 "Default block size in bytes")->capture_default_str();
  app.add_option("--min-block-size", o.namespace_ops.min_block_size_bytes)->capture_default_str();
  app.add_option("--rpc-threads", o.rpc_threads, "Threads serving RPCs")->capture_default_str();
  app.add_option("--read-cache-entries", o.read_cache_entries,
                 "Inodes and directory entries kept in memory for reads (0 = none)")
      ->capture_default_str();
  app.add_option("--log-preallocate-bytes", o.log_preallocate_bytes,
                 "Zero-fill the metadata log this far ahead of its writer, so syncs need not "
                 "grow the file (0 = off)")
      ->capture_default_str();
  app.add_option("--journal-retain-txns", o.journal_retain_txns,
                 "Newest journal records kept (0 = all)")
      ->capture_default_str();
  app.add_flag("!--no-sync", o.sync_metadata, "Do not sync metadata writes (unsafe; benchmarks)");
  app.add_option("--heartbeat-interval-ms", o.heartbeat_interval_ms)->capture_default_str();
  app.add_option("--stale-after-ms", o.stale_after_ms)->capture_default_str();
  app.add_option("--dead-after-ms", o.dead_after_ms)->capture_default_str();
  app.add_option("--lease-soft-limit-ms", o.lease_soft_limit_ms)->capture_default_str();
  app.add_option("--lease-hard-limit-ms", o.lease_hard_limit_ms)->capture_default_str();
  app.add_option("--safemode-threshold", o.safemode_threshold)->capture_default_str();
  app.add_option("--safemode-extension-ms", o.safemode_extension_ms)->capture_default_str();
  app.add_option("--replication-check-interval-ms", o.replication_check_interval_ms)->capture_default_str();
  app.add_option("--pending-replication-timeout-ms", o.pending_replication_timeout_ms)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  cairn::InitLogging(argv[0]);
  cairn::namenode::NameNode nn(o);
  if (auto s = nn.Start(); !s.ok()) {
    std::cerr << "cairn-namenode: " << s.message() << "\n";
    return 1;
  }
  if (!info_file.empty()) {
    auto s = cairn::WriteInfoFile(info_file, {{"port", std::to_string(nn.port())},
                                              {"pid", std::to_string(getpid())},
                                              {"cluster_id", nn.cluster_id()}});
    if (!s.ok()) LOG(WARNING) << s;
  }
  int sig = cairn::WaitForTerminationSignal();
  LOG(INFO) << "signal " << sig << ": shutting down";
  nn.Shutdown();
  return 0;
}
