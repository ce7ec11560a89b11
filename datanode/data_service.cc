#include "datanode/data_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/logging.h"

namespace cairn::datanode {

namespace {
constexpr size_t kReadChunkBytes = 1 << 20;
}  // namespace

grpc::Status DataServiceImpl::WriteBlock(grpc::ServerContext* ctx, WriteStream* stream) {
  return RunWritePipeline(env_, ctx, stream);
}

grpc::Status DataServiceImpl::ReadBlock(grpc::ServerContext* ctx,
                                        const cairn::v1::ReadBlockRequest* req,
                                        grpc::ServerWriter<cairn::v1::ReadBlockResponse>* writer) {
  const uint64_t id = req->block().block_id();
  const std::string name = absl::StrCat("blk_", id, "_", req->block().generation_stamp());
  auto reader = env_.store->OpenReplica(id, req->block().generation_stamp());
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  const uint64_t length = (*reader)->length();
  const uint64_t want = req->length_bytes();
  if (req->offset_bytes() > length || want > length - req->offset_bytes()) {
    return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                        absl::StrCat(name, ": replica has ", length, " bytes, asked for ", want,
                                     " at ", req->offset_bytes()));
  }
  if (env_.active_transfers) ++*env_.active_transfers;
  uint64_t offset = req->offset_bytes();
  const uint64_t end = offset + want;
  (*reader)->WillRead(offset, want);
  grpc::Status result = grpc::Status::OK;
  cairn::v1::ReadBlockResponse resp;
  std::vector<uint32_t> crcs;
  while (offset < end && !ctx->IsCancelled()) {
    // resp.data() keeps its size from the previous chunk: ReadChunks overwrites it, and
    // zero-fills only growth (a Clear() here cost a 1 MiB memset per chunk).
    resp.clear_chunk_crc32c();
    uint64_t aligned = 0;
    const size_t n = std::min<uint64_t>(kReadChunkBytes, end - offset);
    Status s = (*reader)->ReadChunks(offset, n, &aligned, resp.mutable_data(), &crcs);
    if (!s.ok()) {
      result = ToGrpcStatus(s);
      break;
    }
    if (resp.data().empty()) break;
    resp.set_offset_bytes(aligned);
    resp.set_bytes_per_checksum((*reader)->bytes_per_checksum());
    for (uint32_t c : crcs) resp.add_chunk_crc32c(c);
    const uint64_t next = aligned + resp.data().size();
    if (!writer->Write(resp)) break;
    offset = next;
  }
  if (env_.active_transfers) --*env_.active_transfers;
  return result;
}

grpc::Status DataServiceImpl::GetReplicaInfo(grpc::ServerContext*,
                                             const cairn::v1::GetReplicaInfoRequest* req,
                                             cairn::v1::GetReplicaInfoResponse* resp) {
  auto info = env_.store->GetReplica(req->block().block_id());
  if (!info.ok()) return ToGrpcStatus(info.status());
  resp->mutable_block()->set_block_id(info->block_id);
  resp->mutable_block()->set_generation_stamp(info->generation_stamp);
  resp->mutable_block()->set_length_bytes(info->length);
  resp->set_finalized(info->state == ReplicaState::kFinalized);
  return grpc::Status::OK;
}

grpc::Status DataServiceImpl::RecoverReplica(grpc::ServerContext*,
                                             const cairn::v1::RecoverReplicaRequest* req,
                                             cairn::v1::RecoverReplicaResponse*) {
  if (req->epoch() < epoch_()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("command from an old NameNode epoch ", req->epoch()));
  }
  const auto& b = req->block();
  Status s = env_.store->CommitRecovery(b.block_id(), b.generation_stamp(), b.length_bytes());
  if (!s.ok()) return ToGrpcStatus(s);
  auto info = env_.store->GetReplica(b.block_id());
  if (info.ok()) env_.listener->ReplicaFinalized(*info);
  LOG(INFO) << "recovered blk_" << b.block_id() << "_" << b.generation_stamp() << " at "
            << b.length_bytes() << " bytes";
  return grpc::Status::OK;
}

}  // namespace cairn::datanode
