// The mount against clusters in particular states: a directory of 10,000 entries, permission
// checks for an unprivileged user, a full cluster (ENOSPC), and a DataNode that dies while a
// file is being copied in (mid-block and between blocks).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "tests/fuse/fuse_test_util.h"

namespace cairn::testing {
namespace {

class FuseClusterTest : public FuseTest {
 protected:
  void CopyWhileADataNodeDies(uint64_t block_size, size_t pause);
  // Runs `command` as nobody:nogroup without supplementary groups.
  ShellResult AsNobody(const std::string& command) {
    return Shell("setpriv --reuid=nobody --regid=nogroup --clear-groups /bin/sh -c " +
                 Quote(command));
  }
};

TEST_F(FuseClusterTest, LsOfTenThousandEntries) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  ASSERT_TRUE(client_->Mkdir("/big").ok());
  // Created by 8 clients in parallel (the NameNode commits them in groups).
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto fs = cluster_->NewClient();
      if (!fs.ok()) {
        ++failures;
        return;
      }
      for (int i = t; i < 10000; i += 8) {
        if (!(*fs)->Touch(absl::StrCat("/big/file-", i)).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  const int64_t start = MonoMillis();
  std::string out = Sh("ls -l " + Quote(M("big")) + " | tail -n +2 | wc -l");
  const int64_t elapsed = MonoMillis() - start;
  EXPECT_EQ(out, "10000\n");
  EXPECT_LT(elapsed, 30000);
  std::cerr << "ls -l of 10,000 entries: " << elapsed << " ms\n";
  EXPECT_EQ(Sh("ls -f " + Quote(M("big")) + " | wc -l"), "10002\n");  // with . and ..
  EXPECT_EQ(Sh("ls " + Quote(M("big")) + " | sort | uniq | wc -l"), "10000\n");
  EXPECT_EQ(Sh("stat -c %s " + Quote(M("big/file-9999"))), "0\n");
}

TEST_F(FuseClusterTest, PermissionsAreCheckedForOtherUsers) {
  ASSERT_NO_FATAL_FAILURE(StartMount());
  Sh("mkdir -m 700 " + Quote(M("private")) + " && echo secret > " + Quote(M("private/s")) +
     " && mkdir -m 777 " + Quote(M("public")) + " && echo hello > " + Quote(M("public/r")) +
     " && chmod 644 " + Quote(M("public/r")));
  ShellResult r = AsNobody("ls " + Quote(M("private")));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("Permission denied"), std::string::npos) << r.output;
  r = AsNobody("cat " + Quote(M("private/s")));
  EXPECT_NE(r.output.find("Permission denied"), std::string::npos) << r.output;
  r = AsNobody("cat " + Quote(M("public/r")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "hello\n");
  r = AsNobody("echo x >> " + Quote(M("public/r")));
  EXPECT_NE(r.output.find("Permission denied"), std::string::npos) << r.output;
  r = AsNobody("chmod 666 " + Quote(M("public/r")));
  EXPECT_NE(r.output.find("Operation not permitted"), std::string::npos) << r.output;
  // nobody's own files belong to nobody, and nobody may do what owners do.
  r = AsNobody("cd " + Quote(M("public")) + " && echo mine > mine && mkdir d && ln -s mine l && "
               "chmod 600 mine && stat -c '%U:%G %a' mine d && stat -c %U l && cat mine && "
               "mv mine d/mine && rm d/mine && rmdir d");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "nobody:nogroup 600\nnobody:nogroup 755\nnobody\nmine\n");
  EXPECT_EQ(client_->Stat("/public/l")->owner, "nobody");
  r = AsNobody("echo x > " + Quote(M("public/n")) + " && chmod 600 " + Quote(M("public/n")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(Sh("cat " + Quote(M("public/n"))), "x\n");  // root may read it anyway
  r = AsNobody("rm " + Quote(M("private/s")));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(client_->Stat("/private/s").ok());
}

TEST_F(FuseClusterTest, FullClusterReportsEnospc) {
  MiniClusterOptions o = SmallCluster();
  o.capacity_bytes_per_volume = 8 << 20;
  ASSERT_NO_FATAL_FAILURE(StartMount(o));
  ShellResult r = Shell("dd if=/dev/zero of=" + Quote(M("fill")) + " bs=1M count=64", 60000);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("No space left on device"), std::string::npos) << r.output;
  // Staged writes report it at close.
  r = Shell("printf small > " + Quote(M("a")) + " && head -c 32M /dev/zero >> " + Quote(M("a")),
            60000);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("No space left on device"), std::string::npos) << r.output;
  // After deleting, there is room again.
  Sh("rm -f " + Quote(M("fill")) + " " + Quote(M("a")));
  EXPECT_TRUE(WaitFor([&] {
    return Shell("head -c 2M /dev/zero > " + Quote(M("after"))).exit_code == 0;
  }, 20000));
}

// Copies 24 MiB into the mount with cp, reading from a FIFO this test feeds: after `pause`
// bytes, once the mount has taken them, a DataNode of the block being written is stopped.
void FuseClusterTest::CopyWhileADataNodeDies(uint64_t block_size, size_t pause) {
  MiniClusterOptions o;
  o.num_datanodes = 4;
  o.replication = 3;
  o.block_size = block_size;
  ASSERT_NO_FATAL_FAILURE(StartMount(o));
  const std::string data = RandomBytes(24 << 20, 42);
  {
    std::ofstream(S("src"), std::ios::binary) << data;
  }
  ASSERT_EQ(mkfifo(S("fifo").c_str(), 0600), 0);
  signal(SIGPIPE, SIG_IGN);  // if cp fails, write() reports it instead of killing the test
  ShellResult cp_result;
  std::thread cp([&] {
    cp_result = Shell("cp " + Quote(S("fifo")) + " " + Quote(M("copy")), 120000);
  });
  int fifo = open(S("fifo").c_str(), O_WRONLY);
  struct Joiner {  // whatever fails below, the writer end closes and cp is reaped
    int& fd;
    std::thread& t;
    ~Joiner() {
      if (fd >= 0) close(fd);
      if (t.joinable()) t.join();
    }
  } joiner{fifo, cp};
  ASSERT_GE(fifo, 0);
  ASSERT_EQ(write(fifo, data.data(), pause), static_cast<ssize_t>(pause));
  struct stat st;
  ASSERT_TRUE(WaitFor([&] {
    return stat(M("copy").c_str(), &st) == 0 &&
           st.st_size >= static_cast<off_t>(pause - std::min<size_t>(pause, 64 << 10));
  }, 30000));
  // A DataNode of the last block known to the NameNode.
  int victim = 0;
  auto blocks = client_->GetBlocks("/copy");
  if (blocks.ok() && !blocks->empty() && !blocks->back().datanodes.empty()) {
    for (int i = 0; i < cluster_->num_datanodes(); ++i) {
      if (cluster_->datanode(i)->address() == blocks->back().datanodes.front()) victim = i;
    }
  }
  cluster_->StopDataNode(victim);
  EXPECT_EQ(write(fifo, data.data() + pause, data.size() - pause),
            static_cast<ssize_t>(data.size() - pause));
  close(fifo);
  fifo = -1;
  cp.join();
  ASSERT_EQ(cp_result.exit_code, 0) << cp_result.output;
  Sh("cmp " + Quote(S("src")) + " " + Quote(M("copy")));
  Sh("echo 3 > /proc/sys/vm/drop_caches || true");
  Sh("cmp " + Quote(S("src")) + " " + Quote(M("copy")));
}

// 4 packets of 1 MiB per block; the DataNode dies after two packets of the fourth block.
TEST_F(FuseClusterTest, DataNodeDiesMidBlockDuringCopy) {
  ASSERT_NO_FATAL_FAILURE(CopyWhileADataNodeDies(4 << 20, (14 << 20) + (512 << 10)));
  EXPECT_NE(mount_.log().find("pipeline recovery"), std::string::npos) << mount_.log();
}

// The DataNode dies right after a block was completed: the next block's pipeline may still
// include it (the NameNode has not noticed yet).
TEST_F(FuseClusterTest, DataNodeDiesBetweenBlocksDuringCopy) {
  ASSERT_NO_FATAL_FAILURE(CopyWhileADataNodeDies(1 << 20, 12 << 20));
}

}  // namespace
}  // namespace cairn::testing
