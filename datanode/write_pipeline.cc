#include "datanode/write_pipeline.h"

#include <chrono>
#include <memory>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "datanode/downstream.h"

namespace cairn::datanode {

using cairn::v1::WriteBlockRequest;
using cairn::v1::WriteBlockResponse;

namespace {

constexpr size_t kMaxPipeline = 16;

// Serializes writes to the upstream half of the stream (the stage's thread and the
// downstream ack thread both answer). Packets are forwarded before this node writes them, so
// a follower's acknowledgement is held back until this node has written the packet too.
// Acknowledgements are cumulative: the newest one held back stands for the older ones.
class Upstream {
 public:
  explicit Upstream(WriteStream* stream) : stream_(stream) {}
  // Acknowledges on this node's behalf alone (no follower waited for).
  void Ack(uint64_t seqno, uint32_t replicas, bool last) {
    absl::MutexLock l(&mu_);
    SendLocked(seqno, replicas, last);
  }
  // A follower acknowledged `seqno` with `replicas` replicas, this node not counted.
  void FollowerAck(uint64_t seqno, uint32_t replicas, bool last) {
    absl::MutexLock l(&mu_);
    if (written_ >= 0 && seqno <= static_cast<uint64_t>(written_)) {
      SendLocked(seqno, replicas + 1, last);
    } else {
      held_ = Held{seqno, replicas + 1, last};
    }
  }
  // This node has written every packet up to `seqno`.
  void Written(uint64_t seqno) {
    absl::MutexLock l(&mu_);
    written_ = static_cast<int64_t>(seqno);
    if (held_ && held_->seqno <= seqno) {
      SendLocked(held_->seqno, held_->replicas, held_->last);
      held_.reset();
    }
  }
  void Error(const std::string& error, const std::vector<std::string>& failed,
             absl::StatusCode code = absl::StatusCode::kUnavailable) {
    WriteBlockResponse r;
    r.set_error(error);
    r.set_error_code(static_cast<int32_t>(code));
    for (const auto& f : failed) r.add_failed_uuids(f);
    absl::MutexLock l(&mu_);
    if (failed_) return;
    failed_ = true;
    stream_->Write(r);
  }
  bool failed() const {
    absl::MutexLock l(&mu_);
    return failed_;
  }

 private:
  struct Held {
    uint64_t seqno;
    uint32_t replicas;
    bool last;
  };
  void SendLocked(uint64_t seqno, uint32_t replicas, bool last) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (failed_) return;
    WriteBlockResponse r;
    r.set_seqno(seqno);
    r.set_replicas(replicas);
    r.set_last(last);
    stream_->Write(r);
  }

  WriteStream* const stream_;
  mutable absl::Mutex mu_;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t written_ ABSL_GUARDED_BY(mu_) = -1;  // highest seqno written here, -1 for none
  std::optional<Held> held_ ABSL_GUARDED_BY(mu_);
};

struct TransferCount {
  explicit TransferCount(std::atomic<int>* n) : n_(n) {
    if (n_) ++*n_;
  }
  ~TransferCount() {
    if (n_) --*n_;
  }
  std::atomic<int>* n_;
};

}  // namespace

grpc::Status RunWritePipeline(const PipelineEnv& env, grpc::ServerContext* ctx,
                              WriteStream* stream) {
  WriteBlockRequest req;
  if (!stream->Read(&req) || !req.has_header()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "WriteBlock: the first message must carry the header");
  }
  const cairn::v1::WriteBlockHeader header = req.header();
  const uint64_t block_id = header.block().block_id();
  const uint64_t gs = header.block().generation_stamp();
  const std::string name = absl::StrCat("blk_", block_id, "_", gs);
  if (block_id == 0 || gs == 0 || header.downstream_size() > static_cast<int>(kMaxPipeline)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat(name, ": invalid block or pipeline in header"));
  }
  TransferCount transfer(env.active_transfers);
  Upstream up(stream);
  const uint32_t need = std::max<uint64_t>(1, header.min_replicas());

  // Pipeline recovery of a replica this node already finalized: it keeps it (under the new
  // generation stamp) and only acknowledges the packets that are resent.
  uint64_t finalized_length = 0;
  bool already_finalized = false;
  if (header.recovery()) {
    auto existing = env.store->GetReplica(block_id);
    if (existing.ok() && existing->state == ReplicaState::kFinalized &&
        existing->generation_stamp < gs) {
      Status s = env.store->CommitRecovery(block_id, gs, existing->length);
      if (!s.ok()) {
        up.Error(absl::StrCat(name, " on ", env.self_uuid, ": ", s.message()), {env.self_uuid},
                 s.code());
        return ToGrpcStatus(s);
      }
      already_finalized = true;
      finalized_length = existing->length;
    }
  }
  StatusOr<std::unique_ptr<ReplicaWriter>> writer =
      already_finalized ? StatusOr<std::unique_ptr<ReplicaWriter>>(nullptr)
      : header.recovery() ? env.store->RecoverReplica(block_id, gs, header.expected_length_bytes())
                          : env.store->CreateReplica(block_id, gs, header.expected_length_bytes());
  if (!writer.ok() && header.recovery() && writer.status().code() == absl::StatusCode::kNotFound) {
    // The pipeline broke before this node got anything: start the replica now (a resend that
    // does not start at offset 0 is refused below as a gap).
    writer = env.store->CreateReplica(block_id, gs, header.expected_length_bytes());
  }
  if (!writer.ok() && header.is_replication() &&
      writer.status().code() == absl::StatusCode::kAlreadyExists) {
    // A copy left over from an earlier, interrupted transfer: replace it.
    auto existing = env.store->GetReplica(block_id);
    if (existing.ok() && existing->state != ReplicaState::kFinalized &&
        existing->generation_stamp <= gs && env.store->DeleteReplica(block_id).ok()) {
      writer = env.store->CreateReplica(block_id, gs, header.expected_length_bytes());
    }
  }
  if (!writer.ok()) {
    up.Error(absl::StrCat(name, " on ", env.self_uuid, ": ", writer.status().message()),
             {env.self_uuid}, writer.status().code());
    return ToGrpcStatus(writer.status());
  }

  // The rest of the pipeline.
  std::shared_ptr<Downstream> down;
  if (header.downstream_size() > 0) {
    cairn::v1::WriteBlockHeader next = header;
    next.clear_downstream();
    for (int i = 1; i < header.downstream_size(); ++i) *next.add_downstream() = header.downstream(i);
    next.set_min_replicas(std::max<uint32_t>(1, need - 1));
    const bool waits = need > 1;
    const std::string self = env.self_uuid;
    down = std::make_shared<Downstream>(
        env.channels->Get(header.downstream(0).address()), header.downstream(0), next,
        env.options->forward_queue_bytes,
        [&up, waits](const WriteBlockResponse& ack) {
          if (waits) up.FollowerAck(ack.seqno(), ack.replicas(), ack.last());
        },
        [&up, waits, name](const std::string& error, std::vector<std::string> failed) {
          if (waits) {
            up.Error(error, failed);
          } else {
            LOG(WARNING) << name << ": follower failed, the NameNode will re-replicate: " << error;
          }
        });
  }

  Status local;
  bool got_last = false;
  uint64_t expected_offset = already_finalized ? finalized_length : (*writer)->length();
  // The header may carry the first packet (a block sent in one message); later messages
  // carry packets only.
  bool pending = req.has_packet();
  req.clear_header();
  while (!got_last && (pending || stream->Read(&req))) {
    pending = false;
    if (!req.has_packet() || req.has_header()) {
      local = absl::InvalidArgumentError(
          absl::StrCat(name, ": a message after the first must carry a packet and no header"));
      break;
    }
    const cairn::v1::Packet& p = req.packet();
    if (p.offset_bytes() > expected_offset) {
      local = absl::InvalidArgumentError(absl::StrCat(name, ": packet at offset ", p.offset_bytes(),
                                                      " leaves a gap after ", expected_offset));
      break;
    }
    if (Crc32c(p.data().data(), p.data().size()) != p.crc32c()) {
      local = absl::DataLossError(absl::StrCat(name, ": packet ", p.seqno(), " checksum mismatch"));
      break;
    }
    const uint64_t announced = header.expected_length_bytes();
    if (announced > 0 && p.offset_bytes() + p.data().size() > announced) {
      // (The space reserved for the replica is the announced length.)
      local = absl::InvalidArgumentError(absl::StrCat(
          name, ": packet ends at byte ", p.offset_bytes() + p.data().size(),
          ", past the block length of ", announced, " bytes the writer announced"));
      break;
    }
    if (already_finalized && p.offset_bytes() + p.data().size() > finalized_length) {
      local = absl::InvalidArgumentError(absl::StrCat(
          name, ": packet beyond the finalized replica's ", finalized_length, " bytes"));
      break;
    }
    // Forwarded first, so that the followers write (and finalize) while this node does.
    std::shared_ptr<const WriteBlockRequest> forwarded;
    if (down) {
      forwarded = std::make_shared<const WriteBlockRequest>(std::move(req));
      down->Push(forwarded);
    }
    const cairn::v1::Packet& pk = forwarded ? forwarded->packet() : req.packet();
    if (env.options->write_delay_ms_for_tests > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(env.options->write_delay_ms_for_tests));
    }
    if (already_finalized) {
      // Resent packets of a block this node has in full: nothing to write.
      if (pk.last()) {
        auto info = env.store->GetReplica(block_id);
        if (info.ok()) env.listener->ReplicaFinalized(*info);
      }
    } else {
      if (!pk.data().empty()) {
        local = (*writer)->Write(pk.offset_bytes(), pk.data().data(), pk.data().size());
      }
      if (local.ok() && pk.sync()) local = (*writer)->Sync();
      if (local.ok() && pk.last()) {
        local = (*writer)->Finalize();
        if (local.ok()) {
          auto info = env.store->GetReplica(block_id);
          if (info.ok()) env.listener->ReplicaFinalized(*info);
        }
      }
    }
    if (!local.ok()) break;
    expected_offset = already_finalized ? finalized_length : pk.offset_bytes() + pk.data().size();
    got_last = pk.last();
    if (!down || need <= 1) {
      up.Ack(pk.seqno(), 1, got_last);
    } else {
      up.Written(pk.seqno());
    }
  }

  if (!local.ok()) {
    LOG(WARNING) << name << ": write failed on this DataNode: " << local;
    if (header.is_replication() && *writer) {
      // A partial copy of a transfer is of no use; but only this transfer's own copy goes
      // (a newer transfer may have replaced it meanwhile).
      (*writer)->Abandon().IgnoreError();
    }
    up.Error(absl::StrCat(env.self_uuid, ": ", local.message()), {env.self_uuid}, local.code());
    if (down) down->Cancel();
    return ToGrpcStatus(local);
  }
  if (!got_last) {
    // The writer went away (or recovery will resume under a new generation stamp). A partial
    // copy of a re-replication is of no use to anyone.
    if (down) down->Cancel();
    if (header.is_replication() && *writer) (*writer)->Abandon().IgnoreError();
    return grpc::Status(grpc::StatusCode::CANCELLED, absl::StrCat(name, ": stream ended early"));
  }
  if (!down) return grpc::Status::OK;
  down->Close();
  if (need > 1) {
    // Acknowledgements of the followers are relayed until the last one.
    bool ok = down->Wait();
    if (!ok && !up.failed()) up.Error(absl::StrCat(name, ": follower failed"), {});
    return ok ? grpc::Status::OK
              : grpc::Status(grpc::StatusCode::UNAVAILABLE, absl::StrCat(name, ": follower failed"));
  }
  // Async: the followers catch up in the background.
  env.background->Run([down, name] {
    if (!down->Wait()) LOG(WARNING) << name << ": a follower did not catch up";
  });
  (void)ctx;
  return grpc::Status::OK;
}

}  // namespace cairn::datanode
