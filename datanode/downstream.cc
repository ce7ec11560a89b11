#include "datanode/downstream.h"

#include "common/logging.h"

namespace cairn::datanode {

using cairn::v1::WriteBlockRequest;
using cairn::v1::WriteBlockResponse;

Downstream::Downstream(cairn::v1::DataNodeService::Stub* stub, const cairn::v1::DataNodeId& target,
                       const cairn::v1::WriteBlockHeader& header, size_t max_queued_bytes,
                       AckFn on_ack, FailureFn on_failure)
    : target_(target),
      max_queued_bytes_(max_queued_bytes),
      on_ack_(std::move(on_ack)),
      on_failure_(std::move(on_failure)) {
  stream_ = stub->WriteBlock(&ctx_);
  WriteBlockRequest first;
  *first.mutable_header() = header;
  if (!stream_->Write(first)) {
    Fail("cannot reach DataNode " + target_.address(), {target_.datanode_uuid()});
  }
  sender_ = std::thread([this] { SendLoop(); });
  acker_ = std::thread([this] { AckLoop(); });
}

Downstream::~Downstream() {
  Cancel();
  Wait();
}

bool Downstream::Push(std::shared_ptr<const WriteBlockRequest> packet) {
  absl::MutexLock l(&mu_);
  auto room = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return failed_ || queued_bytes_ < max_queued_bytes_;
  };
  mu_.Await(absl::Condition(&room));
  if (failed_) return false;
  queued_bytes_ += packet->packet().data().size();
  queue_.push_back(std::move(packet));
  return true;
}

void Downstream::Close() {
  absl::MutexLock l(&mu_);
  closed_ = true;
}

bool Downstream::failed() const {
  absl::MutexLock l(&mu_);
  return failed_;
}

void Downstream::Cancel() { ctx_.TryCancel(); }

bool Downstream::Wait() {
  if (!joined_) {
    if (sender_.joinable()) sender_.join();
    if (acker_.joinable()) acker_.join();
    joined_ = true;
  }
  absl::MutexLock l(&mu_);
  return !failed_ && last_acked_;
}

void Downstream::Fail(const std::string& error, std::vector<std::string> failed) {
  {
    absl::MutexLock l(&mu_);
    if (failed_) return;
    failed_ = true;
    queue_.clear();
    queued_bytes_ = 0;
  }
  // End the call so that neither side waits for the other any longer.
  ctx_.TryCancel();
  LOG(WARNING) << "pipeline to " << target_.address() << " failed: " << error;
  if (on_failure_) on_failure_(error, std::move(failed));
}

void Downstream::SendLoop() {
  while (true) {
    std::shared_ptr<const WriteBlockRequest> next;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return failed_ || closed_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (failed_) break;
      if (queue_.empty()) {  // closed and drained
        mu_.Unlock();
        stream_->WritesDone();
        mu_.Lock();
        break;
      }
      next = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= next->packet().data().size();
    }
    if (!stream_->Write(*next)) {
      Fail("lost the stream to DataNode " + target_.address(), {target_.datanode_uuid()});
      break;
    }
  }
}

void Downstream::AckLoop() {
  WriteBlockResponse resp;
  bool saw_last_error = false;
  while (stream_->Read(&resp)) {
    if (!resp.error().empty()) {
      std::vector<std::string> failed(resp.failed_uuids().begin(), resp.failed_uuids().end());
      if (failed.empty()) failed.push_back(target_.datanode_uuid());
      Fail(resp.error(), std::move(failed));
      saw_last_error = true;
      break;
    }
    if (on_ack_) on_ack_(resp);
    if (resp.last()) {
      absl::MutexLock l(&mu_);
      last_acked_ = true;
    }
  }
  grpc::Status st = stream_->Finish();
  absl::MutexLock l(&mu_);
  if (!last_acked_ && !failed_ && !saw_last_error) {
    mu_.Unlock();
    Fail("DataNode " + target_.address() + " ended the stream: " + st.error_message(),
         {target_.datanode_uuid()});
    mu_.Lock();
  }
}

}  // namespace cairn::datanode
