#include "common/datanode_channels.h"

#include <grpcpp/grpcpp.h>

namespace cairn {

std::shared_ptr<grpc::Channel> CreateDataChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  // Each DataNode gets its own connection, not shared with the NameNode channel.
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

cairn::v1::DataNodeService::Stub* DataNodeChannels::Get(const std::string& address) {
  absl::MutexLock l(&mu_);
  auto& stub = stubs_[address];
  if (!stub) stub = cairn::v1::DataNodeService::NewStub(CreateDataChannel(address));
  return stub.get();
}

}  // namespace cairn
