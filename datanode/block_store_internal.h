// Private to datanode/block_store*.cc: the state shared by a BlockStore, its writers and its
// readers, and the on-disk format helpers. block_store.cc holds the replica operations,
// block_store_volume.cc opening, scanning and volume health, block_store_io.cc the writer, the
// reader and the format and POSIX helpers.
//
// Lock order: Replica::io_mu (at most one at a time), then StoreCore::mu_. StoreCore::mu_ is
// never held across disk I/O other than renames; io_mu is held across a replica's I/O so that
// writes, renames, truncations and deletions of one replica never interleave.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/file_io.h"
#include "common/scoped_fd.h"
#include "common/status.h"
#include "datanode/block_store.h"
#include "datanode/replica_file_pool.h"

namespace cairn::datanode::internal {

// ---- On-disk format ---------------------------------------------------------------------------

inline constexpr char kCrcMagic[4] = {'C', 'R', 'N', 'C'};
inline constexpr uint32_t kCrcVersion = 1;
inline constexpr size_t kCrcHeaderBytes = 16;
inline constexpr uint32_t kMaxBytesPerChecksum = 16u << 20;

using cairn::DecodeFixed32;
using cairn::EncodeFixed32;

// Number of checksum chunks covering `length` bytes.
inline uint64_t NumChunks(uint64_t length, uint32_t bpc) { return (length + bpc - 1) / bpc; }
// Size of the .crc file of a replica of `length` bytes.
inline uint64_t CrcFileBytes(uint64_t length, uint32_t bpc) {
  return kCrcHeaderBytes + 4 * NumChunks(length, bpc);
}
// File offset of the CRC of chunk `chunk`.
inline uint64_t CrcOffset(uint64_t chunk) { return kCrcHeaderBytes + 4 * chunk; }

// Fills `out` (kCrcHeaderBytes) with a version-1 header.
void EncodeCrcHeader(uint32_t bpc, char* out);
// The bytes_per_checksum of a header, or 0 when `in` (n bytes) is not a valid header.
uint32_t DecodeCrcHeader(const char* in, size_t n);

// "blk_<id>_<gs>".
std::string BlockName(uint64_t block_id, uint64_t generation_stamp);
// Parses "blk_<id>_<gs><suffix>"; false if `name` has another form.
bool ParseBlockFileName(absl::string_view name, absl::string_view suffix, uint64_t* block_id,
                        uint64_t* generation_stamp);

// ---- POSIX helpers: each returns 0 or an errno value ---------------------------------------

using cairn::FsyncDir;    // common/file_io.h
using cairn::PReadFull;
using cairn::PWriteFull;
// Opens with O_CLOEXEC; `*fd` is -1 on failure.
int OpenFile(const std::string& path, int flags, int* fd);
// strerror(err), thread-safe.
std::string ErrnoText(int err);
// Errors that mean the volume's device or file system is broken (EIO, EROFS, ...).
bool IsHardVolumeError(int err);
// Errors that may mean the volume's directories are gone (ENOENT, ENOTDIR, ...): probe it.
bool IsSuspectVolumeError(int err);

// Cuts a replica's files to `length` bytes and rewrites the stored CRC of the new partial last
// chunk, computed from the data on disk; `*last_chunk_crc` receives it (0 if `length` is
// chunk-aligned). I/O errors go through `io_error(errno, what)`; DATA_LOSS naming `name` if the
// data file is shorter than `length`.
Status TrimReplicaFiles(int data_fd, int crc_fd, uint32_t bytes_per_checksum, uint64_t length,
                        absl::string_view name,
                        absl::FunctionRef<Status(int, absl::string_view)> io_error,
                        uint32_t* last_chunk_crc);

using cairn::ScopedFd;

// ---- In-memory state ---------------------------------------------------------------------------

// One replica known to the store. Shared by the store's map and the replica's writer.
struct Replica {
  explicit Replica(uint64_t id) : block_id(id) {}

  const uint64_t block_id;
  // Held across I/O on the replica's files (writes, truncations, renames, opens, deletes). Never
  // acquired while holding StoreCore::mu_.
  absl::Mutex io_mu;

  // The fields below are guarded by StoreCore::mu_ (they are only changed while io_mu is also
  // held, except that a volume failure sets `removed` and bumps `writer_epoch`).
  uint64_t generation_stamp = 0;
  uint64_t length = 0;       // bytes whose checksums are on disk
  uint32_t last_chunk_crc = 0;  // CRC32C of the partial last chunk; 0 if `length` is aligned
  uint32_t bytes_per_checksum = 0;
  ReplicaState state = ReplicaState::kBeingWritten;
  int volume = 0;
  std::string data_path;
  std::string crc_path;
  uint64_t disk_bytes = 0;    // size of both files, as counted in the volume's `used`
  // While being written: the size both files will have at the length the writer announced
  // (0: none announced). What is still missing of it is reserved on the volume (see
  // VolumeState::reserved), so that concurrent writers are not promised the same free space.
  uint64_t promised_disk_bytes = 0;
  uint64_t reserved_bytes = 0;  // as counted in the volume's `reserved`
  uint64_t writer_epoch = 0;  // a writer is valid only while this equals its epoch
  bool removed = false;       // no longer in the store's map
};

// Paths of one volume; immutable after Open.
struct VolumePaths {
  std::string dir;        // VOL
  std::string current;    // VOL/current
  std::string rbw;        // VOL/current/rbw
  std::string finalized;  // VOL/current/finalized
};

struct VolumeState {
  bool failed = false;
  std::string failure;  // why, when failed
  uint64_t used = 0;    // bytes of replica files
  uint64_t reserved = 0;  // bytes promised to replicas being written, not yet on disk
};

// A replica found by the scan at Open.
struct ScannedReplica {
  uint64_t block_id = 0;
  uint64_t generation_stamp = 0;
  ReplicaState state = ReplicaState::kBeingWritten;
  uint64_t length = 0;
  uint32_t last_chunk_crc = 0;
  uint32_t bytes_per_checksum = 0;
  int volume = 0;
  std::string data_path;
  std::string crc_path;
  uint64_t disk_bytes = 0;
};

// Creates VOL/current/{rbw,finalized} (and parents) if missing.
Status PrepareVolume(const VolumePaths& paths);
// Lists the replicas of one volume, appending them to `out`. Replicas whose files are unusable
// are logged and skipped; a finalize interrupted between its two renames is completed. Fails
// (the volume is then failed) if a directory cannot be listed.
Status ScanVolume(const VolumePaths& paths, int volume, uint32_t default_bytes_per_checksum,
                  std::vector<ScannedReplica>* out);
// Creates, writes, fsyncs and deletes a probe file in VOL/current; checks rbw/ and finalized/.
Status ProbeVolume(const VolumePaths& paths);

// The store proper. Writers and readers hold a shared_ptr to it, so it outlives them even if the
// BlockStore is destroyed first. Thread-safe.
class StoreCore {
 public:
  explicit StoreCore(const BlockStoreOptions& options);

  // Prepares and scans the volumes. Fails only if none is usable.
  Status Init(std::shared_ptr<StoreCore> self);

  StatusOr<std::unique_ptr<ReplicaWriter>> CreateReplica(uint64_t block_id, uint64_t gs,
                                                         uint64_t expected_bytes);
  StatusOr<std::unique_ptr<ReplicaWriter>> RecoverReplica(uint64_t block_id, uint64_t new_gs,
                                                           uint64_t expected_bytes);
  Status CommitRecovery(uint64_t block_id, uint64_t new_gs, uint64_t length);
  StatusOr<std::unique_ptr<ReplicaReader>> OpenReplica(uint64_t block_id, uint64_t gs);
  Status DeleteReplica(uint64_t block_id);
  StatusOr<ReplicaInfo> GetReplica(uint64_t block_id);
  Status VerifyReplica(uint64_t block_id, uint64_t bytes_per_sec);
  std::vector<ReplicaInfo> AllReplicas();
  VolumeReport Report();
  void CheckVolumes();
  StatusOr<std::string> DataPathForTests(uint64_t block_id);

  // ---- For writers and readers ----

  const BlockStoreOptions& options() const { return options_; }
  // OK while the writer of `epoch` still owns `rep`; FAILED_PRECONDITION once the replica was
  // recovered, deleted, replaced or lost with its volume.
  Status CheckWriter(const Replica& rep, uint64_t epoch, absl::string_view name);
  // Publishes a writer's progress: the replica's length, partial-chunk CRC and file sizes.
  // REQUIRES: rep.io_mu held.
  void Publish(Replica* rep, uint64_t epoch, uint64_t length, uint32_t last_chunk_crc);
  // Moves a being-written replica's files to finalized/ and marks it finalized.
  // REQUIRES: rep->io_mu held and the files synced as configured.
  Status MoveToFinalized(Replica* rep, uint64_t epoch, absl::string_view name);
  // Deletes a replica being written by the writer of `epoch` (its files too); FAILED_PRECONDITION
  // if that writer is stale or the replica is finalized. REQUIRES: rep->io_mu held.
  Status RemoveWritten(Replica* rep, uint64_t epoch, absl::string_view name)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Turns errno `err` of operation `what` on block `name` on volume `volume` into a Status:
  // RESOURCE_EXHAUSTED for ENOSPC/EDQUOT, INTERNAL otherwise. Marks the volume failed on
  // EIO/EROFS-like errors, and on ENOENT/ENOTDIR-like errors if a probe of the volume fails.
  // REQUIRES: mu_ not held.
  Status IoError(int volume, int err, absl::string_view name, absl::string_view what);

 private:
  // Runs fn(rep) with rep->io_mu held, rep being the current replica of `block_id`; NOT_FOUND
  // naming `name` when there is none.
  template <typename R, typename Fn>
  R WithReplicaLocked(uint64_t block_id, absl::string_view name, Fn&& fn);
  std::shared_ptr<Replica> Find(uint64_t block_id) ABSL_LOCKS_EXCLUDED(mu_);
  bool IsCurrent(const std::shared_ptr<Replica>& rep) ABSL_LOCKS_EXCLUDED(mu_);

  void MarkVolumeFailed(int volume, const std::string& why) ABSL_LOCKS_EXCLUDED(mu_);
  // Probes the volume; marks it failed if the probe fails. Returns whether it is healthy.
  bool CheckVolume(int volume) ABSL_LOCKS_EXCLUDED(mu_);
  // Capacity and remaining bytes of a healthy volume (statvfs or the test override).
  // False if statvfs failed (the volume may then have been marked failed).
  // `remaining` leaves out `reserved` (promised to replicas being written).
  bool VolumeSpace(int volume, uint64_t used, uint64_t reserved, uint64_t* capacity,
                   uint64_t* remaining) ABSL_LOCKS_EXCLUDED(mu_);
  // The healthy volumes and their usage, read at one moment.
  struct VolumeUsage {
    int volume = 0;
    uint64_t used = 0;
    uint64_t reserved = 0;
  };
  std::vector<VolumeUsage> HealthyVolumes() ABSL_LOCKS_EXCLUDED(mu_);
  // Where a new replica whose files will take `promised` bytes goes: the volume with the most
  // remaining space (ties round-robin), that space, and its used + reserved bytes as read.
  // UNAVAILABLE without a usable volume; RESOURCE_EXHAUSTED when none has room (the message
  // names `name` and `expected_bytes`).
  struct VolumeChoice {
    int volume = -1;
    uint64_t remaining = 0;
    uint64_t taken = 0;
  };
  StatusOr<VolumeChoice> ChooseVolume(absl::string_view name, uint64_t expected_bytes,
                                      uint64_t promised) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes `rep` from the map and the volume's usage; `rep` must be current.
  void RemoveLocked(Replica* rep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `rep`'s files now hold `disk_bytes`: updates the volume's usage and what stays reserved
  // for `rep` (nothing once it is finalized or removed).
  void SetDiskBytesLocked(Replica* rep, uint64_t disk_bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A removed replica's files, to unlink once mu_ is released.
  struct DetachedFiles {
    int volume = 0;
    std::string name, data_path, crc_path;
  };
  // RemoveLocked, returning the files. REQUIRES: rep->io_mu held (for UnlinkDetached).
  DetachedFiles DetachLocked(Replica* rep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Status UnlinkDetached(const DetachedFiles& f) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes a replica's files. REQUIRES: rep's io_mu held, rep already removed.
  Status UnlinkFiles(int volume, const std::string& name, const std::string& data_path,
                     const std::string& crc_path);
  // Renames the crc then the data file (undoing the first on failure of the second), creating the
  // destination directory if missing. Returns 0 or errno.
  static int RenamePair(const std::string& from_data, const std::string& from_crc,
                        const std::string& to_data, const std::string& to_crc);
  std::string RbwPath(int volume, uint64_t block_id, uint64_t gs, absl::string_view ext) const;
  std::string FinalizedDir(int volume, uint64_t block_id) const;
  std::string FinalizedPath(int volume, uint64_t block_id, uint64_t gs,
                            absl::string_view ext) const;
  // A writer on an existing replica. Trims the files to the replica's length if they are longer.
  // REQUIRES: rep->io_mu held; rep current and being written.
  StatusOr<std::unique_ptr<ReplicaWriter>> OpenWriter(const std::shared_ptr<Replica>& rep);
  // A reader of `rep` as it is now. REQUIRES: rep->io_mu held.
  StatusOr<std::unique_ptr<ReplicaReader>> OpenReader(const std::shared_ptr<Replica>& rep);
  ReplicaInfo InfoLocked(const Replica& rep) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Creates (or takes from the file pool) and opens read-write an empty file at `path` of
  // `volume`. Returns 0 or errno.
  int CreateFile(int volume, const std::string& path, int* fd);

  const BlockStoreOptions options_;
  std::vector<VolumePaths> paths_;  // immutable after Init
  std::unique_ptr<ReplicaFilePool> file_pool_;  // null: off (set by Init)
  std::weak_ptr<StoreCore> self_;   // for handing shared ownership to writers and readers

  absl::Mutex mu_;
  std::vector<VolumeState> volumes_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<uint64_t, std::shared_ptr<Replica>> replicas_ ABSL_GUARDED_BY(mu_);
  uint64_t next_volume_ ABSL_GUARDED_BY(mu_) = 0;  // round-robin among equally free volumes
};

// ---- Writer and reader (block_store_io.cc) -----------------------------------------------------

// What a writer needs of its replica, captured when it is opened.
struct WriterSetup {
  std::shared_ptr<StoreCore> core;
  std::shared_ptr<Replica> rep;
  uint64_t epoch = 0;
  int volume = 0;
  std::string name;  // blk_<id>_<gs>
  uint32_t bytes_per_checksum = 0;
  uint64_t length = 0;
  uint32_t last_chunk_crc = 0;
  // The files may be longer than `length` or hold a stale CRC for its partial last chunk (a
  // reopened replica): the first Write or Finalize trims them.
  bool dirty = false;
  ScopedFd data_fd;
  ScopedFd crc_fd;
  // A second descriptor of the data file opened with O_DIRECT, or -1: then every write goes
  // through `data_fd` and the page cache.
  ScopedFd direct_fd;
};
std::unique_ptr<ReplicaWriter> NewReplicaWriter(WriterSetup setup);

// Opens `path` for writing with O_DIRECT; -1 if the file system refuses it (e.g. tmpfs), or on
// any other error (the writer then uses the page cache; real I/O errors surface there).
ScopedFd OpenDirectForWrite(const std::string& path);

// What a reader needs, captured when it is opened.
struct ReaderSetup {
  std::shared_ptr<StoreCore> core;
  int volume = 0;
  std::string name;
  uint32_t bytes_per_checksum = 0;
  uint64_t length = 0;
  // When set, the CRC of a partial last chunk is `last_chunk_crc` rather than the stored one
  // (a replica being written may have extended that chunk since).
  bool override_last_crc = false;
  uint32_t last_chunk_crc = 0;
  ScopedFd data_fd;
  ScopedFd crc_fd;
};
std::unique_ptr<ReplicaReader> NewReplicaReader(ReaderSetup setup);

}  // namespace cairn::datanode::internal
