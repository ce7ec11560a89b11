// One cached gRPC channel and stub per DataNode address. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "proto/datanode.grpc.pb.h"

namespace cairn {

class DataNodeChannels {
 public:
  // The stub for `address` (host:port), created on first use. Never null.
  cairn::v1::DataNodeService::Stub* Get(const std::string& address);

 private:
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<cairn::v1::DataNodeService::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
};

// Channel arguments for bulk data (large messages).
std::shared_ptr<grpc::Channel> CreateDataChannel(const std::string& address);

}  // namespace cairn
