// DirCache: recent complete listings of small directories, so that lookups of names in them
// need no NameNode call (`ls -l`, `find`, `git status`, `rsync`, a stat of every file after
// the kernel dropped its caches, the lookup of a new name before each mkdir or create).
// A listing answers both ways: a name in it exists, a name missing from it does not. Either
// answer is at most `ttl_ms` old -- the staleness the kernel's entry and attribute caches
// already allow (min(attr_timeout, entry_timeout); 0 disables the cache): a name created or
// removed by another client shows through this mount within that time, as after an expired
// kernel entry. Names changed through this mount are not answered from the listing (they are
// asked from the NameNode until the next listing), and a listing that raced with such a
// change is not stored. A directory created through this mount starts with an empty listing.
//
// Thread-safe. Its mutex is a leaf lock (never held across an RPC or another lock).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "client/cairn/client.h"

namespace cairn::fuse {

class DirCache {
 public:
  // Listings hold at most `max_entries` entries; at most `max_dirs` directories are cached.
  DirCache(int64_t ttl_ms, size_t max_entries = 4096, size_t max_dirs = 1024);
  DirCache(const DirCache&) = delete;
  DirCache& operator=(const DirCache&) = delete;

  bool enabled() const { return ttl_ms_ > 0; }
  size_t max_entries() const { return max_entries_; }

  struct Answer {
    enum Kind { kUnknown, kPresent, kAbsent };
    Kind kind = kUnknown;
    client::FileStatus status;  // kPresent only
    bool present() const { return kind == kPresent; }
    bool absent() const { return kind == kAbsent; }
  };
  // What a listing of `dir` younger than the ttl says of `name`: kUnknown without such a
  // listing or when `name` changed through this mount since it was read.
  Answer Lookup(uint64_t dir, const std::string& name);
  // Counts a lookup that missed; true when `dir` is looked up often enough to list it now
  // (the third miss within one ttl, the directory was not found too large lately, and it has
  // no fresh listing: names missing from one are new, and a new listing would lack them too).
  bool ShouldList(uint64_t dir);
  // Before listing `dir`: a token for Put().
  uint64_t BeginList(uint64_t dir);
  // Stores the complete listing of `dir`, read after BeginList() returned `token` at
  // `started_ms` (MonoMillis), unless a change to `dir` was recorded meanwhile.
  void Put(uint64_t dir, const std::vector<client::FileStatus>& entries, uint64_t token,
           int64_t started_ms);
  // Before creating a directory through this mount: a token for PutNew().
  uint64_t BeginNew();
  // `dir` was just created through this mount by a call sent at `started_ms` (MonoMillis),
  // after BeginNew() returned `token`: it is empty as of then, unless a change in it through
  // this mount was recorded already (or may have been, and was forgotten since).
  void PutNew(uint64_t dir, uint64_t token, int64_t started_ms);
  // `dir` has more than max_entries() entries: do not try to list it for a while.
  void TooLarge(uint64_t dir);
  // `name` in `dir` changed through this mount (created, removed, renamed, written, ...).
  void Erase(uint64_t dir, const std::string& name);
  // `dir` itself went away.
  void Drop(uint64_t dir);

 private:
  struct Dir {
    uint64_t epoch = 0;         // bumped by every change
    int64_t listed_ms = -1;     // MonoMillis the listing was started; -1: none
    absl::flat_hash_map<std::string, client::FileStatus> entries;
    absl::flat_hash_set<std::string> changed;  // names changed through this mount since listed
    int misses = 0;
    int64_t miss_window_ms = 0;
    int64_t too_large_until_ms = 0;
  };
  Dir& GetLocked(uint64_t dir) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t ttl_ms_;
  const size_t max_entries_;
  const size_t max_dirs_;
  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Dir> dirs_ ABSL_GUARDED_BY(mu_);
  uint64_t next_epoch_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t evicted_at_ ABSL_GUARDED_BY(mu_) = 0;  // next_epoch_ when records were last forgotten
};

}  // namespace cairn::fuse
