#include "fuse/inode_table.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"

namespace cairn::fuse {

InodeTable::InodeTable() {
  Entry root;
  root.parent = kRootIno;  // never detached
  root.nlookup = 1;
  root.status.inode_id = kRootIno;
  root.status.type = client::FileType::kDirectory;
  root.status.mode = 0755;
  absl::MutexLock l(&mu_);
  inodes_.emplace(kRootIno, std::move(root));
}

void InodeTable::DetachLocked(uint64_t ino) {
  auto it = inodes_.find(ino);
  if (it == inodes_.end() || ino == kRootIno) return;
  Entry& e = it->second;
  if (e.parent != 0) {
    auto c = children_.find(ChildKey(e.parent, e.name));
    if (c != children_.end() && c->second == ino) children_.erase(c);
  }
  e.parent = 0;
}

void InodeTable::Remember(uint64_t ino, uint64_t parent, const std::string& name,
                          const client::FileStatus& status) {
  absl::MutexLock l(&mu_);
  if (ino == kRootIno) {
    inodes_[kRootIno].status = status;
    inodes_[kRootIno].status_ms = MonoMillis();
    return;
  }
  ChildKey key(parent, name);
  auto c = children_.find(key);
  if (c != children_.end() && c->second != ino) DetachLocked(c->second);
  Entry& e = inodes_[ino];
  if (e.parent != parent || e.name != name) {
    if (e.parent != 0) {
      auto old = children_.find(ChildKey(e.parent, e.name));
      if (old != children_.end() && old->second == ino) children_.erase(old);
    }
    e.parent = parent;
    e.name = name;
  }
  children_[std::move(key)] = ino;
  ++e.nlookup;
  e.status = status;
  e.status_ms = MonoMillis();
}

void InodeTable::UpdateStatus(uint64_t ino, const client::FileStatus& status, bool fresh) {
  absl::MutexLock l(&mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return;
  it->second.status = status;
  if (fresh) it->second.status_ms = MonoMillis();
}

std::optional<client::FileStatus> InodeTable::FreshStatus(uint64_t ino, int64_t max_age_ms) const {
  absl::ReaderMutexLock l(&mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end() || MonoMillis() - it->second.status_ms > max_age_ms) return std::nullopt;
  return it->second.status;
}

void InodeTable::Forget(uint64_t ino, uint64_t n) {
  if (ino == kRootIno) return;
  absl::MutexLock l(&mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return;
  if (it->second.nlookup > n) {
    it->second.nlookup -= n;
    return;
  }
  DetachLocked(ino);
  inodes_.erase(it);
}

StatusOr<std::string> InodeTable::PathLocked(uint64_t ino) const {
  std::vector<const std::string*> parts;
  uint64_t cur = ino;
  // A chain longer than this is a cycle: only a bug could make one.
  for (int depth = 0; cur != kRootIno; ++depth) {
    auto it = inodes_.find(cur);
    if (it == inodes_.end()) {
      return absl::NotFoundError(absl::StrCat("inode ", cur, " is not known"));
    }
    if (it->second.parent == 0 || depth > 4096) {
      return WithPosix(absl::NotFoundError(absl::StrCat("inode ", cur, " was removed")),
                       "ESTALE");
    }
    parts.push_back(&it->second.name);
    cur = it->second.parent;
  }
  if (parts.empty()) return std::string("/");
  std::string path;
  for (auto p = parts.rbegin(); p != parts.rend(); ++p) absl::StrAppend(&path, "/", **p);
  return path;
}

StatusOr<std::string> InodeTable::Path(uint64_t ino) const {
  absl::ReaderMutexLock l(&mu_);
  return PathLocked(ino);
}

StatusOr<std::string> InodeTable::ChildPath(uint64_t parent, const std::string& name) const {
  absl::ReaderMutexLock l(&mu_);
  ASSIGN_OR_RETURN(std::string p, PathLocked(parent));
  if (p.size() > 1) p.push_back('/');
  p.append(name);
  return p;
}

bool InodeTable::Where(uint64_t ino, uint64_t* parent, std::string* name) const {
  absl::ReaderMutexLock l(&mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end() || it->second.parent == 0 || ino == kRootIno) return false;
  *parent = it->second.parent;
  *name = it->second.name;
  return true;
}

uint64_t InodeTable::Find(uint64_t parent, const std::string& name) const {
  absl::ReaderMutexLock l(&mu_);
  auto c = children_.find(ChildKey(parent, name));
  return c == children_.end() ? 0 : c->second;
}

std::optional<client::FileStatus> InodeTable::LastStatus(uint64_t ino) const {
  absl::ReaderMutexLock l(&mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return std::nullopt;
  return it->second.status;
}

uint64_t InodeTable::Renamed(uint64_t old_parent, const std::string& old_name,
                             uint64_t new_parent, const std::string& new_name) {
  absl::MutexLock l(&mu_);
  uint64_t replaced = 0;
  auto dst = children_.find(ChildKey(new_parent, new_name));
  auto src = children_.find(ChildKey(old_parent, old_name));
  const uint64_t moving = src == children_.end() ? 0 : src->second;
  if (dst != children_.end() && dst->second != moving) {
    replaced = dst->second;
    DetachLocked(replaced);
  }
  if (moving != 0) {
    children_.erase(ChildKey(old_parent, old_name));
    Entry& e = inodes_[moving];
    e.parent = new_parent;
    e.name = new_name;
    children_[ChildKey(new_parent, new_name)] = moving;
  }
  return replaced;
}

uint64_t InodeTable::Removed(uint64_t parent, const std::string& name) {
  absl::MutexLock l(&mu_);
  auto c = children_.find(ChildKey(parent, name));
  if (c == children_.end()) return 0;
  const uint64_t ino = c->second;
  DetachLocked(ino);
  return ino;
}

size_t InodeTable::size() const {
  absl::ReaderMutexLock l(&mu_);
  return inodes_.size();
}

uint64_t InodeTable::nlookup(uint64_t ino) const {
  absl::ReaderMutexLock l(&mu_);
  auto it = inodes_.find(ino);
  return it == inodes_.end() ? 0 : it->second.nlookup;
}

}  // namespace cairn::fuse
