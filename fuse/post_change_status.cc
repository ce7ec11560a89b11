#include "fuse/post_change_status.h"

#include "common/clock.h"

namespace cairn::fuse {

uint64_t PostChangeStatuses::Begin() {
  absl::MutexLock l(&mu_);
  return changes_;
}

void PostChangeStatuses::Changed(uint64_t ino) {
  absl::MutexLock l(&mu_);
  ++changes_;
  kept_.erase(ino);
}

void PostChangeStatuses::ChangedTo(uint64_t dir, uint64_t token, const client::FileStatus& after) {
  absl::MutexLock l(&mu_);
  const bool alone = changes_ == token;
  ++changes_;
  if (!alone || after.inode_id == 0) {
    kept_.erase(dir);
    return;
  }
  if (kept_.size() >= kMaxKept) kept_.clear();
  kept_[dir] = {after, MonoMillis()};
}

std::optional<client::FileStatus> PostChangeStatuses::Take(uint64_t ino) {
  absl::MutexLock l(&mu_);
  auto it = kept_.find(ino);
  if (it == kept_.end()) return std::nullopt;
  std::optional<client::FileStatus> st;
  if (MonoMillis() - it->second.at_ms <= max_age_ms_) st = std::move(it->second.status);
  kept_.erase(it);
  return st;
}

}  // namespace cairn::fuse
