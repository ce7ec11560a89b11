// One helper for NameNode calls: a deadline on every call, retries with backoff for
// UNAVAILABLE (and DEADLINE_EXCEEDED) on idempotent calls only, and the one conversion to
// absl::Status. Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <thread>

#include "common/channel_args.h"
#include "common/clock.h"
#include "common/grpc_status.h"

namespace cairn::client {

enum class Idempotent { kNo, kYes };

// Calls `stub->method(req)` with a deadline of `timeout_ms`; retried until `timeout_ms` has
// passed when `idempotent` and the failure is UNAVAILABLE or DEADLINE_EXCEEDED.
template <typename Stub, typename Req, typename Resp>
Status CallNameNode(Stub* stub,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp, int64_t timeout_ms, Idempotent idempotent) {
  const int64_t give_up = MonoMillis() + timeout_ms;
  int64_t backoff_ms = 20;
  bool retrying = false;
  while (true) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(std::max<int64_t>(1, give_up - MonoMillis())));
    // A retry waits for the channel to reconnect (within the deadline) instead of failing
    // at once while the connection is being re-established.
    if (retrying) ctx.set_wait_for_ready(true);
    grpc::Status s = (stub->*method)(&ctx, req, resp);
    if (s.ok()) return absl::OkStatus();
    const bool transient = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                           s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (!transient || idempotent == Idempotent::kNo || MonoMillis() + backoff_ms >= give_up) {
      return FromGrpcStatus(s);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 1000);
    retrying = true;
  }
}

}  // namespace cairn::client
