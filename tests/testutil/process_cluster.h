// ProcessCluster: the real cairn-namenode and cairn-datanode binaries as child processes of the
// test, on 127.0.0.1 with ports chosen by the kernel (--port 0, learned from --info-file), data
// and logs in a temporary directory (removed by the destructor). For black-box tests: the
// `cairn` CLI, kill -9 of a daemon, restarts on the same directories.
//
// Every process is tracked by PID: the destructor sends SIGTERM, then SIGKILL after a grace
// period, and reaps each one; children also get PR_SET_PDEATHSIG(SIGKILL), so a crashed test
// binary leaves nothing behind.
//
// Binaries: $CAIRN_BIN_DIR (ctest sets it), else the directory of the test binary (build/bin).
//
// Not thread-safe, except RunCli() and NewClient(), which may be called from several threads
// while no other method runs.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "client/cairn/client.h"
#include "common/status.h"

namespace cairn::testing {

struct ProcessClusterOptions {
  std::string bin_dir;  // "" = $CAIRN_BIN_DIR, else the test binary's directory
  // Extra flags of every NameNode start (after --dir, --port, --info-file). The defaults make
  // liveness fast (a killed DataNode is dead after 3 s) and leave safemode without delay.
  std::vector<std::string> namenode_flags = {
      "--heartbeat-interval-ms", "100", "--stale-after-ms", "1000", "--dead-after-ms", "3000",
      "--safemode-extension-ms", "0", "--replication-check-interval-ms", "200"};
  // Extra flags of every DataNode start (after --volume, --namenode, --port, --info-file,
  // --heartbeat-interval-ms).
  std::vector<std::string> datanode_flags;
  int64_t heartbeat_interval_ms = 100;
  int64_t start_timeout_ms = 30000;  // for a daemon to write its info file
  int64_t stop_grace_ms = 5000;      // SIGTERM -> SIGKILL
};

// How to run one `cairn` command.
struct CliOptions {
  std::string stdin_data;         // written to the command's stdin (then closed)
  int64_t timeout_ms = 60000;     // the command is killed (SIGKILL) after this
  bool pass_namenode = true;      // prepend "--namenode ADDR"
  // Extra environment variables (NAME, VALUE) on top of the test's environment.
  std::vector<std::pair<std::string, std::string>> env;
};

struct CliResult {
  std::string command;     // the command line, for messages
  int exit_code = -1;      // -1 when killed by a signal
  int term_signal = 0;     // the signal that ended it, if any
  bool timed_out = false;  // killed by RunCli because of CliOptions::timeout_ms
  std::string out;         // everything it wrote to stdout
  std::string err;         // everything it wrote to stderr
  int64_t elapsed_ms = 0;
  // "COMMAND -> exit 1 (12 ms)\nstdout: ...\nstderr: ..." for failure messages.
  std::string Describe() const;
};

class ProcessCluster {
 public:
  explicit ProcessCluster(ProcessClusterOptions options = {});
  // Kills every child process by PID (SIGTERM, SIGKILL after the grace period) and removes
  // the temporary directory.
  ~ProcessCluster();
  ProcessCluster(const ProcessCluster&) = delete;
  ProcessCluster& operator=(const ProcessCluster&) = delete;

  // Starts the NameNode and `num_datanodes` DataNodes and waits until all are live.
  Status Start(int num_datanodes);

  // "127.0.0.1:PORT". REQUIRES: Start() succeeded.
  std::string namenode_address() const;
  int namenode_port() const { return namenode_.port; }
  pid_t namenode_pid() const { return namenode_.pid; }
  int num_datanodes() const { return static_cast<int>(datanodes_.size()); }
  std::string datanode_address(int i) const;
  pid_t datanode_pid(int i) const { return datanodes_[static_cast<size_t>(i)].pid; }
  const std::string& root_dir() const { return root_; }
  const std::string& bin_dir() const { return bin_dir_; }
  std::string cli_binary() const { return bin_dir_ + "/cairn"; }

  // Sends `signal` to the NameNode and waits until it has exited (SIGKILL after the grace
  // period if it does not). FAILED_PRECONDITION if it is not running.
  Status KillNameNode(int signal = SIGKILL);
  // Starts the NameNode again on the same directory and port (DataNodes know that address).
  Status RestartNameNode();
  // As KillNameNode, for DataNode `i`.
  Status KillDataNode(int i, int signal = SIGKILL);
  // Starts DataNode `i` again on its volume and port; `i == num_datanodes()` adds a new one.
  Status StartDataNode(int i);
  bool NameNodeRunning();
  bool DataNodeRunning(int i);

  // Polls GetFsStats until the NameNode counts exactly `n` live DataNodes (DEADLINE_EXCEEDED
  // with the last count otherwise).
  Status WaitForLiveDataNodes(int n, int64_t timeout_ms = 30000);
  // Polls until the NameNode accepts a mutation (it is out of safemode).
  Status WaitForNameNodeWritable(int64_t timeout_ms = 30000);

 private:
  // Polls `probe` with a fresh client until it returns OK or `timeout_ms` passes
  // (DEADLINE_EXCEEDED naming `what` and the last failure).
  Status PollNameNode(int64_t timeout_ms, const std::string& what,
                      const std::function<Status(client::FileSystem*)>& probe);

 public:

  // A client of this cluster (rpc timeout 10 s unless `tweak` changes it).
  StatusOr<std::unique_ptr<client::FileSystem>> NewClient(
      std::function<void(client::ClientOptions*)> tweak = nullptr) const;

  // Runs `cairn [--namenode ADDR] args...`, capturing stdout and stderr. Thread-safe.
  CliResult RunCli(const std::vector<std::string>& args, const CliOptions& options = {}) const;

  // The last `max_bytes` of each daemon's log, with headers; for failure messages.
  std::string LogTails(size_t max_bytes = 3000) const;

 private:
  struct Daemon {
    std::string name;       // "namenode", "datanode-0", ...
    std::string binary;
    std::string dir;        // --dir or --volume
    std::string info_file;
    std::string log;        // stdout and stderr, appended across restarts
    pid_t pid = -1;
    int port = 0;           // last bound port (reused on restart)
    int starts = 0;
  };

  std::vector<std::string> DaemonArgs(const Daemon& d, int port) const;
  Status StartDaemon(Daemon* d, int port);
  Status StopDaemon(Daemon* d, int signal);
  bool Running(Daemon* d);
  Daemon NewDataNode(int i) const;

  ProcessClusterOptions options_;
  std::string bin_dir_;
  std::string root_;
  Daemon namenode_;
  std::vector<Daemon> datanodes_;
};

// The directory of the binaries: $CAIRN_BIN_DIR, else the running binary's directory.
std::string DefaultBinDir();

}  // namespace cairn::testing
