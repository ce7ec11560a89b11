#include "fuse/fuse_server.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cairn/client.h"
#include "common/daemon.h"
#include "common/errno_map.h"
#include "common/logging.h"
#include "fuse/fuse_ops.h"

namespace cairn::fuse {
namespace {

void WakeUp(int) {}

// The daemon's report to the waiting parent: "OK" or an error message, then EOF.
class StartupReport {
 public:
  explicit StartupReport(int fd) : fd_(fd) {}
  ~StartupReport() {
    if (fd_ >= 0) close(fd_);
  }
  // Prints `msg` (foreground) or sends it to the parent. Returns the exit code 1.
  int Fail(const std::string& msg) {
    const std::string line = absl::StrCat("cairn-fuse: ", msg, "\n");
    if (fd_ >= 0) {
      Send(line);
    } else {
      std::cerr << line;
    }
    return 1;
  }
  void Ok() { Send("OK"); }

 private:
  void Send(const std::string& s) {
    if (fd_ < 0) return;
    (void)!write(fd_, s.data(), s.size());
    close(fd_);
    fd_ = -1;
  }
  int fd_;
};

// Forks; the parent waits for the child's report and returns its exit code, the child
// returns -1 with *report_fd set.
int ForkAndWait(int* report_fd) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    std::cerr << "cairn-fuse: pipe: " << std::strerror(errno) << "\n";
    return 1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    std::cerr << "cairn-fuse: fork: " << std::strerror(errno) << "\n";
    return 1;
  }
  if (pid == 0) {
    close(p[0]);
    setsid();
    *report_fd = p[1];
    return -1;
  }
  close(p[1]);
  std::string msg;
  char buf[512];
  while (true) {
    ssize_t n = read(p[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<size_t>(n));
  }
  close(p[0]);
  if (msg == "OK") return 0;
  std::cerr << (msg.empty() ? "cairn-fuse: the daemon died while starting\n" : msg);
  return 1;
}

void Detach(const FuseOptions& o) {
  if (chdir("/") != 0) PLOG(WARNING) << "chdir /";
  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
  }
  int err_fd = o.log_file.empty()
                   ? null_fd
                   : open(o.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (err_fd >= 0) dup2(err_fd, STDERR_FILENO);
  if (err_fd >= 0 && err_fd != null_fd) close(err_fd);
  if (null_fd > STDERR_FILENO) close(null_fd);
}

// Raises the mount's read-ahead window (the kernel caps FUSE's at 128 KiB unless the bdi
// setting is changed). Best effort: needs root. Reads /proc/self/mountinfo, so it does not
// touch the mount itself (which would wait for the not yet running loop).
void RaiseReadAhead(const FuseOptions& o) {
  if (geteuid() != 0) return;
  char real[PATH_MAX];
  if (realpath(o.mountpoint.c_str(), real) == nullptr) return;
  std::ifstream in("/proc/self/mountinfo");
  std::string line, device;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() > 4 && f[4] == real) device = f[2];  // the last match is the top mount
  }
  if (device.empty()) return;
  const std::string knob = absl::StrCat("/sys/class/bdi/", device, "/read_ahead_kb");
  std::ofstream out(knob);
  out << (o.max_readahead_bytes / 1024) << "\n";
  out.flush();
  if (!out) {
    VLOG(1) << "cannot set " << knob;
  } else {
    VLOG(1) << knob << " = " << o.max_readahead_bytes / 1024;
  }
}

}  // namespace

int RunFuse(const FuseOptions& o) {
  int report_fd = -1;
  if (!o.foreground) {
    int rc = ForkAndWait(&report_fd);
    if (rc >= 0) return rc;  // the parent
  }
  StartupReport report(report_fd);
  InitLogging("cairn-fuse");

  client::ClientOptions co;
  co.namenode = o.namenode;
  co.rpc_timeout_ms = o.rpc_timeout_ms;
  auto fs = client::FileSystem::Connect(co);
  if (!fs.ok()) return report.Fail(std::string(fs.status().message()));
  if (auto stats = (*fs)->GetFsStats(); !stats.ok()) {
    return report.Fail(absl::StrCat("the NameNode at ", o.namenode, " does not answer: ",
                                    stats.status().message()));
  }
  auto cfs = std::make_unique<CairnFs>(fs->get(), o);
  if (Status s = cfs->Start(); !s.ok()) return report.Fail(std::string(s.message()));

  std::vector<std::string> arg_strings = {"cairn-fuse", "-o", KernelMountOptions(o)};
  if (o.debug) arg_strings.push_back("-d");
  std::vector<char*> argv;
  for (auto& a : arg_strings) argv.push_back(a.data());
  struct fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  struct fuse_session* se =
      fuse_session_new(&args, CairnFs::Ops(), sizeof(fuse_lowlevel_ops), cfs.get());
  if (se == nullptr) {
    return report.Fail(absl::StrCat("bad mount options: ", KernelMountOptions(o)));
  }
  if (fuse_session_mount(se, o.mountpoint.c_str()) != 0) {
    fuse_session_destroy(se);
    return report.Fail(absl::StrCat("cannot mount on ", o.mountpoint));
  }
  RaiseReadAhead(o);
  LOG(INFO) << "mounted " << o.namenode << " on " << o.mountpoint << " (staging in "
            << cfs->files()->staging_dir() << ")";
  if (!o.foreground) Detach(o);
  if (!o.pid_file.empty()) {
    std::ofstream(o.pid_file) << getpid() << "\n";
  }
  report.Ok();

  // SIGUSR1 interrupts the loop's wait in the main thread (sem_wait is never restarted).
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = WakeUp;
  sigaction(SIGUSR1, &sa, nullptr);
  const pthread_t main_thread = pthread_self();
  std::atomic<bool> loop_done{false};
  std::thread signals([&] {
    const int sig = WaitForTerminationSignal();
    if (loop_done.load()) return;
    LOG(INFO) << "signal " << sig << ": writing back open files and unmounting";
    if (Status s = cfs->files()->FlushAll(); !s.ok()) LOG(WARNING) << s;
    fuse_session_exit(se);
    while (!loop_done.load()) {
      pthread_kill(main_thread, SIGUSR1);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  int rc;
  if (o.single_threaded) {
    rc = fuse_session_loop(se);
  } else {
    struct fuse_loop_config* cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(cfg, o.clone_fd ? 1 : 0);
    fuse_loop_cfg_set_max_threads(cfg, o.max_threads);
    // Idle workers stay (libfuse's default lets all but 10 exit, so a burst of requests
    // starts and ends a thread per request).
    fuse_loop_cfg_set_idle_threads(cfg, o.max_threads);
    rc = fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
  }
  loop_done.store(true);
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  if (Status s = cfs->files()->FlushAll(); !s.ok()) LOG(WARNING) << "at exit: " << s;
  fuse_session_unmount(se);
  fuse_session_destroy(se);
  fuse_opt_free_args(&args);
  LOG(INFO) << "unmounted " << o.mountpoint;
  cfs.reset();
  if (!o.pid_file.empty()) unlink(o.pid_file.c_str());
  return rc == 0 ? 0 : 1;
}

}  // namespace cairn::fuse
