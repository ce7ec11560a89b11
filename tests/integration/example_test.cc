// Runs the README's example program (client/examples/hello_cairn.cc) against a MiniCluster.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "tests/testutil/mini_cluster.h"

namespace cairn::testing {
namespace {

TEST(ExampleTest, HelloCairnRunsAgainstACluster) {
  MiniCluster cluster;
  ASSERT_TRUE(cluster.Start().ok());
  const char* bin = std::getenv("CAIRN_BIN_DIR");
  ASSERT_NE(bin, nullptr);
  const std::string cmd =
      std::string(bin) + "/hello_cairn " + cluster.namenode_address() + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[256];
  while (fgets(buf, sizeof(buf), pipe.get())) output += buf;
  const int rc = pclose(pipe.release());
  EXPECT_EQ(rc, 0) << output;
  EXPECT_NE(output.find("read back: hello, cairn"), std::string::npos) << output;
  EXPECT_NE(output.find("hello.txt\t13 bytes"), std::string::npos) << output;
  auto fs = cluster.NewClient();
  ASSERT_TRUE(fs.ok());
  auto st = (*fs)->Stat("/examples/hello.txt");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->replication, 3u);
}

}  // namespace
}  // namespace cairn::testing
