#include "datanode/local_read_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/local_read_protocol.h"
#include "common/logging.h"
#include "datanode/block_store.h"

namespace cairn::datanode {

LocalReadServer::LocalReadServer(BlockStore* store, std::string datanode_uuid)
    : store_(store), uuid_(std::move(datanode_uuid)) {}

LocalReadServer::~LocalReadServer() { Stop(); }

struct LocalReadServer::Connection {
  ScopedFd fd;
  int64_t deadline_ms = 0;
  size_t got = 0;
  char buf[sizeof(local_read::Request)];
};

Status LocalReadServer::Start(int port) {
  ScopedFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_un addr;
  const socklen_t len = local_read::SocketAddress(port, &addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(fd.get(), 64) != 0) {
    return absl::UnavailableError(
        absl::StrCat("local read socket of port ", port, ": ", strerror(errno)));
  }
  ScopedFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (wake.get() < 0) return absl::UnavailableError(absl::StrCat("eventfd: ", strerror(errno)));
  listen_ = std::move(fd);
  wake_ = std::move(wake);
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void LocalReadServer::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof(one)) < 0) {
    LOG(ERROR) << "local read socket: cannot wake the server: " << strerror(errno);
  }
  thread_.join();
  listen_.Close();
  wake_.Close();
}

void LocalReadServer::Loop() {
  constexpr int64_t kBackoffMs = 100;  // after accept() or poll() failed (e.g. no descriptors)
  std::vector<Connection> conns;
  std::vector<pollfd> fds;
  int64_t accept_paused_until = 0;
  while (true) {
    const int64_t now = MonoMillis();
    const bool accepting = now >= accept_paused_until;
    int64_t timeout_ms = accepting ? -1 : accept_paused_until - now;
    fds.assign({pollfd{wake_.get(), POLLIN, 0},
                pollfd{listen_.get(), static_cast<short>(accepting ? POLLIN : 0), 0}});
    for (const Connection& c : conns) {
      fds.push_back(pollfd{c.fd.get(), POLLIN, 0});
      const int64_t left = std::max<int64_t>(0, c.deadline_ms - now);
      timeout_ms = timeout_ms < 0 ? left : std::min(timeout_ms, left);
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(timeout_ms)) < 0) {
      if (errno == EINTR) continue;
      LOG_EVERY_N(ERROR, 100) << "local read socket: poll: " << strerror(errno);
      std::this_thread::sleep_for(std::chrono::milliseconds(kBackoffMs));
      continue;
    }
    if (fds[0].revents != 0) return;  // Stop()
    // Connections first (fds[i + 2] is conns[i]); new ones are appended after.
    const int64_t after = MonoMillis();
    size_t kept = 0;
    for (size_t i = 0; i < conns.size(); ++i) {
      const bool finished = (fds[i + 2].revents != 0 && Receive(&conns[i])) ||
                            after >= conns[i].deadline_ms;
      if (!finished) {
        if (kept != i) conns[kept] = std::move(conns[i]);
        ++kept;
      }
    }
    conns.resize(kept);
    if (fds[1].revents != 0 && !AcceptSome(&conns)) {
      // Out of descriptors or memory: the pending connection stays queued and the socket
      // readable, so stop watching it for a while rather than spin.
      accept_paused_until = MonoMillis() + kBackoffMs;
    }
  }
}

bool LocalReadServer::AcceptSome(std::vector<Connection>* conns) {
  constexpr int kMaxPerWakeup = 64;  // then the open connections get their turn
  for (int i = 0; i < kMaxPerWakeup; ++i) {
    ScopedFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (conn.get() < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      LOG_EVERY_N(WARNING, 100) << "local read socket: accept: " << strerror(errno);
      return false;
    }
    if (conns->size() >= kMaxConnections) continue;  // closed: that client uses gRPC
    Connection c;
    c.fd = std::move(conn);
    c.deadline_ms = MonoMillis() + kRequestTimeoutMs;
    // The request is usually there already.
    if (!Receive(&c)) conns->push_back(std::move(c));
  }
  return true;
}

bool LocalReadServer::Receive(Connection* c) {
  ssize_t n;
  do {
    n = ::recv(c->fd.get(), c->buf + c->got, sizeof(c->buf) - c->got, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  if (n == 0) return true;  // the client went away
  c->got += static_cast<size_t>(n);
  if (c->got < sizeof(c->buf)) return false;
  Answer(c->fd.get(), c->buf);
  return true;
}

void LocalReadServer::Answer(int conn, const void* request) {
  local_read::Request req;
  std::memcpy(&req, request, sizeof(req));
  local_read::Reply reply;
  std::memset(&reply, 0, sizeof(reply));
  std::memcpy(reply.datanode_uuid, uuid_.data(),
              std::min(uuid_.size(), sizeof(reply.datanode_uuid) - 1));
  if (std::memcmp(req.magic, local_read::kRequestMagic, sizeof(req.magic)) != 0) {
    reply.status = local_read::kBadRequest;
    local_read::SendReply(conn, reply, -1, -1);
    return;
  }
  auto reader = store_->OpenReplica(req.block_id, req.generation_stamp);
  // After opening: the files held are the finalized replica's if it is finalized now, at the
  // stamp and length the reader saw (a finalized replica no longer changes).
  auto info = store_->GetReplica(req.block_id);
  if (!reader.ok()) {
    reply.status = reader.status().code() == absl::StatusCode::kNotFound ? local_read::kNotFound
                   : reader.status().code() == absl::StatusCode::kFailedPrecondition
                       ? local_read::kUnavailable
                       : local_read::kError;
    local_read::SendReply(conn, reply, -1, -1);
    return;
  }
  // Finalized replicas only: one being written still grows (and its last CRC changes).
  if (!info.ok() || info->state != ReplicaState::kFinalized ||
      info->generation_stamp != req.generation_stamp || info->length != (*reader)->length() ||
      (*reader)->data_fd() < 0) {
    reply.status = local_read::kUnavailable;
    local_read::SendReply(conn, reply, -1, -1);
    return;
  }
  reply.status = local_read::kOk;
  reply.bytes_per_checksum = (*reader)->bytes_per_checksum();
  reply.length = (*reader)->length();
  reply.crc_offset = static_cast<uint32_t>((*reader)->crc_offset());
  if (local_read::SendReply(conn, reply, (*reader)->data_fd(), (*reader)->crc_fd()) == 0) {
    ++grants_;
  }
}

}  // namespace cairn::datanode
