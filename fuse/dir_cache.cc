#include "fuse/dir_cache.h"

#include "common/clock.h"

namespace cairn::fuse {

DirCache::DirCache(int64_t ttl_ms, size_t max_entries, size_t max_dirs)
    : ttl_ms_(ttl_ms), max_entries_(max_entries), max_dirs_(max_dirs) {}

DirCache::Dir& DirCache::GetLocked(uint64_t dir) {
  auto it = dirs_.find(dir);
  if (it != dirs_.end()) return it->second;
  if (dirs_.size() >= max_dirs_) {
    // Forget expired listings; if that is not enough, everything (the cache is best effort;
    // a forgotten epoch only makes a racing Put() fail).
    const int64_t now = MonoMillis();
    absl::erase_if(dirs_, [&](const auto& kv) {
      return kv.second.listed_ms < 0 || now - kv.second.listed_ms > ttl_ms_;
    });
    if (dirs_.size() >= max_dirs_) dirs_.clear();
    evicted_at_ = next_epoch_;
  }
  Dir& d = dirs_[dir];
  d.epoch = next_epoch_++;
  return d;
}

DirCache::Answer DirCache::Lookup(uint64_t dir, const std::string& name) {
  Answer a;
  if (!enabled()) return a;
  absl::MutexLock l(&mu_);
  auto it = dirs_.find(dir);
  if (it == dirs_.end() || it->second.listed_ms < 0) return a;
  Dir& d = it->second;
  if (MonoMillis() - d.listed_ms > ttl_ms_) {
    d.entries.clear();
    d.changed.clear();
    d.listed_ms = -1;
    return a;
  }
  if (d.changed.contains(name)) return a;
  auto e = d.entries.find(name);
  if (e == d.entries.end()) {
    a.kind = Answer::kAbsent;
  } else {
    a.kind = Answer::kPresent;
    a.status = e->second;
  }
  return a;
}

bool DirCache::ShouldList(uint64_t dir) {
  if (!enabled()) return false;
  absl::MutexLock l(&mu_);
  Dir& d = GetLocked(dir);
  const int64_t now = MonoMillis();
  if (now < d.too_large_until_ms) return false;
  // A fresh listing that lacks the name would be listed again without it (a name being
  // created, or one changed through this mount): no point in listing again.
  if (d.listed_ms >= 0 && now - d.listed_ms <= ttl_ms_) return false;
  if (now - d.miss_window_ms > ttl_ms_) {
    d.miss_window_ms = now;
    d.misses = 0;
  }
  if (++d.misses < 3) return false;
  d.misses = 0;
  return true;
}

uint64_t DirCache::BeginList(uint64_t dir) {
  absl::MutexLock l(&mu_);
  return GetLocked(dir).epoch;
}

void DirCache::Put(uint64_t dir, const std::vector<client::FileStatus>& entries, uint64_t token,
                   int64_t started_ms) {
  if (!enabled() || entries.size() > max_entries_) return;
  absl::MutexLock l(&mu_);
  auto it = dirs_.find(dir);
  if (it == dirs_.end() || it->second.epoch != token) return;  // changed meanwhile
  Dir& d = it->second;
  d.entries.clear();
  d.changed.clear();
  for (const auto& e : entries) d.entries.emplace(e.name, e);
  d.listed_ms = started_ms;
}

uint64_t DirCache::BeginNew() {
  absl::MutexLock l(&mu_);
  return next_epoch_++;
}

void DirCache::PutNew(uint64_t dir, uint64_t token, int64_t started_ms) {
  if (!enabled()) return;
  absl::MutexLock l(&mu_);
  if (dirs_.contains(dir)) return;  // something happened in it already: no guess
  if (evicted_at_ > token) return;  // a change in it may have been recorded and forgotten
  Dir& d = GetLocked(dir);
  d.listed_ms = started_ms;
}

void DirCache::TooLarge(uint64_t dir) {
  absl::MutexLock l(&mu_);
  GetLocked(dir).too_large_until_ms = MonoMillis() + 10 * std::max<int64_t>(ttl_ms_, 1000);
}

void DirCache::Erase(uint64_t dir, const std::string& name) {
  if (!enabled()) return;
  absl::MutexLock l(&mu_);
  // Recorded even for a directory without a listing: a PutNew() that lost the race to this
  // change must not declare the directory empty.
  Dir& d = GetLocked(dir);
  d.epoch = next_epoch_++;
  if (d.listed_ms < 0) return;
  d.entries.erase(name);
  if (d.changed.size() >= max_entries_) {  // too many to track: forget the listing
    d.entries.clear();
    d.changed.clear();
    d.listed_ms = -1;
    return;
  }
  d.changed.insert(name);
}

void DirCache::Drop(uint64_t dir) {
  if (!enabled()) return;
  absl::MutexLock l(&mu_);
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  it->second.epoch = next_epoch_++;
  it->second.entries.clear();
  it->second.changed.clear();
  it->second.listed_ms = -1;
}

}  // namespace cairn::fuse
