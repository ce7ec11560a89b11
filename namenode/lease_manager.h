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
  // (client, inode id) of every lease.
  std::vector<std::pair<std::string, uint64_t>> All() const;
  size_t size() const;

 private:
  struct Lease {
    int64_t renewed_ms = 0;
    std::set<uint64_t> inodes;
  };
  const std::function<int64_t()> now_ms_;
  mutable absl::Mutex mu_;
  std::map<std::string, Lease> leases_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cairn::namenode
