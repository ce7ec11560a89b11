// cairn-bench meta: NameNode metadata throughput in the spirit of HDFS's NNThroughputBenchmark.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "bench/bench.h"
#include "namenode/namespace_ops.h"
#include "namenode/namespace_store.h"
#include <future>
#include "common/clock.h"

namespace cairn::bench {
namespace {

using client::FileSystem;

// What the benchmark drives (thread-safe): the NameNode over gRPC through a client, or, with
// --in-process, the NameNode's namespace core directly (no RPC), like NNThroughputBenchmark.
class Target {
 public:
  virtual ~Target() = default;
  virtual Status Mkdir(const std::string& path, bool parents) = 0;
  virtual Status Create(const std::string& path) = 0;
  virtual Status Stat(const std::string& path) = 0;
  virtual Status List(const std::string& path) = 0;
  virtual Status Rename(const std::string& src, const std::string& dst) = 0;
  virtual Status Delete(const std::string& path, bool recursive) = 0;
};

class ClientTarget final : public Target {
 public:
  explicit ClientTarget(std::unique_ptr<FileSystem> fs) : fs_(std::move(fs)) {}
  Status Mkdir(const std::string& p, bool parents) override { return fs_->Mkdir(p, parents); }
  Status Create(const std::string& p) override { return fs_->Touch(p); }
  Status Stat(const std::string& p) override { return fs_->Stat(p).status(); }
  Status List(const std::string& p) override {
    std::vector<client::FileStatus> entries;
    bool more = false;
    return fs_->ListPage(p, "", 1000, &entries, &more);
  }
  Status Rename(const std::string& s, const std::string& d) override { return fs_->Rename(s, d); }
  Status Delete(const std::string& p, bool r) override { return fs_->Delete(p, r); }

 private:
  std::unique_ptr<FileSystem> fs_;
};

class InProcessTarget final : public Target {
 public:
  explicit InProcessTarget(namenode::NamespaceOps* ops) : ops_(ops) {}
  Status Mkdir(const std::string& p, bool parents) override {
    cairn::v1::MkdirRequest req;
    req.set_path(p);
    req.set_parents(parents);
    cairn::v1::MkdirResponse resp;
    return Call(&namenode::NamespaceOps::Mkdir, req, &resp);
  }
  Status Create(const std::string& p) override {
    cairn::v1::CreateFileRequest req;
    req.set_path(p);
    cairn::v1::CreateFileResponse resp;
    return Call(&namenode::NamespaceOps::CreateFile, req, &resp);
  }
  Status Stat(const std::string& p) override {
    cairn::v1::GetFileInfoRequest req;
    req.set_path(p);
    cairn::v1::GetFileInfoResponse resp;
    return Call(&namenode::NamespaceOps::GetFileInfo, req, &resp);
  }
  Status List(const std::string& p) override {
    cairn::v1::ListDirectoryRequest req;
    req.set_path(p);
    cairn::v1::ListDirectoryResponse resp;
    return Call(&namenode::NamespaceOps::ListDirectory, req, &resp);
  }
  Status Rename(const std::string& s, const std::string& d) override {
    cairn::v1::RenameRequest req;
    req.set_src(s);
    req.set_dst(d);
    cairn::v1::RenameResponse resp;
    return Call(&namenode::NamespaceOps::Rename, req, &resp);
  }
  Status Delete(const std::string& p, bool r) override {
    cairn::v1::DeleteRequest req;
    req.set_path(p);
    req.set_recursive(r);
    cairn::v1::DeleteResponse resp;
    return Call(&namenode::NamespaceOps::Delete, req, &resp);
  }

 private:
  template <typename Req, typename Resp>
  Status Call(void (namenode::NamespaceOps::*m)(const Req&, Resp*, std::function<void(Status)>),
              const Req& req, Resp* resp) {
    std::promise<Status> p;
    auto f = p.get_future();
    (ops_->*m)(req, resp, [&p](Status s) { p.set_value(std::move(s)); });
    return f.get();
  }
  namenode::NamespaceOps* ops_;
};

struct Latencies {
  std::vector<int64_t> us;
};

// CPU seconds (user + system) used so far by this process.
double SelfCpuSeconds() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// CPU seconds used so far by process `pid` (0 or unreadable: -1).
double ProcessCpuSeconds(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int64_t Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

}  // namespace

int RunMeta(const MetaOptions& o) {
  const std::vector<std::string> kOps = {"create", "mkdir", "stat", "list", "rename", "delete"};
  if (std::find(kOps.begin(), kOps.end(), o.op) == kOps.end()) {
    std::fprintf(stderr, "cairn-bench: unknown --op '%s'\n", o.op.c_str());
    return 2;
  }
  if (o.threads < 1 || o.ops < 1) {
    std::fprintf(stderr, "cairn-bench: --threads and --ops must be positive\n");
    return 2;
  }
  std::unique_ptr<namenode::NamespaceStore> store;
  std::unique_ptr<namenode::NamespaceOps> ops;
  if (!o.in_process_dir.empty()) {
    namenode::NamespaceStoreOptions so;
    so.dir = o.in_process_dir;
    auto st = namenode::NamespaceStore::Open(so);
    if (!st.ok()) {
      std::fprintf(stderr, "cairn-bench: %s\n", std::string(st.status().message()).c_str());
      return 1;
    }
    store = std::move(*st);
    ops = std::make_unique<namenode::NamespaceOps>(store.get(), namenode::NamespaceOpsOptions{});
  }
  // Thread t drives clients[t % clients.size()].
  std::vector<std::unique_ptr<Target>> clients;
  const int num_clients = ops ? 1 : std::clamp(o.clients, 1, o.threads);
  for (int c = 0; c < num_clients; ++c) {
    if (ops) {
      clients.push_back(std::make_unique<InProcessTarget>(ops.get()));
      continue;
    }
    client::ClientOptions co;
    co.namenode = o.namenode;
    if (o.rpcs_in_flight >= 0) co.metadata_rpcs_in_flight = o.rpcs_in_flight;
    auto fs = FileSystem::Connect(co);
    if (!fs.ok()) {
      std::fprintf(stderr, "cairn-bench: %s\n", std::string(fs.status().message()).c_str());
      return 1;
    }
    clients.push_back(std::make_unique<ClientTarget>(std::move(*fs)));
  }
  auto client_of = [&](int t) { return clients[t % clients.size()].get(); };
  const std::string base = absl::StrCat(o.base_dir, "/", o.op, "-", getpid(), "-", MonoMillis());
  auto thread_dir = [&](int t) { return absl::StrCat(base, "/t", t); };
  auto item = [&](int t, int64_t i) { return absl::StrCat(thread_dir(t), "/f", i); };
  const int64_t per_thread = (o.ops + o.threads - 1) / o.threads;

  // Untimed preparation.
  auto run_threads = [&](auto&& body) {
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < o.threads; ++t) {
      threads.emplace_back([&, t] {
        if (!body(t)) failures++;
      });
    }
    for (auto& th : threads) th.join();
    return failures.load() == 0;
  };
  bool prep_ok = run_threads([&](int t) {
    if (!client_of(t)->Mkdir(thread_dir(t), true).ok()) return false;
    if (o.op == "create" || o.op == "mkdir") return true;
    for (int64_t i = 0; i < per_thread; ++i) {
      Status s = o.op == "list" ? client_of(t)->Mkdir(item(t, i), false) : client_of(t)->Create(item(t, i));
      if (!s.ok()) {
        std::fprintf(stderr, "cairn-bench: prepare: %s\n", std::string(s.message()).c_str());
        return false;
      }
      if (o.op == "list") {
        for (int k = 0; k < 8; ++k) {
          if (!client_of(t)->Create(absl::StrCat(item(t, i), "/e", k)).ok()) return false;
        }
      }
    }
    return true;
  });
  if (!prep_ok) return 1;

  std::vector<Latencies> lat(o.threads);
  std::atomic<int64_t> errors{0};
  const double cpu0 = SelfCpuSeconds();
  const double server_cpu0 = ProcessCpuSeconds(o.namenode_pid);
  const auto start = std::chrono::steady_clock::now();
  run_threads([&](int t) {
    Target* fs = client_of(t);
    lat[t].us.reserve(per_thread);
    for (int64_t i = 0; i < per_thread; ++i) {
      const std::string path = item(t, i);
      const auto t0 = std::chrono::steady_clock::now();
      Status s;
      if (o.op == "create") {
        s = fs->Create(path);
      } else if (o.op == "mkdir") {
        s = fs->Mkdir(path, false);
      } else if (o.op == "stat") {
        s = fs->Stat(path);
      } else if (o.op == "list") {
        s = fs->List(path);
      } else if (o.op == "rename") {
        s = fs->Rename(path, path + ".r");
      } else {
        s = fs->Delete(path, false);
      }
      const auto t1 = std::chrono::steady_clock::now();
      if (!s.ok()) {
        if (errors++ == 0) {
          std::fprintf(stderr, "cairn-bench: %s: %s\n", path.c_str(), std::string(s.message()).c_str());
        }
        continue;
      }
      lat[t].us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count());
    }
    return true;
  });
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double client_cpu = SelfCpuSeconds() - cpu0;
  const double server_cpu = o.namenode_pid > 0 ? ProcessCpuSeconds(o.namenode_pid) - server_cpu0 : -1;
  std::vector<int64_t> all;
  for (auto& l : lat) all.insert(all.end(), l.us.begin(), l.us.end());
  std::sort(all.begin(), all.end());
  std::printf(
      "%sop=%s threads=%d clients=%d ops=%zu errors=%lld secs=%.2f ops_per_sec=%.0f p50_us=%lld p90_us=%lld "
      "p99_us=%lld max_us=%lld client_cpu_us_per_op=%.1f server_cpu_us_per_op=%.1f\n",
      ops ? "mode=in-process " : "mode=grpc ", o.op.c_str(), o.threads, num_clients, all.size(), static_cast<long long>(errors.load()), secs,
      static_cast<double>(all.size()) / secs, static_cast<long long>(Percentile(all, 0.5)),
      static_cast<long long>(Percentile(all, 0.9)), static_cast<long long>(Percentile(all, 0.99)),
      static_cast<long long>(all.empty() ? 0 : all.back()),
      all.empty() ? 0.0 : client_cpu * 1e6 / all.size(),
      all.empty() || server_cpu < 0 ? -1.0 : server_cpu * 1e6 / all.size());
  if (o.cleanup) clients[0]->Delete(base, true).IgnoreError();
  return errors.load() == 0 ? 0 : 1;
}

}  // namespace cairn::bench
