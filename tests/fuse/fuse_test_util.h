// Test support for cairn-fuse: runs the real binary as a child process on a fresh temporary
// mountpoint, waits for the mount with a deadline, and always unmounts and reaps it; runs
// shell commands with deadlines; a gtest fixture with a MiniCluster plus a mount.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "client/cairn/client.h"
#include "common/status.h"
#include "tests/testutil/mini_cluster.h"

namespace cairn::testing {

struct ShellResult {
  int exit_code = -1;  // -1: killed at the deadline or could not run
  std::string output;  // stdout and stderr, interleaved
};

// Runs `/bin/sh -c command`; kills its process group at the deadline.
ShellResult Shell(const std::string& command, int64_t timeout_ms = 120000);
// Single-quotes `s` for the shell.
std::string Quote(const std::string& s);

// True if /dev/fuse can be opened (mount tests skip otherwise).
bool FuseAvailable();
// The cairn-fuse binary ($CAIRN_BIN_DIR/cairn-fuse).
std::string FuseBinary();

// One cairn-fuse child process mounted on a new temporary directory. Not thread-safe.
class FuseMount {
 public:
  FuseMount() = default;
  ~FuseMount();
  FuseMount(const FuseMount&) = delete;
  FuseMount& operator=(const FuseMount&) = delete;

  // Starts `cairn-fuse DIR --namenode ADDR -f -o OPTS` (stderr to a log file) and waits up to
  // 20 s for the mount. DEADLINE_EXCEEDED / INTERNAL (with the log) if it does not come up.
  Status Mount(const std::string& namenode, const std::vector<std::string>& options = {});
  // fusermount3 -u, then umount -l as a last resort; SIGTERM then SIGKILL to the child, which
  // is reaped. Idempotent; also right after the child has exited by itself.
  void Unmount();
  // Waits until the child exits (e.g. after a signal); its exit code, or -1 on timeout.
  int WaitForExit(int64_t timeout_ms);

  bool IsMounted() const;
  const std::string& dir() const { return dir_; }
  std::string path(const std::string& rel) const { return dir_ + "/" + rel; }
  pid_t pid() const { return pid_; }
  std::string log() const;

 private:
  std::string dir_;
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// True if `dir` is the mountpoint of a FUSE file system (mountinfo + statfs f_type).
bool IsFuseMounted(const std::string& dir);

// A MiniCluster, a client of it, a cairn-fuse mount and a local scratch directory. Each test
// starts its own (StartMount); TearDown always unmounts and prints the mount's log on failure.
class FuseTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // One DataNode, replication 1 (fast) unless the test says otherwise.
  static MiniClusterOptions SmallCluster();
  // Starts the cluster, connects `client_` and mounts (ASSERT inside: use
  // ASSERT_NO_FATAL_FAILURE(StartMount(...))).
  void StartMount(MiniClusterOptions options = SmallCluster(),
                  std::vector<std::string> mount_options = {});

  // Path inside the mount / the scratch directory.
  std::string M(const std::string& rel) const { return mount_.path(rel); }
  std::string S(const std::string& rel) const { return scratch_ + "/" + rel; }
  // Runs a shell command and expects exit code 0 (returns the output).
  std::string Sh(const std::string& command, int64_t timeout_ms = 120000);

  std::unique_ptr<MiniCluster> cluster_;
  std::unique_ptr<client::FileSystem> client_;  // "another client" of the same cluster
  FuseMount mount_;
  std::string scratch_;  // local temporary directory; removed in TearDown
  std::string staging_;  // the mount's -o staging_dir (inside scratch_)
};

}  // namespace cairn::testing
