#include "common/status.h"

#include <string>

namespace cairn {

Status WithPosix(Status s, absl::string_view posix) {
  s.SetPayload(kPosixPayload, absl::Cord(posix));
  return s;
}

Status NotADirectoryError(absl::string_view msg) {
  return WithPosix(absl::FailedPreconditionError(msg), "ENOTDIR");
}
Status IsADirectoryError(absl::string_view msg) {
  return WithPosix(absl::FailedPreconditionError(msg), "EISDIR");
}
Status NotEmptyError(absl::string_view msg) {
  return WithPosix(absl::FailedPreconditionError(msg), "ENOTEMPTY");
}

std::string PosixName(const Status& s) {
  auto p = s.GetPayload(kPosixPayload);
  return p ? std::string(*p) : std::string();
}

}  // namespace cairn
