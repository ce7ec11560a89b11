// cairn-fuse: mounts a Cairn file system. Parses the command line into FuseOptions and runs
// the mount (fuse_server.h); the file-system semantics are described in file_handles.h.
#include <iostream>

#include "common/daemon.h"
#include "common/malloc_tuning.h"
#include "fuse/fuse_options.h"
#include "fuse/fuse_server.h"

int main(int argc, char** argv) {
  // First, before any thread exists: every thread inherits the blocked termination signals,
  // which a dedicated thread then waits for.
  cairn::BlockTerminationSignals();
  cairn::KeepLargeBuffersInHeap();
  cairn::fuse::FuseOptions options;
  bool exit_now = false;
  if (auto s = cairn::fuse::ParseFuseCommandLine(argc, argv, &options, &exit_now); !s.ok()) {
    std::cerr << "cairn-fuse: " << s.message() << "\nTry `" << argv[0] << " --help'.\n";
    return 2;
  }
  if (exit_now) return 0;
  return cairn::fuse::RunFuse(options);
}
