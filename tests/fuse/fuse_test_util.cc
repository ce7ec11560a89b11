#include "tests/fuse/fuse_test_util.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"

namespace cairn::testing {
namespace {

constexpr long kFuseSuperMagic = 0x65735546;

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// fork + exec with stdout/stderr to `out_path`. In the child only async-signal-safe calls.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path, bool new_group,
            bool die_with_parent) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  if (new_group) setpgid(0, 0);
  if (die_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
  }
  int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
  if (fd >= 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
  }
  execv(args[0], args.data());
  _exit(127);
}

// Waits for `pid` until `deadline` (MonoMillis); its exit code, or -1 (still running).
int WaitPid(pid_t pid, int64_t deadline_ms, bool* exited) {
  int64_t backoff = 1;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      *exited = true;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    if (r < 0 && errno != EINTR) {
      *exited = true;
      return -1;
    }
    if (MonoMillis() >= deadline_ms) {
      *exited = false;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
    backoff = std::min<int64_t>(backoff * 2, 20);
  }
}

std::string RealPath(const std::string& p) {
  char buf[PATH_MAX];
  if (realpath(p.c_str(), buf) == nullptr) return p;
  return buf;
}

}  // namespace

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

ShellResult Shell(const std::string& command, int64_t timeout_ms) {
  ShellResult r;
  char tmpl[] = "/tmp/cairn-fuse-test-sh-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return r;
  close(fd);
  const std::string out_path = tmpl;
  pid_t pid = Spawn({"/bin/sh", "-c", command}, out_path, /*new_group=*/true,
                    /*die_with_parent=*/true);
  bool exited = false;
  r.exit_code = WaitPid(pid, MonoMillis() + timeout_ms, &exited);
  if (!exited) {
    kill(-pid, SIGKILL);
    WaitPid(pid, MonoMillis() + 10000, &exited);
    r.exit_code = -1;
  }
  r.output = ReadWholeFile(out_path);
  if (!exited) r.output += "\n[killed at the deadline]";
  unlink(out_path.c_str());
  return r;
}

bool FuseAvailable() {
  int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  close(fd);
  return true;
}

std::string FuseBinary() {
  const char* dir = getenv("CAIRN_BIN_DIR");
  return absl::StrCat(dir != nullptr && *dir != '\0' ? dir : "build/bin", "/cairn-fuse");
}

bool IsFuseMounted(const std::string& dir) {
  const std::string real = RealPath(dir);
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  bool listed = false;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() > 4 && f[4] == real) listed = true;
  }
  if (!listed) return false;
  struct statfs sf;
  return statfs(dir.c_str(), &sf) == 0 && sf.f_type == kFuseSuperMagic;
}

Status FuseMount::Mount(const std::string& namenode, const std::vector<std::string>& options) {
  if (pid_ > 0) return absl::FailedPreconditionError("already mounted");
  char tmpl[] = "/tmp/cairn-fuse-mnt-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  dir_ = tmpl;
  if (!log_path_.empty()) unlink(log_path_.c_str());  // the previous mount's
  log_path_ = dir_ + ".log";
  std::vector<std::string> argv = {FuseBinary(), dir_, "--namenode", namenode, "-f"};
  if (!options.empty()) {
    argv.push_back("-o");
    argv.push_back(absl::StrJoin(options, ","));
  }
  pid_ = Spawn(argv, log_path_, /*new_group=*/false, /*die_with_parent=*/true);
  exit_code_ = -1;
  const int64_t deadline = MonoMillis() + 20000;
  int64_t backoff = 1;
  while (true) {
    // Checked before the mount: a child that died must not be polled until the deadline.
    bool exited = false;
    int code = WaitPid(pid_, 0, &exited);
    if (exited) {
      pid_ = -1;
      exit_code_ = code;
      return absl::InternalError(absl::StrCat("cairn-fuse exited with ", code, ":\n", log()));
    }
    if (IsFuseMounted(dir_)) return absl::OkStatus();
    if (MonoMillis() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("no mount after 20 s:\n", log()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
    backoff = std::min<int64_t>(backoff * 2, 50);
  }
}

FuseMount::~FuseMount() {
  Unmount();
  if (!log_path_.empty()) unlink(log_path_.c_str());
}

int FuseMount::WaitForExit(int64_t timeout_ms) {
  if (pid_ <= 0) return exit_code_;
  bool exited = false;
  int code = WaitPid(pid_, MonoMillis() + timeout_ms, &exited);
  if (!exited) return -1;
  pid_ = -1;
  exit_code_ = code;
  return code;
}

bool FuseMount::IsMounted() const { return !dir_.empty() && IsFuseMounted(dir_); }

std::string FuseMount::log() const { return log_path_.empty() ? "" : ReadWholeFile(log_path_); }

void FuseMount::Unmount() {
  if (dir_.empty()) return;
  if (IsFuseMounted(dir_)) {
    ShellResult r = Shell("fusermount3 -u " + Quote(dir_), 30000);
    if (r.exit_code != 0) {
      std::cerr << "fusermount3 -u " << dir_ << ": " << r.output << "\n";
    }
  }
  if (pid_ > 0 && WaitForExit(15000) < 0 && pid_ > 0) {
    kill(pid_, SIGTERM);
    if (WaitForExit(10000) < 0 && pid_ > 0) {
      kill(pid_, SIGKILL);
      WaitForExit(10000);
    }
  }
  if (IsFuseMounted(dir_) || Shell("mountpoint -q " + Quote(dir_), 5000).exit_code == 0) {
    Shell("umount -l " + Quote(dir_), 10000);
  }
  rmdir(dir_.c_str());
  dir_.clear();
}

// ---------------------------------------------------------------------------------------------

MiniClusterOptions FuseTest::SmallCluster() {
  MiniClusterOptions o;
  o.num_datanodes = 1;
  o.replication = 1;
  return o;
}

void FuseTest::SetUp() {
  if (!FuseAvailable()) GTEST_SKIP() << "/dev/fuse is not available";
  if (access(FuseBinary().c_str(), X_OK) != 0) {
    GTEST_SKIP() << FuseBinary() << " not found (set CAIRN_BIN_DIR)";
  }
  char tmpl[] = "/tmp/cairn-fuse-scratch-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  scratch_ = tmpl;
  staging_ = scratch_ + "/staging";
  ASSERT_EQ(mkdir(staging_.c_str(), 0700), 0);
}

void FuseTest::StartMount(MiniClusterOptions options, std::vector<std::string> mount_options) {
  cluster_ = std::make_unique<MiniCluster>(options);
  ASSERT_TRUE(cluster_->Start().ok());
  auto c = cluster_->NewClient();
  ASSERT_TRUE(c.ok()) << c.status();
  client_ = std::move(*c);
  mount_options.push_back("staging_dir=" + staging_);
  Status s = mount_.Mount(cluster_->namenode_address(), mount_options);
  ASSERT_TRUE(s.ok()) << s;
}

void FuseTest::TearDown() {
  const bool mounted_before = mount_.IsMounted();
  mount_.Unmount();
  if (HasFailure() && !mount_.log().empty()) {
    std::string log = mount_.log();
    if (log.size() > 20000) log = "..." + log.substr(log.size() - 20000);
    std::cerr << "---- cairn-fuse log ----\n" << log << "\n------------------------\n";
  }
  (void)mounted_before;
  client_.reset();
  cluster_.reset();
  if (!scratch_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(scratch_, ec);
  }
}

std::string FuseTest::Sh(const std::string& command, int64_t timeout_ms) {
  ShellResult r = Shell(command, timeout_ms);
  EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.output;
  return r.output;
}

}  // namespace cairn::testing
