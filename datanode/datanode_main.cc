// cairn-datanode: parses flags, fills DataNodeOptions, runs the DataNode until SIGTERM/SIGINT.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "common/daemon.h"
#include "common/info_file.h"
#include "common/logging.h"
#include "common/malloc_tuning.h"
#include "datanode/datanode.h"

int main(int argc, char** argv) {
  cairn::BlockTerminationSignals();
  cairn::KeepLargeBuffersInHeap();
  cairn::datanode::DataNodeOptions o;
  std::string info_file;
  CLI::App app{"Cairn DataNode: stores and replicates blocks"};
  app.add_option("--volume", o.volumes, "Block directory (repeat for several volumes)")->required();
  app.add_option("--namenode", o.namenode, "NameNode HOST:PORT")->capture_default_str();
  app.add_option("--bind", o.bind_host, "Address to listen on")->capture_default_str();
  app.add_option("--port", o.port, "Port (0 = any free port)")->capture_default_str();
  app.add_option("--info-file", info_file, "Write port=... and pid=... here once listening");
  app.add_option("--heartbeat-interval-ms", o.heartbeat_interval_ms)->capture_default_str();
  app.add_option("--block-report-interval-ms", o.block_report_interval_ms)->capture_default_str();
  app.add_flag("!--no-fsync", o.fsync_on_finalize, "Do not fsync finalized replicas (unsafe)");
  app.add_flag("!--no-direct-io", o.direct_io,
               "Write replica data through the page cache instead of with O_DIRECT");
  app.add_option("--file-pool", o.file_pool_size,
                 "Empty files kept ready per volume for new replicas (0 = create as needed)")
      ->capture_default_str();
  app.add_flag("!--no-local-reads", o.local_reads,
               "Do not hand replica files to clients on this host (short-circuit reads)");
  app.add_option("--bytes-per-checksum", o.bytes_per_checksum)->capture_default_str();
  app.add_option("--reserved-bytes", o.reserved_bytes_per_volume, "Free space to keep per volume")
      ->capture_default_str();
  app.add_option("--capacity-bytes", o.capacity_bytes_per_volume_for_tests,
                 "Pretend each volume holds this many bytes (tests)");
  app.add_option("--scan-period-ms", o.scan_period_ms)->capture_default_str();
  app.add_option("--scan-bytes-per-sec", o.scan_bytes_per_sec)->capture_default_str();
  app.add_option("--volume-check-interval-ms", o.volume_check_interval_ms)->capture_default_str();
  app.add_option("--peer-keepalive-ms", o.peer_keepalive_ms,
                 "Ping other DataNodes of a pipeline this often; one silent this long has failed")
      ->capture_default_str();
  app.add_option("--write-delay-ms", o.write_delay_ms_for_tests,
                 "Sleep before each packet write (tests: a slow DataNode)");
  CLI11_PARSE(app, argc, argv);

  cairn::InitLogging(argv[0]);
  cairn::datanode::DataNode dn(o);
  if (auto s = dn.Start(); !s.ok()) {
    std::cerr << "cairn-datanode: " << s.message() << "\n";
    return 1;
  }
  if (!info_file.empty()) {
    auto s = cairn::WriteInfoFile(info_file, {{"port", std::to_string(dn.port())},
                                              {"pid", std::to_string(getpid())},
                                              {"uuid", dn.uuid()}});
    if (!s.ok()) LOG(WARNING) << s;
  }
  int sig = cairn::WaitForTerminationSignal();
  LOG(INFO) << "signal " << sig << ": shutting down";
  dn.Shutdown();
  return 0;
}
