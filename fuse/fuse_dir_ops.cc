// The directory-listing callbacks of CairnFs (opendir, readdir[plus], releasedir): a listing is
// read from the NameNode in pages and kept per open directory handle, so that the kernel's
// offsets (and rewinddir/seekdir) map to entries of one consistent sequence of pages.
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "fuse/fuse_ops.h"

namespace cairn::fuse {

struct CairnFs::DirHandle {
  absl::Mutex mu;
  uint64_t ino = 0;
  std::string path;
  // A window of the listing: entries[i] is entry number base + i.
  std::vector<client::FileStatus> entries;  // all guarded by mu
  uint64_t base = 0;
  bool more = true;
  std::string last_name;
};

void CairnFs::OpenDir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  auto path = inodes_.Path(ino);
  if (!path.ok()) return ReplyError(req, path.status(), "opendir", absl::StrCat("inode ", ino));
  auto d = std::make_unique<DirHandle>();
  d->ino = ino;
  d->path = *path;
  fi->fh = reinterpret_cast<uintptr_t>(d.get());
  DirHandle* raw = d.release();
  if (fuse_reply_open(req, fi) != 0) delete raw;
}

void CairnFs::ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                      struct fuse_file_info* fi, bool plus) {
  auto* d = reinterpret_cast<DirHandle*>(static_cast<uintptr_t>(fi->fh));
  std::vector<char> buf(size);
  size_t used = 0;
  Status error;
  {
    // Released before the reply: once the kernel has it, RELEASEDIR may free `d`.
    absl::MutexLock l(&d->mu);
    error = FillDir(d, req, ino, off, plus, &buf, &used);
  }
  if (!error.ok() && used == 0) return ReplyError(req, error, "readdir", d->path);
  fuse_reply_buf(req, buf.data(), used);
}

Status CairnFs::FillDir(DirHandle* d, fuse_req_t req, fuse_ino_t ino, off_t off, bool plus,
                        std::vector<char>* buf, size_t* used) {
  const size_t size = buf->size();
  uint64_t next = static_cast<uint64_t>(off);
  // Offsets: "." is 1, ".." is 2, entry k of the listing is 3 + k.
  auto add = [&](const char* name, const client::FileStatus& st, bool remember) -> bool {
    size_t n;
    char* at = buf->data() + *used;
    if (plus) {
      struct fuse_entry_param e;
      FillEntry(st, &e);
      if (!remember) e.ino = 0;  // "." and "..": the kernel takes no reference
      n = fuse_add_direntry_plus(req, at, size - *used, name, &e, static_cast<off_t>(next + 1));
    } else {
      struct stat attr;
      std::memset(&attr, 0, sizeof(attr));
      attr.st_ino = st.inode_id;
      attr.st_mode = st.type == client::FileType::kDirectory ? S_IFDIR
                     : st.type == client::FileType::kSymlink ? S_IFLNK
                                                             : S_IFREG;
      n = fuse_add_direntry(req, at, size - *used, name, &attr, static_cast<off_t>(next + 1));
    }
    if (n > size - *used) return false;
    *used += n;
    ++next;
    return true;
  };
  client::FileStatus self;
  self.inode_id = ino;
  self.type = client::FileType::kDirectory;
  if (next == 0 && !add(".", self, false)) return absl::OkStatus();
  if (next == 1 && !add("..", self, false)) return absl::OkStatus();
  while (true) {
    const uint64_t k = next - 2;
    if (k < d->base) {  // rewinddir/seekdir backwards: list again from the start
      d->entries.clear();
      d->base = 0;
      d->more = true;
      d->last_name.clear();
    }
    while (k >= d->base + d->entries.size() && d->more) {
      d->base += d->entries.size();
      d->entries.clear();
      const bool from_start = d->last_name.empty();
      const uint64_t token = from_start ? dir_cache_.BeginList(ino) : 0;
      const int64_t started = MonoMillis();
      Status s = fs_->ListPage(d->path, d->last_name, kListPage, &d->entries, &d->more);
      if (!s.ok()) {
        d->more = true;
        return s;
      }
      // Only if the handle's path (from opendir) still names this directory: after a rename
      // it may name another one now.
      if (from_start && !d->more) {
        auto now_path = inodes_.Path(ino);
        if (now_path.ok() && *now_path == d->path) dir_cache_.Put(ino, d->entries, token, started);
      }
      if (d->entries.empty()) d->more = false;
      if (!d->entries.empty()) d->last_name = d->entries.back().name;
    }
    if (k >= d->base + d->entries.size()) return absl::OkStatus();  // end of the directory
    client::FileStatus st = d->entries[k - d->base];
    files_.Overlay(st.inode_id, &st);
    if (!add(st.name.c_str(), st, true)) return absl::OkStatus();
    if (plus) inodes_.Remember(st.inode_id, ino, st.name, st);
  }
}

void CairnFs::ReleaseDir(fuse_req_t req, fuse_ino_t /*ino*/, struct fuse_file_info* fi) {
  delete reinterpret_cast<DirHandle*>(static_cast<uintptr_t>(fi->fh));
  fuse_reply_err(req, 0);
}

}  // namespace cairn::fuse
