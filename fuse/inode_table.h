// InodeTable: the inodes the kernel knows, by inode number (= the NameNode's inode id; the
// root directory is 1 = FUSE_ROOT_ID). Each entry holds the inode's place in the tree (parent
// inode and name: Cairn has no hard links, so there is exactly one), the kernel's lookup
// count (nlookup) and the attributes last seen. The client API is path-based; Path() turns an
// inode number into the path to send. Renames and removals done through this mount update
// the table; an inode whose name was removed or replaced is "detached" (no path) until the
// kernel forgets it.
//
// Thread-safe. Its mutex is a leaf lock: no other lock is taken while it is held, and it is
// never held across an RPC or a fuse_reply_*.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "client/cairn/client.h"
#include "common/status.h"

namespace cairn::fuse {

class InodeTable {
 public:
  static constexpr uint64_t kRootIno = 1;

  InodeTable();
  InodeTable(const InodeTable&) = delete;
  InodeTable& operator=(const InodeTable&) = delete;

  // The kernel learned `ino` as `name` in directory `parent` (a lookup, create, mkdir,
  // symlink or readdirplus entry): nlookup += 1, and its place and attributes are updated.
  // An inode that was known under the same name before is detached (it was replaced).
  void Remember(uint64_t ino, uint64_t parent, const std::string& name,
                const client::FileStatus& status);
  // Records attributes of a known inode (no change to nlookup); `fresh`: just read from the
  // NameNode (else derived from older ones, keeping their age). No-op if unknown.
  void UpdateStatus(uint64_t ino, const client::FileStatus& status, bool fresh = true);
  // FORGET: nlookup -= n; the entry is dropped at 0 (never the root).
  void Forget(uint64_t ino, uint64_t n);

  // The absolute path of `ino`. NOT_FOUND if the kernel never looked it up (or forgot it);
  // NOT_FOUND with POSIX detail ESTALE if it (or a parent) was detached.
  StatusOr<std::string> Path(uint64_t ino) const;
  // Path(parent) + "/" + name.
  StatusOr<std::string> ChildPath(uint64_t parent, const std::string& name) const;
  // Where `ino` is in the tree; false if unknown or detached.
  bool Where(uint64_t ino, uint64_t* parent, std::string* name) const;
  // The inode known as `name` in `parent`, or 0.
  uint64_t Find(uint64_t parent, const std::string& name) const;
  // The attributes last recorded for `ino`.
  std::optional<client::FileStatus> LastStatus(uint64_t ino) const;
  // The attributes of `ino` if they were read from the NameNode at most `max_age_ms` ago.
  std::optional<client::FileStatus> FreshStatus(uint64_t ino, int64_t max_age_ms) const;

  // After a rename through this mount: the inode known as (old_parent, old_name) moves; the
  // one known as (new_parent, new_name), if any, is detached. Returns the detached one or 0.
  uint64_t Renamed(uint64_t old_parent, const std::string& old_name, uint64_t new_parent,
                   const std::string& new_name);
  // After an unlink/rmdir through this mount: detaches the inode known under the name and
  // returns it (0 if none was known).
  uint64_t Removed(uint64_t parent, const std::string& name);

  // For tests.
  size_t size() const;
  uint64_t nlookup(uint64_t ino) const;

 private:
  struct Entry {
    uint64_t parent = 0;  // 0 = detached
    std::string name;
    uint64_t nlookup = 0;
    client::FileStatus status;
    int64_t status_ms = 0;  // MonoMillis() when `status` was read
  };
  using ChildKey = std::pair<uint64_t, std::string>;

  void DetachLocked(uint64_t ino) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  StatusOr<std::string> PathLocked(uint64_t ino) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Entry> inodes_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<ChildKey, uint64_t> children_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cairn::fuse
