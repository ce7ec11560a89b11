// CairnFs: the libfuse low-level operations of cairn-fuse, on top of a
// cairn::client::FileSystem. Inode numbers are NameNode inode ids (root = 1 = FUSE_ROOT_ID).
// Callbacks run on the FUSE worker threads (fuse_session_loop_mt) and call the client library
// synchronously: a slow call blocks only its own worker. No lock is held across an RPC except
// the one file's OpenFile::mu (see file_handles.h), and none across fuse_reply_*.
//
// Thread-safe.
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "client/cairn/client.h"
#include "common/status.h"
#include "fuse/attributes.h"
#include "fuse/dir_cache.h"
#include "fuse/file_handles.h"
#include "fuse/fuse_options.h"
#include "fuse/inode_table.h"
#include "fuse/post_change_status.h"

namespace cairn::fuse {

class CairnFs {
 public:
  // `fs` must outlive this object, which must outlive the FUSE session using Ops().
  CairnFs(client::FileSystem* fs, const FuseOptions& options);
  CairnFs(const CairnFs&) = delete;
  CairnFs& operator=(const CairnFs&) = delete;

  // Prepares the staging directory. INTERNAL if it cannot be created.
  Status Start();
  // The operation table; the session's userdata must be this CairnFs.
  static const fuse_lowlevel_ops* Ops();

  InodeTable* inodes() { return &inodes_; }
  OpenFileManager* files() { return &files_; }

  // The operations (called through Ops()).
  void Init(struct fuse_conn_info* conn);
  void Destroy();
  void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name);
  void Forget(fuse_ino_t ino, uint64_t nlookup);
  void GetAttr(fuse_req_t req, fuse_ino_t ino);
  void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
               struct fuse_file_info* fi);
  void ReadLink(fuse_req_t req, fuse_ino_t ino);
  void MkNod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev);
  void MkDir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode);
  void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name);
  void RmDir(fuse_req_t req, fuse_ino_t parent, const char* name);
  void Symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name);
  void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
              const char* newname, unsigned int flags);
  void Open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi);
  void Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info* fi);
  void Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             struct fuse_file_info* fi);
  void Flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi);
  void Release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi);
  void Fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info* fi);
  void OpenDir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi);
  void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
               struct fuse_file_info* fi, bool plus);
  void ReleaseDir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi);
  void StatFs(fuse_req_t req, fuse_ino_t ino);
  void Access(fuse_req_t req, fuse_ino_t ino, int mask);
  void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              struct fuse_file_info* fi);

 private:
  static constexpr uint32_t kListPage = 2000;  // entries per ListPage call
  // An open directory's listing (fuse_dir_ops.cc).
  struct DirHandle;

  // Adds entries from offset `off` to *buf (at most its size); *used is what was filled.
  Status FillDir(DirHandle* d, fuse_req_t req, fuse_ino_t ino, off_t off, bool plus,
                 std::vector<char>* buf, size_t* used);
  // Lists `dir` into the directory cache; the entry `name` if the listing has it.
  std::optional<client::FileStatus> ListIntoCache(uint64_t dir, const std::string& name);
  // Erases the cached listing entry of `ino` (its data or attributes changed).
  void Changed(uint64_t ino);
  // Directory `parent` changed (its entry `name`): drops what is cached of them.
  void EntryChanged(uint64_t parent, const std::string& name);
  // The same, for a change begun at `token` (PostChangeStatuses::Begin) that left `parent` as
  // `parent_after` (inode_id 0: unknown): the kernel's next getattr of it is answered from that.
  void EntryChangedTo(uint64_t parent, const std::string& name, uint64_t token,
                      const client::FileStatus& parent_after);
  // Records `st` as `name` in `parent` and replies with the entry.
  void ReplyEntry(fuse_req_t req, fuse_ino_t parent, const std::string& name,
                  client::FileStatus st);
  // Answers a lookup of `path` that failed with `s`: a NOT_FOUND is a negative entry when
  // negative_timeout is set, else ENOENT; other errors as usual.
  void ReplyNoEntry(fuse_req_t req, const Status& s, const std::string& path);
  // Current attributes of `ino` (with what this mount has written overlaid). For a file that
  // was removed but is still open here, its last known ones, with *removed set if given.
  StatusOr<client::FileStatus> StatIno(uint64_t ino, bool* removed = nullptr);
  // Replies to getattr/setattr with `st`; `removed`: the file has no name left (st_nlink 0).
  void ReplyAttr(fuse_req_t req, const client::FileStatus& st, bool removed);
  // Gives `path` to the caller's uid/gid if they differ from the daemon's.
  Status ChownToCaller(fuse_req_t req, const std::string& path, client::FileStatus* st);
  // Options of a file created through the mount: `mode`'s permission bits, the mount's
  // replication and block size.
  client::CreateOptions NewFileOptions(mode_t mode) const;
  // Stats the new `path`, registers it under (parent, name) and replies with the entry.
  void ReplyNewEntry(fuse_req_t req, fuse_ino_t parent, const std::string& name,
                     const std::string& path);
  void FillEntry(const client::FileStatus& st, struct fuse_entry_param* e);
  void ReplyError(fuse_req_t req, const Status& s, const char* op, const std::string& what);

  client::FileSystem* const fs_;
  const FuseOptions options_;
  InodeTable inodes_;
  DirCache dir_cache_;
  PostChangeStatuses post_change_;
  IdMapper ids_;
  OpenFileManager files_;


  absl::Mutex statfs_mu_;
  int64_t statfs_at_ms_ ABSL_GUARDED_BY(statfs_mu_) = 0;
  client::FsStats statfs_cache_ ABSL_GUARDED_BY(statfs_mu_);
};

}  // namespace cairn::fuse
