#include "namenode/batch_ops.h"

#include <atomic>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "namenode/namespace_ops.h"
#include "namenode/namespace_store.h"

namespace cairn::namenode {
namespace {

using cairn::v1::BatchOp;
using cairn::v1::BatchResult;

// Counts finished operations; the last one answers the batch.
struct Countdown {
  std::atomic<int> left;
  BatchOps::Done done;
};

// Starts `method` for one operation; its outcome lands in `result`.
template <typename Req, typename Resp>
void Start(NamespaceOps* ns, void (NamespaceOps::*method)(const Req&, Resp*, NamespaceOps::Done),
           const Req& req, Resp* resp, BatchResult* result, std::shared_ptr<Countdown> count) {
  (ns->*method)(req, resp, [result, count = std::move(count)](Status s) {
    if (!s.ok()) {
      result->clear_result();  // an error, or a response: never both
      ToOpError(s, result->mutable_error());
    }
    if (count->left.fetch_sub(1) == 1) count->done(absl::OkStatus());
  });
}

}  // namespace

void BatchOps::Batch(const cairn::v1::BatchRequest& req, cairn::v1::BatchResponse* resp,
                     Done done) {
  const int n = req.ops_size();
  if (n == 0) return done(absl::InvalidArgumentError("batch: no operations"));
  if (n > kMaxOps) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("batch: ", n, " operations (at most ", kMaxOps, ")")));
  }
  for (int i = 0; i < n; ++i) {
    if (req.ops(i).op_case() == BatchOp::OP_NOT_SET) {
      return done(absl::InvalidArgumentError(absl::StrCat("batch: operation ", i, " is empty")));
    }
  }
  // All results exist before any operation starts: their addresses stay put.
  for (int i = 0; i < n; ++i) resp->add_results();
  // One extra count, released after the loop, so that no operation finishing early answers
  // the batch while later ones are still being started.
  auto count = std::make_shared<Countdown>();
  count->left = n + 1;
  count->done = std::move(done);
  // The batch's mutations are committed together, as one group with one log sync.
  {
    NamespaceStore::GroupScope group(ns_->store());
    for (int i = 0; i < n; ++i) {
      const BatchOp& op = req.ops(i);
      BatchResult* r = resp->mutable_results(i);
      switch (op.op_case()) {
        case BatchOp::kMkdir:
          Start(ns_, &NamespaceOps::Mkdir, op.mkdir(), r->mutable_mkdir(), r, count);
          break;
        case BatchOp::kCreateFile:
          Start(ns_, &NamespaceOps::CreateFile, op.create_file(), r->mutable_create_file(), r,
                count);
          break;
        case BatchOp::kGetFileInfo:
          Start(ns_, &NamespaceOps::GetFileInfo, op.get_file_info(), r->mutable_get_file_info(), r,
                count);
          break;
        case BatchOp::kRename:
          Start(ns_, &NamespaceOps::Rename, op.rename(), r->mutable_rename(), r, count);
          break;
        case BatchOp::kRemove:
          Start(ns_, &NamespaceOps::Delete, op.remove(), r->mutable_remove(), r, count);
          break;
        case BatchOp::kSetReplication:
          Start(ns_, &NamespaceOps::SetReplication, op.set_replication(),
                r->mutable_set_replication(), r, count);
          break;
        case BatchOp::kSetPermission:
          Start(ns_, &NamespaceOps::SetPermission, op.set_permission(),
                r->mutable_set_permission(), r, count);
          break;
        case BatchOp::kSetOwner:
          Start(ns_, &NamespaceOps::SetOwner, op.set_owner(), r->mutable_set_owner(), r, count);
          break;
        case BatchOp::kSetTimes:
          Start(ns_, &NamespaceOps::SetTimes, op.set_times(), r->mutable_set_times(), r, count);
          break;
        case BatchOp::OP_NOT_SET:
          break;  // refused above
      }
    }
  }
  if (count->left.fetch_sub(1) == 1) count->done(absl::OkStatus());
}

}  // namespace cairn::namenode
