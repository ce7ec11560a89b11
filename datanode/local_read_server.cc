#include "datanode/local_read_server.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/local_read_protocol.h"
#include "common/logging.h"
#include "datanode/block_store.h"

namespace cairn::datanode {

LocalReadServer::LocalReadServer(BlockStore* store, std::string datanode_uuid)
    : store_(store), uuid_(std::move(datanode_uuid)) {}

LocalReadServer::~LocalReadServer() { Stop(); }

Status LocalReadServer::Start(int port) {
  ScopedFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_un addr;
  const socklen_t len = local_read::SocketAddress(port, &addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(fd.get(), 64) != 0) {
    return absl::UnavailableError(
        absl::StrCat("local read socket of port ", port, ": ", strerror(errno)));
  }
  listen_ = std::move(fd);
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void LocalReadServer::Stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  ::shutdown(listen_.get(), SHUT_RDWR);  // wakes accept()
  thread_.join();
  listen_.Close();
}

void LocalReadServer::Loop() {
  while (!stopping_) {
    ScopedFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (conn.get() < 0) {
      if (stopping_) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      LOG(WARNING) << "local read socket: accept: " << strerror(errno);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // e.g. out of descriptors
      continue;
    }
    Serve(conn.get());
  }
}

void LocalReadServer::Serve(int conn) {
  // A client that connects and says nothing must not hold up the others for long.
  timeval timeout{1, 0};
  ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  local_read::Request req;
  local_read::Reply reply;
  std::memset(&reply, 0, sizeof(reply));
  std::memcpy(reply.datanode_uuid, uuid_.data(),
              std::min(uuid_.size(), sizeof(reply.datanode_uuid) - 1));
  ssize_t n;
  do {
    n = ::recv(conn, &req, sizeof(req), MSG_WAITALL);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof(req)) ||
      std::memcmp(req.magic, local_read::kRequestMagic, sizeof(req.magic)) != 0) {
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
