#include "client/local_reads.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/file_io.h"
#include "common/local_read_protocol.h"

namespace cairn::client {
namespace {

constexpr int64_t kUnusableForMs = 10000;   // a DataNode without local reads: ask again later
constexpr int64_t kIdleCloseMs = 60000;     // replica files unused this long are closed
constexpr size_t kAdviseFromBytes = 1 << 20;  // larger reads start readahead of their range

absl::Status NotLocal(absl::string_view why) { return absl::UnimplementedError(why); }

}  // namespace

LocalReplicas::LocalReplicas(size_t max_open_replicas) : max_open_(max_open_replicas) {
  local_hosts_ = {"127.0.0.1", "localhost", "::1", "[::1]"};
  ifaddrs* ifs = nullptr;
  if (::getifaddrs(&ifs) == 0) {
    for (ifaddrs* i = ifs; i != nullptr; i = i->ifa_next) {
      if (i->ifa_addr == nullptr) continue;
      char buf[INET6_ADDRSTRLEN];
      if (i->ifa_addr->sa_family == AF_INET &&
          inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf,
                    sizeof(buf))) {
        local_hosts_.insert(buf);
      } else if (i->ifa_addr->sa_family == AF_INET6 &&
                 inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr,
                           buf, sizeof(buf))) {
        local_hosts_.insert(buf);
        local_hosts_.insert(absl::StrCat("[", buf, "]"));
      }
    }
    ::freeifaddrs(ifs);
  }
}

bool LocalReplicas::IsLocal(const std::string& address, int* port) const {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  if (!absl::SimpleAtoi(address.substr(colon + 1), port) || *port <= 0) return false;
  return local_hosts_.contains(address.substr(0, colon));
}

void LocalReplicas::Forget(const std::string& key) {
  absl::MutexLock l(&mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return;
  lru_.erase(it->second);
  index_.erase(it);
}

StatusOr<std::shared_ptr<const LocalReplicas::Files>> LocalReplicas::Ask(
    const cairn::v1::DataNodeId& dn, const cairn::v1::Block& block, int port) {
  auto unusable = [&](absl::string_view why) {
    absl::MutexLock l(&mu_);
    unusable_until_ms_[dn.address()] = MonoMillis() + kUnusableForMs;
    return NotLocal(absl::StrCat(dn.address(), ": ", why));
  };
  ScopedFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return unusable(strerror(errno));
  timeval timeout{2, 0};  // a stuck DataNode: fall back to the network soon
  ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_un addr;
  const socklen_t len = local_read::SocketAddress(port, &addr);
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    return unusable(absl::StrCat("no local read socket (", strerror(errno), ")"));
  }
  local_read::Request req;
  std::memset(&req, 0, sizeof(req));
  std::memcpy(req.magic, local_read::kRequestMagic, sizeof(req.magic));
  req.block_id = block.block_id();
  req.generation_stamp = block.generation_stamp();
  if (::send(sock.get(), &req, sizeof(req), MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof(req))) {
    return unusable(absl::StrCat("local read request: ", strerror(errno)));
  }
  local_read::Reply reply;
  auto files = std::make_shared<Files>();
  if (int e = local_read::ReceiveReply(sock.get(), &reply, &files->data, &files->crc); e != 0) {
    return unusable(absl::StrCat("local read reply: ", strerror(e)));
  }
  reply.datanode_uuid[sizeof(reply.datanode_uuid) - 1] = '\0';
  if (dn.datanode_uuid() != reply.datanode_uuid) {
    return unusable("another DataNode answers on this host");
  }
  if (reply.status != local_read::kOk) {
    return NotLocal(absl::StrCat("blk_", block.block_id(), " not readable locally on ",
                                 dn.address(), " (status ", reply.status, ")"));
  }
  if (reply.bytes_per_checksum == 0) return unusable("malformed local read reply");
  files->length = reply.length;
  files->bytes_per_checksum = reply.bytes_per_checksum;
  files->crc_offset = reply.crc_offset;
  return std::shared_ptr<const Files>(std::move(files));
}

StatusOr<std::shared_ptr<const LocalReplicas::Files>> LocalReplicas::Get(
    const std::string& key, const cairn::v1::DataNodeId& dn, const cairn::v1::Block& block,
    int port, bool* cached) {
  *cached = false;
  {
    absl::MutexLock l(&mu_);
    const int64_t now = MonoMillis();
    while (!lru_.empty() && now - lru_.back().used_ms > kIdleCloseMs) {
      index_.erase(lru_.back().key);
      lru_.pop_back();
    }
    auto it = index_.find(key);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      it->second->used_ms = now;
      *cached = true;
      return it->second->files;
    }
    auto u = unusable_until_ms_.find(dn.address());
    if (u != unusable_until_ms_.end()) {
      if (MonoMillis() < u->second) return NotLocal(absl::StrCat(dn.address(), ": not local"));
      unusable_until_ms_.erase(u);
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Files> files, Ask(dn, block, port));
  absl::MutexLock l(&mu_);
  if (index_.contains(key)) return files;  // another thread got it meanwhile: fine too
  lru_.push_front(Entry{key, files, MonoMillis()});
  index_[key] = lru_.begin();
  while (lru_.size() > max_open_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();  // closed once no reader holds it
  }
  return files;
}

Status LocalReplicas::Read(const cairn::v1::DataNodeId& dn, const cairn::v1::Block& block,
                           uint64_t offset, size_t n, char* dst, bool verify) {
  int port = 0;
  if (!IsLocal(dn.address(), &port)) return NotLocal("remote DataNode");
  const std::string key =
      absl::StrCat(dn.datanode_uuid(), "/", block.block_id(), "/", block.generation_stamp());
  bool cached = false;
  Status s = ReadOnce(key, dn, block, port, offset, n, dst, verify, &cached);
  // Files kept from earlier may no longer be the replica's (lease recovery shortened it under
  // a new generation stamp, or it was replaced): ask the DataNode again before calling the
  // replica corrupt.
  if (s.code() == absl::StatusCode::kDataLoss && cached) {
    s = ReadOnce(key, dn, block, port, offset, n, dst, verify, &cached);
  }
  return s;
}

Status LocalReplicas::ReadOnce(const std::string& key, const cairn::v1::DataNodeId& dn,
                               const cairn::v1::Block& block, int port, uint64_t offset,
                               size_t n, char* dst, bool verify, bool* cached) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Files> f, Get(key, dn, block, port, cached));
  if (n == 0) return absl::OkStatus();
  if (offset > f->length || n > f->length - offset) {
    return NotLocal(absl::StrCat("blk_", block.block_id(), ": range beyond the local replica"));
  }
  auto corrupt = [&](const std::string& what) {
    Forget(key);
    return absl::DataLossError(absl::StrCat(what, " of blk_", block.block_id(), " on ",
                                            dn.address(), " (local read)"));
  };
  const uint64_t bpc = f->bytes_per_checksum;
  const uint64_t first_chunk = offset / bpc;
  const uint64_t begin = first_chunk * bpc;
  const uint64_t end = std::min<uint64_t>(f->length, (offset + n + bpc - 1) / bpc * bpc);
  const uint64_t chunks = (end - begin + bpc - 1) / bpc;
  // Whole chunks are read straight into `dst` when the range is chunk-aligned.
  const bool direct = begin == offset && end == offset + n;
  std::string staging;
  char* buf = dst;
  if (!direct) {
    staging.resize(end - begin);
    buf = staging.data();
  }
  if (end - begin >= kAdviseFromBytes) {
    ::posix_fadvise(f->data.get(), static_cast<off_t>(begin), static_cast<off_t>(end - begin),
                    POSIX_FADV_WILLNEED);
  }
  size_t got = 0;
  if (int e = PReadFull(f->data.get(), buf, end - begin, begin, &got)) {
    return corrupt(absl::StrCat("read error (", strerror(e), ")"));
  }
  if (got != end - begin) return corrupt("short data file");
  if (verify) {
    std::string crcs(4 * chunks, '\0');
    if (PReadFull(f->crc.get(), crcs.data(), crcs.size(), f->crc_offset + 4 * first_chunk, &got) != 0 ||
        got != crcs.size()) {
      return corrupt("short checksum file");
    }
    for (uint64_t c = 0; c < chunks; ++c) {
      const uint64_t at = c * bpc;
      const size_t len = static_cast<size_t>(std::min<uint64_t>(bpc, (end - begin) - at));
      if (Crc32c(buf + at, len) != DecodeFixed32(crcs.data() + 4 * c)) {
        return corrupt(absl::StrCat("checksum mismatch at offset ", begin + at));
      }
    }
  }
  if (!direct) std::memcpy(dst, staging.data() + (offset - begin), n);
  return absl::OkStatus();
}

}  // namespace cairn::client
