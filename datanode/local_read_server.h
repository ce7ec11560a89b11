// LocalReadServer: the DataNode end of short-circuit local reads (see
// common/local_read_protocol.h): hands a client on this host open descriptors of a finalized
// replica at the generation stamp it asks for. Replicas being written, stale ones and unknown
// ones are refused (the client then reads over gRPC).
//
// One thread polling every open connection: each carries one request, answered as soon as it
// has fully arrived (two files opened, which may wait briefly for a writer's I/O on the same
// replica); a connection whose request has not arrived within
// a second of its accept is closed, and it never holds up the others. At most
// kMaxConnections are open at once (more are closed at once: those clients read over gRPC).
// When accept() fails (no descriptors left), the socket is not watched for 100 ms instead of
// spinning. Start() once, Stop() (also the destructor) before the block store goes away.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/scoped_fd.h"
#include "common/status.h"

namespace cairn::datanode {

class BlockStore;

class LocalReadServer {
 public:
  static constexpr size_t kMaxConnections = 256;
  static constexpr int64_t kRequestTimeoutMs = 1000;

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
  struct Connection;  // a request being received
  void Loop();
  // Accepts pending connections (a bounded number per call; beyond kMaxConnections open they
  // are closed). False when accept() failed for lack of resources.
  bool AcceptSome(std::vector<Connection>* conns);
  // Reads what `c` sent; true when it is finished with (answered or failed).
  bool Receive(Connection* c);
  void Answer(int conn, const void* request);

  BlockStore* const store_;
  const std::string uuid_;
  ScopedFd listen_;
  ScopedFd wake_;  // eventfd: Stop() wakes the loop
  std::atomic<uint64_t> grants_{0};
  std::thread thread_;
};

}  // namespace cairn::datanode
