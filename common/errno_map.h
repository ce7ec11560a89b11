// The one place where a Status becomes a POSIX errno (used by the FUSE layer and the CLI).
#pragma once

#include "common/status.h"

namespace cairn {

// NOT_FOUND->ENOENT, ALREADY_EXISTS->EEXIST, PERMISSION_DENIED->EACCES,
// INVALID_ARGUMENT/OUT_OF_RANGE->EINVAL, RESOURCE_EXHAUSTED->ENOSPC, UNAVAILABLE/
// DEADLINE_EXCEEDED->EIO, a POSIX payload wins over the code; anything else EIO. OK -> 0.
int ToErrno(const Status& s);

// "No such file or directory" for NOT_FOUND etc. (strerror of ToErrno), or the status message
// for errors that have no better POSIX text (EIO from RPC failures, INVALID_ARGUMENT).
std::string ErrorText(const Status& s);

}  // namespace cairn
