// Attributes: Cairn FileStatus <-> struct stat, and owner/group names <-> uid/gid.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "client/cairn/client.h"
#include "common/status.h"

namespace cairn::fuse {

// Maps the NameNode's owner and group names to local ids and back, through the local user
// database (getpwnam_r etc.), caching the answers. Unknown names that are decimal numbers
// map to that number; other unknown names map to 65534 (nobody/nogroup); unknown ids map to
// their decimal string. Thread-safe; its mutex is a leaf lock.
class IdMapper {
 public:
  uid_t Uid(const std::string& owner);
  gid_t Gid(const std::string& group);
  std::string UserName(uid_t uid);
  std::string GroupName(gid_t gid);

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, uid_t> uids_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, gid_t> gids_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uid_t, std::string> user_names_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<gid_t, std::string> group_names_ ABSL_GUARDED_BY(mu_);
};

// Fills *st from `status`. st_nlink is 1 (callers set 0 for a removed file that is still
// open); directories too ("unknown", as btrfs does), so that find(1) does not use the link
// count to skip subdirectories. st_blksize is
// `io_size` so that cp, tar and stdio use large writes.
void ToStat(const client::FileStatus& status, IdMapper* ids, uint32_t io_size, struct stat* st);

int64_t ToMillis(const struct timespec& ts);

// fs->SetTimes of the times that are given; the others stay unchanged. The NameNode protocol
// reads -1 as "unchanged", so a time of exactly -1 ms (1969-12-31T23:59:59.999Z) is not
// stored either (a warning is logged). The one place where the mount speaks that sentinel.
Status SetTimes(client::FileSystem* fs, const std::string& path, std::optional<int64_t> mtime_ms,
                std::optional<int64_t> atime_ms);

}  // namespace cairn::fuse
