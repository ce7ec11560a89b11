// One stage of a write pipeline: the server side of DataNodeService.WriteBlock on one
// DataNode. Writes packets to the local replica, forwards them downstream and acknowledges
// upstream once `min_replicas` replicas (this one included) have a packet. See
// proto/datanode.proto for the protocol. Thread-compatible: one per stream.
#pragma once

#include <atomic>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/datanode_channels.h"
#include "datanode/background_tasks.h"
#include "datanode/block_store.h"
#include "datanode/datanode_options.h"
#include "datanode/replica_listener.h"
#include "proto/datanode.grpc.pb.h"

namespace cairn::datanode {

// What a pipeline stage needs from its DataNode. Every pointer outlives the stage.
struct PipelineEnv {
  BlockStore* store = nullptr;
  ReplicaListener* listener = nullptr;
  DataNodeChannels* channels = nullptr;
  BackgroundTasks* background = nullptr;
  const DataNodeOptions* options = nullptr;
  std::string self_uuid;
  std::atomic<int>* active_transfers = nullptr;
};

using WriteStream =
    grpc::ServerReaderWriter<cairn::v1::WriteBlockResponse, cairn::v1::WriteBlockRequest>;

// Runs the stage until the last packet is acknowledged or the stream fails.
grpc::Status RunWritePipeline(const PipelineEnv& env, grpc::ServerContext* ctx,
                              WriteStream* stream);

}  // namespace cairn::datanode
