// cairn-bench meta|io: see bench/bench.h.
#include <CLI/CLI.hpp>
#include <cstdlib>

#include "bench/bench.h"
#include "common/logging.h"
#include "common/malloc_tuning.h"

int main(int argc, char** argv) {
  cairn::DisableMutexDeadlockDetection();
  cairn::KeepLargeBuffersInHeap();
  cairn::bench::MetaOptions meta;
  cairn::bench::IoOptions io;
  std::string namenode = "127.0.0.1:8020";
  if (const char* env = std::getenv("CAIRN_NAMENODE"); env && *env) namenode = env;
  CLI::App app{"cairn-bench: Cairn metadata and I/O benchmarks"};
  app.require_subcommand(1);
  app.add_option("--namenode", namenode, "NameNode HOST:PORT");
  auto* m = app.add_subcommand("meta", "NameNode operations per second");
  m->add_option("--op", meta.op, "create|mkdir|stat|list|rename|delete")->capture_default_str();
  m->add_option("--threads", meta.threads)->capture_default_str();
  m->add_option("--ops", meta.ops, "Total operations")->capture_default_str();
  m->add_option("--dir", meta.base_dir)->capture_default_str();
  m->add_flag("!--keep", meta.cleanup, "Keep the files afterwards");
  m->add_option("--in-process", meta.in_process_dir,
                 "Run the NameNode's namespace core in this process on DIR (no RPC, durable)");
  m->add_option("--namenode-pid", meta.namenode_pid, "Report the NameNode's CPU per op too");
  m->add_option("--clients", meta.clients,
                "Client instances (connections), shared round-robin by the threads as by the "
                "threads of one application; --clients=THREADS: one per thread")
      ->capture_default_str();
  m->add_option("--rpcs-in-flight", meta.rpcs_in_flight,
                "Metadata RPCs a client sends at once before batching (0: no batching; "
                "default: the library's)");
  auto* i = app.add_subcommand("io", "Write/read throughput (TestDFSIO-like)");
  i->add_flag("--write", io.write);
  i->add_flag("--read", io.read);
  i->add_option("--files", io.files)->capture_default_str();
  i->add_option("--size", io.size, "Bytes per file")->capture_default_str();
  i->add_option("--threads", io.threads)->capture_default_str();
  i->add_option("--replication", io.replication)->capture_default_str();
  i->add_option("--ack", io.ack, "sync|semi-sync|async")->capture_default_str();
  i->add_option("--block-size", io.block_size)->capture_default_str();
  i->add_option("--dir", io.base_dir)->capture_default_str();
  i->add_flag("!--no-local-reads", io.local_reads,
              "Read replicas on this host over gRPC too (no short-circuit local reads)");
  CLI11_PARSE(app, argc, argv);
  meta.namenode = io.namenode = namenode;
  if (m->parsed()) return cairn::bench::RunMeta(meta);
  return cairn::bench::RunIo(io);
}
