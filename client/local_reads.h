// LocalReplicas: short-circuit local reads for one client (see
// common/local_read_protocol.h): a finalized replica held by a DataNode on this host is read
// straight from its files, whose descriptors the DataNode hands over once; they are kept open
// for the most recently read replicas. Every chunk read is checked against its CRC32C.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/scoped_fd.h"
#include "common/status.h"
#include "proto/common.pb.h"

namespace cairn::client {

class LocalReplicas {
 public:
  explicit LocalReplicas(size_t max_open_replicas = 128);
  LocalReplicas(const LocalReplicas&) = delete;
  LocalReplicas& operator=(const LocalReplicas&) = delete;

  // Reads [offset, offset + n) of `block` (by id and generation stamp) from the replica of
  // DataNode `dn` into `dst`, checking checksums when `verify`. UNIMPLEMENTED when it cannot
  // be done locally (the DataNode is not on this host or does not hand out replicas, the
  // replica is being written or has another generation stamp, the range is beyond it): read
  // over the network instead. DATA_LOSS: the replica is corrupt (checksum mismatch, short
  // file); it is not offered again.
  Status Read(const cairn::v1::DataNodeId& dn, const cairn::v1::Block& block, uint64_t offset,
              size_t n, char* dst, bool verify);

 private:
  struct Files {
    ScopedFd data;
    ScopedFd crc;
    uint64_t length = 0;
    uint32_t bytes_per_checksum = 0;
    uint64_t crc_offset = 0;
  };
  // The replica's files, from the cache or asked from the DataNode.
  // `*cached`: whether they came from the cache.
  StatusOr<std::shared_ptr<const Files>> Get(const std::string& key,
                                             const cairn::v1::DataNodeId& dn,
                                             const cairn::v1::Block& block, int port,
                                             bool* cached);
  StatusOr<std::shared_ptr<const Files>> Ask(const cairn::v1::DataNodeId& dn,
                                             const cairn::v1::Block& block, int port);
  // True (and the port) if `address` (host:port) is on this host.
  bool IsLocal(const std::string& address, int* port) const;
  void Forget(const std::string& key);
  // One attempt of Read() with the replica's files from the cache (`cached`) or just asked.
  // `key`: uuid/block id/generation stamp.
  Status ReadOnce(const std::string& key, const cairn::v1::DataNodeId& dn,
                  const cairn::v1::Block& block, int port, uint64_t offset, size_t n, char* dst,
                  bool verify, bool* cached);

  const size_t max_open_;
  absl::flat_hash_set<std::string> local_hosts_;  // numeric addresses of this host; constant

  absl::Mutex mu_;
  struct Entry {
    std::string key;  // uuid/block id/generation stamp
    std::shared_ptr<const Files> files;
    int64_t used_ms = 0;  // MonoMillis of the last read
  };
  // Most recently used first. Entries idle for long are closed too: the DataNode may have
  // deleted the replica, whose disk space stays in use while it is open.
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, decltype(lru_)::iterator> index_ ABSL_GUARDED_BY(mu_);
  // DataNode addresses that have no local read socket (or another DataNode's), until when.
  absl::flat_hash_map<std::string, int64_t> unusable_until_ms_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cairn::client
