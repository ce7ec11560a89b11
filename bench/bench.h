// cairn-bench: metadata and I/O benchmarks against a live cluster.
#pragma once

#include <string>

#include "client/cairn/client.h"

namespace cairn::bench {

struct MetaOptions {
  std::string namenode = "127.0.0.1:8020";
  std::string op = "create";  // create|mkdir|stat|list|rename|delete
  int threads = 16;
  int64_t ops = 10000;
  std::string base_dir = "/cairn-bench";
  bool cleanup = true;
  int namenode_pid = 0;
  std::string in_process_dir;  // non-empty: drive a NameNode namespace core here, no RPC
  int clients = 1;             // FileSystem instances (connections); threads share them
  int rpcs_in_flight = -1;     // ClientOptions::metadata_rpcs_in_flight; -1 = its default
};
// Prints one line: op, threads, ops, ops_per_sec, latency percentiles. Returns an exit status.
int RunMeta(const MetaOptions& options);

struct IoOptions {
  std::string namenode = "127.0.0.1:8020";
  bool write = false;
  bool read = false;
  int files = 1;
  uint64_t size = 256 << 20;  // bytes per file
  int threads = 1;
  uint32_t replication = 1;
  std::string ack = "sync";
  uint64_t block_size = 0;
  std::string base_dir = "/cairn-bench/io";
  size_t buffer = 1 << 20;
  bool local_reads = true;  // ClientOptions::local_reads (short-circuit reads on this host)
};
// Prints one line per phase with MiB/s. Returns an exit status.
int RunIo(const IoOptions& options);

}  // namespace cairn::bench
