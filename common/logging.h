// Logging for Cairn: glog, wrapped once. LOG(INFO) for lifecycle, LOG(WARNING) for recovered
// faults, VLOG(1) per-RPC detail, CHECK only for broken invariants.
#pragma once

#include <glog/logging.h>

namespace cairn {

// Initializes glog for a daemon: logs to stderr (the deploy scripts redirect it to a file).
void InitLogging(const char* argv0);
// Turns off absl::Mutex deadlock detection (expensive); InitLogging does it for daemons.
void DisableMutexDeadlockDetection();

}  // namespace cairn
