#include "common/scoped_fd.h"

#include <unistd.h>

#include <cerrno>

namespace cairn {

ScopedFd& ScopedFd::operator=(ScopedFd&& o) noexcept {
  if (this != &o) {
    Close();
    fd_ = o.release();
  }
  return *this;
}

ScopedFd::~ScopedFd() { Close(); }

int ScopedFd::Close() {
  if (fd_ < 0) return 0;
  int err = ::close(fd_) == 0 ? 0 : errno;
  fd_ = -1;
  return err == EINTR ? 0 : err;  // Linux closes the descriptor even on EINTR
}

}  // namespace cairn
