// Time sources. Production code uses SystemClock; tests may substitute a ManualClock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace cairn {

// Milliseconds since the Unix epoch (wall clock, for mtime/atime).
int64_t WallMillis();
// Milliseconds on a monotonic clock (for timeouts and liveness).
int64_t MonoMillis();

}  // namespace cairn
