// The Cairn client library: the one public header.
//
//   auto fs = cairn::client::FileSystem::Connect({.namenode = "127.0.0.1:8020"});
//   auto out = (*fs)->Create("/data/hello.txt", {.replication = 3});
//   (*out)->Write("hello", 5); (*out)->Close();
//   auto in = (*fs)->Open("/data/hello.txt");  char buf[5]; (*in)->Read(buf, 5);
//
// Errors are absl::Status values (never exceptions): NOT_FOUND, ALREADY_EXISTS,
// INVALID_ARGUMENT (bad path or argument), FAILED_PRECONDITION with a POSIX detail
// (ENOTDIR, EISDIR, ENOTEMPTY; see cairn::ToErrno in common/errno_map.h), RESOURCE_EXHAUSTED
// (no space), UNAVAILABLE (NameNode or DataNodes unreachable).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace cairn::client {

enum class FileType { kFile, kDirectory, kSymlink };

// How many replicas must have data before a write is acknowledged (see ARCHITECTURE.md).
enum class AckMode { kDefault, kSync, kSemiSync, kAsync };

struct ClientOptions {
  std::string namenode = "127.0.0.1:8020";  // host:port
  int64_t rpc_timeout_ms = 30000;           // deadline of each NameNode call
  int64_t connect_timeout_ms = 10000;       // Connect() gives up after this (or rpc_timeout_ms)
  int64_t data_timeout_ms = 60000;          // deadline of one DataNode stream without progress
  std::string user;                         // owner of new files; "" = the effective user
  std::string group;                        // "" = the effective group
  AckMode default_ack = AckMode::kSync;
  std::string client_name;                  // lease holder id; "" = generated
  bool verify_checksums = true;
  // Replicas held by a DataNode on this host are read from its files directly (descriptors
  // handed over by the DataNode; checksums still checked), not streamed over gRPC.
  bool local_reads = true;
  size_t packet_bytes = 1 << 20;            // bytes per write packet
  int64_t lease_renew_interval_ms = 1000;   // while files are open for writing
  // Namespace calls (mkdir, create, stat, rename, delete, set*) made by several threads at
  // once: up to this many go out as RPCs at the same time; the rest wait and then leave
  // together in one batched RPC. 0 = every call its own RPC, never batched.
  int metadata_rpcs_in_flight = 2;
};

struct FileStatus {
  uint64_t inode_id = 0;
  FileType type = FileType::kFile;
  std::string name;
  uint64_t length = 0;  // bytes
  uint32_t replication = 0;
  uint64_t block_size = 0;
  uint32_t mode = 0;  // permission bits
  std::string owner;
  std::string group;
  int64_t mtime_ms = 0;
  int64_t atime_ms = 0;
  int64_t ctime_ms = 0;
  uint64_t children = 0;  // directories
  std::string symlink_target;
  bool under_construction = false;
  AckMode ack_mode = AckMode::kDefault;
};

struct CreateOptions {
  uint32_t replication = 0;  // 0 = the NameNode's default
  uint64_t block_size = 0;   // bytes; 0 = the NameNode's default
  AckMode ack = AckMode::kDefault;
  bool overwrite = false;
  bool create_parents = false;
  uint32_t mode = 0644;
  // With `overwrite`: keep the existing file's inode id (O_TRUNC semantics).
  bool truncate_existing = false;
  // Non-zero: only replace the file if it still has this inode id (else ESTALE).
  uint64_t expected_inode_id = 0;
  // Out: if set, receives the parent directory's status right after the create (when the
  // create added an entry to it).
  FileStatus* parent_after = nullptr;
  // The NameNode allocates the first block with the create (one call and one log sync less
  // for a file that gets data); false for files that stay empty (a dropped allocation costs
  // a little).
  bool allocate_first_block = true;
};

struct BlockInfo {
  uint64_t block_id = 0;
  uint64_t generation_stamp = 0;
  uint64_t offset = 0;  // in the file
  uint64_t length = 0;
  std::vector<std::string> datanodes;  // addresses, best first
  bool corrupt = false;
};

struct FsStats {
  uint64_t capacity = 0;
  uint64_t used = 0;
  uint64_t remaining = 0;
  uint32_t live_datanodes = 0;
  uint32_t dead_datanodes = 0;
  uint64_t files = 0;   // inodes in the namespace: files, directories, symlinks, the root
  uint64_t blocks = 0;
};

// A file being written. Not thread-safe: one writer thread at a time.
class OutputStream {
 public:
  virtual ~OutputStream() = default;
  // Appends `n` bytes. Data is acknowledged per the file's ack mode.
  virtual Status Write(const void* data, size_t n) = 0;
  // Makes everything written so far visible to new readers.
  virtual Status Hflush() = 0;
  // Hflush, and makes it durable on the DataNodes' disks.
  virtual Status Hsync() = 0;
  // Flushes, finalizes the last block and closes the file. Idempotent.
  virtual Status Close() = 0;
  virtual uint64_t position() const = 0;
  // The file's inode id.
  virtual uint64_t inode_id() const = 0;
};

// A file being read. Not thread-safe, except Pread, which may be called concurrently.
class InputStream {
 public:
  virtual ~InputStream() = default;
  // Reads up to `n` bytes at the current position; 0 at end of file.
  virtual StatusOr<size_t> Read(void* buf, size_t n) = 0;
  // Reads up to `n` bytes at `offset` without moving the position; 0 at or past the end.
  virtual StatusOr<size_t> Pread(uint64_t offset, void* buf, size_t n) = 0;
  // OUT_OF_RANGE if `offset` is past the end.
  virtual Status Seek(uint64_t offset) = 0;
  virtual uint64_t position() const = 0;
  virtual uint64_t length() const = 0;
};

// A connection to one Cairn cluster. Thread-safe.
class FileSystem {
 public:
  // Connects to the NameNode (UNAVAILABLE if it does not answer within rpc_timeout_ms).
  static StatusOr<std::unique_ptr<FileSystem>> Connect(const ClientOptions& options);
  virtual ~FileSystem() = default;

  // ALREADY_EXISTS if `path` exists (unless `parents` and it is a directory).
  virtual Status Mkdir(const std::string& path, bool parents = false, uint32_t mode = 0755) = 0;
  // Creates one directory (its parent must exist), owned by `owner`:`group` ("" = this client's
  // user / group), and returns its status, in one round trip. ALREADY_EXISTS as Mkdir.
  // `parent_after`, if set, receives the parent directory's status right after the change.
  virtual StatusOr<FileStatus> MakeDirectory(const std::string& path, uint32_t mode,
                                             const std::string& owner = "",
                                             const std::string& group = "",
                                             FileStatus* parent_after = nullptr) = 0;
  virtual StatusOr<FileStatus> Stat(const std::string& path) = 0;
  // One page of a directory listing: at most `limit` entries after `start_after`.
  virtual Status ListPage(const std::string& path, const std::string& start_after,
                          uint32_t limit, std::vector<FileStatus>* out, bool* has_more) = 0;
  // The whole listing (all pages).
  virtual StatusOr<std::vector<FileStatus>> List(const std::string& path) = 0;
  // rename(2) semantics; `no_replace` as RENAME_NOREPLACE.
  virtual Status Rename(const std::string& src, const std::string& dst,
                        bool no_replace = false) = 0;
  // `parent_after`, if set, receives the parent directory's status right after the delete.
  virtual Status Delete(const std::string& path, bool recursive = false,
                        FileStatus* parent_after = nullptr) = 0;
  virtual Status SetReplication(const std::string& path, uint32_t replication) = 0;
  virtual Status SetPermission(const std::string& path, uint32_t mode) = 0;
  // Empty strings leave owner or group unchanged.
  virtual Status SetOwner(const std::string& path, const std::string& owner,
                          const std::string& group) = 0;
  // -1 leaves a time unchanged. Milliseconds since the epoch.
  // Milliseconds since the epoch (negative: before 1970); nullopt leaves a time unchanged.
  virtual Status SetTimes(const std::string& path, std::optional<int64_t> mtime_ms,
                          std::optional<int64_t> atime_ms) = 0;
  virtual Status CreateSymlink(const std::string& target, const std::string& link_path) = 0;
  // Creates an empty, closed file if `path` does not exist, else sets its times to now.
  virtual Status Touch(const std::string& path) = 0;

  // Creates a file and opens it for writing (this client holds its lease until Close).
  virtual StatusOr<std::unique_ptr<OutputStream>> Create(const std::string& path,
                                                         const CreateOptions& options) = 0;
  virtual StatusOr<std::unique_ptr<InputStream>> Open(const std::string& path) = 0;
  virtual StatusOr<std::vector<BlockInfo>> GetBlocks(const std::string& path) = 0;
  virtual StatusOr<FsStats> GetFsStats() = 0;
  virtual const ClientOptions& options() const = 0;
};

}  // namespace cairn::client
