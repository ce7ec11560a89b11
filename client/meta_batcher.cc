#include "client/meta_batcher.h"

#include "client/rpc_retry.h"
#include "common/grpc_status.h"

namespace cairn::client {

using cairn::v1::BatchRequest;
using cairn::v1::BatchResponse;
using cairn::v1::NameNodeService;

struct MetaBatcher::Pending {
  enum class State { kQueued, kLead, kDone };
  Pending(cairn::v1::BatchOp* o, bool i, cairn::v1::BatchResult* r)
      : op(o), idempotent(i), result(r) {}
  cairn::v1::BatchOp* op;
  bool idempotent;
  cairn::v1::BatchResult* result;
  Status status = absl::OkStatus();  // final once state is kDone
  State state = State::kQueued;      // guarded by mu_
  absl::CondVar cv;                  // signalled when state changes
};

void MetaBatcher::PromoteLocked() {
  if (queue_.empty() || in_flight_ >= max_in_flight_) return;
  Pending* next = queue_.front();
  if (next->state != Pending::State::kQueued) return;  // already promoted
  next->state = Pending::State::kLead;
  ++in_flight_;  // counted from promotion, so that nobody else is promoted meanwhile
  next->cv.Signal();
}

Status MetaBatcher::Run(cairn::v1::BatchOp op, bool idempotent, cairn::v1::BatchResult* result) {
  Pending me(&op, idempotent, result);
  absl::MutexLock l(&mu_);
  queue_.push_back(&me);
  PromoteLocked();
  while (me.state == Pending::State::kQueued) me.cv.Wait(&mu_);
  if (me.state == Pending::State::kDone) return me.status;
  // Leading: `me` is first in line; take it and whatever queued behind it.
  std::vector<Pending*> batch;
  while (!queue_.empty() && batch.size() < static_cast<size_t>(kMaxBatch)) {
    batch.push_back(queue_.front());
    queue_.pop_front();
  }
  mu_.Unlock();
  Send(batch);
  mu_.Lock();
  --in_flight_;
  for (Pending* p : batch) {
    p->state = Pending::State::kDone;
    if (p != &me) p->cv.Signal();
  }
  PromoteLocked();
  return me.status;
}

void MetaBatcher::Send(const std::vector<Pending*>& batch) {
  BatchRequest req;
  for (Pending* p : batch) *req.add_ops() = std::move(*p->op);
  BatchResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms_));
  grpc::Status gs = stub_->Batch(&ctx, req, &resp);
  if (gs.ok() && resp.results_size() == req.ops_size()) {
    for (size_t i = 0; i < batch.size(); ++i) {
      cairn::v1::BatchResult* r = resp.mutable_results(static_cast<int>(i));
      batch[i]->status = r->has_error() ? FromOpError(r->error()) : absl::OkStatus();
      batch[i]->result->Swap(r);
    }
    return;
  }
  const Status failed = gs.ok() ? absl::InternalError("the NameNode answered a batch of " +
                                                      std::to_string(req.ops_size()) +
                                                      " operations with " +
                                                      std::to_string(resp.results_size()) +
                                                      " results")
                                : FromGrpcStatus(gs);
  const bool transient = failed.code() == absl::StatusCode::kUnavailable ||
                         failed.code() == absl::StatusCode::kDeadlineExceeded;
  for (size_t i = 0; i < batch.size(); ++i) {
    Pending* p = batch[i];
    if (!transient || !p->idempotent) {
      p->status = failed;
      continue;
    }
    // Retried alone, with the usual backoff and reconnection.
    BatchRequest one;
    *one.add_ops() = req.ops(static_cast<int>(i));
    BatchResponse out;
    p->status = CallNameNode(stub_, &NameNodeService::Stub::Batch, one, &out, timeout_ms_,
                             Idempotent::kYes);
    if (!p->status.ok()) continue;
    if (out.results_size() != 1) {
      p->status = absl::InternalError("the NameNode answered a batch of 1 with no result");
      continue;
    }
    cairn::v1::BatchResult* r = out.mutable_results(0);
    p->status = r->has_error() ? FromOpError(r->error()) : absl::OkStatus();
    p->result->Swap(r);
  }
}

}  // namespace cairn::client
