// gRPC channel settings shared by everything that talks to the NameNode.
#pragma once

#include <grpcpp/grpcpp.h>

namespace cairn {

// Messages up to `max_message_bytes` and a quick reconnect after the NameNode restarts
// (gRPC's default reconnect backoff grows to minutes).
inline grpc::ChannelArguments NameNodeChannelArgs(int max_message_bytes = 64 << 20) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return args;
}

}  // namespace cairn
