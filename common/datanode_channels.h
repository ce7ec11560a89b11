// One cached gRPC channel and stub per DataNode address. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include <grpcpp/server_builder.h>
#include "proto/datanode.grpc.pb.h"

namespace cairn {

// How often a data connection with calls in flight is pinged, and how long a ping may go
// unanswered before the connection and its calls fail (milliseconds). A peer that is alive
// but hung (stopped, wedged) would otherwise hold a pipeline, and the threads serving it, for
// as long as it hangs.
inline constexpr int64_t kDefaultDataKeepaliveMs = 10000;

class DataNodeChannels {
 public:
  explicit DataNodeChannels(int64_t keepalive_ms = kDefaultDataKeepaliveMs)
      : keepalive_ms_(keepalive_ms) {}
  // The stub for `address` (host:port), created on first use. Never null.
  cairn::v1::DataNodeService::Stub* Get(const std::string& address);

 private:
  const int64_t keepalive_ms_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<cairn::v1::DataNodeService::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
};

// A channel for bulk data (large messages), pinged every `keepalive_ms` while calls are in
// flight; a ping unanswered for `keepalive_ms` fails the connection's calls.
std::shared_ptr<grpc::Channel> CreateDataChannel(const std::string& address,
                                                 int64_t keepalive_ms = kDefaultDataKeepaliveMs);

// Server settings that accept the pings of data channels (every server data channels talk to
// must apply them, or it would close the connection as abusive).
void AllowDataKeepalive(grpc::ServerBuilder* builder);

}  // namespace cairn
