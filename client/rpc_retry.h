// One helper for NameNode calls: a deadline on every call, retries with backoff for
// UNAVAILABLE (and DEADLINE_EXCEEDED) on idempotent calls only, and the one conversion to
// absl::Status. Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <thread>

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

// Channel arguments for NameNode connections: large messages and a quick reconnect after the
// NameNode restarts (gRPC's default backoff grows to minutes).
inline grpc::ChannelArguments NameNodeChannelArgs() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return args;
}

}  // namespace cairn::client
