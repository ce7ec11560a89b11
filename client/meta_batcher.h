// MetaBatcher: how the client library sends namespace calls to the NameNode. While fewer than
// `max_in_flight` calls are outstanding, a call leaves at once; calls made while that many
// are in flight queue up and leave together, in one Batch RPC, as soon as one returns. There
// is no timer: an idle client adds no latency, a busy one sends fewer, fuller RPCs (and the
// NameNode syncs the mutations of one batch together). Thread-safe.
#pragma once

#include <deque>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "proto/namenode.grpc.pb.h"

namespace cairn::client {

// Which requests can ride in a Batch: BatchSlot<Req>::kBatchable, and In/Out give the field
// of BatchOp / BatchResult that carries the request / its response.
template <typename Req>
struct BatchSlot {
  static constexpr bool kBatchable = false;
};
#define CAIRN_BATCH_SLOT(Req, Resp, field)                                                \
  template <>                                                                             \
  struct BatchSlot<cairn::v1::Req> {                                                      \
    static constexpr bool kBatchable = true;                                              \
    static cairn::v1::Req* In(cairn::v1::BatchOp* op) { return op->mutable_##field(); }   \
    static cairn::v1::Resp* Out(cairn::v1::BatchResult* r) { return r->mutable_##field(); } \
  };
CAIRN_BATCH_SLOT(MkdirRequest, MkdirResponse, mkdir)
CAIRN_BATCH_SLOT(CreateFileRequest, CreateFileResponse, create_file)
CAIRN_BATCH_SLOT(GetFileInfoRequest, GetFileInfoResponse, get_file_info)
CAIRN_BATCH_SLOT(RenameRequest, RenameResponse, rename)
CAIRN_BATCH_SLOT(DeleteRequest, DeleteResponse, remove)
CAIRN_BATCH_SLOT(SetReplicationRequest, SetReplicationResponse, set_replication)
CAIRN_BATCH_SLOT(SetPermissionRequest, SetPermissionResponse, set_permission)
CAIRN_BATCH_SLOT(SetOwnerRequest, SetOwnerResponse, set_owner)
CAIRN_BATCH_SLOT(SetTimesRequest, SetTimesResponse, set_times)
#undef CAIRN_BATCH_SLOT

class MetaBatcher {
 public:
  static constexpr int kMaxBatch = 256;  // operations per RPC (the NameNode takes 1024)

  // `stub` must outlive this object. REQUIRES: max_in_flight >= 1, timeout_ms > 0.
  MetaBatcher(cairn::v1::NameNodeService::Stub* stub, int max_in_flight, int64_t timeout_ms)
      : stub_(stub), max_in_flight_(max_in_flight), timeout_ms_(timeout_ms) {}

  // Runs `op` (blocking) and returns its outcome; on success `*result` holds its response.
  // A lost connection is retried (as CallNameNode does) only when `idempotent`.
  Status Run(cairn::v1::BatchOp op, bool idempotent, cairn::v1::BatchResult* result);

 private:
  struct Pending;
  // Lets the first queued call lead the next batch if an RPC slot is free.
  void PromoteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends `batch` in one RPC and settles every entry's status and result.
  void Send(const std::vector<Pending*>& batch);

  cairn::v1::NameNodeService::Stub* const stub_;
  const int max_in_flight_;
  const int64_t timeout_ms_;
  absl::Mutex mu_;
  std::deque<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cairn::client
