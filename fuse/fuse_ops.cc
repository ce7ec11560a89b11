#include "fuse/fuse_ops.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/errno_map.h"
#include "common/logging.h"

namespace cairn::fuse {
namespace {

constexpr size_t kMaxName = 255;

CairnFs* Self(fuse_req_t req) { return static_cast<CairnFs*>(fuse_req_userdata(req)); }

FileHandle* Handle(struct fuse_file_info* fi) {
  return reinterpret_cast<FileHandle*>(static_cast<uintptr_t>(fi->fh));
}

Status NameError(const char* name) {
  if (std::strlen(name) > kMaxName) {
    return WithPosix(absl::InvalidArgumentError("name too long"), "ENAMETOOLONG");
  }
  return absl::OkStatus();
}

}  // namespace

CairnFs::CairnFs(client::FileSystem* fs, const FuseOptions& options)
    : fs_(fs),
      options_(options),
      dir_cache_(options.dir_cache ? static_cast<int64_t>(1000 * std::min(options.attr_timeout_s,
                                                                          options.entry_timeout_s))
                                   : 0),
      post_change_(static_cast<int64_t>(1000 * options.attr_timeout_s)),
      files_(fs, &inodes_, options) {
  files_.set_on_change([this](uint64_t ino) { Changed(ino); });
}

void CairnFs::Changed(uint64_t ino) {
  uint64_t parent = 0;
  std::string name;
  if (inodes_.Where(ino, &parent, &name)) dir_cache_.Erase(parent, name);
  post_change_.Changed(ino);  // (its directory's attributes did not change)
}

void CairnFs::EntryChanged(uint64_t parent, const std::string& name) {
  dir_cache_.Erase(parent, name);
  post_change_.Changed(parent);
}

void CairnFs::EntryChangedTo(uint64_t parent, const std::string& name, uint64_t token,
                             const client::FileStatus& parent_after) {
  dir_cache_.Erase(parent, name);
  post_change_.ChangedTo(parent, token, parent_after);
}

std::optional<client::FileStatus> CairnFs::ListIntoCache(uint64_t dir, const std::string& name) {
  auto path = inodes_.Path(dir);
  if (!path.ok()) return std::nullopt;
  const uint64_t token = dir_cache_.BeginList(dir);
  const int64_t started = MonoMillis();
  std::vector<client::FileStatus> all;
  bool more = true;
  while (more) {
    const std::string after = all.empty() ? std::string() : all.back().name;
    if (!fs_->ListPage(*path, after, kListPage, &all, &more).ok()) return std::nullopt;
    if (all.size() > dir_cache_.max_entries()) {
      dir_cache_.TooLarge(dir);
      return std::nullopt;
    }
  }
  dir_cache_.Put(dir, all, token, started);
  for (auto& e : all) {
    if (e.name == name) return std::move(e);
  }
  return std::nullopt;
}

void CairnFs::ReplyEntry(fuse_req_t req, fuse_ino_t parent, const std::string& name,
                         client::FileStatus st) {
  files_.Overlay(st.inode_id, &st);
  inodes_.Remember(st.inode_id, parent, name, st);
  struct fuse_entry_param e;
  FillEntry(st, &e);
  if (fuse_reply_entry(req, &e) != 0) inodes_.Forget(st.inode_id, 1);
}

Status CairnFs::Start() { return files_.Start(); }

void CairnFs::ReplyError(fuse_req_t req, const Status& s, const char* op,
                         const std::string& what) {
  const int err = ToErrno(s);
  if (err == EIO || err == ENOSPC || err == ESTALE) {
    LOG_EVERY_N(WARNING, 20) << op << " " << what << ": " << s << " (" << google::COUNTER
                             << " such)";
  } else {
    VLOG(1) << op << " " << what << ": " << s;
  }
  fuse_reply_err(req, err);
}

void CairnFs::FillEntry(const client::FileStatus& st, struct fuse_entry_param* e) {
  std::memset(e, 0, sizeof(*e));
  e->ino = st.inode_id;
  e->generation = 1;
  ToStat(st, &ids_, options_.max_write_bytes, &e->attr);
  e->attr_timeout = options_.attr_timeout_s;
  e->entry_timeout = options_.entry_timeout_s;
}

StatusOr<client::FileStatus> CairnFs::StatIno(uint64_t ino, bool* removed) {
  auto path = inodes_.Path(ino);
  StatusOr<client::FileStatus> st =
      path.ok() ? fs_->Stat(*path) : StatusOr<client::FileStatus>(path.status());
  if (st.ok() && st->inode_id != ino && ino != InodeTable::kRootIno) {
    st = WithPosix(absl::NotFoundError(absl::StrCat(*path, ": replaced by another inode")),
                   "ESTALE");
  }
  if (!st.ok()) {
    // Removed, but still open here: the last known attributes, as POSIX fstat would give.
    auto last = inodes_.LastStatus(ino);
    if (st.status().code() == absl::StatusCode::kNotFound && last && files_.IsOpen(ino)) {
      files_.Overlay(ino, &*last);
      if (removed != nullptr) *removed = true;
      return *last;
    }
    return st.status();
  }
  inodes_.UpdateStatus(ino, *st);
  files_.Overlay(ino, &*st);
  return st;
}

client::CreateOptions CairnFs::NewFileOptions(mode_t mode) const {
  client::CreateOptions co;
  co.mode = mode & 07777;
  co.replication = options_.replication;
  co.block_size = options_.block_size_bytes;
  return co;
}

Status CairnFs::ChownToCaller(fuse_req_t req, const std::string& path, client::FileStatus* st) {
  const struct fuse_ctx* ctx = fuse_req_ctx(req);
  const bool other_user = ctx->uid != geteuid();
  const bool other_group = ctx->gid != getegid();
  if (!other_user && !other_group) return absl::OkStatus();
  const std::string user = other_user ? ids_.UserName(ctx->uid) : "";
  const std::string group = other_group ? ids_.GroupName(ctx->gid) : "";
  RETURN_IF_ERROR(fs_->SetOwner(path, user, group));
  if (st != nullptr) {
    if (other_user) st->owner = user;
    if (other_group) st->group = group;
  }
  return absl::OkStatus();
}

void CairnFs::ReplyNewEntry(fuse_req_t req, fuse_ino_t parent, const std::string& name,
                            const std::string& path) {
  EntryChanged(parent, name);
  auto st = fs_->Stat(path);
  if (!st.ok()) return ReplyError(req, st.status(), "stat", path);
  ReplyEntry(req, parent, name, std::move(*st));
}

// ---------------------------------------------------------------------------------------------

void CairnFs::Init(struct fuse_conn_info* conn) {
  auto want = [conn](unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
  };
  want(FUSE_CAP_ASYNC_READ);
  want(FUSE_CAP_ATOMIC_O_TRUNC);
  want(FUSE_CAP_PARALLEL_DIROPS);
  want(FUSE_CAP_AUTO_INVAL_DATA);
  want(FUSE_CAP_READDIRPLUS);
  // Always readdirplus: `ls -l` then needs no lookups.
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
  // Streaming needs writes in file order: no kernel write-back cache.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  conn->max_write = options_.max_write_bytes;
  conn->max_readahead = options_.max_readahead_bytes;
  conn->max_background = 64;
  conn->congestion_threshold = 48;
  conn->time_gran = 1000000;  // the NameNode keeps milliseconds
  LOG(INFO) << "FUSE protocol " << conn->proto_major << "." << conn->proto_minor
            << ", max_write " << conn->max_write << ", max_readahead " << conn->max_readahead;
}

void CairnFs::Destroy() {
  if (Status s = files_.FlushAll(); !s.ok()) LOG(WARNING) << "at unmount: " << s;
}

void CairnFs::Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (Status s = NameError(name); !s.ok()) return ReplyError(req, s, "lookup", name);
  auto path = inodes_.ChildPath(parent, name);
  if (!path.ok()) return ReplyError(req, path.status(), "lookup", name);
  DirCache::Answer cached = dir_cache_.Lookup(parent, name);
  if (cached.present()) return ReplyEntry(req, parent, name, std::move(cached.status));
  if (cached.absent()) return ReplyNoEntry(req, absl::NotFoundError(*path), *path);
  if (dir_cache_.ShouldList(parent)) {
    if (auto listed = ListIntoCache(parent, name)) return ReplyEntry(req, parent, name, *listed);
  }
  auto st = fs_->Stat(*path);
  if (!st.ok()) return ReplyNoEntry(req, st.status(), *path);
  ReplyEntry(req, parent, name, std::move(*st));
}

void CairnFs::ReplyNoEntry(fuse_req_t req, const Status& s, const std::string& path) {
  if (s.code() == absl::StatusCode::kNotFound && options_.negative_timeout_s > 0) {
    struct fuse_entry_param e;
    std::memset(&e, 0, sizeof(e));
    e.entry_timeout = options_.negative_timeout_s;
    fuse_reply_entry(req, &e);
    return;
  }
  ReplyError(req, s, "lookup", path);
}

void CairnFs::Forget(fuse_ino_t ino, uint64_t nlookup) { inodes_.Forget(ino, nlookup); }

void CairnFs::GetAttr(fuse_req_t req, fuse_ino_t ino) {
  // Right after a change in a directory through this mount, its status came with the change.
  std::optional<client::FileStatus> known = post_change_.Take(ino);
  if (known) {
    inodes_.UpdateStatus(ino, *known);
    files_.Overlay(ino, &*known);
  }
  bool removed = false;
  StatusOr<client::FileStatus> st = known ? StatusOr<client::FileStatus>(std::move(*known))
                                          : StatIno(ino, &removed);
  if (!st.ok()) return ReplyError(req, st.status(), "getattr", absl::StrCat("inode ", ino));
  ReplyAttr(req, *st, removed);
}

void CairnFs::ReplyAttr(fuse_req_t req, const client::FileStatus& st, bool removed) {
  struct stat attr;
  ToStat(st, &ids_, options_.max_write_bytes, &attr);
  if (removed) attr.st_nlink = 0;
  fuse_reply_attr(req, &attr, options_.attr_timeout_s);
}

void CairnFs::SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                      struct fuse_file_info* /*fi*/) {
  auto path = inodes_.Path(ino);
  // The file itself unlinked or replaced (not only a directory above it), but open here
  // (ftruncate, fchmod, futimens on its descriptor): the changes go to this mount's state of
  // the file only, which is all that is left of it.
  uint64_t parent = 0;
  std::string name;
  const bool detached = !path.ok() && ToErrno(path.status()) == ESTALE &&
                        !inodes_.Where(ino, &parent, &name) && files_.IsOpen(ino);
  if (!path.ok() && !detached) {
    return ReplyError(req, path.status(), "setattr", absl::StrCat("inode ", ino));
  }
  const std::string what = path.ok() ? *path : absl::StrCat("inode ", ino, " (removed)");
  // Whatever happens below, cached listings must not keep the old attributes.
  struct ChangedAtEnd {
    CairnFs* fs;
    uint64_t ino;
    ~ChangedAtEnd() { fs->Changed(ino); }
  } changed_at_end{this, ino};
  // Attributes read within the attribute timeout: no-op changes (cp -a and tar chown/chmod
  // to what a file already has) are skipped, and the reply may need no extra Stat (below).
  const auto max_age_ms = static_cast<int64_t>(options_.attr_timeout_s * 1000);
  std::optional<client::FileStatus> known =
      detached ? inodes_.LastStatus(ino) : inodes_.FreshStatus(ino, max_age_ms);
  if (to_set & FUSE_SET_ATTR_MODE) {
    const uint32_t mode = attr->st_mode & 07777;
    if (!detached && (!known || known->mode != mode)) {
      if (Status s = fs_->SetPermission(*path, mode); !s.ok()) {
        return ReplyError(req, s, "chmod", what);
      }
    }
    if (known) known->mode = mode;
  }
  if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    const std::string user = (to_set & FUSE_SET_ATTR_UID) ? ids_.UserName(attr->st_uid) : "";
    const std::string group = (to_set & FUSE_SET_ATTR_GID) ? ids_.GroupName(attr->st_gid) : "";
    const bool same = known && (user.empty() || user == known->owner) &&
                      (group.empty() || group == known->group);
    if (!detached && !same) {
      if (Status s = fs_->SetOwner(*path, user, group); !s.ok()) {
        return ReplyError(req, s, "chown", what);
      }
    }
    if (known && !user.empty()) known->owner = user;
    if (known && !group.empty()) known->group = group;
  }
  if (to_set & FUSE_SET_ATTR_SIZE) {
    if (attr->st_size < 0) return (void)fuse_reply_err(req, EINVAL);
    // (A detached file's staged copy, if it has one: files_ never needs its path.)
    if (Status s = files_.Truncate(ino, static_cast<uint64_t>(attr->st_size)); !s.ok()) {
      return ReplyError(req, s, "truncate", what);
    }
  }
  if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
                FUSE_SET_ATTR_MTIME_NOW)) {
    // Unset: unchanged. (Times before 1970 are negative.)
    auto time = [&](int now_flag, int flag, const struct timespec& ts) -> std::optional<int64_t> {
      if (to_set & now_flag) return WallMillis();
      if (to_set & flag) return ToMillis(ts);
      return std::nullopt;
    };
    const std::optional<int64_t> mtime =
        time(FUSE_SET_ATTR_MTIME_NOW, FUSE_SET_ATTR_MTIME, attr->st_mtim);
    const std::optional<int64_t> atime =
        time(FUSE_SET_ATTR_ATIME_NOW, FUSE_SET_ATTR_ATIME, attr->st_atim);
    if (!files_.DeferTimes(ino, mtime, atime) && !detached) {
      if (Status s = SetTimes(fs_, *path, mtime, atime); !s.ok()) {
        return ReplyError(req, s, "utimens", what);
      }
    }
    if (known && mtime) known->mtime_ms = *mtime;
    if (known && atime) known->atime_ms = *atime;
  }
  // The kernel takes the size in the reply as the file's (reads stop there, O_APPEND writes
  // start there), so size and mtime must be exact. The recorded status may predate data
  // written through this mount since (create records length 0, a getattr while a file streams
  // records the NameNode's unfinished length, and once the last handle is closed nothing
  // corrects it), and invalidating it at every data change would race with getattrs in
  // flight. So it serves only for what writes never change (mode, owner, group); size and
  // mtime come from this mount's state of the open file if it has both, else from a Stat.
  // A detached file has nothing else: its last known status, with the changes made here.
  StatusOr<client::FileStatus> reply =
      known ? StatusOr<client::FileStatus>(*known) : absl::NotFoundError("no recent status");
  bool removed = detached;
  if (reply.ok() && (files_.Overlay(ino, &*reply) || detached)) {
    reply->ctime_ms = WallMillis();
    inodes_.UpdateStatus(ino, *reply, /*fresh=*/false);
  } else {
    reply = StatIno(ino, &removed);
    if (!reply.ok()) return ReplyError(req, reply.status(), "setattr", what);
  }
  ReplyAttr(req, *reply, removed);
}

void CairnFs::ReadLink(fuse_req_t req, fuse_ino_t ino) {
  // A symlink's target never changes (only replacing the link changes the inode).
  auto last = inodes_.LastStatus(ino);
  if (last && last->type == client::FileType::kSymlink && !last->symlink_target.empty()) {
    fuse_reply_readlink(req, last->symlink_target.c_str());
    return;
  }
  auto st = StatIno(ino);
  if (!st.ok()) return ReplyError(req, st.status(), "readlink", absl::StrCat("inode ", ino));
  if (st->type != client::FileType::kSymlink) return (void)fuse_reply_err(req, EINVAL);
  fuse_reply_readlink(req, st->symlink_target.c_str());
}

void CairnFs::MkNod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                    dev_t /*rdev*/) {
  if (!S_ISREG(mode)) return (void)fuse_reply_err(req, EPERM);  // no devices, fifos or sockets
  if (Status s = NameError(name); !s.ok()) return ReplyError(req, s, "mknod", name);
  auto path = inodes_.ChildPath(parent, name);
  if (!path.ok()) return ReplyError(req, path.status(), "mknod", name);
  client::CreateOptions co = NewFileOptions(mode);
  co.allocate_first_block = false;  // stays empty
  EntryChanged(parent, name);
  auto out = fs_->Create(*path, co);
  if (!out.ok()) return ReplyError(req, out.status(), "mknod", *path);
  if (Status s = (*out)->Close(); !s.ok()) return ReplyError(req, s, "mknod", *path);
  if (Status s = ChownToCaller(req, *path, nullptr); !s.ok()) {
    return ReplyError(req, s, "mknod", *path);
  }
  ReplyNewEntry(req, parent, name, *path);
}

void CairnFs::MkDir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  if (Status s = NameError(name); !s.ok()) return ReplyError(req, s, "mkdir", name);
  auto path = inodes_.ChildPath(parent, name);
  if (!path.ok()) return ReplyError(req, path.status(), "mkdir", name);
  EntryChanged(parent, name);
  // Owned by the caller from the start: one round trip, with the new directory's status.
  const struct fuse_ctx* ctx = fuse_req_ctx(req);
  const uint64_t token = post_change_.Begin();
  const int64_t started = MonoMillis();
  const uint64_t cache_token = dir_cache_.BeginNew();
  client::FileStatus parent_after;
  auto st = fs_->MakeDirectory(*path, mode & 07777,
                               ctx->uid != geteuid() ? ids_.UserName(ctx->uid) : "",
                               ctx->gid != getegid() ? ids_.GroupName(ctx->gid) : "",
                               &parent_after);
  EntryChangedTo(parent, name, token, parent_after);
  if (!st.ok()) return ReplyError(req, st.status(), "mkdir", *path);
  dir_cache_.PutNew(st->inode_id, cache_token, started);
  ReplyEntry(req, parent, name, std::move(*st));
}

void CairnFs::Unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto path = inodes_.ChildPath(parent, name);
  if (!path.ok()) return ReplyError(req, path.status(), "unlink", name);
  if (uint64_t ino = inodes_.Find(parent, name); ino != 0) files_.PrepareRemoval(ino);
  const uint64_t token = post_change_.Begin();
  client::FileStatus parent_after;
  Status s = fs_->Delete(*path, false, &parent_after);
  // After the change: listings that raced with it are dropped.
  EntryChangedTo(parent, name, token, parent_after);
  if (!s.ok()) return ReplyError(req, s, "unlink", *path);
  if (uint64_t gone = inodes_.Removed(parent, name); gone != 0) files_.Orphan(gone);
  fuse_reply_err(req, 0);
}

void CairnFs::RmDir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto path = inodes_.ChildPath(parent, name);
  if (!path.ok()) return ReplyError(req, path.status(), "rmdir", name);
  const uint64_t token = post_change_.Begin();
  client::FileStatus parent_after;
  Status s = fs_->Delete(*path, false, &parent_after);
  EntryChangedTo(parent, name, token, parent_after);
  if (!s.ok()) return ReplyError(req, s, "rmdir", *path);
  if (uint64_t gone = inodes_.Removed(parent, name); gone != 0) dir_cache_.Drop(gone);
  fuse_reply_err(req, 0);
}

void CairnFs::Symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  if (Status s = NameError(name); !s.ok()) return ReplyError(req, s, "symlink", name);
  auto path = inodes_.ChildPath(parent, name);
  if (!path.ok()) return ReplyError(req, path.status(), "symlink", name);
  EntryChanged(parent, name);
  if (Status s = fs_->CreateSymlink(target, *path); !s.ok()) {
    return ReplyError(req, s, "symlink", *path);
  }
  if (Status s = ChownToCaller(req, *path, nullptr); !s.ok()) {
    return ReplyError(req, s, "symlink", *path);
  }
  ReplyNewEntry(req, parent, name, *path);
}

void CairnFs::Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
                     const char* newname, unsigned int flags) {
  // RENAME_EXCHANGE and RENAME_WHITEOUT are not supported.
  if (flags & ~static_cast<unsigned int>(RENAME_NOREPLACE)) return (void)fuse_reply_err(req, EINVAL);
  if (Status s = NameError(newname); !s.ok()) return ReplyError(req, s, "rename", newname);
  auto src = inodes_.ChildPath(parent, name);
  if (!src.ok()) return ReplyError(req, src.status(), "rename", name);
  auto dst = inodes_.ChildPath(newparent, newname);
  if (!dst.ok()) return ReplyError(req, dst.status(), "rename", newname);
  const uint64_t target = inodes_.Find(newparent, newname);
  if (target != 0 && !(flags & RENAME_NOREPLACE)) files_.PrepareRemoval(target);
  const uint64_t moved = inodes_.Find(parent, name);
  Status s = fs_->Rename(*src, *dst, (flags & RENAME_NOREPLACE) != 0);
  EntryChanged(parent, name);
  EntryChanged(newparent, newname);
  // A directory listed by its old path meanwhile must not be stored (its path changed).
  if (moved != 0) dir_cache_.Drop(moved);
  if (!s.ok()) return ReplyError(req, s, "rename", absl::StrCat(*src, " -> ", *dst));
  if (uint64_t gone = inodes_.Renamed(parent, name, newparent, newname); gone != 0) {
    files_.Orphan(gone);
    dir_cache_.Drop(gone);
  }
  fuse_reply_err(req, 0);
}

void CairnFs::Open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) Changed(ino);
  auto h = files_.Open(ino, fi->flags);
  if (!h.ok()) return ReplyError(req, h.status(), "open", absl::StrCat("inode ", ino));
  fi->fh = reinterpret_cast<uintptr_t>(h->get());
  fi->keep_cache = options_.kernel_cache ? 1 : 0;
  FileHandle* raw = h->release();
  if (fuse_reply_open(req, fi) != 0) {
    files_.Release(std::unique_ptr<FileHandle>(raw)).IgnoreError();
  }
}

void CairnFs::Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                   struct fuse_file_info* fi) {
  thread_local std::vector<char> buf;
  if (buf.size() < size) buf.resize(size);
  auto n = files_.Read(Handle(fi), static_cast<uint64_t>(off), size, buf.data());
  if (!n.ok()) return ReplyError(req, n.status(), "read", absl::StrCat("inode ", ino));
  fuse_reply_buf(req, buf.data(), *n);
}

void CairnFs::Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
                    struct fuse_file_info* fi) {
  if (Status s = files_.Write(Handle(fi), static_cast<uint64_t>(off), buf, size); !s.ok()) {
    return ReplyError(req, s, "write", absl::StrCat("inode ", ino));
  }
  fuse_reply_write(req, size);
}

void CairnFs::Flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Status s = files_.Flush(Handle(fi));
  if (!s.ok()) return ReplyError(req, s, "close", absl::StrCat("inode ", ino));
  fuse_reply_err(req, 0);
}

void CairnFs::Release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Status s = files_.Release(std::unique_ptr<FileHandle>(Handle(fi)));
  if (!s.ok()) LOG(WARNING) << "release of inode " << ino << ": " << s;
  fuse_reply_err(req, 0);
}

void CairnFs::Fsync(fuse_req_t req, fuse_ino_t ino, int /*datasync*/,
                    struct fuse_file_info* fi) {
  Status s = files_.Fsync(Handle(fi));
  if (!s.ok()) return ReplyError(req, s, "fsync", absl::StrCat("inode ", ino));
  fuse_reply_err(req, 0);
}

void CairnFs::StatFs(fuse_req_t req, fuse_ino_t /*ino*/) {
  client::FsStats stats;
  bool fresh_enough = false;
  {
    absl::MutexLock l(&statfs_mu_);
    stats = statfs_cache_;
    fresh_enough = statfs_at_ms_ != 0 && WallMillis() - statfs_at_ms_ < 1000;
  }
  if (!fresh_enough) {
    auto fresh = fs_->GetFsStats();
    if (!fresh.ok()) return ReplyError(req, fresh.status(), "statfs", "/");
    stats = *fresh;
    absl::MutexLock l(&statfs_mu_);
    statfs_cache_ = stats;
    statfs_at_ms_ = WallMillis();
  }
  struct statvfs sv;
  std::memset(&sv, 0, sizeof(sv));
  constexpr uint64_t kFrag = 4096;
  sv.f_bsize = options_.max_write_bytes;
  sv.f_frsize = kFrag;
  sv.f_blocks = stats.capacity / kFrag;
  sv.f_bfree = stats.remaining / kFrag;
  sv.f_bavail = stats.remaining / kFrag;
  constexpr uint64_t kInodes = 1ull << 40;  // the namespace has no fixed inode limit
  sv.f_files = kInodes;
  sv.f_ffree = kInodes - std::min<uint64_t>(kInodes, stats.files);
  sv.f_favail = sv.f_ffree;
  sv.f_namemax = kMaxName;
  fuse_reply_statfs(req, &sv);
}

void CairnFs::Access(fuse_req_t req, fuse_ino_t ino, int mask) {
  // Only called without -o default_permissions (else the kernel checks modes itself).
  auto st = StatIno(ino);
  if (!st.ok()) return ReplyError(req, st.status(), "access", absl::StrCat("inode ", ino));
  const struct fuse_ctx* ctx = fuse_req_ctx(req);
  if (mask == F_OK) return (void)fuse_reply_err(req, 0);
  const uint32_t mode = st->mode;
  if (ctx->uid == 0) {
    const bool exec_ok = st->type == client::FileType::kDirectory || (mode & 0111) != 0;
    return (void)fuse_reply_err(req, (mask & X_OK) && !exec_ok ? EACCES : 0);
  }
  uint32_t bits;
  if (ids_.Uid(st->owner) == ctx->uid) {
    bits = (mode >> 6) & 7;
  } else if (ids_.Gid(st->group) == ctx->gid) {
    bits = (mode >> 3) & 7;
  } else {
    bits = mode & 7;
  }
  const uint32_t need = ((mask & R_OK) ? 4 : 0) | ((mask & W_OK) ? 2 : 0) | ((mask & X_OK) ? 1 : 0);
  fuse_reply_err(req, (bits & need) == need ? 0 : EACCES);
}

void CairnFs::Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                     struct fuse_file_info* fi) {
  if (Status s = NameError(name); !s.ok()) return ReplyError(req, s, "create", name);
  auto path = inodes_.ChildPath(parent, name);
  if (!path.ok()) return ReplyError(req, path.status(), "create", name);
  client::CreateOptions co = NewFileOptions(mode);
  const uint64_t token = post_change_.Begin();
  client::FileStatus parent_after;
  co.parent_after = &parent_after;
  auto out = fs_->Create(*path, co);
  EntryChangedTo(parent, name, token, parent_after);
  struct fuse_entry_param e;
  if (!out.ok()) {
    if (out.status().code() != absl::StatusCode::kAlreadyExists || (fi->flags & O_EXCL)) {
      return ReplyError(req, out.status(), "create", *path);
    }
    // Created meanwhile by someone else, and no O_EXCL: open the existing file.
    auto st = fs_->Stat(*path);
    if (!st.ok()) return ReplyError(req, st.status(), "create", *path);
    if (st->type == client::FileType::kDirectory) return (void)fuse_reply_err(req, EISDIR);
    auto h = files_.Open(st->inode_id, fi->flags);
    if (!h.ok()) return ReplyError(req, h.status(), "create", *path);
    files_.Overlay(st->inode_id, &*st);
    inodes_.Remember(st->inode_id, parent, name, *st);
    FillEntry(*st, &e);
    FileHandle* raw = h->release();
    fi->fh = reinterpret_cast<uintptr_t>(raw);
    if (fuse_reply_create(req, &e, fi) != 0) {
      files_.Release(std::unique_ptr<FileHandle>(raw)).IgnoreError();
      inodes_.Forget(st->inode_id, 1);
    }
    return;
  }
  client::FileStatus st;
  st.inode_id = (*out)->inode_id();
  st.type = client::FileType::kFile;
  st.name = name;
  st.mode = mode & 07777;
  st.owner = fs_->options().user;
  st.group = fs_->options().group;
  st.mtime_ms = st.atime_ms = st.ctime_ms = WallMillis();
  st.under_construction = true;
  if (Status s = ChownToCaller(req, *path, &st); !s.ok()) {
    (*out)->Close().IgnoreError();
    return ReplyError(req, s, "create", *path);
  }
  inodes_.Remember(st.inode_id, parent, name, st);
  std::unique_ptr<FileHandle> h = files_.OpenCreated(st.inode_id, fi->flags, std::move(*out));
  FillEntry(st, &e);
  FileHandle* raw = h.release();
  fi->fh = reinterpret_cast<uintptr_t>(raw);
  fi->keep_cache = options_.kernel_cache ? 1 : 0;
  if (fuse_reply_create(req, &e, fi) != 0) {
    files_.Release(std::unique_ptr<FileHandle>(raw)).IgnoreError();
    inodes_.Forget(st.inode_id, 1);
  }
}

// ---------------------------------------------------------------------------------------------
// The table of trampolines.

const fuse_lowlevel_ops* CairnFs::Ops() {
  static const fuse_lowlevel_ops ops = [] {
    fuse_lowlevel_ops o;
    std::memset(&o, 0, sizeof(o));
    o.init = [](void* userdata, struct fuse_conn_info* conn) {
      static_cast<CairnFs*>(userdata)->Init(conn);
    };
    o.destroy = [](void* userdata) { static_cast<CairnFs*>(userdata)->Destroy(); };
    o.lookup = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
      Self(req)->Lookup(req, parent, name);
    };
    o.forget = [](fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
      Self(req)->Forget(ino, nlookup);
      fuse_reply_none(req);
    };
    o.forget_multi = [](fuse_req_t req, size_t count, struct fuse_forget_data* forgets) {
      for (size_t i = 0; i < count; ++i) Self(req)->Forget(forgets[i].ino, forgets[i].nlookup);
      fuse_reply_none(req);
    };
    o.getattr = [](fuse_req_t req, fuse_ino_t ino, struct fuse_file_info*) {
      Self(req)->GetAttr(req, ino);
    };
    o.setattr = [](fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                   struct fuse_file_info* fi) { Self(req)->SetAttr(req, ino, attr, to_set, fi); };
    o.readlink = [](fuse_req_t req, fuse_ino_t ino) { Self(req)->ReadLink(req, ino); };
    o.mknod = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
      Self(req)->MkNod(req, parent, name, mode, rdev);
    };
    o.mkdir = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
      Self(req)->MkDir(req, parent, name, mode);
    };
    o.unlink = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
      Self(req)->Unlink(req, parent, name);
    };
    o.rmdir = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
      Self(req)->RmDir(req, parent, name);
    };
    o.symlink = [](fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
      Self(req)->Symlink(req, link, parent, name);
    };
    o.rename = [](fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
                  const char* newname, unsigned int flags) {
      Self(req)->Rename(req, parent, name, newparent, newname, flags);
    };
    o.link = [](fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) {
      fuse_reply_err(req, EPERM);  // Cairn has no hard links
    };
    o.open = [](fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
      Self(req)->Open(req, ino, fi);
    };
    o.read = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                struct fuse_file_info* fi) { Self(req)->Read(req, ino, size, off, fi); };
    o.write = [](fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
                 struct fuse_file_info* fi) { Self(req)->Write(req, ino, buf, size, off, fi); };
    o.flush = [](fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
      Self(req)->Flush(req, ino, fi);
    };
    o.release = [](fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
      Self(req)->Release(req, ino, fi);
    };
    o.fsync = [](fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info* fi) {
      Self(req)->Fsync(req, ino, datasync, fi);
    };
    o.opendir = [](fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
      Self(req)->OpenDir(req, ino, fi);
    };
    o.readdir = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                   struct fuse_file_info* fi) { Self(req)->ReadDir(req, ino, size, off, fi, false); };
    o.readdirplus = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info* fi) {
      Self(req)->ReadDir(req, ino, size, off, fi, true);
    };
    o.releasedir = [](fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
      Self(req)->ReleaseDir(req, ino, fi);
    };
    o.fsyncdir = [](fuse_req_t req, fuse_ino_t, int, struct fuse_file_info*) {
      fuse_reply_err(req, 0);  // namespace changes are durable when they return
    };
    o.statfs = [](fuse_req_t req, fuse_ino_t ino) { Self(req)->StatFs(req, ino); };
    o.access = [](fuse_req_t req, fuse_ino_t ino, int mask) { Self(req)->Access(req, ino, mask); };
    o.create = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                  struct fuse_file_info* fi) { Self(req)->Create(req, parent, name, mode, fi); };
    return o;
  }();
  return &ops;
}

}  // namespace cairn::fuse
