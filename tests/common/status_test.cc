#include <gtest/gtest.h>

#include <cerrno>

#include "common/errno_map.h"
#include "common/grpc_status.h"
#include "common/status.h"

namespace cairn {
namespace {

TEST(StatusTest, ErrnoMapping) {
  EXPECT_EQ(ToErrno(absl::OkStatus()), 0);
  EXPECT_EQ(ToErrno(absl::NotFoundError("x")), ENOENT);
  EXPECT_EQ(ToErrno(absl::AlreadyExistsError("x")), EEXIST);
  EXPECT_EQ(ToErrno(absl::PermissionDeniedError("x")), EACCES);
  EXPECT_EQ(ToErrno(absl::InvalidArgumentError("x")), EINVAL);
  EXPECT_EQ(ToErrno(absl::ResourceExhaustedError("x")), ENOSPC);
  EXPECT_EQ(ToErrno(absl::UnavailableError("x")), EIO);
  EXPECT_EQ(ToErrno(NotADirectoryError("x")), ENOTDIR);
  EXPECT_EQ(ToErrno(IsADirectoryError("x")), EISDIR);
  EXPECT_EQ(ToErrno(NotEmptyError("x")), ENOTEMPTY);
  EXPECT_EQ(ToErrno(absl::FailedPreconditionError("x")), EIO);
}

TEST(StatusTest, PosixDetailSurvivesGrpc) {
  Status s = NotEmptyError("/d: directory not empty");
  Status back = FromGrpcStatus(ToGrpcStatus(s));
  EXPECT_EQ(back.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(back.message(), "/d: directory not empty");
  EXPECT_EQ(ToErrno(back), ENOTEMPTY);
  EXPECT_EQ(ErrorText(back), "Directory not empty");
  EXPECT_TRUE(FromGrpcStatus(ToGrpcStatus(absl::OkStatus())).ok());
  EXPECT_EQ(FromGrpcStatus(ToGrpcStatus(absl::NotFoundError("/x"))).code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cairn
