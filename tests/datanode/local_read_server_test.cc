// LocalReadServer without a cluster: malformed and partial requests, and no busy loop when the
// process has no descriptors left to accept connections with.
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "common/local_read_protocol.h"
#include "common/scoped_fd.h"
#include "datanode/local_read_server.h"

namespace cairn::datanode {
namespace {

// A port number nobody else's abstract socket uses in this test process.
int TestPort() { return 40000 + static_cast<int>(getpid() % 20000); }

// A client socket whose receives give up after 5 s (a test must not hang on a silent server).
ScopedFd ClientSocket() {
  ScopedFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval timeout{5, 0};
  if (fd.get() >= 0) ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

ScopedFd Connect(int port) {
  ScopedFd fd = ClientSocket();
  sockaddr_un addr;
  const socklen_t len = local_read::SocketAddress(port, &addr);
  if (fd.get() >= 0 && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    fd.Close();
  }
  return fd;
}

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

TEST(LocalReadServerTest, MalformedAndPiecewiseRequests) {
  // No block store is needed for requests refused before any replica is looked up.
  LocalReadServer server(nullptr, "dn-test");
  ASSERT_TRUE(server.Start(TestPort()).ok());
  local_read::Request bad{};
  std::memcpy(bad.magic, "NOPE", 4);
  auto c = Connect(TestPort());
  ASSERT_GE(c.get(), 0);
  // In two pieces, the second after the server has seen the first. The pause is what is
  // tested (the server cannot be observed holding a partial request); were it too short, the
  // test would only lose strength, not fail.
  ASSERT_EQ(::send(c.get(), &bad, 10, MSG_NOSIGNAL), 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(::send(c.get(), reinterpret_cast<char*>(&bad) + 10, sizeof(bad) - 10, MSG_NOSIGNAL),
            static_cast<ssize_t>(sizeof(bad) - 10));
  local_read::Reply reply;
  ScopedFd data_fd, crc_fd;
  ASSERT_EQ(local_read::ReceiveReply(c.get(), &reply, &data_fd, &crc_fd), 0);
  EXPECT_EQ(reply.status, local_read::kBadRequest);
  EXPECT_STREQ(reply.datanode_uuid, "dn-test");
  EXPECT_LT(data_fd.get(), 0);
  EXPECT_EQ(server.grants(), 0u);
  server.Stop();
  server.Stop();  // twice is fine
}

TEST(LocalReadServerTest, NoBusyLoopWhenOutOfDescriptors) {
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  LocalReadServer server(nullptr, "dn-test");
  ASSERT_TRUE(server.Start(TestPort() + 1).ok());
  // Client sockets first; then no descriptor is left for the server to accept them with.
  std::vector<ScopedFd> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(ClientSocket());
    ASSERT_GE(clients.back().get(), 0);
  }
  rlimit low = old;
  low.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<ScopedFd> filler;
  while (true) {
    int fd = ::dup(0);
    if (fd < 0) break;
    filler.emplace_back(fd);
  }
  sockaddr_un addr;
  const socklen_t len = local_read::SocketAddress(TestPort() + 1, &addr);
  for (auto& c : clients) {
    ASSERT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), len), 0) << strerror(errno);
  }
  // The measurement window itself (nothing to wait for: the test is what does NOT happen).
  const double cpu0 = ProcessCpuSeconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double cpu = ProcessCpuSeconds() - cpu0;
  filler.clear();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  // A spinning server burns the whole half second; a paused one next to nothing.
  EXPECT_LT(cpu, 0.1) << "the server spun while it could not accept";
  // With descriptors back, the queued clients are served (refused: no such request yet sent).
  local_read::Request bad{};
  ASSERT_EQ(::send(clients[0].get(), &bad, sizeof(bad), MSG_NOSIGNAL),
            static_cast<ssize_t>(sizeof(bad)));
  local_read::Reply reply;
  ScopedFd data_fd, crc_fd;
  ASSERT_EQ(local_read::ReceiveReply(clients[0].get(), &reply, &data_fd, &crc_fd), 0);
  EXPECT_EQ(reply.status, local_read::kBadRequest);
}

}  // namespace
}  // namespace cairn::datanode
