// PostChangeStatuses: directories' attributes as the NameNode returned them with a change made
// through this mount in them (mkdir, create, unlink, rmdir). The kernel drops a directory's
// attributes after such a change and asks for them on its next path walk; that one request is
// answered from here instead of a Stat. A status is kept only if its change was the only one
// that went through the mount between Begin() and ChangedTo() (else a racing change may be
// missing from it), and only for `max_age_ms`. Thread-safe; its mutex is a leaf lock.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "client/cairn/client.h"

namespace cairn::fuse {

class PostChangeStatuses {
 public:
  explicit PostChangeStatuses(int64_t max_age_ms) : max_age_ms_(max_age_ms) {}

  // Before a change: the token for ChangedTo().
  uint64_t Begin();
  // Inode `ino` (a directory whose entries changed, or anything whose attributes changed) was
  // changed through the mount: what is kept of it is dropped.
  void Changed(uint64_t ino);
  // The change begun at `token` is done and left directory `dir` as `after` (inode_id 0:
  // unknown, e.g. the change failed).
  void ChangedTo(uint64_t dir, uint64_t token, const client::FileStatus& after);
  // The status kept for `ino`, once.
  std::optional<client::FileStatus> Take(uint64_t ino);

 private:
  struct Kept {
    client::FileStatus status;
    int64_t at_ms = 0;  // MonoMillis
  };
  static constexpr size_t kMaxKept = 4096;

  const int64_t max_age_ms_;
  absl::Mutex mu_;
  uint64_t changes_ ABSL_GUARDED_BY(mu_) = 0;  // changes through the mount so far
  absl::flat_hash_map<uint64_t, Kept> kept_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cairn::fuse
