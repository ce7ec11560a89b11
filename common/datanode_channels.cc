#include "common/datanode_channels.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdint>

namespace cairn {

std::shared_ptr<grpc::Channel> CreateDataChannel(const std::string& address,
                                                 int64_t keepalive_ms) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  // Each DataNode gets its own connection, not shared with the NameNode channel.
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  const int ms = static_cast<int>(std::clamp<int64_t>(keepalive_ms, 100, INT32_MAX));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);  // a stream may wait long for acks
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

void AllowDataKeepalive(grpc::ServerBuilder* builder) {
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 50);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
}

cairn::v1::DataNodeService::Stub* DataNodeChannels::Get(const std::string& address) {
  absl::MutexLock l(&mu_);
  auto& stub = stubs_[address];
  if (!stub) stub = cairn::v1::DataNodeService::NewStub(CreateDataChannel(address, keepalive_ms_));
  return stub.get();
}

}  // namespace cairn
