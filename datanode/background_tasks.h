// BackgroundTasks: threads that outlive the RPC that started them (async-mode followers
// catching up, replication transfers). Shutdown waits for all of them. Thread-safe.
#pragma once

#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace cairn::datanode {

class BackgroundTasks {
 public:
  ~BackgroundTasks() { WaitAll(); }
  // Runs `fn` on a new thread.
  void Run(std::function<void()> fn) {
    {
      absl::MutexLock l(&mu_);
      ++running_;
    }
    std::thread([this, fn = std::move(fn)] {
      fn();
      absl::MutexLock l(&mu_);
      --running_;
    }).detach();
  }
  void WaitAll() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(+[](int* n) { return *n == 0; }, &running_));
  }
  int running() const {
    absl::MutexLock l(&mu_);
    return running_;
  }

 private:
  mutable absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cairn::datanode
