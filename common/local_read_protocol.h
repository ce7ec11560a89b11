// Short-circuit local reads: a client on a DataNode's host asks the DataNode, over a local
// socket, for open descriptors of a finalized replica's data and checksum files, then reads
// them itself (checking every CRC) -- the bytes never go through gRPC. As HDFS's short-circuit
// local reads, with descriptors passed instead of paths (the client needs no access to the
// DataNode's directories).
//
// Socket: the abstract Unix stream socket "cairn-datanode-<port>", <port> being the
// DataNode's gRPC port (abstract names vanish with the process; nothing to clean up). One
// request per connection: a LocalReadRequest, answered by a LocalReadReply with the data and
// checksum descriptors attached (SCM_RIGHTS) when its status is kOk. The client checks that
// the reply's DataNode uuid is the one it meant (another DataNode may hold the name on a
// different host's loopback). Fixed-size little-endian structs; a version bump changes magic.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <string>

#include "common/scoped_fd.h"

namespace cairn::local_read {

struct Request {
  char magic[4];  // kRequestMagic
  uint32_t reserved;
  uint64_t block_id;
  uint64_t generation_stamp;
};
static_assert(sizeof(Request) == 24);

enum Status : uint32_t {
  kOk = 0,
  kNotFound = 1,      // no such replica
  kUnavailable = 2,   // not finalized, stale generation stamp, or local reads are off
  kBadRequest = 3,
  kError = 4,
};

struct Reply {
  uint32_t status;              // Status
  uint32_t bytes_per_checksum;  // chunk size of the CRC32Cs
  uint64_t length;              // bytes of the replica
  uint32_t crc_offset;          // the CRC of chunk i is the u32 at crc_offset + 4 * i
  uint32_t reserved;
  char datanode_uuid[40];       // NUL-padded
};
static_assert(sizeof(Reply) == 64);

inline constexpr char kRequestMagic[4] = {'C', 'L', 'R', '1'};

// Fills `addr` with the DataNode's socket address; returns its length.
socklen_t SocketAddress(int port, sockaddr_un* addr);
// Sends `reply`, attaching `data_fd` and `crc_fd` when both are >= 0. 0 or an errno.
int SendReply(int sock, const Reply& reply, int data_fd, int crc_fd);
// Receives a reply and its descriptors (left closed if none came). 0 or an errno (EPROTO:
// short or malformed).
int ReceiveReply(int sock, Reply* reply, ScopedFd* data_fd, ScopedFd* crc_fd);

}  // namespace cairn::local_read
