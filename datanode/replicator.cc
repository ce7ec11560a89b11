#include "datanode/replicator.h"

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/grpc_status.h"

namespace cairn::datanode {

Status TransferReplica(const PipelineEnv& env, const cairn::v1::Block& block,
                       const std::vector<cairn::v1::DataNodeId>& targets, int64_t timeout_ms) {
  const std::string name = absl::StrCat("blk_", block.block_id(), "_", block.generation_stamp());
  if (targets.empty()) return absl::InvalidArgumentError(name + ": no targets");
  ASSIGN_OR_RETURN(auto reader, env.store->OpenReplica(block.block_id(), block.generation_stamp()));
  const uint64_t length = reader->length();
  if (length != block.length_bytes()) {
    return absl::DataLossError(absl::StrCat(name, ": local replica has ", length, " bytes, block has ",
                                            block.length_bytes()));
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  auto stream = env.channels->Get(targets[0].address())->WriteBlock(&ctx);
  cairn::v1::WriteBlockRequest req;
  auto* h = req.mutable_header();
  *h->mutable_block() = block;
  for (size_t i = 1; i < targets.size(); ++i) *h->add_downstream() = targets[i];
  h->set_ack_mode(cairn::v1::ACK_MODE_SYNC);
  h->set_min_replicas(targets.size());
  h->set_is_replication(true);
  h->set_expected_length_bytes(length);
  if (!stream->Write(req)) return FromGrpcStatus(stream->Finish());

  uint64_t offset = 0, seqno = 0;
  std::string data;
  std::vector<uint32_t> crcs;
  Status local;
  do {
    uint64_t aligned = 0;
    data.clear();
    crcs.clear();
    const size_t n = std::min<uint64_t>(1 << 20, length - offset);
    if (n > 0) {
      local = reader->ReadChunks(offset, n, &aligned, &data, &crcs);
      if (!local.ok()) break;
      const uint32_t bpc = reader->bytes_per_checksum();
      for (size_t c = 0; c < crcs.size(); ++c) {
        const size_t start = c * bpc;
        const size_t len = std::min<size_t>(bpc, data.size() - start);
        if (Crc32c(data.data() + start, len) != crcs[c]) {
          local = absl::DataLossError(
              absl::StrCat(name, ": checksum mismatch at offset ", aligned + start));
          break;
        }
      }
      if (!local.ok()) break;
      data.erase(0, offset - aligned);  // ReadChunks starts at a chunk boundary
    }
    req.Clear();
    auto* p = req.mutable_packet();
    p->set_seqno(seqno++);
    p->set_offset_bytes(offset);
    p->set_crc32c(Crc32c(data.data(), data.size()));
    offset += data.size();
    p->set_last(offset >= length);
    p->set_data(std::move(data));
    data = std::string();
    if (!stream->Write(req)) break;
  } while (offset < length);
  if (!local.ok()) {
    ctx.TryCancel();
    stream->Finish().ok();
    return local;
  }
  stream->WritesDone();
  cairn::v1::WriteBlockResponse ack;
  bool done = false;
  std::string error;
  while (stream->Read(&ack)) {
    if (!ack.error().empty()) {
      error = ack.error();
      break;
    }
    if (ack.last()) done = true;
  }
  grpc::Status st = stream->Finish();
  if (done) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(name, ": transfer to ", targets[0].address(),
                                             " failed: ", error.empty() ? st.error_message() : error));
}

}  // namespace cairn::datanode
