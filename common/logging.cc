#include "common/logging.h"

#include "absl/synchronization/mutex.h"

namespace cairn {

void InitLogging(const char* argv0) {
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv0);
  DisableMutexDeadlockDetection();
}

void DisableMutexDeadlockDetection() {
  // absl::Mutex's cycle detection (on in Debian's build) costs a global graph update per lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace cairn
