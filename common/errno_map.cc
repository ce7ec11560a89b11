#include "common/errno_map.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace cairn {
namespace {

int ErrnoFromName(const std::string& name) {
  static const struct {
    const char* name;
    int value;
  } kNames[] = {{"ENOTDIR", ENOTDIR}, {"EISDIR", EISDIR},     {"ENOTEMPTY", ENOTEMPTY},
                {"ESTALE", ESTALE},   {"EXDEV", EXDEV},       {"ENAMETOOLONG", ENAMETOOLONG},
                {"EBUSY", EBUSY},     {"ELOOP", ELOOP},       {"EPERM", EPERM},
                {"EROFS", EROFS},     {"ETXTBSY", ETXTBSY},   {"EFBIG", EFBIG}};
  for (const auto& n : kNames) {
    if (name == n.name) return n.value;
  }
  return 0;
}

}  // namespace

int ToErrno(const Status& s) {
  if (s.ok()) return 0;
  if (int e = ErrnoFromName(PosixName(s)); e != 0) return e;
  switch (s.code()) {
    case absl::StatusCode::kNotFound: return ENOENT;
    case absl::StatusCode::kAlreadyExists: return EEXIST;
    case absl::StatusCode::kPermissionDenied: return EACCES;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return EINVAL;
    case absl::StatusCode::kResourceExhausted: return ENOSPC;
    case absl::StatusCode::kUnimplemented: return ENOSYS;
    default: return EIO;
  }
}

std::string ErrorText(const Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
      if (ToErrno(s) != EIO) return std::strerror(ToErrno(s));
      break;
    default: break;
  }
  return std::string(s.message());
}

}  // namespace cairn
