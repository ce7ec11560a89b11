// Crash test of the real cairn-namenode binary: clients create files and directories from 16
// threads, the NameNode is killed with SIGKILL in the middle of the load and restarted on the
// same directory. Every acknowledged create must survive, and the namespace must be
// consistent (listing, children_count) and writable after the restart.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/info_file.h"
#include "common/status.h"
#include "proto/namenode.grpc.pb.h"

namespace cairn {
namespace {

using Clock = std::chrono::steady_clock;
using cairn::v1::NameNodeService;

constexpr int kWorkers = 16;
constexpr int kRounds = 3;
constexpr auto kLoadTime = std::chrono::milliseconds(1500);
constexpr int kAckedPerRound = 4000;  // kill earlier if this many creates were acknowledged
constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kRpcTimeout = std::chrono::seconds(5);

std::string BinDir() {
  if (const char* dir = getenv("CAIRN_BIN_DIR"); dir != nullptr && *dir != '\0') return dir;
  // Run by hand: the test binary sits next to the daemons (build/bin).
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : self.parent_path().string();
}

std::string ReadFileTail(const std::string& path, size_t max_bytes = 4000) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

// One cairn-namenode child process.
class NameNodeProcess {
 public:
  NameNodeProcess(std::string binary, std::string dir, std::string info_file, std::string log)
      : binary_(std::move(binary)), dir_(std::move(dir)), info_file_(std::move(info_file)),
        log_(std::move(log)) {}
  ~NameNodeProcess() { Kill(); }

  // Starts the binary and waits (with a deadline, checking that the child is alive) until it
  // has written its info file.
  Status Start() {
    if (pid_ > 0) return absl::FailedPreconditionError("already running");
    ::unlink(info_file_.c_str());
    std::vector<std::string> args = {binary_, "--dir", dir_, "--port", "0", "--info-file",
                                     info_file_};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
    if (pid == 0) {
      // Child: only async-signal-safe calls until exec.
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
      if (getppid() != parent) _exit(127);
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO) close(fd);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    pid_ = pid;

    const auto deadline = Clock::now() + kStartTimeout;
    while (true) {
      int wstatus = 0;
      pid_t r = waitpid(pid_, &wstatus, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return absl::InternalError(absl::StrCat(binary_, " exited during start-up (status ",
                                                wstatus, "); log:\n", ReadFileTail(log_)));
      }
      auto info = ReadInfoFile(info_file_);
      if (info.ok() && info->count("port") && info->count("pid")) {
        int port = 0, info_pid = 0;
        if (!absl::SimpleAtoi((*info)["port"], &port) || port <= 0 ||
            !absl::SimpleAtoi((*info)["pid"], &info_pid)) {
          return absl::InternalError(absl::StrCat(info_file_, ": malformed"));
        }
        if (info_pid != pid_) {
          return absl::InternalError(
              absl::StrCat(info_file_, ": pid ", info_pid, ", expected ", pid_));
        }
        port_ = port;
        return absl::OkStatus();
      }
      if (Clock::now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            binary_, " did not write ", info_file_, " in time; log:\n", ReadFileTail(log_)));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval
    }
  }

  // SIGKILL and reap; no-op when not running.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int wstatus = 0;
    while (waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    port_ = 0;
  }

  // Exited on its own (crash) since start?
  bool Alive() {
    if (pid_ <= 0) return false;
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& log() const { return log_; }

 private:
  const std::string binary_, dir_, info_file_, log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

class NameNodeCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cairn_nn_crash_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << strerror(errno);
    tmp_ = tmpl;
    binary_ = BinDir() + "/cairn-namenode";
    ASSERT_EQ(access(binary_.c_str(), X_OK), 0)
        << binary_ << " is not executable (set CAIRN_BIN_DIR): " << strerror(errno);
    nn_ = std::make_unique<NameNodeProcess>(binary_, tmp_ + "/nn", tmp_ + "/nn.info",
                                            tmp_ + "/nn.log");
  }

  void TearDown() override {
    stub_.reset();
    if (nn_) nn_->Kill();  // by PID, also when the test failed
    if (HasFailure() && nn_) {
      std::cerr << "---- namenode log (tail) ----\n" << ReadFileTail(nn_->log()) << "\n";
    }
    nn_.reset();
    if (!tmp_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(tmp_, ec);
    }
  }

  void StartNameNode() {
    Status s = nn_->Start();
    ASSERT_TRUE(s.ok()) << s;
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", nn_->port()),
                                       grpc::InsecureChannelCredentials());
    ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() + kStartTimeout))
        << "cannot connect to the namenode on port " << nn_->port();
    stub_ = NameNodeService::NewStub(channel);
    ASSERT_NO_FATAL_FAILURE(WaitUntilWritable());
  }

  // A NameNode may start read-only (safemode: UNAVAILABLE). Polls with a unique probe
  // directory, with a deadline, until a mutation is accepted.
  void WaitUntilWritable() {
    const auto deadline = Clock::now() + kStartTimeout;
    while (true) {
      grpc::Status s = Mkdir(absl::StrCat("/probe", probes_++));
      if (s.ok()) return;
      ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
      ASSERT_LT(Clock::now(), deadline) << "the namenode stayed read-only: " << s.error_message();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
    }
  }

  static void SetDeadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
  }

  grpc::Status CreateFile(const std::string& path, NameNodeService::Stub* stub = nullptr) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    cairn::v1::CreateFileRequest req;
    req.set_path(path);
    req.set_replication(1);
    cairn::v1::CreateFileResponse resp;
    return (stub ? stub : stub_.get())->CreateFile(&ctx, req, &resp);
  }

  grpc::Status Mkdir(const std::string& path, NameNodeService::Stub* stub = nullptr) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    cairn::v1::MkdirRequest req;
    req.set_path(path);
    cairn::v1::MkdirResponse resp;
    return (stub ? stub : stub_.get())->Mkdir(&ctx, req, &resp);
  }

  grpc::Status GetFileInfo(const std::string& path, cairn::v1::FileInfo* info) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    cairn::v1::GetFileInfoRequest req;
    req.set_path(path);
    cairn::v1::GetFileInfoResponse resp;
    grpc::Status s = stub_->GetFileInfo(&ctx, req, &resp);
    if (info) *info = resp.info();
    return s;
  }

  // Every entry of `dir`, page by page.
  grpc::Status ListAll(const std::string& dir, std::vector<cairn::v1::FileInfo>* out) {
    std::string after;
    while (true) {
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      cairn::v1::ListDirectoryRequest req;
      req.set_path(dir);
      req.set_start_after(after);
      req.set_limit(5000);
      cairn::v1::ListDirectoryResponse resp;
      grpc::Status s = stub_->ListDirectory(&ctx, req, &resp);
      if (!s.ok()) return s;
      for (const auto& e : resp.entries()) out->push_back(e);
      if (!resp.has_more()) return grpc::Status::OK;
      if (resp.entries_size() == 0) {
        return grpc::Status(grpc::StatusCode::INTERNAL, "has_more with an empty page");
      }
      after = resp.entries(resp.entries_size() - 1).name();
    }
  }

  std::string tmp_;
  std::string binary_;
  std::unique_ptr<NameNodeProcess> nn_;
  std::unique_ptr<NameNodeService::Stub> stub_;
  int probes_ = 0;
};

TEST_F(NameNodeCrashTest, AcknowledgedCreatesSurviveKill9) {
  ASSERT_NO_FATAL_FAILURE(StartNameNode());
  {
    grpc::Status s = Mkdir("/load");
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Across all rounds: path -> type of every acknowledged create, and every path attempted.
  std::map<std::string, cairn::v1::FileType> acked;
  std::set<std::string> attempted;
  size_t total_acked = 0;

  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, cairn::v1::FileType> round_acked;
    std::set<std::string> round_attempted;
    std::atomic<bool> stop{false};
    std::atomic<int> unexpected{0};  // errors other than the crash's UNAVAILABLE & co.
    std::string first_unexpected;

    NameNodeService::Stub* stub = stub_.get();
    std::vector<std::thread> workers;
    // Stops and joins the workers on every way out of this scope (also a failed ASSERT).
    struct JoinGuard {
      std::atomic<bool>& stop;
      std::vector<std::thread>& threads;
      void Join() {
        stop.store(true);
        for (auto& th : threads) {
          if (th.joinable()) th.join();
        }
      }
      ~JoinGuard() { Join(); }
    } join_guard{stop, workers};
    for (int t = 0; t < kWorkers; ++t) {
      workers.emplace_back([&, t] {
        for (int i = 0; !stop.load(); ++i) {
          const bool dir = i % 8 == 7;
          const std::string path =
              absl::StrCat("/load/r", round, "_t", t, dir ? "_d" : "_f", i);
          {
            std::lock_guard<std::mutex> l(mu);
            round_attempted.insert(path);
          }
          grpc::Status s = dir ? Mkdir(path, stub) : CreateFile(path, stub);
          std::lock_guard<std::mutex> l(mu);
          if (s.ok()) {
            round_acked[path] = dir ? cairn::v1::FILE_TYPE_DIRECTORY : cairn::v1::FILE_TYPE_FILE;
            if (round_acked.size() >= static_cast<size_t>(kAckedPerRound)) cv.notify_all();
          } else if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
                     s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED &&
                     s.error_code() != grpc::StatusCode::CANCELLED) {
            // The NameNode answered with an error for a fresh, unique path.
            if (unexpected.fetch_add(1) == 0) {
              first_unexpected = absl::StrCat(path, ": ", s.error_code(), " ", s.error_message());
            }
          }
        }
      });
    }

    // Let the load run until enough creates are acknowledged or the load time is over, then
    // kill the NameNode while requests are in flight.
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait_for(l, kLoadTime, [&] { return round_acked.size() >= size_t{kAckedPerRound}; });
    }
    const bool alive_under_load = nn_->Alive();
    const pid_t killed = nn_->pid();
    nn_->Kill();  // SIGKILL by pid, then reaped
    join_guard.Join();
    ASSERT_TRUE(alive_under_load) << "the namenode died under load";
    ASSERT_GT(killed, 0);
    ASSERT_FALSE(nn_->Alive());
    EXPECT_EQ(unexpected.load(), 0) << first_unexpected;

    // Some creates must have been acknowledged in the round, or the test proves nothing.
    ASSERT_GT(round_acked.size(), 0u);
    total_acked += round_acked.size();
    acked.insert(round_acked.begin(), round_acked.end());
    attempted.insert(round_attempted.begin(), round_attempted.end());
    std::cerr << "round " << round << ": " << round_acked.size() << " creates acknowledged of "
              << round_attempted.size() << " attempted before kill -9\n";

    // Restart on the same directory.
    stub_.reset();
    ASSERT_NO_FATAL_FAILURE(StartNameNode());

    // Every acknowledged path (of this and earlier rounds) exists, with its type.
    size_t missing = 0;
    for (const auto& [path, type] : acked) {
      cairn::v1::FileInfo info;
      grpc::Status s = GetFileInfo(path, &info);
      if (!s.ok()) {
        if (++missing <= 10) ADD_FAILURE() << "acknowledged " << path << " lost: " << s.error_message();
        continue;
      }
      EXPECT_EQ(info.type(), type) << path;
    }
    EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged paths";

    // The listing is consistent: each entry resolves, was attempted by a client, and the count
    // matches the directory's children_count.
    std::vector<cairn::v1::FileInfo> entries;
    {
      grpc::Status s = ListAll("/load", &entries);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    std::set<std::string> listed;
    size_t unresolvable = 0;
    for (const auto& e : entries) {
      const std::string path = "/load/" + e.name();
      EXPECT_TRUE(listed.insert(e.name()).second) << "listed twice: " << path;
      cairn::v1::FileInfo info;
      grpc::Status s = GetFileInfo(path, &info);
      if (!s.ok()) {
        if (++unresolvable <= 10) ADD_FAILURE() << "listed " << path << " fails: " << s.error_message();
        continue;
      }
      EXPECT_EQ(info.inode_id(), e.inode_id()) << path;
      EXPECT_EQ(info.type(), e.type()) << path;
      EXPECT_TRUE(attempted.count(path) || path.rfind("/load/after_", 0) == 0)
          << "listed " << path << " was never created by a client";
    }
    EXPECT_EQ(unresolvable, 0u);
    for (const auto& [path, type] : acked) {
      const std::string name = path.substr(std::string("/load/").size());
      if (name.find('/') != std::string::npos) continue;  // not a direct child
      EXPECT_TRUE(listed.count(name))
          << "acknowledged " << path << " missing from the listing";
    }
    cairn::v1::FileInfo dir;
    {
      grpc::Status s = GetFileInfo("/load", &dir);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    EXPECT_EQ(dir.children_count(), entries.size());

    // The restarted NameNode takes new creates.
    const std::string after_file = absl::StrCat("/load/after_", round, "_file");
    const std::string after_dir = absl::StrCat("/load/after_", round, "_dir");
    {
      grpc::Status s = CreateFile(after_file);
      ASSERT_TRUE(s.ok()) << s.error_message();
      s = Mkdir(after_dir);
      ASSERT_TRUE(s.ok()) << s.error_message();
      s = CreateFile(after_dir + "/inner");
      ASSERT_TRUE(s.ok()) << s.error_message();
      s = CreateFile(after_file);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
    }
    acked[after_file] = cairn::v1::FILE_TYPE_FILE;
    acked[after_dir] = cairn::v1::FILE_TYPE_DIRECTORY;
    acked[after_dir + "/inner"] = cairn::v1::FILE_TYPE_FILE;
    cairn::v1::FileInfo dir_after;
    {
      grpc::Status s = GetFileInfo("/load", &dir_after);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    EXPECT_EQ(dir_after.children_count(), entries.size() + 2);
    if (HasFatalFailure()) return;
  }
  std::cerr << "total acknowledged creates across " << kRounds << " kills: " << total_acked << "\n";
}

}  // namespace
}  // namespace cairn
