#include "common/local_read_protocol.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace cairn::local_read {

socklen_t SocketAddress(int port, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  const std::string name = absl::StrCat("cairn-datanode-", port);
  // Abstract namespace: a leading NUL, the name, no terminator.
  std::memcpy(addr->sun_path + 1, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
}

int SendReply(int sock, const Reply& reply, int data_fd, int crc_fd) {
  iovec iov{const_cast<Reply*>(&reply), sizeof(reply)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
  if (data_fd >= 0 && crc_fd >= 0) {
    std::memset(control, 0, sizeof(control));
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    const int fds[2] = {data_fd, crc_fd};
    std::memcpy(CMSG_DATA(c), fds, sizeof(fds));
  }
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  return n == static_cast<ssize_t>(sizeof(reply)) ? 0 : EPROTO;
}

int ReceiveReply(int sock, Reply* reply, ScopedFd* data_fd, ScopedFd* crc_fd) {
  iovec iov{reply, sizeof(*reply)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  // Take ownership of whatever descriptors came, before any check can return.
  int received = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (received == 0) {
        *data_fd = ScopedFd(fd);
      } else if (received == 1) {
        *crc_fd = ScopedFd(fd);
      } else {
        ScopedFd extra(fd);  // closed
      }
      ++received;
    }
  }
  if (n != static_cast<ssize_t>(sizeof(*reply)) || (msg.msg_flags & MSG_CTRUNC)) return EPROTO;
  if (reply->status == kOk && received != 2) return EPROTO;
  return 0;
}

}  // namespace cairn::local_read
