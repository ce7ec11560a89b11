#include "tests/testutil/process_cluster.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "common/info_file.h"

extern char** environ;

namespace cairn::testing {
namespace {

std::string Tail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(no log)\n";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? "..." + s.substr(s.size() - max_bytes) : s;
}

std::string DescribeWaitStatus(int wstatus) {
  if (WIFEXITED(wstatus)) return absl::StrCat("exit ", WEXITSTATUS(wstatus));
  if (WIFSIGNALED(wstatus)) return absl::StrCat("killed by signal ", WTERMSIG(wstatus));
  return absl::StrCat("wait status ", wstatus);
}

// What the child does between fork and exec. Only async-signal-safe calls in the child.
struct SpawnSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=VALUE"; empty = inherit
  int stdin_fd = -1;             // -1 = /dev/null
  int stdout_fd = -1;            // -1 = `log` (or /dev/null)
  int stderr_fd = -1;            // -1 = `log` (or /dev/null)
  std::string log;               // appended to
};

StatusOr<pid_t> Spawn(const SpawnSpec& spec) {
  // Everything the child needs is prepared before fork (no allocation after it).
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  char** const env = spec.env.empty() ? environ : envp.data();
  const char* const log = spec.log.empty() ? "/dev/null" : spec.log.c_str();
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid > 0) return pid;

  // Child.
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
  if (getppid() != parent) _exit(127);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  int in = spec.stdin_fd >= 0 ? spec.stdin_fd : open("/dev/null", O_RDONLY);
  int out = spec.stdout_fd;
  int err = spec.stderr_fd;
  if (out < 0 || err < 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0) out = fd;
    if (err < 0) err = fd;
  }
  if (in < 0 || out < 0 || err < 0 || dup2(in, STDIN_FILENO) < 0 ||
      dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0) {
    _exit(126);
  }
  // Not every descriptor of the test is close-on-exec (gRPC's sockets are not): close them,
  // so that a child does not keep the test's connections open.
  if (close_range(3, ~0U, 0) != 0) {
    for (int fd = 3; fd < 1024; ++fd) close(fd);
  }
  execve(argv[0], argv.data(), env);
  const char msg[] = "process_cluster: execve failed\n";
  ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
  (void)ignored;
  _exit(127);
}

// Waits up to `timeout_ms` for `pid` to exit; true (and `*wstatus`) once it has been reaped.
bool WaitExit(pid_t pid, int64_t timeout_ms, int* wstatus) {
  const int64_t deadline = MonoMillis() + timeout_ms;
  int64_t backoff_ms = 1;
  while (true) {
    const pid_t r = waitpid(pid, wstatus, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true;  // not our child (already reaped)
    if (MonoMillis() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));  // poll interval
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 20);
  }
}

// SIGKILL and blocking reap.
int KillAndReap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  return wstatus;
}

std::vector<std::string> EnvWith(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    const bool overridden = std::any_of(extra.begin(), extra.end(),
                                        [&](const auto& kv) { return kv.first == name; });
    if (!overridden) env.push_back(std::move(entry));
  }
  for (const auto& [k, v] : extra) env.push_back(absl::StrCat(k, "=", v));
  return env;
}

std::string Quote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n'\"\\$*?") == std::string::npos) return arg;
  std::string q = "'";
  for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

std::string DefaultBinDir() {
  if (const char* dir = getenv("CAIRN_BIN_DIR"); dir != nullptr && *dir != '\0') return dir;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "build/bin";
  // build/tests/integration/x_test -> build/bin, unless the binary already sits in build/bin.
  const auto dir = self.parent_path();
  if (std::filesystem::exists(dir / "cairn-namenode", ec)) return dir.string();
  for (auto p = dir; !p.empty() && p != p.root_path(); p = p.parent_path()) {
    if (std::filesystem::exists(p / "bin" / "cairn-namenode", ec)) return (p / "bin").string();
  }
  return dir.string();
}

std::string CliResult::Describe() const {
  std::string how = timed_out        ? "timed out (killed)"
                    : term_signal != 0 ? absl::StrCat("killed by signal ", term_signal)
                                       : absl::StrCat("exit ", exit_code);
  return absl::StrCat(command, " -> ", how, " (", elapsed_ms, " ms)\nstdout: ",
                      out.size() > 2000 ? out.substr(0, 2000) + "..." : out,
                      "\nstderr: ", err.size() > 2000 ? err.substr(0, 2000) + "..." : err);
}

ProcessCluster::ProcessCluster(ProcessClusterOptions options) : options_(std::move(options)) {
  // A command that exits without reading its stdin must not kill the test with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  bin_dir_ = options_.bin_dir.empty() ? DefaultBinDir() : options_.bin_dir;
}

ProcessCluster::~ProcessCluster() {
  std::vector<Daemon*> all = {&namenode_};
  for (auto& d : datanodes_) all.push_back(&d);
  for (Daemon* d : all) {
    if (d->pid > 0) ::kill(d->pid, SIGTERM);
  }
  const int64_t deadline = MonoMillis() + options_.stop_grace_ms;
  for (Daemon* d : all) {
    if (d->pid <= 0) continue;
    int wstatus = 0;
    if (!WaitExit(d->pid, std::max<int64_t>(0, deadline - MonoMillis()), &wstatus)) {
      KillAndReap(d->pid);
    }
    d->pid = -1;
  }
  if (!root_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
}

Status ProcessCluster::Start(int num_datanodes) {
  if (!root_.empty()) return absl::FailedPreconditionError("already started");
  for (const char* b : {"cairn-namenode", "cairn-datanode", "cairn"}) {
    const std::string path = absl::StrCat(bin_dir_, "/", b);
    if (access(path.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " is not executable (build it, or set CAIRN_BIN_DIR): ", std::strerror(errno)));
    }
  }
  const char* tmp = getenv("TMPDIR");
  std::string tmpl = absl::StrCat(tmp && *tmp ? tmp : "/tmp", "/cairn_pc_XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  }
  root_ = tmpl;

  namenode_.name = "namenode";
  namenode_.binary = bin_dir_ + "/cairn-namenode";
  namenode_.dir = root_ + "/namenode";
  namenode_.info_file = root_ + "/namenode.info";
  namenode_.log = root_ + "/namenode.log";
  RETURN_IF_ERROR(StartDaemon(&namenode_, 0));
  for (int i = 0; i < num_datanodes; ++i) RETURN_IF_ERROR(StartDataNode(i));
  RETURN_IF_ERROR(WaitForLiveDataNodes(num_datanodes, options_.start_timeout_ms));
  return WaitForNameNodeWritable(options_.start_timeout_ms);
}

std::string ProcessCluster::namenode_address() const {
  return absl::StrCat("127.0.0.1:", namenode_.port);
}

std::string ProcessCluster::datanode_address(int i) const {
  return absl::StrCat("127.0.0.1:", datanodes_.at(i).port);
}

ProcessCluster::Daemon ProcessCluster::NewDataNode(int i) const {
  Daemon d;
  d.name = absl::StrCat("datanode-", i);
  d.binary = bin_dir_ + "/cairn-datanode";
  d.dir = absl::StrCat(root_, "/", d.name);
  d.info_file = absl::StrCat(root_, "/", d.name, ".info");
  d.log = absl::StrCat(root_, "/", d.name, ".log");
  return d;
}

std::vector<std::string> ProcessCluster::DaemonArgs(const Daemon& d, int port) const {
  std::vector<std::string> args = {d.binary};
  if (&d == &namenode_) {
    args.insert(args.end(), {"--dir", d.dir, "--port", std::to_string(port), "--info-file",
                             d.info_file});
    args.insert(args.end(), options_.namenode_flags.begin(), options_.namenode_flags.end());
  } else {
    args.insert(args.end(), {"--volume", d.dir, "--namenode", namenode_address(), "--port",
                             std::to_string(port), "--info-file", d.info_file,
                             "--heartbeat-interval-ms",
                             std::to_string(options_.heartbeat_interval_ms)});
    args.insert(args.end(), options_.datanode_flags.begin(), options_.datanode_flags.end());
  }
  return args;
}

Status ProcessCluster::StartDaemon(Daemon* d, int port) {
  if (d->pid > 0) return absl::FailedPreconditionError(absl::StrCat(d->name, " is running"));
  ::unlink(d->info_file.c_str());
  SpawnSpec spec;
  spec.argv = DaemonArgs(*d, port);
  spec.log = d->log;
  {
    std::ofstream log(d->log, std::ios::app);
    log << "==== process_cluster: start #" << ++d->starts << ": " << absl::StrJoin(spec.argv, " ")
        << "\n";
  }
  ASSIGN_OR_RETURN(d->pid, Spawn(spec));

  const int64_t deadline = MonoMillis() + options_.start_timeout_ms;
  int64_t backoff_ms = 2;
  while (true) {
    int wstatus = 0;
    if (waitpid(d->pid, &wstatus, WNOHANG) == d->pid) {
      d->pid = -1;
      return absl::InternalError(absl::StrCat(d->name, " exited during start-up (",
                                              DescribeWaitStatus(wstatus), "); log:\n",
                                              Tail(d->log, 3000)));
    }
    auto info = ReadInfoFile(d->info_file);
    if (info.ok() && info->count("port") && info->count("pid")) {
      int info_port = 0, info_pid = 0;
      if (!absl::SimpleAtoi((*info)["port"], &info_port) || info_port <= 0 ||
          !absl::SimpleAtoi((*info)["pid"], &info_pid) || info_pid != d->pid) {
        Status s = absl::InternalError(absl::StrCat(d->info_file, ": unexpected contents (port ",
                                                    (*info)["port"], ", pid ", (*info)["pid"],
                                                    ", child pid ", d->pid, ")"));
        KillAndReap(d->pid);
        d->pid = -1;
        return s;
      }
      d->port = info_port;
      return absl::OkStatus();
    }
    if (MonoMillis() >= deadline) {
      KillAndReap(d->pid);
      d->pid = -1;
      return absl::DeadlineExceededError(absl::StrCat(d->name, " wrote no ", d->info_file,
                                                      " within ", options_.start_timeout_ms,
                                                      " ms; log:\n", Tail(d->log, 3000)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));  // poll interval
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 20);
  }
}

Status ProcessCluster::StopDaemon(Daemon* d, int signal) {
  if (!Running(d)) return absl::FailedPreconditionError(absl::StrCat(d->name, " is not running"));
  if (::kill(d->pid, signal) != 0) {
    return absl::InternalError(absl::StrCat("kill ", d->pid, ": ", std::strerror(errno)));
  }
  int wstatus = 0;
  if (!WaitExit(d->pid, options_.stop_grace_ms, &wstatus)) {
    KillAndReap(d->pid);
    d->pid = -1;
    return absl::DeadlineExceededError(absl::StrCat(d->name, " did not exit within ",
                                                    options_.stop_grace_ms, " ms of signal ",
                                                    signal, "; killed with SIGKILL"));
  }
  d->pid = -1;
  return absl::OkStatus();
}

bool ProcessCluster::Running(Daemon* d) {
  if (d->pid <= 0) return false;
  int wstatus = 0;
  if (waitpid(d->pid, &wstatus, WNOHANG) == d->pid) {
    d->pid = -1;
    return false;
  }
  return true;
}

Status ProcessCluster::KillNameNode(int signal) { return StopDaemon(&namenode_, signal); }

Status ProcessCluster::RestartNameNode() {
  if (root_.empty()) return absl::FailedPreconditionError("not started");
  return StartDaemon(&namenode_, namenode_.port);
}

Status ProcessCluster::KillDataNode(int i, int signal) {
  if (i < 0 || i >= num_datanodes()) return absl::OutOfRangeError(absl::StrCat("datanode ", i));
  return StopDaemon(&datanodes_[i], signal);
}

Status ProcessCluster::StartDataNode(int i) {
  if (root_.empty()) return absl::FailedPreconditionError("not started");
  if (i < 0 || i > num_datanodes()) return absl::OutOfRangeError(absl::StrCat("datanode ", i));
  if (i == num_datanodes()) datanodes_.push_back(NewDataNode(i));
  Daemon& d = datanodes_[i];
  return StartDaemon(&d, d.port);
}

bool ProcessCluster::NameNodeRunning() { return Running(&namenode_); }

bool ProcessCluster::DataNodeRunning(int i) { return Running(&datanodes_.at(i)); }

StatusOr<std::unique_ptr<client::FileSystem>> ProcessCluster::NewClient(
    std::function<void(client::ClientOptions*)> tweak) const {
  client::ClientOptions o;
  o.namenode = namenode_address();
  o.rpc_timeout_ms = 10000;
  if (tweak) tweak(&o);
  return client::FileSystem::Connect(o);
}

Status ProcessCluster::PollNameNode(int64_t timeout_ms, const std::string& what,
                                    const std::function<Status(client::FileSystem*)>& probe) {
  const int64_t deadline = MonoMillis() + timeout_ms;
  std::unique_ptr<client::FileSystem> fs;
  Status last = absl::UnknownError("not polled");
  int64_t backoff_ms = 5;
  while (true) {
    if (!fs) {
      auto c = NewClient([&](client::ClientOptions* o) {
        o->rpc_timeout_ms = std::clamp<int64_t>(deadline - MonoMillis(), 1, 2000);
      });
      if (c.ok()) {
        fs = std::move(*c);
      } else {
        last = c.status();
      }
    }
    if (fs) {
      last = probe(fs.get());
      if (last.ok()) return absl::OkStatus();
    }
    if (MonoMillis() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("waiting for ", what, "; last: ", last.ToString()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));  // poll interval
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 50);
  }
}

Status ProcessCluster::WaitForLiveDataNodes(int n, int64_t timeout_ms) {
  return PollNameNode(timeout_ms, absl::StrCat(n, " live DataNodes"),
                      [n](client::FileSystem* fs) -> Status {
                        auto st = fs->GetFsStats();
                        if (!st.ok()) return st.status();
                        if (static_cast<int>(st->live_datanodes) == n) return absl::OkStatus();
                        return absl::FailedPreconditionError(absl::StrCat(
                            st->live_datanodes, " live, ", st->dead_datanodes, " dead"));
                      });
}

Status ProcessCluster::WaitForNameNodeWritable(int64_t timeout_ms) {
  // A mutation that changes nothing; refused (UNAVAILABLE) while in safemode.
  return PollNameNode(timeout_ms, "the NameNode to become writable",
                      [](client::FileSystem* fs) { return fs->SetTimes("/", std::nullopt, std::nullopt); });
}

CliResult ProcessCluster::RunCli(const std::vector<std::string>& args,
                                 const CliOptions& options) const {
  CliResult r;
  SpawnSpec spec;
  spec.argv = {cli_binary()};
  if (options.pass_namenode) spec.argv.insert(spec.argv.end(), {"--namenode", namenode_address()});
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  if (!options.env.empty()) spec.env = EnvWith(options.env);
  for (const auto& [k, v] : options.env) r.command += absl::StrCat(k, "=", Quote(v), " ");
  r.command += "cairn";
  for (size_t i = 1; i < spec.argv.size(); ++i) absl::StrAppend(&r.command, " ", Quote(spec.argv[i]));

  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    r.err = absl::StrCat("process_cluster: pipe2: ", std::strerror(errno));
    return r;
  }
  spec.stdin_fd = in[0];
  spec.stdout_fd = out[1];
  spec.stderr_fd = err[1];
  const int64_t start = MonoMillis();
  auto pid = Spawn(spec);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (!pid.ok()) {
    for (int fd : {in[1], out[0], err[0]}) ::close(fd);
    r.err = absl::StrCat("process_cluster: ", pid.status().ToString());
    return r;
  }

  int stdin_fd = in[1];
  size_t stdin_done = 0;
  if (options.stdin_data.empty()) {
    ::close(stdin_fd);
    stdin_fd = -1;
  } else {
    fcntl(stdin_fd, F_SETFL, fcntl(stdin_fd, F_GETFL) | O_NONBLOCK);
  }
  int out_fd = out[0], err_fd = err[0];
  const int64_t deadline = start + options.timeout_ms;
  int64_t hard_deadline = -1;  // after the kill: give up reading at this time
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    const int64_t now = MonoMillis();
    if (!r.timed_out && now >= deadline) {
      r.timed_out = true;
      ::kill(*pid, SIGKILL);
      hard_deadline = now + 5000;
    }
    if (hard_deadline >= 0 && now >= hard_deadline) break;  // a grandchild holds the pipes
    pollfd fds[3];
    int n = 0;
    if (stdin_fd >= 0) fds[n++] = {stdin_fd, POLLOUT, 0};
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    const int64_t wait_ms = (r.timed_out ? hard_deadline : deadline) - now;
    if (poll(fds, n, static_cast<int>(std::clamp<int64_t>(wait_ms, 1, 1000))) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == stdin_fd) {
        ssize_t w = ::write(stdin_fd, options.stdin_data.data() + stdin_done,
                            options.stdin_data.size() - stdin_done);
        if (w > 0) stdin_done += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
            stdin_done == options.stdin_data.size()) {
          ::close(stdin_fd);  // EOF for the command (or it stopped reading: EPIPE)
          stdin_fd = -1;
        }
        continue;
      }
      ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        ::close(fds[i].fd);
        (fds[i].fd == out_fd ? out_fd : err_fd) = -1;
        continue;
      }
      (fds[i].fd == out_fd ? r.out : r.err).append(buf, static_cast<size_t>(got));
    }
  }
  for (int fd : {stdin_fd, out_fd, err_fd}) {
    if (fd >= 0) ::close(fd);
  }
  int wstatus = 0;
  if (!WaitExit(*pid, r.timed_out ? 5000 : std::max<int64_t>(deadline - MonoMillis(), 5000),
                &wstatus)) {
    r.timed_out = true;
    wstatus = KillAndReap(*pid);
  }
  r.elapsed_ms = MonoMillis() - start;
  if (WIFEXITED(wstatus)) r.exit_code = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) r.term_signal = WTERMSIG(wstatus);
  return r;
}

std::string ProcessCluster::LogTails(size_t max_bytes) const {
  std::string s;
  auto add = [&](const Daemon& d) {
    if (d.log.empty()) return;
    absl::StrAppend(&s, "---- ", d.name, " (", d.log, "), last ", max_bytes, " bytes ----\n",
                    Tail(d.log, max_bytes), "\n");
  };
  add(namenode_);
  for (const auto& d : datanodes_) add(d);
  return s;
}

}  // namespace cairn::testing
