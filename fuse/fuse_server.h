// RunFuse: connects to the NameNode, mounts, serves the mount until it is unmounted
// (fusermount3 -u) or the process gets SIGTERM/SIGINT/SIGHUP, then writes back open files and
// unmounts. Without options.foreground the process forks first; the parent waits until the
// child has mounted (or failed, printing the child's error) and exits with its status.
#pragma once

#include "fuse/fuse_options.h"

namespace cairn::fuse {

// REQUIRES: SIGINT, SIGTERM and SIGHUP are blocked in the calling thread and no other thread
// has been started (cairn::BlockTerminationSignals() first in main). Returns the exit code.
int RunFuse(const FuseOptions& options);

}  // namespace cairn::fuse
