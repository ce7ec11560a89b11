// BlockStore: the replicas of one DataNode on its local volumes.
//
// Layout of each volume directory VOL:
//   VOL/current/rbw/blk_<id>_<gs>.data, .crc        replicas being written
//   VOL/current/finalized/<id % 256 as 2 hex>/blk_<id>_<gs>.data, .crc   finalized replicas
// A .crc file starts with a 16-byte header ("CRNC", u32 version = 1, u32 bytes_per_checksum,
// u32 0, all little-endian) followed by one little-endian CRC32C per bytes_per_checksum chunk of
// the data file (the last chunk may be partial).
//
// Thread-safe. Replica writers and readers are used by one thread each; any number of readers
// may read a replica while one writer appends to it. A volume on which an I/O error occurs is
// marked failed: its replicas are dropped from the store and it takes no new replicas.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/status.h"

namespace cairn::datanode {

struct BlockStoreOptions {
  std::vector<std::string> volumes;  // directories, created if missing
  uint32_t bytes_per_checksum = 4096;
  bool fsync_on_finalize = true;     // fsync data and checksums before a replica is finalized
  // Write large, aligned runs of replica data with O_DIRECT (no copy into the page cache; the
  // rest, and volumes whose file system refuses O_DIRECT, go through the page cache).
  bool direct_io = true;
  uint64_t reserved_bytes_per_volume = 0;  // a volume with less free space takes no new replicas
  // Empty files kept ready per volume (VOLUME/current/pool) for new replicas to be renamed
  // from, so a new replica allocates no inode on the writer's path; 0 = create them as needed.
  size_t file_pool_size = 512;
  // Capacity override per volume for tests (0 = statvfs).
  uint64_t capacity_bytes_per_volume_for_tests = 0;
};

enum class ReplicaState { kBeingWritten, kFinalized };

struct ReplicaInfo {
  uint64_t block_id = 0;
  uint64_t generation_stamp = 0;
  uint64_t length = 0;  // bytes on disk with valid checksums
  ReplicaState state = ReplicaState::kBeingWritten;
  int volume = 0;
};

struct VolumeReport {
  uint64_t capacity = 0;   // bytes
  uint64_t used = 0;       // bytes of replicas (data + checksums)
  uint64_t remaining = 0;  // bytes free for new replicas (after reservation)
  uint32_t volumes = 0;
  uint32_t failed_volumes = 0;
};

// Appends to a replica being written. Not thread-safe; one per replica.
class ReplicaWriter {
 public:
  virtual ~ReplicaWriter() = default;
  // Writes `n` bytes at `offset` of the block. `offset` may be below the current length (the
  // replica is then truncated to `offset` first: a resent packet after pipeline recovery) but
  // not above it (INVALID_ARGUMENT: a gap). Updates checksums, including a partial last chunk.
  virtual Status Write(uint64_t offset, const void* data, size_t n) = 0;
  // Makes everything written durable (fsync of data and checksums).
  virtual Status Sync() = 0;
  // Syncs (if configured), moves the replica to finalized/ and closes it. Length is final.
  virtual Status Finalize() = 0;
  // Deletes the replica, if it is still this writer's (not finalized, and not replaced,
  // recovered or deleted through someone else since), and closes the writer. FAILED_PRECONDITION
  // (nothing deleted) otherwise. For a transfer that failed: never removes another's replica.
  virtual Status Abandon() = 0;
  virtual uint64_t length() const = 0;
};

// Reads a replica (finalized or being written). Thread-compatible.
class ReplicaReader {
 public:
  virtual ~ReplicaReader() = default;
  // Reads whole checksum chunks covering [offset, offset + n) (clamped to `length()`): fills
  // `data` from the chunk-aligned start `*aligned_offset` and `crcs` with one stored CRC per
  // chunk. The caller verifies. OUT_OF_RANGE if offset > length().
  virtual Status ReadChunks(uint64_t offset, size_t n, uint64_t* aligned_offset,
                            std::string* data, std::vector<uint32_t>* crcs) = 0;
  virtual uint64_t length() const = 0;
  virtual uint32_t bytes_per_checksum() const = 0;
  // Hints that [offset, offset + n) will be read soon (starts asynchronous readahead).
  virtual void WillRead(uint64_t /*offset*/, uint64_t /*n*/) {}
  // The replica's open data and checksum files, to hand to a reader on this host (still owned
  // by this reader; -1 if there are none). The CRC of chunk i is the little-endian u32 at
  // crc_offset() + 4 * i of the checksum file.
  virtual int data_fd() const { return -1; }
  virtual int crc_fd() const { return -1; }
  virtual uint64_t crc_offset() const { return 0; }
};

class BlockStore {
 public:
  // Opens every volume, scanning existing replicas (a replica with an unreadable or short .crc
  // is ignored and logged). Fails only if no volume is usable.
  static StatusOr<std::unique_ptr<BlockStore>> Open(const BlockStoreOptions& options);
  virtual ~BlockStore() = default;

  // Creates a replica being written on the volume with the most free space. ALREADY_EXISTS if
  // the block exists with the same or a newer generation stamp; a replica with an older stamp
  // is deleted first. RESOURCE_EXHAUSTED if no volume has room for `expected_bytes`.
  virtual StatusOr<std::unique_ptr<ReplicaWriter>> CreateReplica(uint64_t block_id,
                                                                 uint64_t generation_stamp,
                                                                 uint64_t expected_bytes) = 0;
  // Reopens a replica being written (pipeline recovery) under a new, larger generation stamp:
  // renames its files and returns a writer positioned at its current length; the space for
  // `expected_bytes` (the block length the writer announces; 0: none) is reserved as by
  // CreateReplica, without an admission check (the bytes so far are on disk already).
  // NOT_FOUND if there is no such replica; FAILED_PRECONDITION if it is finalized.
  virtual StatusOr<std::unique_ptr<ReplicaWriter>> RecoverReplica(
      uint64_t block_id, uint64_t new_generation_stamp, uint64_t expected_bytes) = 0;
  // Gives a replica (either state) a new generation stamp and truncates it to `length`
  // (lease recovery), finalizing it. NOT_FOUND, or INVALID_ARGUMENT if length > its length.
  virtual Status CommitRecovery(uint64_t block_id, uint64_t new_generation_stamp,
                                uint64_t length) = 0;
  // A reader of the replica. NOT_FOUND if absent; FAILED_PRECONDITION if its generation stamp
  // differs from `generation_stamp` (stale).
  virtual StatusOr<std::unique_ptr<ReplicaReader>> OpenReplica(uint64_t block_id,
                                                               uint64_t generation_stamp) = 0;
  // Deletes a replica's files. NOT_FOUND if absent.
  virtual Status DeleteReplica(uint64_t block_id) = 0;
  virtual StatusOr<ReplicaInfo> GetReplica(uint64_t block_id) = 0;
  // Reads a finalized replica and checks every chunk against its stored CRC, reading at most
  // `bytes_per_sec` (0 = unlimited). DATA_LOSS on a mismatch or a short file, NOT_FOUND.
  virtual Status VerifyReplica(uint64_t block_id, uint64_t bytes_per_sec) = 0;
  virtual std::vector<ReplicaInfo> AllReplicas() = 0;
  virtual VolumeReport Report() = 0;
  // Checks that every volume is still readable and writable; marks failing ones failed.
  virtual void CheckVolumes() = 0;
  // The files of a replica (tests: corrupting one on disk).
  virtual StatusOr<std::string> DataPathForTests(uint64_t block_id) = 0;
};

}  // namespace cairn::datanode
