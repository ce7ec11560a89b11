// LocalReadServer: the DataNode end of short-circuit local reads (see
// common/local_read_protocol.h): hands a client on this host open descriptors of a finalized
// replica at the generation stamp it asks for. Replicas being written, stale ones and unknown
// ones are refused (the client then reads over gRPC).
//
// One thread; each connection carries one request, answered at once (two files opened).
// Start() once, Stop() (also the destructor) before the block store goes away.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "common/scoped_fd.h"
#include "common/status.h"

namespace cairn::datanode {

class BlockStore;

class LocalReadServer {
 public:
  // `store` must outlive this object.
  LocalReadServer(BlockStore* store, std::string datanode_uuid);
  ~LocalReadServer();
  LocalReadServer(const LocalReadServer&) = delete;
  LocalReadServer& operator=(const LocalReadServer&) = delete;

  // Listens on the socket of the DataNode whose gRPC port is `port`. An error (the name is
  // taken, sockets unavailable) leaves the server stopped.
  Status Start(int port);
  void Stop();
  // Replicas handed out so far.
  uint64_t grants() const { return grants_.load(); }

 private:
  void Loop();
  void Serve(int conn);

  BlockStore* const store_;
  const std::string uuid_;
  ScopedFd listen_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> grants_{0};
  std::thread thread_;
};

}  // namespace cairn::datanode
