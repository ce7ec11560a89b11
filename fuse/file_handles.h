// Open files of cairn-fuse: the per-inode state shared by all handles of a file, the handles
// themselves, and the OpenFileManager that implements read/write/flush/fsync/release/truncate.
//
// ============================ Write-back semantics ============================
// Cairn files are written once, sequentially, through an OutputStream; there is no random
// write or append in the cluster. The mount offers POSIX-like files on top of that:
//
// * Streaming. A file created through the mount (create), or opened for writing with O_TRUNC,
//   is written straight into an OutputStream while writes arrive in order (each write at the
//   current end; small forward gaps are filled with zeros). O_TRUNC of an existing file keeps
//   its inode id (CreateOptions::truncate_existing). A writable open of an existing empty file
//   also streams from its first write at offset 0.
// * Staging. Anything else that modifies a file -- a write at another offset, a write to an
//   existing non-empty file (O_RDWR, O_APPEND, `>>`), truncate(n) with n > 0, a read of a file
//   being streamed -- first copies the whole file into a private local directory
//   ($TMPDIR/cairn-fuse-<pid>/ or -o staging_dir=), then works on that copy. Reads of a staged
//   file are served from the copy.
// * Write-back. A staged file that was modified is written back into the same inode
//   (Create with overwrite + truncate_existing + expected_inode_id) on fsync, on every close()
//   of a writable descriptor (FUSE flush) and on the last release. A streamed file is
//   completed (OutputStream::Close) on close() of a writable descriptor, and hsync'ed on
//   fsync. So: data is visible to other clients after close() or fsync() returns; errors of
//   the write-back are returned by close()/fsync().
// * Conflicts. If the file was replaced or deleted by another client meanwhile, the
//   write-back fails with ESTALE (EIO-class failures: EIO); the staged copy is kept and its
//   location logged (LOG(WARNING)), and the mount never deletes it.
// * Times. utimens while data is still unwritten is applied after the data lands (the
//   NameNode stamps mtime when blocks complete); later writes override its mtime (not its
//   atime), as in POSIX.
//   The NameNode keeps times in milliseconds (the mount reports time_gran = 1 ms).
// * During a write-back other clients may briefly see the file empty or partly written (the
//   inode is rewritten in place, not replaced atomically).
// * Unlink/rename-over of a file open in this mount: open handles keep working (files up to
//   -o stage_on_unlink_max are first copied locally); nothing is written back afterwards.
// * Shutdown (SIGTERM/SIGINT, or unmount) writes back every open file first.
// * Reading and caching. Reads of unmodified files go to the cluster: sequential readers in
//   chunks with read-ahead (-o read_chunk, read_ahead_chunks), random ones exactly as asked.
//   The kernel page cache is dropped at open (close-to-open consistency; -o kernel_cache
//   keeps it). Attributes and names are cached for attr_timeout/entry_timeout (default 1 s,
//   also the age limit of the directory-listing cache, dir_cache.h); within this mount,
//   sizes and mtimes of files being written come from the local state, so the kernel never
//   sees them shrink. There is no kernel write-back cache (writes must arrive in order).
// ==============================================================================
//
// Locking: OpenFileManager::mu_ (the registry) is held only briefly and never while another
// lock is taken. OpenFile::mu serializes the operations on one file and is held across its
// RPCs and local I/O (never across fuse_reply_*); it may be followed by the leaf locks of
// InodeTable and DirCache (through the on_change hook) and OpenFile::local_mu.
// ClusterReader::mu_ is per handle and never taken with OpenFile::mu held (reads drop
// OpenFile::mu before reading the cluster).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "client/cairn/client.h"
#include "common/status.h"
#include "fuse/fuse_options.h"
#include "fuse/inode_table.h"

namespace cairn::fuse {

// A fixed set of threads running queued tasks (read-ahead). Thread-safe.
class TaskPool {
 public:
  explicit TaskPool(int threads);
  ~TaskPool();  // runs what is queued, then joins
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;
  void Schedule(std::function<void()> task);

 private:
  void Loop();
  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// Reads one file from the cluster for one handle. Sequential readers are served from whole
// chunks (-o read_chunk) fetched ahead in the background (-o read_ahead_chunks); random reads
// fetch exactly what they ask for. Thread-safe (the kernel issues concurrent read-ahead).
class ClusterReader : public std::enable_shared_from_this<ClusterReader> {
 public:
  // `fs` and `pool` must outlive the reader and its queued read-ahead.
  ClusterReader(client::FileSystem* fs, std::string path, uint64_t chunk_bytes, int ahead,
                TaskPool* pool);
  // Up to `n` bytes at `off` into `buf`; fewer only at the end of the file.
  StatusOr<size_t> Read(uint64_t off, size_t n, char* buf);

 private:
  struct Chunk {
    std::string data;
    bool started = false;  // a thread is fetching it (read-ahead may still sit in the queue)
    bool ready = false;
    Status status;
  };

  Status EnsureOpenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fetches `chunk` unless another thread started it already.
  void Fetch(uint64_t index, const std::shared_ptr<Chunk>& chunk) ABSL_LOCKS_EXCLUDED(mu_);

  client::FileSystem* const fs_;
  const std::string path_;
  const uint64_t chunk_bytes_;
  const int ahead_;
  TaskPool* const pool_;

  absl::Mutex mu_;
  std::unique_ptr<client::InputStream> in_ ABSL_GUARDED_BY(mu_);  // set once; Pread is
  client::InputStream* stream_ = nullptr;                          // thread-safe
  uint64_t length_ = 0;                                            // set with in_
  std::map<uint64_t, std::shared_ptr<Chunk>> chunks_ ABSL_GUARDED_BY(mu_);
  std::array<uint64_t, 16> recent_ends_ ABSL_GUARDED_BY(mu_) = {};  // where reads ended
  uint64_t reads_ ABSL_GUARDED_BY(mu_) = 0;
};

// The state of one inode open in this mount, shared by its handles.
struct OpenFile {
  explicit OpenFile(uint64_t i) : ino(i) {}
  enum class Mode { kClean, kStreaming, kStaged };

  const uint64_t ino;
  absl::Mutex mu;
  Mode mode ABSL_GUARDED_BY(mu) = Mode::kClean;
  std::unique_ptr<client::OutputStream> out ABSL_GUARDED_BY(mu);  // kStreaming
  int fd ABSL_GUARDED_BY(mu) = -1;                                // kStaged
  std::string staged_path ABSL_GUARDED_BY(mu);
  bool dirty ABSL_GUARDED_BY(mu) = false;        // staged copy differs from the cluster
  bool keep_staged ABSL_GUARDED_BY(mu) = false;  // a write-back failed: never delete the copy
  bool orphaned ABSL_GUARDED_BY(mu) = false;     // unlinked/replaced here: never written back
  // Times set by utimens, applied once the data is in the cluster. Times before 1970 are
  // negative: any value is a time.
  std::optional<int64_t> pending_mtime_ms ABSL_GUARDED_BY(mu);
  std::optional<int64_t> pending_atime_ms ABSL_GUARDED_BY(mu);

  // Readable without `mu`, so that getattr never waits for an upload.
  std::atomic<int64_t> local_size{-1};      // >= 0: the size as seen through this mount
  std::atomic<uint64_t> generation{0};      // bumped whenever the cluster copy changes
  // The times as seen through this mount where they override the NameNode's (a write's
  // mtime; times from utimens waiting for the data). Under a mutex, not atomics: every int64
  // is a time (before 1970: negative), none is left to mean "none".
  std::optional<int64_t> local_mtime() const {
    absl::MutexLock l(&local_mu);
    return local_mtime_ms;
  }
  std::optional<int64_t> local_atime() const {
    absl::MutexLock l(&local_mu);
    return local_atime_ms;
  }
  void set_local_mtime(std::optional<int64_t> ms) {
    absl::MutexLock l(&local_mu);
    local_mtime_ms = ms;
  }
  void set_local_atime(std::optional<int64_t> ms) {
    absl::MutexLock l(&local_mu);
    local_atime_ms = ms;
  }
  // The cluster has the data and the times: the NameNode's are right again.
  void clear_local_times() {
    absl::MutexLock l(&local_mu);
    local_mtime_ms = local_atime_ms = std::nullopt;
  }
  mutable absl::Mutex local_mu;  // a leaf lock (may be taken with `mu` held)
  std::optional<int64_t> local_mtime_ms ABSL_GUARDED_BY(local_mu);
  std::optional<int64_t> local_atime_ms ABSL_GUARDED_BY(local_mu);

  int handles = 0;  // guarded by OpenFileManager::mu_
};

// One open(2) of a file (fuse_file_info::fh). Not thread-safe by itself except `mu`-guarded
// members; the OpenFileManager serializes through OpenFile::mu.
struct FileHandle {
  uint64_t ino = 0;
  int flags = 0;
  bool writable = false;  // close() completes/writes back the file (written, created or truncated)
  std::shared_ptr<OpenFile> file;
  absl::Mutex mu;
  std::shared_ptr<ClusterReader> reader ABSL_GUARDED_BY(mu);
  uint64_t reader_generation ABSL_GUARDED_BY(mu) = 0;
};

// Implements the data operations of the mount. Thread-safe.
class OpenFileManager {
 public:
  // `fs` and `inodes` must outlive this.
  OpenFileManager(client::FileSystem* fs, InodeTable* inodes, const FuseOptions& options);
  ~OpenFileManager();  // removes the staging directory if it is empty
  OpenFileManager(const OpenFileManager&) = delete;
  OpenFileManager& operator=(const OpenFileManager&) = delete;

  // Creates the private staging directory. INTERNAL if it cannot.
  Status Start();
  const std::string& staging_dir() const { return staging_dir_; }

  // open(2) of an existing file; O_TRUNC truncates it now (keeping the inode), also with
  // O_RDONLY.
  StatusOr<std::unique_ptr<FileHandle>> Open(uint64_t ino, int flags);
  // create(2): `out` is the new, empty file's stream, written by this handle.
  std::unique_ptr<FileHandle> OpenCreated(uint64_t ino, int flags,
                                          std::unique_ptr<client::OutputStream> out);
  StatusOr<size_t> Read(FileHandle* h, uint64_t off, size_t n, char* buf);
  Status Write(FileHandle* h, uint64_t off, const char* data, size_t n);
  // close(2) of a descriptor: completes a stream / writes back a staged file.
  Status Flush(FileHandle* h);
  Status Fsync(FileHandle* h);
  // The last release of an inode writes back what is left and drops the staged copy.
  Status Release(std::unique_ptr<FileHandle> h);

  // truncate(2)/ftruncate(2) to `size`.
  Status Truncate(uint64_t ino, uint64_t size);
  // utimens on a file with data not yet in the cluster: remembered and applied after the
  // write-back (a file removed through the mount only keeps them locally). Returns false
  // (nothing done) if the file has no unwritten data.
  bool DeferTimes(uint64_t ino, std::optional<int64_t> mtime_ms, std::optional<int64_t> atime_ms);
  // Replaces size/mtime (and an atime set but not yet stored) by what this mount has written,
  // for inodes with local state. True if it replaced size and mtime (then they are exact
  // without asking the NameNode).
  bool Overlay(uint64_t ino, client::FileStatus* status) const;
  // Before an unlink/rename-over of `ino`: copies a small open file locally so that its
  // handles keep working. After it succeeded: Orphan() stops write-backs.
  void PrepareRemoval(uint64_t ino);
  void Orphan(uint64_t ino);
  // Writes back every open file (shutdown). Returns the first error.
  Status FlushAll();
  // Called (with OpenFile::mu held; must take only leaf locks) whenever this mount changed the
  // data, size or mtime of a file in the cluster. Set before use.
  void set_on_change(std::function<void(uint64_t ino)> fn) { on_change_ = std::move(fn); }

  // Whether `ino` has open handles (or an operation in progress) in this mount.
  bool IsOpen(uint64_t ino) const { return Find(ino) != nullptr; }
  // For tests and logs.
  size_t open_files() const;

 private:
  std::shared_ptr<OpenFile> Acquire(uint64_t ino);
  std::shared_ptr<OpenFile> Find(uint64_t ino) const;
  // Drops one reference; the last one writes back and forgets the state.
  Status Unref(const std::shared_ptr<OpenFile>& f);

  StatusOr<std::string> PathOf(const OpenFile& f) const;
  StatusOr<std::unique_ptr<client::OutputStream>> Rewrite(const std::string& path, uint64_t ino);
  Status CloseStreamLocked(OpenFile* f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu);
  Status TruncateToZeroLocked(OpenFile* f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu);
  // Makes `f` staged: completes a stream, then copies (at most `limit` bytes of) the file.
  Status StageLocked(OpenFile* f, uint64_t limit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu);
  Status WriteBackLocked(OpenFile* f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu);
  void ApplyPendingTimesLocked(OpenFile* f, const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu);
  Status StreamWriteLocked(OpenFile* f, uint64_t off, const char* data, size_t n)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu);
  Status StagedWriteLocked(OpenFile* f, uint64_t off, const char* data, size_t n)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu);
  void DropStagedLocked(OpenFile* f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu);

  client::FileSystem* const fs_;
  InodeTable* const inodes_;
  const FuseOptions options_;
  std::string staging_dir_;
  std::atomic<uint64_t> staged_seq_{0};
  TaskPool readahead_pool_;
  std::function<void(uint64_t)> on_change_ = [](uint64_t) {};

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<OpenFile>> open_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cairn::fuse
