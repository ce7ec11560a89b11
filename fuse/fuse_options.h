// FuseOptions: the configuration of one cairn-fuse mount, and the command-line parser that
// fills it. Only fuse_main.cc calls the parser; tests and the server build the struct directly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace cairn::fuse {

struct FuseOptions {
  std::string mountpoint;
  // NameNode HOST:PORT: --namenode, then -o namenode=, then $CAIRN_NAMENODE, then this default.
  std::string namenode = "127.0.0.1:8020";
  int64_t rpc_timeout_ms = 30000;  // deadline of each NameNode call
  bool foreground = false;         // -f; without it the process daemonizes once mounted
  bool debug = false;              // -d: libfuse request tracing (implies -f)
  bool single_threaded = false;    // -s

  // Kernel caches (seconds). 0 for entries/attributes when several clients share files.
  double attr_timeout_s = 1.0;
  double entry_timeout_s = 1.0;
  double negative_timeout_s = 0.0;
  bool kernel_cache = false;  // keep the page cache across opens (no close-to-open consistency)
  // Serve lookups from recent listings of small directories (positive entries only, at most
  // min(attr_timeout, entry_timeout) old; see dir_cache.h).
  bool dir_cache = true;

  unsigned max_threads = 32;  // FUSE worker threads
  bool clone_fd = true;       // one /dev/fuse fd per worker thread
  uint32_t max_write_bytes = 1 << 20;        // largest FUSE write request
  uint32_t max_readahead_bytes = 8 << 20;    // kernel read-ahead window of the mount
  uint64_t read_chunk_bytes = 4 << 20;       // one DataNode read of a sequential reader
  int read_ahead_chunks = 2;                 // chunks fetched ahead of a sequential reader
  uint64_t stage_on_unlink_max_bytes = 64 << 20;  // open files up to this size stay readable
                                                  // after unlink (copied locally first)

  uint32_t replication = 0;       // of new files; 0 = the NameNode's default
  uint64_t block_size_bytes = 0;  // of new files; 0 = the NameNode's default

  // Staged copies of files being modified live in <staging_dir>/cairn-fuse-<pid>/;
  // "" = $TMPDIR or /tmp.
  std::string staging_dir;
  std::string log_file;  // daemon mode: where stderr (the log) goes; "" = /dev/null
  std::string pid_file;  // written once mounted, if set

  bool default_permissions = true;  // the kernel checks modes against uid/gid
  bool allow_other = false;         // set by default when running as root

  // Options handed to libfuse and the kernel mount unchanged (e.g. "ro", "fsname=x").
  std::vector<std::string> fuse_options;

  // INVALID_ARGUMENT naming the bad setting.
  Status Validate() const;
};

// Parses `cairn-fuse MOUNTPOINT [--namenode HOST:PORT] [-f] [-d] [-s] [-o OPT[,OPT...]]`.
// --help/--version: prints the text, sets *exit_now and returns OK. Errors: INVALID_ARGUMENT.
Status ParseFuseCommandLine(int argc, char** argv, FuseOptions* options, bool* exit_now);

// The -o list given to libfuse: fsname/subtype, default_permissions, allow_other, and the
// pass-through options.
std::string KernelMountOptions(const FuseOptions& options);

// Help text for --help.
std::string FuseUsage(const char* argv0);

}  // namespace cairn::fuse
