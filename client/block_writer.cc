#include "client/block_writer.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "client/filesystem_impl.h"
#include "client/rpc_retry.h"
#include "common/crc32c.h"
#include "common/datanode_channels.h"
#include "common/logging.h"

namespace cairn::client {

using cairn::v1::WriteBlockRequest;
using cairn::v1::WriteBlockResponse;

namespace {
constexpr int kMaxRecoveries = 8;
}

BlockWriter::BlockWriter(FileSystemImpl* fs, BlockWriterTarget target,
                         const cairn::v1::LocatedBlock& block)
    : fs_(fs), target_(std::move(target)), block_(block.block()) {
  block_.set_length_bytes(0);
  pipeline_.assign(block.locations().begin(), block.locations().end());
}

BlockWriter::~BlockWriter() {
  if (ctx_) ctx_->TryCancel();
  CloseStream();
}

bool BlockWriter::failed_before_any_ack() const {
  absl::MutexLock l(&mu_);
  return broken_for_good_ && acked_bytes_ == 0;
}

std::vector<BlockWriter::Packet> BlockWriter::TakeUnacked() {
  std::vector<Packet> out;
  absl::MutexLock l(&mu_);
  for (auto& p : unacked_) out.push_back({std::move(p.data), p.last, p.sync});
  unacked_.clear();
  return out;
}

uint32_t BlockWriter::Needed() const {
  const uint32_t n = static_cast<uint32_t>(pipeline_.size());
  switch (target_.ack_mode) {
    case cairn::v1::ACK_MODE_ASYNC: return 1;
    case cairn::v1::ACK_MODE_SEMI_SYNC: return std::min<uint32_t>(2, n);
    default: return n;
  }
}

cairn::v1::Block BlockWriter::block() const {
  cairn::v1::Block b = block_;
  absl::MutexLock l(&mu_);
  b.set_length_bytes(acked_bytes_);
  return b;
}

Status BlockWriter::OpenStream(bool recovery, const Pending* only_packet) {
  if (pipeline_.empty()) return absl::UnavailableError("no DataNodes left in the pipeline");
  ctx_ = std::make_unique<grpc::ClientContext>();
  one_shot_ = only_packet != nullptr;
  if (one_shot_) {
    // Nobody else watches the time: the whole stream gets the no-progress deadline.
    ctx_->set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(fs_->options().data_timeout_ms));
  }
  stream_ = fs_->datanodes()->Get(pipeline_[0].address())->WriteBlock(ctx_.get());
  {
    absl::MutexLock l(&mu_);
    broken_ = false;
    stream_done_ = false;
    reported_failed_.clear();
  }
  WriteBlockRequest req;
  auto* h = req.mutable_header();
  *h->mutable_block() = block_;
  for (size_t i = 1; i < pipeline_.size(); ++i) *h->add_downstream() = pipeline_[i];
  h->set_ack_mode(target_.ack_mode);
  h->set_client_name(fs_->options().client_name);
  h->set_min_replicas(Needed());
  h->set_recovery(recovery);
  // What the DataNodes reserve for the block: all of it is known when it is one packet.
  h->set_expected_length_bytes(one_shot_ ? only_packet->offset + only_packet->data.size()
                                         : target_.block_size);
  bool sent;
  if (one_shot_) {
    FillPacket(*only_packet, req.mutable_packet());
    sent = stream_->Write(req, grpc::WriteOptions().set_last_message());
  } else {
    acker_ = std::thread([this] { AckLoop(); });
    sent = stream_->Write(req);
  }
  if (!sent) {
    absl::MutexLock l(&mu_);
    broken_ = true;
  }
  return absl::OkStatus();
}

void BlockWriter::Finish() {
  if (!stream_) return;
  if (!one_shot_) stream_->WritesDone();  // (a one-shot stream's only write was its last)
  if (acker_.joinable()) acker_.join();
  stream_->Finish().ok();
  stream_.reset();
  ctx_.reset();
}

void BlockWriter::CloseStream() {
  if (acker_.joinable() || one_shot_) {
    if (ctx_) ctx_->TryCancel();
    if (acker_.joinable()) acker_.join();
  }
  stream_.reset();
  ctx_.reset();
}

void BlockWriter::AckLoop() {
  WriteBlockResponse resp;
  while (stream_->Read(&resp)) {
    absl::MutexLock l(&mu_);
    if (!resp.error().empty()) {
      LOG(WARNING) << "blk_" << block_.block_id() << ": pipeline error: " << resp.error();
      reported_failed_.assign(resp.failed_uuids().begin(), resp.failed_uuids().end());
      last_error_ = Status(resp.error_code() > 0 && resp.error_code() <= 16
                               ? static_cast<absl::StatusCode>(resp.error_code())
                               : absl::StatusCode::kUnavailable,
                           resp.error());
      broken_ = true;
      break;
    }
    while (!unacked_.empty() && unacked_.front().seqno <= resp.seqno()) {
      acked_bytes_ = unacked_.front().offset + unacked_.front().data.size();
      unacked_.pop_front();
    }
  }
  absl::MutexLock l(&mu_);
  stream_done_ = true;
  if (!unacked_.empty()) broken_ = true;
}

void BlockWriter::FillPacket(const Pending& p, cairn::v1::Packet* pk) {
  pk->set_seqno(p.seqno);
  pk->set_offset_bytes(p.offset);
  pk->set_data(p.data);
  pk->set_last(p.last);
  pk->set_sync(p.sync);
  pk->set_crc32c(Crc32c(p.data.data(), p.data.size()));
}

bool BlockWriter::WriteOne(const Pending& p) {
  WriteBlockRequest req;
  FillPacket(p, req.mutable_packet());
  return stream_->Write(req);
}

Status BlockWriter::Send(std::string data, bool last, bool sync) {
  if (broken_for_good_) return absl::UnavailableError("the block's pipeline failed");
  const bool whole_block = !stream_ && last && next_seqno_ == 0;
  if (!stream_ && !whole_block) RETURN_IF_ERROR(OpenStream(false));
  Pending p{next_seqno_++, sent_bytes_, std::move(data), last, sync};
  sent_bytes_ += p.data.size();
  {
    absl::MutexLock l(&mu_);
    unacked_.push_back(p);
  }
  bool ok = true;
  if (whole_block) {
    RETURN_IF_ERROR(OpenStream(false, &p));
  } else {
    ok = WriteOne(p);
  }
  bool broken = false;
  {
    absl::MutexLock l(&mu_);
    broken = broken_;
  }
  if (!ok || broken) return Recover();
  return absl::OkStatus();
}

Status BlockWriter::WaitAll() {
  if (broken_for_good_) return absl::UnavailableError("the block's pipeline failed");
  if (!stream_) return absl::OkStatus();
  if (one_shot_) {
    // No ack thread: read the acknowledgement (and the stream's end) here, within the
    // stream's deadline.
    bool done;
    {
      absl::MutexLock l(&mu_);
      done = stream_done_ || broken_;
    }
    if (!done) AckLoop();
    {
      absl::MutexLock l(&mu_);
      if (unacked_.empty()) return absl::OkStatus();
    }
    // Recovery opens an ordinary stream; the loop below waits for it.
    RETURN_IF_ERROR(Recover());
  }
  while (true) {
    bool broken = false;
    {
      absl::MutexLock l(&mu_);
      auto settled = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return unacked_.empty() || broken_ || stream_done_;
      };
      const bool in_time = mu_.AwaitWithTimeout(
          absl::Condition(&settled), absl::Milliseconds(fs_->options().data_timeout_ms));
      if (unacked_.empty()) return absl::OkStatus();
      broken = true;
      if (!in_time) {
        LOG(WARNING) << "blk_" << block_.block_id() << ": no acknowledgement for "
                     << fs_->options().data_timeout_ms << " ms";
      }
    }
    if (broken) RETURN_IF_ERROR(Recover());
  }
}

Status BlockWriter::Recover() {
  while (true) {
    std::vector<std::string> reported;
    {
      absl::MutexLock l(&mu_);
      reported = reported_failed_;
    }
    CloseStream();
    // A stream that broke without naming a node lost its first DataNode.
    if (reported.empty() && !pipeline_.empty()) reported.push_back(pipeline_[0].datanode_uuid());
    for (const auto& u : reported) failed_.insert(u);
    std::vector<std::string> survivors;
    for (const auto& dn : pipeline_) {
      if (!failed_.count(dn.datanode_uuid())) survivors.push_back(dn.datanode_uuid());
    }
    if (survivors.empty() || ++recoveries_ > kMaxRecoveries) {
      broken_for_good_ = true;
      Status last;
      {
        absl::MutexLock l(&mu_);
        last = last_error_;
      }
      if (last.code() == absl::StatusCode::kResourceExhausted) {
        return absl::ResourceExhaustedError(
            absl::StrCat(target_.path, ": no space on the DataNodes of the pipeline (",
                         last.message(), ")"));
      }
      return absl::UnavailableError(absl::StrCat(
          target_.path, ": every DataNode of the pipeline for blk_", block_.block_id(),
          " failed"));
    }
    cairn::v1::UpdatePipelineRequest req;
    req.set_path(target_.path);
    req.set_inode_id(target_.inode_id);
    req.set_client_name(fs_->options().client_name);
    *req.mutable_block() = block_;
    for (const auto& u : survivors) req.add_survivor_uuids(u);
    cairn::v1::UpdatePipelineResponse resp;
    Status s = CallNameNode(fs_->namenode(), &cairn::v1::NameNodeService::Stub::UpdatePipeline, req,
                            &resp, fs_->options().rpc_timeout_ms, Idempotent::kNo);
    if (!s.ok()) {
      broken_for_good_ = true;
      return s;
    }
    LOG(INFO) << "blk_" << block_.block_id() << ": pipeline recovery with " << survivors.size()
              << " DataNode(s), generation stamp " << block_.generation_stamp() << " -> "
              << resp.new_generation_stamp();
    block_.set_generation_stamp(resp.new_generation_stamp());
    pipeline_.assign(resp.pipeline().begin(), resp.pipeline().end());
    RETURN_IF_ERROR(OpenStream(true));
    std::deque<Pending> resend;
    {
      absl::MutexLock l(&mu_);
      resend = unacked_;
    }
    bool ok = true;
    for (const auto& p : resend) {
      if (!WriteOne(p)) {
        ok = false;
        break;
      }
    }
    bool broken = false;
    {
      absl::MutexLock l(&mu_);
      broken = broken_;
    }
    if (ok && !broken) return absl::OkStatus();
  }
}

}  // namespace cairn::client
