// Helpers for daemon main()s.
#pragma once

#include <csignal>

namespace cairn {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (call first in main(), before any
// thread starts, so that every thread inherits the mask).
void BlockTerminationSignals();
// Waits for one of the blocked termination signals and returns its number.
int WaitForTerminationSignal();

}  // namespace cairn
