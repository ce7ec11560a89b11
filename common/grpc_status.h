// The one place where absl::Status and grpc::Status are converted. Codes are numbered the same;
// the POSIX payload travels in grpc::Status::error_details.
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace cairn::v1 {
class OpError;
}

namespace cairn {

grpc::Status ToGrpcStatus(const Status& s);
Status FromGrpcStatus(const grpc::Status& s);

// The same, for an error carried as a value inside a response (a Batch result).
// REQUIRES: !s.ok() for ToOpError.
void ToOpError(const Status& s, cairn::v1::OpError* out);
Status FromOpError(const cairn::v1::OpError& e);

}  // namespace cairn
