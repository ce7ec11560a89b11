// A 2 GiB file written through the mount and read back after the page cache was dropped,
// with matching CRC32C checksums. Replication 1 and 64 MiB blocks keep it fast.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/clock.h"
#include "common/crc32c.h"
#include "tests/fuse/fuse_test_util.h"

namespace cairn::testing {
namespace {

constexpr uint64_t kFileBytes = 2ull << 30;
constexpr size_t kChunk = 1 << 20;

// Fills `buf` with the bytes of the file at offset `off` (xorshift, fast and reproducible).
void Generate(uint64_t off, char* buf, size_t n) {
  uint64_t x = off * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(buf + i, &x, 8);
  }
}

class FuseLargeTest : public FuseTest {};

TEST_F(FuseLargeTest, TwoGibFileRoundTrip) {
  MiniClusterOptions o = SmallCluster();
  o.block_size = 64 << 20;
  ASSERT_NO_FATAL_FAILURE(StartMount(o));
  std::string buf(kChunk, '\0');
  uint32_t crc_written = 0;
  int64_t start = MonoMillis();
  {
    int fd = open(M("big").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    for (uint64_t off = 0; off < kFileBytes; off += kChunk) {
      Generate(off, buf.data(), kChunk);
      crc_written = Crc32cExtend(crc_written, buf.data(), kChunk);
      ASSERT_EQ(write(fd, buf.data(), kChunk), static_cast<ssize_t>(kChunk)) << strerror(errno);
    }
    ASSERT_EQ(fsync(fd), 0);
    ASSERT_EQ(close(fd), 0);
  }
  const int64_t write_ms = MonoMillis() - start;
  auto st = client_->Stat("/big");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->length, kFileBytes);
  EXPECT_FALSE(st->under_construction);
  // Nothing of the file may come from the page cache.
  if (Shell("sync && echo 3 > /proc/sys/vm/drop_caches").exit_code != 0) {
    mount_.Unmount();
    ASSERT_TRUE(mount_.Mount(cluster_->namenode_address(), {"staging_dir=" + staging_}).ok());
  }
  start = MonoMillis();
  uint32_t crc_read = 0;
  uint64_t total = 0;
  {
    int fd = open(M("big").c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    while (true) {
      ssize_t n = read(fd, buf.data(), buf.size());
      ASSERT_GE(n, 0) << strerror(errno);
      if (n == 0) break;
      crc_read = Crc32cExtend(crc_read, buf.data(), static_cast<size_t>(n));
      total += static_cast<uint64_t>(n);
    }
    close(fd);
  }
  const int64_t read_ms = MonoMillis() - start;
  EXPECT_EQ(total, kFileBytes);
  EXPECT_EQ(crc_read, crc_written);
  std::cerr << "2 GiB: write " << write_ms << " ms (" << (2048.0 * 1000 / write_ms)
            << " MiB/s), read " << read_ms << " ms (" << (2048.0 * 1000 / read_ms) << " MiB/s)\n";
}

}  // namespace
}  // namespace cairn::testing
