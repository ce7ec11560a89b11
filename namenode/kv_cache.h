// KvCache: recently read or written namespace keys with their committed values (nullopt: the
// key is absent), so that reads skip LevelDB's memtable and block lookups. Kept coherent with
// the store by a write generation: the committer calls BeginWrite() before writing a batch
// and EndWrite() with the batch's changes after; a reader that read LevelDB stores what it read
// only if no write began since it took the generation (so it never stores a value older than
// one already written). Thread-safe. At most `max_entries` keys (the oldest inserted is dropped
// to make room).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace cairn::namenode {

class KvCache {
 public:
  explicit KvCache(size_t max_entries) : max_entries_(max_entries) {}

  // Odd while a write is in progress.
  uint64_t generation() const {
    absl::MutexLock l(&mu_);
    return generation_;
  }
  // The cached value of `key` (inner nullopt: absent), or nullopt when `key` is not cached.
  std::optional<std::optional<std::string>> Get(const std::string& key) const;
  // Stores `value` read from LevelDB at `generation` (see generation()), unless a write began
  // since.
  void Fill(uint64_t generation, const std::string& key, const std::optional<std::string>& value);
  void BeginWrite();
  // The batch is written: `changes` (nullopt: deleted) become the cached values.
  void EndWrite(const std::map<std::string, std::optional<std::string>>& changes);
  // The write failed and its effect is unknown: forgets everything.
  void EndFailedWrite();

 private:
  void InsertLocked(const std::string& key, const std::optional<std::string>& value)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_entries_;
  mutable absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, std::optional<std::string>> map_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);  // the keys of map_, oldest first
};

}  // namespace cairn::namenode
