// LeaseManager: single-writer leases on files under construction. The lease holder of a file
// is persisted in its inode; renewal times live here, in memory (after a restart every
// lease starts fresh). Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace cairn::namenode {

class LeaseManager {
 public:
  explicit LeaseManager(std::function<int64_t()> now_ms) : now_ms_(std::move(now_ms)) {}

  void Add(const std::string& client, uint64_t inode_id);
  void Remove(const std::string& client, uint64_t inode_id);
  void Renew(const std::string& client);
  // Milliseconds since `client` last renewed (or took) a lease; -1 if it holds none.
  int64_t AgeOf(const std::string& client) const;
  // (client, inode id) of every lease not renewed for `limit_ms`.
  std::vector<std::pair<std::string, uint64_t>> Expired(int64_t limit_ms) const;
  // One lease as of a moment: `seq` changes each time the lease is taken (again).
  struct Entry {
    std::string client;
    uint64_t inode_id = 0;
    uint64_t seq = 0;
  };
  std::vector<Entry> All() const;
  // Removes `e` unless it was taken again since All() listed it.
  void RemoveIfUnchanged(const Entry& e);
  size_t size() const;

 private:
  struct Lease {
    int64_t renewed_ms = 0;
    std::map<uint64_t, uint64_t> inodes;  // inode id -> seq of the Add that took it
  };
  void RemoveLocked(const std::string& client, uint64_t inode_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const std::function<int64_t()> now_ms_;
  mutable absl::Mutex mu_;
  std::map<std::string, Lease> leases_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace cairn::namenode
