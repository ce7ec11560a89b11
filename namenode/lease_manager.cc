#include "namenode/lease_manager.h"

namespace cairn::namenode {

void LeaseManager::Add(const std::string& client, uint64_t inode_id) {
  absl::MutexLock l(&mu_);
  Lease& lease = leases_[client];
  lease.renewed_ms = now_ms_();
  lease.inodes[inode_id] = next_seq_++;
}

void LeaseManager::Remove(const std::string& client, uint64_t inode_id) {
  absl::MutexLock l(&mu_);
  RemoveLocked(client, inode_id);
}

void LeaseManager::RemoveLocked(const std::string& client, uint64_t inode_id) {
  auto it = leases_.find(client);
  if (it == leases_.end()) return;
  it->second.inodes.erase(inode_id);
  if (it->second.inodes.empty()) leases_.erase(it);
}

void LeaseManager::RemoveIfUnchanged(const Entry& e) {
  absl::MutexLock l(&mu_);
  auto it = leases_.find(e.client);
  if (it == leases_.end()) return;
  auto i = it->second.inodes.find(e.inode_id);
  if (i != it->second.inodes.end() && i->second == e.seq) RemoveLocked(e.client, e.inode_id);
}

void LeaseManager::Renew(const std::string& client) {
  absl::MutexLock l(&mu_);
  auto it = leases_.find(client);
  if (it != leases_.end()) it->second.renewed_ms = now_ms_();
}

int64_t LeaseManager::AgeOf(const std::string& client) const {
  absl::MutexLock l(&mu_);
  auto it = leases_.find(client);
  return it == leases_.end() ? -1 : now_ms_() - it->second.renewed_ms;
}

std::vector<std::pair<std::string, uint64_t>> LeaseManager::Expired(int64_t limit_ms) const {
  const int64_t now = now_ms_();
  absl::MutexLock l(&mu_);
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [client, lease] : leases_) {
    if (now - lease.renewed_ms < limit_ms) continue;
    for (const auto& [id, seq] : lease.inodes) out.emplace_back(client, id);
  }
  return out;
}

std::vector<LeaseManager::Entry> LeaseManager::All() const {
  absl::MutexLock l(&mu_);
  std::vector<Entry> out;
  for (const auto& [client, lease] : leases_) {
    for (const auto& [id, seq] : lease.inodes) out.push_back(Entry{client, id, seq});
  }
  return out;
}

size_t LeaseManager::size() const {
  absl::MutexLock l(&mu_);
  return leases_.size();
}

}  // namespace cairn::namenode
