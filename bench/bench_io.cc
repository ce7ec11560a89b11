// cairn-bench io: TestDFSIO-like write/read throughput.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/bench.h"
#include "common/clock.h"

namespace cairn::bench {
namespace {

std::string Pattern(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(&s[i], &x, 8);
  }
  return s;
}

}  // namespace

int RunIo(const IoOptions& o) {
  if (!o.write && !o.read) {
    std::fprintf(stderr, "cairn-bench io: give --write and/or --read\n");
    return 2;
  }
  if (o.files < 1 || o.threads < 1 || o.size == 0) {
    std::fprintf(stderr, "cairn-bench io: --files, --threads and --size must be positive\n");
    return 2;
  }
  client::AckMode ack = o.ack == "async"       ? client::AckMode::kAsync
                        : o.ack == "semi-sync" ? client::AckMode::kSemiSync
                                               : client::AckMode::kSync;
  if (o.ack != "sync" && o.ack != "async" && o.ack != "semi-sync") {
    std::fprintf(stderr, "cairn-bench io: --ack must be sync, semi-sync or async\n");
    return 2;
  }
  client::ClientOptions co;
  co.namenode = o.namenode;
  co.local_reads = o.local_reads;
  auto fs = client::FileSystem::Connect(co);
  if (!fs.ok()) {
    std::fprintf(stderr, "cairn-bench: %s\n", std::string(fs.status().message()).c_str());
    return 1;
  }
  if (Status s = (*fs)->Mkdir(o.base_dir, true); !s.ok()) {
    std::fprintf(stderr, "cairn-bench: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const std::string buffer = Pattern(o.buffer, 42);
  auto file = [&](int i) { return absl::StrCat(o.base_dir, "/file-", i); };
  auto run = [&](bool write) -> int {
    std::atomic<int> next{0};
    std::atomic<uint64_t> bytes{0};
    std::atomic<int> errors{0};
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < o.threads; ++t) {
      threads.emplace_back([&] {
        std::string rbuf(o.buffer, '\0');
        for (int i = next++; i < o.files; i = next++) {
          Status s;
          if (write) {
            client::CreateOptions cr;
            cr.replication = o.replication;
            cr.ack = ack;
            cr.overwrite = true;
            cr.block_size = o.block_size;
            auto out = (*fs)->Create(file(i), cr);
            if (!out.ok()) {
              s = out.status();
            } else {
              for (uint64_t done = 0; done < o.size && s.ok();) {
                const size_t n = std::min<uint64_t>(buffer.size(), o.size - done);
                s = (*out)->Write(buffer.data(), n);
                done += n;
                bytes += n;
              }
              Status c = (*out)->Close();
              if (s.ok()) s = c;
            }
          } else {
            auto in = (*fs)->Open(file(i));
            if (!in.ok()) {
              s = in.status();
            } else {
              while (true) {
                auto n = (*in)->Read(rbuf.data(), rbuf.size());
                if (!n.ok()) {
                  s = n.status();
                  break;
                }
                if (*n == 0) break;
                bytes += *n;
              }
            }
          }
          if (!s.ok()) {
            if (errors++ == 0) {
              std::fprintf(stderr, "cairn-bench: %s: %s\n", file(i).c_str(),
                           std::string(s.message()).c_str());
            }
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double mib = static_cast<double>(bytes.load()) / (1 << 20);
    std::printf("op=%s files=%d size=%llu threads=%d replication=%u ack=%s bytes=%llu secs=%.2f "
                "MiB_per_sec=%.1f errors=%d\n",
                write ? "write" : "read", o.files, static_cast<unsigned long long>(o.size), o.threads,
                o.replication, o.ack.c_str(), static_cast<unsigned long long>(bytes.load()), secs,
                mib / secs, errors.load());
    std::fflush(stdout);
    return errors.load() == 0 ? 0 : 1;
  };
  int rc = 0;
  if (o.write) rc |= run(true);
  if (o.read) rc |= run(false);
  return rc;
}

}  // namespace cairn::bench
