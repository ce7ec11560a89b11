// The gRPC DataNodeService of a DataNode (sync API: block data streams are long-lived and
// disk-bound). See proto/datanode.proto. Thread-safe.
#pragma once

#include "datanode/write_pipeline.h"
#include "proto/datanode.grpc.pb.h"

namespace cairn::datanode {

class DataServiceImpl final : public cairn::v1::DataNodeService::Service {
 public:
  // Everything in `env` must outlive the service. `epoch` returns the highest NameNode epoch
  // seen (commands from older epochs are refused).
  DataServiceImpl(PipelineEnv env, std::function<uint64_t()> epoch)
      : env_(std::move(env)), epoch_(std::move(epoch)) {}

  grpc::Status WriteBlock(grpc::ServerContext* ctx, WriteStream* stream) override;
  grpc::Status ReadBlock(grpc::ServerContext* ctx, const cairn::v1::ReadBlockRequest* req,
                         grpc::ServerWriter<cairn::v1::ReadBlockResponse>* writer) override;
  grpc::Status GetReplicaInfo(grpc::ServerContext* ctx, const cairn::v1::GetReplicaInfoRequest* req,
                              cairn::v1::GetReplicaInfoResponse* resp) override;
  grpc::Status RecoverReplica(grpc::ServerContext* ctx, const cairn::v1::RecoverReplicaRequest* req,
                              cairn::v1::RecoverReplicaResponse* resp) override;

 private:
  const PipelineEnv env_;
  const std::function<uint64_t()> epoch_;
};

}  // namespace cairn::datanode
