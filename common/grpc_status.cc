#include "common/grpc_status.h"

#include <string>

#include "proto/common.pb.h"

namespace cairn {

namespace {
// A POSIX detail is a short symbolic name; anything else is ignored.
bool PlausiblePosix(const std::string& p) { return !p.empty() && p.size() < 32; }
}  // namespace

grpc::Status ToGrpcStatus(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()),
                      PosixName(s));
}

Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  Status out(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  if (PlausiblePosix(s.error_details())) {
    out = WithPosix(std::move(out), s.error_details());
  }
  return out;
}

void ToOpError(const Status& s, cairn::v1::OpError* out) {
  out->set_code(static_cast<int32_t>(s.code()));
  out->set_message(std::string(s.message()));
  out->set_posix(PosixName(s));
}

Status FromOpError(const cairn::v1::OpError& e) {
  // Out-of-range or OK codes from a confused peer still mean failure.
  const int code =
      e.code() > 0 && e.code() <= 16 ? e.code() : static_cast<int>(absl::StatusCode::kUnknown);
  Status out(static_cast<absl::StatusCode>(code), e.message());
  if (PlausiblePosix(e.posix())) out = WithPosix(std::move(out), e.posix());
  return out;
}

}  // namespace cairn
