// Downstream: this DataNode's connection to the next DataNode of a write pipeline. Packets
// pushed here are sent by a sender thread (so a slow follower does not slow this node's own
// writes, up to `max_queued_bytes`); acknowledgements are read by a second thread and handed
// to `on_ack`; the first failure is handed to `on_failure` once. Thread-safe.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "proto/datanode.grpc.pb.h"

namespace cairn::datanode {

class Downstream {
 public:
  using AckFn = std::function<void(const cairn::v1::WriteBlockResponse&)>;
  using FailureFn = std::function<void(const std::string& error, std::vector<std::string> failed)>;

  // Opens the stream to `target` and sends `header`. `stub` must outlive this object.
  Downstream(cairn::v1::DataNodeService::Stub* stub, const cairn::v1::DataNodeId& target,
             const cairn::v1::WriteBlockHeader& header, size_t max_queued_bytes, AckFn on_ack,
             FailureFn on_failure);
  ~Downstream();

  // Queues a packet (shared: the caller may still read it, e.g. to write it locally); blocks
  // while too much is queued. False once the stream has failed.
  bool Push(std::shared_ptr<const cairn::v1::WriteBlockRequest> packet);
  // No more packets: the sender half-closes the stream after the queue drains.
  void Close();
  // Waits until both threads ended; true if every packet was acknowledged without failure.
  bool Wait();
  // Aborts the stream.
  void Cancel();
  bool failed() const;

 private:
  void SendLoop();
  void AckLoop();
  void Fail(const std::string& error, std::vector<std::string> failed);

  const cairn::v1::DataNodeId target_;
  const size_t max_queued_bytes_;
  AckFn on_ack_;
  FailureFn on_failure_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<cairn::v1::WriteBlockRequest,
                                           cairn::v1::WriteBlockResponse>> stream_;
  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<const cairn::v1::WriteBlockRequest>> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  bool last_acked_ ABSL_GUARDED_BY(mu_) = false;
  std::thread sender_;
  std::thread acker_;
  bool joined_ = false;
};

}  // namespace cairn::datanode
