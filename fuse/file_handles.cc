#include "fuse/file_handles.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/errno_map.h"
#include "common/logging.h"
#include "fuse/attributes.h"

namespace cairn::fuse {
namespace {

constexpr size_t kCopyChunk = 4 << 20;
// A streaming write this far beyond the end is filled with zeros instead of staging.
constexpr uint64_t kMaxZeroFill = 8 << 20;

Status ErrnoStatus(int err, const std::string& what) {
  return WithPosix(absl::InternalError(absl::StrCat(what, ": ", std::strerror(err))),
                   err == ENOSPC ? "ENOSPC" : "EIO");
}

bool FullPwrite(int fd, const char* data, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t w = pwrite(fd, data, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// TaskPool

TaskPool::TaskPool(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

TaskPool::~TaskPool() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  for (auto& t : threads_) t.join();
}

void TaskPool::Schedule(std::function<void()> task) {
  absl::MutexLock l(&mu_);
  tasks_.push_back(std::move(task));
}

void TaskPool::Loop() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !tasks_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (tasks_.empty()) return;  // stopping
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

// ---------------------------------------------------------------------------------------------
// ClusterReader

ClusterReader::ClusterReader(client::FileSystem* fs, std::string path, uint64_t chunk_bytes,
                             int ahead, TaskPool* pool)
    : fs_(fs), path_(std::move(path)), chunk_bytes_(chunk_bytes), ahead_(ahead), pool_(pool) {}

Status ClusterReader::EnsureOpenLocked() {
  if (in_) return absl::OkStatus();
  ASSIGN_OR_RETURN(in_, fs_->Open(path_));
  stream_ = in_.get();
  length_ = in_->length();
  return absl::OkStatus();
}

void ClusterReader::Fetch(uint64_t index, const std::shared_ptr<Chunk>& chunk) {
  {
    absl::MutexLock l(&mu_);
    if (chunk->started) return;
    chunk->started = true;
  }
  const uint64_t off = index * chunk_bytes_;
  std::string data(std::min<uint64_t>(chunk_bytes_, length_ - off), '\0');
  size_t done = 0;
  Status s;
  while (done < data.size()) {
    auto n = stream_->Pread(off + done, data.data() + done, data.size() - done);
    if (!n.ok()) {
      s = n.status();
      break;
    }
    if (*n == 0) break;
    done += *n;
  }
  data.resize(done);
  absl::MutexLock l(&mu_);
  chunk->data = std::move(data);
  chunk->status = s;
  chunk->ready = true;
}

StatusOr<size_t> ClusterReader::Read(uint64_t off, size_t n, char* buf) {
  absl::MutexLock l(&mu_);
  RETURN_IF_ERROR(EnsureOpenLocked());
  if (off >= length_ || n == 0) return 0;
  n = std::min<uint64_t>(n, length_ - off);
  const uint64_t first = off / chunk_bytes_;
  const uint64_t last = (off + n - 1) / chunk_bytes_;
  // Sequential: the first read at 0, a read where a recent one ended, or one already fetched
  // (in flight) as part of a chunk.
  bool sequential = (chunks_.count(first) > 0 && chunks_.count(last) > 0) ||
                    (off == 0 && reads_ == 0);
  for (uint64_t end : recent_ends_) sequential = sequential || (end != 0 && end == off);
  recent_ends_[reads_++ % recent_ends_.size()] = off + n;
  if (!sequential) {
    // Random access: exactly what was asked, no caching.
    client::InputStream* in = stream_;
    mu_.Unlock();
    size_t done = 0;
    Status s;
    while (done < n) {
      auto got = in->Pread(off + done, buf + done, n - done);
      if (!got.ok()) {
        s = got.status();
        break;
      }
      if (*got == 0) break;
      done += *got;
    }
    mu_.Lock();
    if (!s.ok()) return s;
    return done;
  }
  size_t copied = 0;
  for (uint64_t idx = first; idx <= last; ++idx) {
    auto it = chunks_.find(idx);
    std::shared_ptr<Chunk> c;
    if (it == chunks_.end()) {
      c = std::make_shared<Chunk>();
      chunks_[idx] = c;
    } else {
      c = it->second;
    }
    if (!c->started) {
      // Not fetched yet (or its read-ahead still waits in the pool's queue): fetch it here.
      mu_.Unlock();
      Fetch(idx, c);
      mu_.Lock();
    }
    mu_.Await(absl::Condition(
        +[](Chunk* ch) ABSL_NO_THREAD_SAFETY_ANALYSIS { return ch->ready; }, c.get()));
    if (!c->status.ok()) {
      Status s = c->status;
      chunks_.erase(idx);
      return s;
    }
    const uint64_t chunk_off = idx * chunk_bytes_;
    const uint64_t from = std::max<uint64_t>(off + copied, chunk_off) - chunk_off;
    if (from >= c->data.size()) break;  // short chunk: the file ended early
    const size_t take = std::min<uint64_t>(n - copied, c->data.size() - from);
    std::memcpy(buf + copied, c->data.data() + from, take);
    copied += take;
    if (copied >= n) break;
  }
  for (int k = 1; k <= ahead_; ++k) {
    const uint64_t idx = last + static_cast<uint64_t>(k);
    if (idx * chunk_bytes_ >= length_) break;
    if (chunks_.count(idx)) continue;
    auto c = std::make_shared<Chunk>();
    chunks_[idx] = c;
    pool_->Schedule([self = shared_from_this(), idx, c] { self->Fetch(idx, c); });
  }
  // Keep the chunk before the current one: concurrent read-ahead arrives out of order.
  while (!chunks_.empty() && chunks_.begin()->first + 1 < first) {
    chunks_.erase(chunks_.begin());
  }
  return copied;
}

// ---------------------------------------------------------------------------------------------
// OpenFileManager

OpenFileManager::OpenFileManager(client::FileSystem* fs, InodeTable* inodes,
                                 const FuseOptions& options)
    : fs_(fs), inodes_(inodes), options_(options), readahead_pool_(4) {}

OpenFileManager::~OpenFileManager() {
  // Files still open at unmount (FlushAll wrote them back): their clean staged copies go.
  absl::flat_hash_map<uint64_t, std::shared_ptr<OpenFile>> open;
  {
    absl::MutexLock l(&mu_);
    open.swap(open_);
  }
  for (auto& [ino, f] : open) {
    absl::MutexLock l(&f->mu);
    if (f->dirty) f->keep_staged = true;
    DropStagedLocked(f.get());
  }
  if (!staging_dir_.empty() && rmdir(staging_dir_.c_str()) != 0 && errno == ENOTEMPTY) {
    LOG(WARNING) << "staged copies of files that could not be written back remain in "
                 << staging_dir_;
  }
}

Status OpenFileManager::Start() {
  std::string base = options_.staging_dir;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  staging_dir_ = absl::StrCat(base, "/cairn-fuse-", getpid());
  if (mkdir(staging_dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    Status s = ErrnoStatus(errno, absl::StrCat("cannot create staging directory ", staging_dir_));
    staging_dir_.clear();
    return s;
  }
  return absl::OkStatus();
}

size_t OpenFileManager::open_files() const {
  absl::MutexLock l(&mu_);
  return open_.size();
}

std::shared_ptr<OpenFile> OpenFileManager::Acquire(uint64_t ino) {
  absl::MutexLock l(&mu_);
  auto& f = open_[ino];
  if (!f) f = std::make_shared<OpenFile>(ino);
  ++f->handles;
  return f;
}

std::shared_ptr<OpenFile> OpenFileManager::Find(uint64_t ino) const {
  absl::MutexLock l(&mu_);
  auto it = open_.find(ino);
  return it == open_.end() ? nullptr : it->second;
}

StatusOr<std::string> OpenFileManager::PathOf(const OpenFile& f) const {
  return inodes_->Path(f.ino);
}

StatusOr<std::unique_ptr<client::OutputStream>> OpenFileManager::Rewrite(const std::string& path,
                                                                        uint64_t ino) {
  client::CreateOptions co;
  co.overwrite = true;
  co.truncate_existing = true;
  co.expected_inode_id = ino;
  co.replication = options_.replication;
  co.block_size = options_.block_size_bytes;
  return fs_->Create(path, co);
}

void OpenFileManager::ApplyPendingTimesLocked(OpenFile* f, const std::string& path) {
  if (!f->pending_mtime_ms && !f->pending_atime_ms) return;
  Status s = SetTimes(fs_, path, f->pending_mtime_ms, f->pending_atime_ms);
  if (!s.ok()) LOG(WARNING) << path << ": cannot set times after writing: " << s;
  f->pending_mtime_ms = f->pending_atime_ms = std::nullopt;
  f->clear_local_times();
}

Status OpenFileManager::CloseStreamLocked(OpenFile* f) {
  if (f->mode != OpenFile::Mode::kStreaming) return absl::OkStatus();
  Status s = f->out->Close();
  f->out.reset();
  on_change_(f->ino);
  if (f->orphaned) s = absl::OkStatus();  // the file is gone: nobody can see the data
  f->mode = OpenFile::Mode::kClean;
  f->generation.fetch_add(1);
  f->local_size.store(-1);
  if (!s.ok()) {
    f->pending_mtime_ms = f->pending_atime_ms = std::nullopt;
    f->clear_local_times();
    return s;
  }
  if (f->pending_mtime_ms || f->pending_atime_ms) {
    auto path = PathOf(*f);
    if (path.ok()) ApplyPendingTimesLocked(f, *path);
  }
  f->clear_local_times();
  return absl::OkStatus();
}

Status OpenFileManager::TruncateToZeroLocked(OpenFile* f) {
  switch (f->mode) {
    case OpenFile::Mode::kStaged:
      if (ftruncate(f->fd, 0) != 0) return ErrnoStatus(errno, f->staged_path);
      f->dirty = true;
      f->local_size.store(0);
      f->set_local_mtime(WallMillis());
      return absl::OkStatus();
    case OpenFile::Mode::kStreaming:
      if (f->out->position() == 0) return absl::OkStatus();
      RETURN_IF_ERROR(CloseStreamLocked(f));
      [[fallthrough]];
    case OpenFile::Mode::kClean: {
      if (f->orphaned) return WithPosix(absl::NotFoundError("file was removed"), "ESTALE");
      ASSIGN_OR_RETURN(std::string path, PathOf(*f));
      ASSIGN_OR_RETURN(f->out, Rewrite(path, f->ino));
      on_change_(f->ino);
      f->mode = OpenFile::Mode::kStreaming;
      f->local_size.store(0);
      f->generation.fetch_add(1);
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

Status OpenFileManager::StageLocked(OpenFile* f, uint64_t limit) {
  if (f->mode == OpenFile::Mode::kStaged) return absl::OkStatus();
  RETURN_IF_ERROR(CloseStreamLocked(f));
  if (f->orphaned) return WithPosix(absl::NotFoundError("file was removed"), "ESTALE");
  ASSIGN_OR_RETURN(std::string path, PathOf(*f));
  const std::string staged =
      absl::StrCat(staging_dir_, "/", f->ino, "-", staged_seq_.fetch_add(1));
  int fd = open(staged.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("cannot create ", staged));
  auto fail = [&](Status s) {
    close(fd);
    unlink(staged.c_str());
    return s;
  };
  auto in = fs_->Open(path);
  if (!in.ok()) return fail(in.status());
  const uint64_t want = std::min<uint64_t>(limit, (*in)->length());
  std::string buf(std::min<uint64_t>(kCopyChunk, std::max<uint64_t>(want, 1)), '\0');
  uint64_t done = 0;
  while (done < want) {
    auto n = (*in)->Pread(done, buf.data(), std::min<uint64_t>(buf.size(), want - done));
    if (!n.ok()) return fail(n.status());
    if (*n == 0) break;
    if (!FullPwrite(fd, buf.data(), *n, done)) {
      return fail(ErrnoStatus(errno, absl::StrCat("cannot write ", staged)));
    }
    done += *n;
  }
  VLOG(1) << path << ": staged " << done << " bytes in " << staged;
  f->fd = fd;
  f->staged_path = staged;
  f->mode = OpenFile::Mode::kStaged;
  f->dirty = done < (*in)->length();  // truncated while staging: differs from the cluster
  f->local_size.store(static_cast<int64_t>(done));
  return absl::OkStatus();
}

Status OpenFileManager::WriteBackLocked(OpenFile* f) {
  if (f->mode != OpenFile::Mode::kStaged || !f->dirty) return absl::OkStatus();
  if (f->orphaned) {
    f->dirty = false;
    return absl::OkStatus();
  }
  auto path = PathOf(*f);
  if (!path.ok()) {
    // Removed behind the kernel's back (forgotten while open cannot happen): nothing to do.
    f->keep_staged = true;
    LOG(WARNING) << "inode " << f->ino << ": cannot write back (" << path.status()
                 << "); the data is kept in " << f->staged_path;
    return path.status();
  }
  auto failed = [&](const Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu) {
    f->keep_staged = true;
    LOG(WARNING) << *path << ": write-back failed (" << s << "); the data is kept in "
                 << f->staged_path;
    return s;
  };
  auto out = Rewrite(*path, f->ino);
  if (!out.ok()) return failed(out.status());
  on_change_(f->ino);
  struct stat st;
  if (fstat(f->fd, &st) != 0) return failed(ErrnoStatus(errno, f->staged_path));
  std::string buf(std::min<uint64_t>(kCopyChunk, std::max<off_t>(st.st_size, 1)), '\0');
  uint64_t done = 0;
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  while (done < size) {
    ssize_t n = pread(f->fd, buf.data(), std::min<uint64_t>(buf.size(), size - done),
                      static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return failed(ErrnoStatus(n < 0 ? errno : EIO, f->staged_path));
    if (Status s = (*out)->Write(buf.data(), static_cast<size_t>(n)); !s.ok()) {
      (*out)->Close().IgnoreError();
      return failed(s);
    }
    done += static_cast<uint64_t>(n);
  }
  if (Status s = (*out)->Close(); !s.ok()) return failed(s);
  VLOG(1) << *path << ": wrote back " << size << " bytes";
  f->dirty = false;
  f->keep_staged = false;
  f->generation.fetch_add(1);
  ApplyPendingTimesLocked(f, *path);
  f->clear_local_times();  // the cluster has the data: the NameNode's mtime is right
  return absl::OkStatus();
}

void OpenFileManager::DropStagedLocked(OpenFile* f) {
  if (f->mode != OpenFile::Mode::kStaged) return;
  close(f->fd);
  f->fd = -1;
  if (f->keep_staged && !f->orphaned) {
    LOG(WARNING) << "inode " << f->ino << ": unwritten data kept in " << f->staged_path;
  } else {
    unlink(f->staged_path.c_str());
  }
  f->mode = OpenFile::Mode::kClean;
  f->dirty = false;
  f->local_size.store(-1);
  f->clear_local_times();
}

Status OpenFileManager::Unref(const std::shared_ptr<OpenFile>& f) {
  {
    absl::MutexLock l(&mu_);
    if (--f->handles > 0) return absl::OkStatus();
  }
  Status s;
  {
    absl::MutexLock l(&f->mu);
    s = CloseStreamLocked(f.get());
    Status w = WriteBackLocked(f.get());
    if (s.ok()) s = w;
  }
  bool erased = false;
  {
    absl::MutexLock l(&mu_);
    auto it = open_.find(f->ino);
    if (f->handles == 0 && it != open_.end() && it->second == f) {
      open_.erase(it);
      erased = true;
    }
  }
  if (erased) {
    absl::MutexLock l(&f->mu);
    DropStagedLocked(f.get());
  }
  return s;
}

StatusOr<std::unique_ptr<FileHandle>> OpenFileManager::Open(uint64_t ino, int flags) {
  auto h = std::make_unique<FileHandle>();
  h->ino = ino;
  h->flags = flags;
  h->writable = (flags & O_ACCMODE) != O_RDONLY;
  h->file = Acquire(ino);
  // Whatever the access mode, as Linux does: the kernel checked that the caller may write and
  // leaves the truncation to us (FUSE_CAP_ATOMIC_O_TRUNC). This handle then completes the
  // file on close, as for a writable one.
  if (flags & O_TRUNC) {
    h->writable = true;
    Status s;
    {
      absl::MutexLock l(&h->file->mu);
      s = TruncateToZeroLocked(h->file.get());
    }
    if (!s.ok()) {
      Unref(h->file).IgnoreError();
      return s;
    }
  }
  return h;
}

std::unique_ptr<FileHandle> OpenFileManager::OpenCreated(
    uint64_t ino, int flags, std::unique_ptr<client::OutputStream> out) {
  auto h = std::make_unique<FileHandle>();
  h->ino = ino;
  h->flags = flags;
  h->writable = true;  // the creator completes the file on close, whatever the access mode
  h->file = Acquire(ino);
  OpenFile* f = h->file.get();
  absl::MutexLock l(&f->mu);
  if (f->mode == OpenFile::Mode::kClean) {
    f->out = std::move(out);
    f->mode = OpenFile::Mode::kStreaming;
    f->local_size.store(0);
  } else {
    // Cannot happen for a new inode id; keep the existing state and close the new stream.
    out->Close().IgnoreError();
  }
  return h;
}

Status OpenFileManager::StreamWriteLocked(OpenFile* f, uint64_t off, const char* data,
                                          size_t n) {
  const uint64_t pos = f->out->position();
  if (off > pos) {
    static const std::string kZeros(1 << 20, '\0');
    uint64_t gap = off - pos;
    while (gap > 0) {
      const size_t take = std::min<uint64_t>(gap, kZeros.size());
      RETURN_IF_ERROR(f->out->Write(kZeros.data(), take));
      gap -= take;
    }
  }
  RETURN_IF_ERROR(f->out->Write(data, n));
  f->local_size.store(static_cast<int64_t>(f->out->position()));
  return absl::OkStatus();
}

Status OpenFileManager::StagedWriteLocked(OpenFile* f, uint64_t off, const char* data,
                                          size_t n) {
  if (!FullPwrite(f->fd, data, n, off)) return ErrnoStatus(errno, f->staged_path);
  f->dirty = true;
  const int64_t end = static_cast<int64_t>(off + n);
  if (f->local_size.load() < end) f->local_size.store(end);
  return absl::OkStatus();
}

Status OpenFileManager::Write(FileHandle* h, uint64_t off, const char* data, size_t n) {
  OpenFile* f = h->file.get();
  absl::MutexLock l(&f->mu);
  // A write after utimens stamps the file anew (POSIX): drop the pending mtime. (Only the
  // mtime: a write does not change the atime.)
  f->pending_mtime_ms = std::nullopt;
  f->set_local_mtime(WallMillis());
  if (f->mode == OpenFile::Mode::kClean && off == 0 && !f->orphaned) {
    // An existing empty file (e.g. after touch) can be streamed from its start.
    auto path = PathOf(*f);
    if (path.ok()) {
      auto st = fs_->Stat(*path);
      if (st.ok() && st->inode_id == f->ino && st->length == 0 && !st->under_construction) {
        RETURN_IF_ERROR(TruncateToZeroLocked(f));
      }
    }
  }
  if (f->mode == OpenFile::Mode::kStreaming) {
    const uint64_t pos = f->out->position();
    if (off >= pos && off - pos <= kMaxZeroFill) return StreamWriteLocked(f, off, data, n);
  }
  RETURN_IF_ERROR(StageLocked(f, ~0ull));
  return StagedWriteLocked(f, off, data, n);
}

StatusOr<size_t> OpenFileManager::Read(FileHandle* h, uint64_t off, size_t n, char* buf) {
  OpenFile* f = h->file.get();
  uint64_t generation = 0;
  {
    absl::MutexLock l(&f->mu);
    if (f->mode == OpenFile::Mode::kStreaming) RETURN_IF_ERROR(StageLocked(f, ~0ull));
    if (f->mode == OpenFile::Mode::kStaged) {
      size_t done = 0;
      while (done < n) {
        ssize_t r = pread(f->fd, buf + done, n - done, static_cast<off_t>(off + done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return ErrnoStatus(errno, f->staged_path);
        if (r == 0) break;
        done += static_cast<size_t>(r);
      }
      return done;
    }
    generation = f->generation.load();
  }
  std::shared_ptr<ClusterReader> reader;
  {
    absl::MutexLock l(&h->mu);
    if (!h->reader || h->reader_generation != generation) {
      ASSIGN_OR_RETURN(std::string path, inodes_->Path(h->ino));
      h->reader = std::make_shared<ClusterReader>(fs_, path, options_.read_chunk_bytes,
                                                  options_.read_ahead_chunks, &readahead_pool_);
      h->reader_generation = generation;
    }
    reader = h->reader;
  }
  return reader->Read(off, n, buf);
}

Status OpenFileManager::Flush(FileHandle* h) {
  if (!h->writable) return absl::OkStatus();
  OpenFile* f = h->file.get();
  absl::MutexLock l(&f->mu);
  RETURN_IF_ERROR(CloseStreamLocked(f));
  return WriteBackLocked(f);
}

Status OpenFileManager::Fsync(FileHandle* h) {
  OpenFile* f = h->file.get();
  absl::MutexLock l(&f->mu);
  if (f->mode == OpenFile::Mode::kStreaming) return f->out->Hsync();
  return WriteBackLocked(f);
}

Status OpenFileManager::Release(std::unique_ptr<FileHandle> h) {
  auto f = h->file;
  {
    absl::MutexLock l(&h->mu);
    h->reader.reset();
  }
  h.reset();
  return Unref(f);
}

Status OpenFileManager::Truncate(uint64_t ino, uint64_t size) {
  auto f = Acquire(ino);
  Status s;
  {
    absl::MutexLock l(&f->mu);
    f->set_local_mtime(WallMillis());
    f->pending_mtime_ms = std::nullopt;  // (as a write: the atime stays)
    if (size == 0) {
      s = TruncateToZeroLocked(f.get());
    } else if (f->mode == OpenFile::Mode::kStreaming && size >= f->out->position() &&
               size - f->out->position() <= kMaxZeroFill) {
      s = StreamWriteLocked(f.get(), size, nullptr, 0);
    } else {
      s = StageLocked(f.get(), size);
      if (s.ok()) {
        struct stat st;
        if (fstat(f->fd, &st) != 0) {
          s = ErrnoStatus(errno, f->staged_path);
        } else if (static_cast<uint64_t>(st.st_size) != size) {
          if (ftruncate(f->fd, static_cast<off_t>(size)) != 0) {
            s = ErrnoStatus(errno, f->staged_path);
          } else {
            f->dirty = true;
            f->local_size.store(static_cast<int64_t>(size));
          }
        }
      }
    }
  }
  Status u = Unref(f);
  return s.ok() ? u : s;
}

bool OpenFileManager::DeferTimes(uint64_t ino, std::optional<int64_t> mtime_ms,
                                 std::optional<int64_t> atime_ms) {
  auto f = Find(ino);
  if (!f) return false;
  absl::MutexLock l(&f->mu);
  const bool unwritten = f->orphaned || f->mode == OpenFile::Mode::kStreaming ||
                         (f->mode == OpenFile::Mode::kStaged && f->dirty);
  if (!unwritten) return false;
  if (mtime_ms) {
    f->pending_mtime_ms = mtime_ms;
    f->set_local_mtime(mtime_ms);
  }
  if (atime_ms) {
    f->pending_atime_ms = atime_ms;
    f->set_local_atime(atime_ms);
  }
  return true;
}

bool OpenFileManager::Overlay(uint64_t ino, client::FileStatus* status) const {
  auto f = Find(ino);
  if (!f) return false;
  const int64_t size = f->local_size.load();
  if (size >= 0) status->length = static_cast<uint64_t>(size);
  const std::optional<int64_t> mtime = f->local_mtime();
  if (mtime) status->mtime_ms = *mtime;
  if (const std::optional<int64_t> atime = f->local_atime()) status->atime_ms = *atime;
  return size >= 0 && mtime.has_value();
}

void OpenFileManager::PrepareRemoval(uint64_t ino) {
  auto f = Find(ino);
  if (!f) return;
  absl::MutexLock l(&f->mu);
  if (f->mode == OpenFile::Mode::kStaged || f->orphaned) return;
  if (f->mode == OpenFile::Mode::kClean) {
    auto path = PathOf(*f);
    if (!path.ok()) return;
    auto st = fs_->Stat(*path);
    if (!st.ok() || st->length > options_.stage_on_unlink_max_bytes) return;
  } else if (f->out->position() > options_.stage_on_unlink_max_bytes) {
    return;
  }
  Status s = StageLocked(f.get(), ~0ull);
  if (!s.ok()) VLOG(1) << "inode " << ino << ": not staged before removal: " << s;
}

void OpenFileManager::Orphan(uint64_t ino) {
  auto f = Find(ino);
  if (!f) return;
  absl::MutexLock l(&f->mu);
  f->orphaned = true;
  f->dirty = false;
  f->pending_mtime_ms = f->pending_atime_ms = std::nullopt;
}

Status OpenFileManager::FlushAll() {
  std::vector<std::shared_ptr<OpenFile>> files;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [ino, f] : open_) files.push_back(f);
  }
  Status first;
  for (const auto& f : files) {
    absl::MutexLock l(&f->mu);
    Status s = CloseStreamLocked(f.get());
    if (s.ok()) s = WriteBackLocked(f.get());
    if (!s.ok()) {
      LOG(WARNING) << "inode " << f->ino << ": not written back at shutdown: " << s;
      if (first.ok()) first = s;
    }
  }
  return first;
}

}  // namespace cairn::fuse
