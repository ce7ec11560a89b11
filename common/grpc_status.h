// The one place where absl::Status and grpc::Status are converted. Codes are numbered the same;
// the POSIX payload travels in grpc::Status::error_details.
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace cairn {

grpc::Status ToGrpcStatus(const Status& s);
Status FromGrpcStatus(const grpc::Status& s);

}  // namespace cairn
