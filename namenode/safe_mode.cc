#include "namenode/safe_mode.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace cairn::namenode {

SafeMode::SafeMode(const BlockManager* blocks, double threshold, int64_t extension_ms,
                   std::function<int64_t()> now_ms)
    : blocks_(blocks), threshold_(threshold), extension_ms_(extension_ms), now_ms_(std::move(now_ms)) {}

bool SafeMode::InSafeMode() const {
  absl::MutexLock l(&mu_);
  return on_;
}

void SafeMode::Update() {
  const BlockCounts c = blocks_->Counts();
  absl::MutexLock l(&mu_);
  if (!on_ || manual_) return;
  const bool met = static_cast<double>(c.with_replica) >= threshold_ * static_cast<double>(c.total);
  if (!met) {
    reached_ms_ = -1;
    return;
  }
  const int64_t now = now_ms_();
  if (reached_ms_ < 0) {
    reached_ms_ = now;
    if (c.total > 0) {
      LOG(INFO) << "safemode: " << c.with_replica << " of " << c.total
                << " blocks reported; leaving in " << extension_ms_ << " ms";
    }
  }
  // An empty namespace has nothing to wait for.
  if (c.total == 0 || now - reached_ms_ >= extension_ms_) {
    on_ = false;
    LOG(INFO) << "safemode: off (" << c.with_replica << " of " << c.total << " blocks reported)";
  }
}

void SafeMode::EnterManually() {
  absl::MutexLock l(&mu_);
  on_ = true;
  manual_ = true;
  LOG(INFO) << "safemode: entered by an administrator";
}

void SafeMode::Leave() {
  absl::MutexLock l(&mu_);
  on_ = false;
  manual_ = false;
  LOG(INFO) << "safemode: left by an administrator";
}

std::string SafeMode::Describe() const {
  const BlockCounts c = blocks_->Counts();
  absl::MutexLock l(&mu_);
  if (!on_) return "OFF";
  return absl::StrCat("ON", manual_ ? " (manual)" : "", ": ", c.with_replica, " of ", c.total,
                      " blocks reported (threshold ", threshold_, ")");
}

}  // namespace cairn::namenode
