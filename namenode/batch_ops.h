// BatchOps: the NameNode side of the Batch RPC. Runs each operation of a batch on
// NamespaceOps as if it had come as its own call (same checks, same errors), all at once, and
// answers when the last has finished; mutations among them are committed as one group and
// share one log sync. Thread-safe (as NamespaceOps is).
#pragma once

#include <functional>

#include "common/status.h"
#include "proto/namenode.pb.h"

namespace cairn::namenode {

class NamespaceOps;

class BatchOps {
 public:
  using Done = std::function<void(Status)>;
  static constexpr int kMaxOps = 1024;

  // `ns` must outlive this object.
  explicit BatchOps(NamespaceOps* ns) : ns_(ns) {}

  // `req` and `resp` must stay valid until `done` has run. `done` gets INVALID_ARGUMENT for a
  // malformed batch (nothing ran), else OK with one result per operation in `resp`.
  void Batch(const cairn::v1::BatchRequest& req, cairn::v1::BatchResponse* resp, Done done);

 private:
  NamespaceOps* const ns_;
};

}  // namespace cairn::namenode
