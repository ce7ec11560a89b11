#include "client/output_stream.h"

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/filesystem_impl.h"
#include "client/rpc_retry.h"
#include "common/clock.h"

namespace cairn::client {

using cairn::v1::NameNodeService;

OutputStreamImpl::OutputStreamImpl(FileSystemImpl* fs, std::string path,
                                   const cairn::v1::FileInfo& info,
                                   const cairn::v1::LocatedBlock* first_block)
    : fs_(fs),
      path_(std::move(path)),
      inode_id_(info.inode_id()),
      block_size_(info.block_size_bytes()),
      ack_mode_(info.ack_mode() == cairn::v1::ACK_MODE_UNSPECIFIED ? cairn::v1::ACK_MODE_SYNC
                                                                    : info.ack_mode()) {
  if (first_block != nullptr) first_block_ = *first_block;
  fs_->LeaseOpened();
}

OutputStreamImpl::~OutputStreamImpl() {
  if (!closed_) Close().IgnoreError();
}

Status OutputStreamImpl::Fail(Status s) {
  if (error_.ok()) error_ = s;
  return s;
}

Status OutputStreamImpl::StartBlock() {
  BlockWriterTarget t{path_, inode_id_, ack_mode_, block_size_};
  if (first_block_) {
    block_ = std::make_unique<BlockWriter>(fs_, t, *first_block_);
    first_block_.reset();
    return absl::OkStatus();
  }
  cairn::v1::AddBlockRequest req;
  req.set_path(path_);
  req.set_inode_id(inode_id_);
  req.set_client_name(fs_->options().client_name);
  if (has_previous_) *req.mutable_previous() = previous_;
  for (const auto& u : excluded_) req.add_excluded_datanodes(u);
  cairn::v1::AddBlockResponse resp;
  RETURN_IF_ERROR(CallNameNode(fs_->namenode(), &NameNodeService::Stub::AddBlock, req, &resp,
                               fs_->options().rpc_timeout_ms, Idempotent::kNo));
  has_previous_ = false;
  block_ = std::make_unique<BlockWriter>(fs_, t, resp.block());
  return absl::OkStatus();
}

Status OutputStreamImpl::WithNewPipelineOnFailure(Status s, const std::function<Status()>& op) {
  // Bounded: each attempt excludes the DataNodes that failed, so AddBlock runs out of
  // candidates (and says why) on a cluster that is full or down.
  for (int attempt = 0; !s.ok() && block_ && block_->failed_before_any_ack() && attempt < 16;
       ++attempt) {
    // No DataNode holds any of this block (all refused or died at once): give the block up
    // and ask for another one away from those DataNodes.
    for (const auto& u : block_->failed_nodes()) excluded_.insert(u);
    std::vector<BlockWriter::Packet> unacked = block_->TakeUnacked();
    cairn::v1::AbandonBlockRequest req;
    req.set_path(path_);
    req.set_inode_id(inode_id_);
    req.set_client_name(fs_->options().client_name);
    *req.mutable_block() = block_->block();
    cairn::v1::AbandonBlockResponse resp;
    CallNameNode(fs_->namenode(), &NameNodeService::Stub::AbandonBlock, req, &resp,
                 fs_->options().rpc_timeout_ms, Idempotent::kNo)
        .IgnoreError();
    block_.reset();
    if (Status started = StartBlock(); !started.ok()) return started;
    s = absl::OkStatus();
    for (auto& p : unacked) {
      s = block_->Send(std::move(p.data), p.last, p.sync);
      if (!s.ok()) break;
    }
    if (s.ok()) s = op();
  }
  if (block_) {
    for (const auto& u : block_->failed_nodes()) excluded_.insert(u);
  }
  return s;
}

Status OutputStreamImpl::SendBuffer(bool last, bool sync) {
  if (!block_) RETURN_IF_ERROR(StartBlock());
  std::string data = std::move(buffer_);
  buffer_.clear();
  Status s = block_->Send(std::move(data), last, sync);
  // Once resent through a new pipeline, the packet is sent: nothing more to do.
  return WithNewPipelineOnFailure(std::move(s), [] { return absl::OkStatus(); });
}

Status OutputStreamImpl::EndBlock() {
  RETURN_IF_ERROR(SendBuffer(/*last=*/true, /*sync=*/false));
  auto wait = [this] { return block_->WaitAll(); };
  RETURN_IF_ERROR(WithNewPipelineOnFailure(wait(), wait));
  block_->Finish();
  previous_ = block_->block();
  has_previous_ = true;
  block_.reset();
  return absl::OkStatus();
}

Status OutputStreamImpl::Write(const void* data, size_t n) {
  if (closed_) return absl::FailedPreconditionError(absl::StrCat(path_, ": stream is closed"));
  RETURN_IF_ERROR(error_);
  const char* p = static_cast<const char*>(data);
  const size_t packet = fs_->options().packet_bytes;
  while (n > 0) {
    const uint64_t in_block = block_ ? block_->bytes_sent() : 0;
    const uint64_t block_room = block_size_ - in_block - buffer_.size();
    const size_t take = std::min<uint64_t>({n, block_room, packet - std::min(packet, buffer_.size())});
    buffer_.append(p, take);
    p += take;
    n -= take;
    position_ += take;
    if (block_size_ - in_block - buffer_.size() == 0) {
      if (Status s = EndBlock(); !s.ok()) return Fail(s);
    } else if (buffer_.size() >= packet) {
      if (Status s = SendBuffer(false, false); !s.ok()) return Fail(s);
    }
  }
  return absl::OkStatus();
}

Status OutputStreamImpl::Flush(bool sync) {
  if (closed_) return absl::FailedPreconditionError(absl::StrCat(path_, ": stream is closed"));
  RETURN_IF_ERROR(error_);
  if (!block_ && buffer_.empty()) {
    // Everything is in finished blocks; the NameNode learns the last one's length below.
    if (!has_previous_) return absl::OkStatus();
  } else {
    if (!buffer_.empty() || sync) {
      if (Status s = SendBuffer(false, sync); !s.ok()) return Fail(s);
    }
    auto wait = [this] { return block_->WaitAll(); };
    if (Status s = WithNewPipelineOnFailure(wait(), wait); !s.ok()) {
      return Fail(s);
    }
  }
  cairn::v1::UpdateLengthRequest req;
  req.set_path(path_);
  req.set_inode_id(inode_id_);
  req.set_client_name(fs_->options().client_name);
  *req.mutable_last() = block_ ? block_->block() : previous_;
  cairn::v1::UpdateLengthResponse resp;
  return CallNameNode(fs_->namenode(), &NameNodeService::Stub::UpdateLength, req, &resp,
                      fs_->options().rpc_timeout_ms, Idempotent::kYes);
}

Status OutputStreamImpl::Hflush() { return Flush(false); }
Status OutputStreamImpl::Hsync() { return Flush(true); }

Status OutputStreamImpl::Close() {
  if (closed_) return error_;
  closed_ = true;
  Status s = error_;
  if (s.ok() && (block_ || !buffer_.empty())) s = EndBlock();
  if (s.ok()) {
    cairn::v1::CompleteFileRequest req;
    req.set_path(path_);
    req.set_inode_id(inode_id_);
    req.set_client_name(fs_->options().client_name);
    if (has_previous_) *req.mutable_last() = previous_;
    if (first_block_) {
      // Allocated with the create and never written: the NameNode drops it.
      *req.mutable_last() = first_block_->block();
      req.mutable_last()->set_length_bytes(0);
      first_block_.reset();
    }
    const int64_t give_up = MonoMillis() + fs_->options().rpc_timeout_ms;
    // The DataNode reports the finalized replica as it acknowledges the last packet: the
    // report is usually a fraction of a millisecond behind, when it is behind at all.
    int64_t backoff_us = 200;
    while (true) {
      cairn::v1::CompleteFileResponse resp;
      s = CallNameNode(fs_->namenode(), &NameNodeService::Stub::CompleteFile, req, &resp,
                       fs_->options().rpc_timeout_ms, Idempotent::kYes);
      if (!s.ok() || resp.complete()) break;
      if (MonoMillis() > give_up) {
        s = absl::DeadlineExceededError(
            absl::StrCat(path_, ": the last block has no finalized replica yet"));
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(backoff_us));
      backoff_us = std::min<int64_t>(backoff_us * 2, 200000);
    }
  }
  block_.reset();
  fs_->LeaseClosed();
  if (!s.ok()) error_ = s;
  return s;
}

}  // namespace cairn::client
