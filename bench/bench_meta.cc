// cairn-bench meta: NameNode metadata throughput in the spirit of HDFS's NNThroughputBenchmark.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/bench.h"
#include "common/clock.h"

namespace cairn::bench {
namespace {

using client::FileSystem;

struct Latencies {
  std::vector<int64_t> us;
};

int64_t Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

}  // namespace

int RunMeta(const MetaOptions& o) {
  const std::vector<std::string> ops = {"create", "mkdir", "stat", "list", "rename", "delete"};
  if (std::find(ops.begin(), ops.end(), o.op) == ops.end()) {
    std::fprintf(stderr, "cairn-bench: unknown --op '%s'\n", o.op.c_str());
    return 2;
  }
  if (o.threads < 1 || o.ops < 1) {
    std::fprintf(stderr, "cairn-bench: --threads and --ops must be positive\n");
    return 2;
  }
  // One connection per thread, as independent clients would have.
  std::vector<std::unique_ptr<FileSystem>> clients;
  for (int t = 0; t < o.threads; ++t) {
    client::ClientOptions co;
    co.namenode = o.namenode;
    auto fs = FileSystem::Connect(co);
    if (!fs.ok()) {
      std::fprintf(stderr, "cairn-bench: %s\n", std::string(fs.status().message()).c_str());
      return 1;
    }
    clients.push_back(std::move(*fs));
  }
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
    if (!clients[t]->Mkdir(thread_dir(t), true).ok()) return false;
    if (o.op == "create" || o.op == "mkdir") return true;
    for (int64_t i = 0; i < per_thread; ++i) {
      Status s = o.op == "list" ? clients[t]->Mkdir(item(t, i), false) : clients[t]->Touch(item(t, i));
      if (!s.ok()) {
        std::fprintf(stderr, "cairn-bench: prepare: %s\n", std::string(s.message()).c_str());
        return false;
      }
      if (o.op == "list") {
        for (int k = 0; k < 8; ++k) {
          if (!clients[t]->Touch(absl::StrCat(item(t, i), "/e", k)).ok()) return false;
        }
      }
    }
    return true;
  });
  if (!prep_ok) return 1;

  std::vector<Latencies> lat(o.threads);
  std::atomic<int64_t> errors{0};
  const auto start = std::chrono::steady_clock::now();
  run_threads([&](int t) {
    FileSystem* fs = clients[t].get();
    lat[t].us.reserve(per_thread);
    for (int64_t i = 0; i < per_thread; ++i) {
      const std::string path = item(t, i);
      const auto t0 = std::chrono::steady_clock::now();
      Status s;
      if (o.op == "create") {
        s = fs->Touch(path);
      } else if (o.op == "mkdir") {
        s = fs->Mkdir(path, false);
      } else if (o.op == "stat") {
        s = fs->Stat(path).status();
      } else if (o.op == "list") {
        std::vector<client::FileStatus> entries;
        bool more = false;
        s = fs->ListPage(path, "", 1000, &entries, &more);
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
  std::vector<int64_t> all;
  for (auto& l : lat) all.insert(all.end(), l.us.begin(), l.us.end());
  std::sort(all.begin(), all.end());
  std::printf(
      "op=%s threads=%d ops=%zu errors=%lld secs=%.2f ops_per_sec=%.0f p50_us=%lld p90_us=%lld "
      "p99_us=%lld max_us=%lld\n",
      o.op.c_str(), o.threads, all.size(), static_cast<long long>(errors.load()), secs,
      static_cast<double>(all.size()) / secs, static_cast<long long>(Percentile(all, 0.5)),
      static_cast<long long>(Percentile(all, 0.9)), static_cast<long long>(Percentile(all, 0.99)),
      static_cast<long long>(all.empty() ? 0 : all.back()));
  if (o.cleanup) clients[0]->Delete(base, true).IgnoreError();
  return errors.load() == 0 ? 0 : 1;
}

}  // namespace cairn::bench
