#include "namenode/kv_cache.h"

namespace cairn::namenode {

std::optional<std::optional<std::string>> KvCache::Get(const std::string& key) const {
  absl::MutexLock l(&mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

void KvCache::Fill(uint64_t generation, const std::string& key,
                   const std::optional<std::string>& value) {
  absl::MutexLock l(&mu_);
  if (generation != generation_ || generation % 2 != 0) return;
  InsertLocked(key, value);
}

void KvCache::BeginWrite() {
  absl::MutexLock l(&mu_);
  if (generation_ % 2 == 0) ++generation_;
}

void KvCache::EndWrite(const std::map<std::string, std::optional<std::string>>& changes) {
  absl::MutexLock l(&mu_);
  for (const auto& [key, value] : changes) InsertLocked(key, value);
  if (generation_ % 2 != 0) ++generation_;
}

void KvCache::EndFailedWrite() {
  absl::MutexLock l(&mu_);
  map_.clear();
  order_.clear();
  if (generation_ % 2 != 0) ++generation_;
}

void KvCache::InsertLocked(const std::string& key, const std::optional<std::string>& value) {
  if (max_entries_ == 0) return;
  auto it = map_.find(key);
  if (it != map_.end()) {
    it->second = value;
    return;
  }
  if (map_.size() >= max_entries_) {
    map_.erase(order_.front());
    order_.pop_front();
  }
  map_.emplace(key, value);
  order_.push_back(key);
}

}  // namespace cairn::namenode
