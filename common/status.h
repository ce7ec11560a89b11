// Status and StatusOr for all of Cairn, plus the POSIX detail some errors carry.
//
// Errors are absl::Status values, never exceptions. Canonical codes are chosen as precisely as
// possible. Some POSIX outcomes have no canonical code (ENOTDIR, EISDIR, ENOTEMPTY, ...): they
// are FAILED_PRECONDITION plus a payload naming the errno; only grpc_status.cc and
// errno_map.cc read that payload.
#pragma once

#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cairn {

using Status = absl::Status;
template <typename T>
using StatusOr = absl::StatusOr<T>;

// Payload key under which a POSIX errno name ("ENOTDIR") travels.
inline constexpr absl::string_view kPosixPayload = "cairn.posix";

// FAILED_PRECONDITION statuses carrying a POSIX errno name.
Status NotADirectoryError(absl::string_view msg);
Status IsADirectoryError(absl::string_view msg);
Status NotEmptyError(absl::string_view msg);
// Attaches the errno name `posix` (e.g. "ESTALE") to a status of any code.
Status WithPosix(Status s, absl::string_view posix);
// The errno name carried by `s`, or "" when there is none.
std::string PosixName(const Status& s);

}  // namespace cairn

#define CAIRN_CONCAT_INNER(a, b) a##b
#define CAIRN_CONCAT(a, b) CAIRN_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define RETURN_IF_ERROR(expr)                 \
  do {                                        \
    ::absl::Status _st = (expr);              \
    if (!_st.ok()) return _st;                \
  } while (0)

// Like RETURN_IF_ERROR, prepending "context: " to the message.
#define RETURN_IF_ERROR_PREPEND(expr, context)                                  \
  do {                                                                          \
    ::absl::Status _st = (expr);                                                \
    if (!_st.ok()) return ::absl::Status(_st.code(), std::string(context) + ": " + \
                                                         std::string(_st.message())); \
  } while (0)

// `lhs = value of expr` (a StatusOr), or returns its status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(CAIRN_CONCAT(_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(*tmp)
