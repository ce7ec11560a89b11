#include "fuse/attributes.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "common/logging.h"

namespace cairn::fuse {
namespace {

constexpr uint32_t kNobody = 65534;

std::vector<char> LookupBuffer() {
  long n = sysconf(_SC_GETPW_R_SIZE_MAX);
  return std::vector<char>(n > 0 ? static_cast<size_t>(n) : 16384);
}

}  // namespace

uid_t IdMapper::Uid(const std::string& owner) {
  {
    absl::MutexLock l(&mu_);
    auto it = uids_.find(owner);
    if (it != uids_.end()) return it->second;
  }
  uid_t uid = kNobody;
  struct passwd pw, *res = nullptr;
  auto buf = LookupBuffer();
  uint32_t n = 0;
  if (getpwnam_r(owner.c_str(), &pw, buf.data(), buf.size(), &res) == 0 && res != nullptr) {
    uid = res->pw_uid;
  } else if (absl::SimpleAtoi(owner, &n)) {
    uid = n;
  }
  absl::MutexLock l(&mu_);
  uids_[owner] = uid;
  return uid;
}

gid_t IdMapper::Gid(const std::string& group) {
  {
    absl::MutexLock l(&mu_);
    auto it = gids_.find(group);
    if (it != gids_.end()) return it->second;
  }
  gid_t gid = kNobody;
  struct group gr, *res = nullptr;
  auto buf = LookupBuffer();
  uint32_t n = 0;
  if (getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &res) == 0 && res != nullptr) {
    gid = res->gr_gid;
  } else if (absl::SimpleAtoi(group, &n)) {
    gid = n;
  }
  absl::MutexLock l(&mu_);
  gids_[group] = gid;
  return gid;
}

std::string IdMapper::UserName(uid_t uid) {
  {
    absl::MutexLock l(&mu_);
    auto it = user_names_.find(uid);
    if (it != user_names_.end()) return it->second;
  }
  std::string name = std::to_string(uid);
  struct passwd pw, *res = nullptr;
  auto buf = LookupBuffer();
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) == 0 && res != nullptr) {
    name = res->pw_name;
  }
  absl::MutexLock l(&mu_);
  user_names_[uid] = name;
  return name;
}

std::string IdMapper::GroupName(gid_t gid) {
  {
    absl::MutexLock l(&mu_);
    auto it = group_names_.find(gid);
    if (it != group_names_.end()) return it->second;
  }
  std::string name = std::to_string(gid);
  struct group gr, *res = nullptr;
  auto buf = LookupBuffer();
  if (getgrgid_r(gid, &gr, buf.data(), buf.size(), &res) == 0 && res != nullptr) {
    name = res->gr_name;
  }
  absl::MutexLock l(&mu_);
  group_names_[gid] = name;
  return name;
}

int64_t ToMillis(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

Status SetTimes(client::FileSystem* fs, const std::string& path, std::optional<int64_t> mtime_ms,
                std::optional<int64_t> atime_ms) {
  return fs->SetTimes(path, mtime_ms, atime_ms);
}

namespace {
struct timespec FromMillis(int64_t ms) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
  ts.tv_nsec = static_cast<long>((ms - static_cast<int64_t>(ts.tv_sec) * 1000) * 1000000);
  return ts;
}
}  // namespace

void ToStat(const client::FileStatus& s, IdMapper* ids, uint32_t io_size, struct stat* st) {
  std::memset(st, 0, sizeof(*st));
  st->st_ino = s.inode_id;
  mode_t type = S_IFREG;
  switch (s.type) {
    case client::FileType::kDirectory: type = S_IFDIR; break;
    case client::FileType::kSymlink: type = S_IFLNK; break;
    case client::FileType::kFile: type = S_IFREG; break;
  }
  st->st_mode = type | (s.mode & 07777);
  st->st_nlink = 1;
  st->st_uid = ids->Uid(s.owner);
  st->st_gid = ids->Gid(s.group);
  switch (s.type) {
    case client::FileType::kDirectory: st->st_size = 4096; break;
    case client::FileType::kSymlink: st->st_size = static_cast<off_t>(s.symlink_target.size()); break;
    case client::FileType::kFile: st->st_size = static_cast<off_t>(s.length); break;
  }
  st->st_blksize = io_size;
  st->st_blocks = (st->st_size + 511) / 512;
  st->st_mtim = FromMillis(s.mtime_ms);
  st->st_atim = FromMillis(s.atime_ms);
  st->st_ctim = FromMillis(s.ctime_ms);
}

}  // namespace cairn::fuse
