// SafeMode: after a start the NameNode is read-only until `threshold` of its complete blocks
// have a reported replica, plus `extension_ms`; then it leaves by itself. An administrator
// may enter it (then only an administrator leaves it) or leave it early. Thread-safe.
#pragma once

#include <functional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "namenode/block_manager.h"
#include "namenode/file_ops.h"

namespace cairn::namenode {

class SafeMode : public SafeModeGate {
 public:
  // `blocks` must outlive this.
  SafeMode(const BlockManager* blocks, double threshold, int64_t extension_ms,
           std::function<int64_t()> now_ms);

  bool InSafeMode() const override;
  // Re-evaluates the automatic safemode (call periodically and after block reports).
  void Update();
  void EnterManually();
  void Leave();
  // "ON: 12 of 40 blocks reported (threshold 0.999)" or "OFF".
  std::string Describe() const;

 private:
  const BlockManager* const blocks_;
  const double threshold_;
  const int64_t extension_ms_;
  const std::function<int64_t()> now_ms_;
  mutable absl::Mutex mu_;
  bool on_ ABSL_GUARDED_BY(mu_) = true;
  bool manual_ ABSL_GUARDED_BY(mu_) = false;
  int64_t reached_ms_ ABSL_GUARDED_BY(mu_) = -1;  // when the threshold was first met
};

}  // namespace cairn::namenode
