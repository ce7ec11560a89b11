#include "common/grpc_status.h"

#include <string>

namespace cairn {

grpc::Status ToGrpcStatus(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()),
                      PosixName(s));
}

Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  Status out(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  if (!s.error_details().empty() && s.error_details().size() < 32) {
    out = WithPosix(std::move(out), s.error_details());
  }
  return out;
}

}  // namespace cairn
