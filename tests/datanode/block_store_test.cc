#include "datanode/block_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/crc32c.h"

namespace cairn::datanode {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kBpc = 4096;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    memcpy(&s[i], &v, 8);
  }
  for (; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

std::string CrcPath(const std::string& data_path) {
  return data_path.substr(0, data_path.size() - 5) + ".crc";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
}

// Checks that each CRC is the CRC32C of its chunk of `data`.
void ExpectCrcsMatch(const std::string& data, const std::vector<uint32_t>& crcs, uint32_t bpc) {
  ASSERT_EQ(crcs.size(), (data.size() + bpc - 1) / bpc);
  for (size_t i = 0; i < crcs.size(); ++i) {
    size_t k = std::min<size_t>(bpc, data.size() - i * bpc);
    ASSERT_EQ(crcs[i], Crc32c(data.data() + i * bpc, k)) << "chunk " << i;
  }
}

class BlockStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/block_store_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }

  void TearDown() override {
    store_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::string Vol(int i) const { return absl::StrCat(root_, "/vol", i); }

  BlockStoreOptions Options(int volumes = 1) const {
    BlockStoreOptions o;
    for (int i = 0; i < volumes; ++i) o.volumes.push_back(Vol(i));
    o.fsync_on_finalize = false;  // keeps the tests fast; one test covers the fsync path
    return o;
  }

  void OpenStore(const BlockStoreOptions& o) {
    store_.reset();
    auto s = BlockStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }

  std::unique_ptr<ReplicaWriter> Create(uint64_t id, uint64_t gs, uint64_t expected = 0) {
    auto w = store_->CreateReplica(id, gs, expected);
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? std::move(*w) : nullptr;
  }

  // Writes `data` at `offset` in pieces of random sizes up to `max_piece`.
  void WritePieces(ReplicaWriter* w, uint64_t offset, const std::string& data, size_t max_piece,
                   uint32_t seed) {
    std::mt19937 rng(seed);
    size_t pos = 0;
    while (pos < data.size()) {
      size_t k = std::min<size_t>(data.size() - pos, 1 + rng() % max_piece);
      ASSERT_TRUE(w->Write(offset + pos, data.data() + pos, k).ok());
      pos += k;
      ASSERT_EQ(w->length(), offset + pos);
    }
  }

  // Writes and finalizes a replica with `data`.
  void WriteReplica(uint64_t id, uint64_t gs, const std::string& data, bool finalize = true) {
    auto w = Create(id, gs, data.size());
    ASSERT_NE(w, nullptr);
    if (!data.empty()) {
      ASSERT_TRUE(w->Write(0, data.data(), data.size()).ok());
    }
    if (finalize) {
      ASSERT_TRUE(w->Finalize().ok());
    }
  }

  // Reads a whole replica through ReadChunks in pieces of `piece` bytes, checking every CRC.
  std::string ReadAll(uint64_t id, uint64_t gs, size_t piece = 1 << 20) {
    auto r = store_->OpenReplica(id, gs);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "";
    return ReadAll(r->get(), piece);
  }

  std::string ReadAll(ReplicaReader* r, size_t piece = 1 << 20) {
    std::string out;
    uint64_t offset = 0;
    while (offset < r->length()) {
      uint64_t aligned;
      std::string data;
      std::vector<uint32_t> crcs;
      Status s = r->ReadChunks(offset, piece, &aligned, &data, &crcs);
      EXPECT_TRUE(s.ok()) << s;
      if (!s.ok() || data.empty()) break;
      EXPECT_EQ(aligned, offset - offset % r->bytes_per_checksum());
      ExpectCrcsMatch(data, crcs, r->bytes_per_checksum());
      out.append(data.substr(offset - aligned));
      offset = aligned + data.size();
    }
    return out;
  }

  // The inodes of the files in pool directory `pool` (the clean-stop marker aside).
  static std::set<ino_t> PooledInodes(const std::string& pool) {
    std::set<ino_t> inodes;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(pool, ec)) {
      if (e.path().filename().string()[0] == '.') continue;
      struct stat st;
      if (::stat(e.path().c_str(), &st) == 0) inodes.insert(st.st_ino);
    }
    return inodes;
  }

  // Waits (10 s at most) until the background filler has put `n` files in `pool`.
  static bool WaitForPooledFiles(const std::string& pool, size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (PooledInodes(pool).size() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // (poll interval)
    }
    return PooledInodes(pool).size() >= n;
  }

  // Sum of the sizes of all replica files under the volumes.
  uint64_t FilesOnDisk(int volumes) const {
    uint64_t total = 0;
    for (int v = 0; v < volumes; ++v) {
      std::error_code ec;
      for (auto it = fs::recursive_directory_iterator(Vol(v) + "/current", ec);
           it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        std::string name = it->path().filename().string();
        if (it->is_regular_file() && name.rfind("blk_", 0) == 0) total += it->file_size();
      }
    }
    return total;
  }

  std::string root_;
  std::unique_ptr<BlockStore> store_;
};

TEST_F(BlockStoreTest, WriteFinalizeReadBackVariousSizes) {
  OpenStore(Options());
  std::mt19937 rng(7);
  const std::vector<size_t> sizes = {0,    1,    4095, 4096, 4097, (1 << 20) + 3,
                                     3 * 4096 + 17, 8192, 1000 + rng() % 300000};
  for (size_t i = 0; i < sizes.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("size ", sizes[i]));
    const uint64_t id = 100 + i;
    const std::string data = RandomBytes(sizes[i], static_cast<uint32_t>(i));
    auto w = Create(id, 1, data.size());
    ASSERT_NE(w, nullptr);
    WritePieces(w.get(), 0, data, i % 2 == 0 ? 9000 : 70000, static_cast<uint32_t>(i));
    auto info = store_->GetReplica(id);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->length, data.size());
    EXPECT_EQ(info->state, ReplicaState::kBeingWritten);
    ASSERT_TRUE(w->Finalize().ok());
    info = store_->GetReplica(id);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->state, ReplicaState::kFinalized);
    EXPECT_EQ(info->length, data.size());
    EXPECT_EQ(info->generation_stamp, 1u);
    EXPECT_EQ(ReadAll(id, 1), data);
    EXPECT_EQ(ReadAll(id, 1, 5000), data);
    EXPECT_TRUE(store_->VerifyReplica(id, 0).ok());
    // The files have the documented layout and sizes.
    auto path = store_->DataPathForTests(id);
    ASSERT_TRUE(path.ok());
    EXPECT_NE(path->find(absl::StrCat("/current/finalized/", absl::Hex(id & 0xff, absl::kZeroPad2),
                                      "/blk_", id, "_1.data")),
              std::string::npos)
        << *path;
    EXPECT_EQ(FileSize(*path), data.size());
    EXPECT_EQ(FileSize(CrcPath(*path)), 16 + 4 * ((data.size() + kBpc - 1) / kBpc));
    // Random ranges.
    auto r = store_->OpenReplica(id, 1);
    ASSERT_TRUE(r.ok());
    for (int k = 0; k < 20 && !data.empty(); ++k) {
      uint64_t offset = rng() % (data.size() + 1);
      size_t n = rng() % 20000;
      uint64_t aligned;
      std::string got;
      std::vector<uint32_t> crcs;
      ASSERT_TRUE((*r)->ReadChunks(offset, n, &aligned, &got, &crcs).ok());
      EXPECT_EQ(aligned, offset - offset % kBpc);
      uint64_t end = std::min<uint64_t>(offset + n, data.size());
      uint64_t want_end = end == offset ? aligned
                                        : std::min<uint64_t>((end + kBpc - 1) / kBpc * kBpc,
                                                             data.size());
      EXPECT_EQ(got, data.substr(aligned, want_end - aligned));
      ExpectCrcsMatch(got, crcs, kBpc);
    }
  }
}

TEST_F(BlockStoreTest, SmallChecksumChunks) {
  BlockStoreOptions o = Options();
  o.bytes_per_checksum = 512;
  OpenStore(o);
  const std::string data = RandomBytes(100000, 3);
  auto w = Create(1, 1);
  ASSERT_NE(w, nullptr);
  WritePieces(w.get(), 0, data, 1500, 3);
  ASSERT_TRUE(w->Finalize().ok());
  auto r = store_->OpenReplica(1, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->bytes_per_checksum(), 512u);
  EXPECT_EQ(ReadAll(r->get(), 7000), data);
  EXPECT_TRUE(store_->VerifyReplica(1, 0).ok());
}

TEST_F(BlockStoreTest, ReadChunksEdges) {
  OpenStore(Options());
  const std::string data = RandomBytes(10000, 1);
  WriteReplica(1, 1, data);
  auto r = store_->OpenReplica(1, 1);
  ASSERT_TRUE(r.ok());
  ReplicaReader& reader = **r;
  EXPECT_EQ(reader.length(), 10000u);
  EXPECT_EQ(reader.bytes_per_checksum(), kBpc);
  uint64_t aligned;
  std::string got;
  std::vector<uint32_t> crcs;

  EXPECT_EQ(reader.ReadChunks(10001, 1, &aligned, &got, &crcs).code(),
            absl::StatusCode::kOutOfRange);
  ASSERT_TRUE(reader.ReadChunks(10000, 100, &aligned, &got, &crcs).ok());
  EXPECT_TRUE(got.empty());
  EXPECT_TRUE(crcs.empty());
  ASSERT_TRUE(reader.ReadChunks(5000, 0, &aligned, &got, &crcs).ok());
  EXPECT_TRUE(got.empty());

  // Two bytes straddling a chunk boundary: both whole chunks.
  ASSERT_TRUE(reader.ReadChunks(4095, 2, &aligned, &got, &crcs).ok());
  EXPECT_EQ(aligned, 0u);
  EXPECT_EQ(got, data.substr(0, 8192));
  ExpectCrcsMatch(got, crcs, kBpc);

  // The partial last chunk, clamped to the length.
  ASSERT_TRUE(reader.ReadChunks(9000, SIZE_MAX, &aligned, &got, &crcs).ok());
  EXPECT_EQ(aligned, 8192u);
  EXPECT_EQ(got, data.substr(8192));
  ASSERT_EQ(crcs.size(), 1u);
  EXPECT_EQ(crcs[0], Crc32c(data.data() + 8192, 10000 - 8192));
}

TEST_F(BlockStoreTest, RewriteFromLowerOffsetTruncates) {
  OpenStore(Options());
  std::string a = RandomBytes(10000, 1);
  std::string b = RandomBytes(3000, 2);
  auto w = Create(1, 1);
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->Write(0, a.data(), a.size()).ok());
  ASSERT_TRUE(w->Write(5000, b.data(), b.size()).ok());
  EXPECT_EQ(w->length(), 8000u);
  std::string want = a.substr(0, 5000) + b;
  EXPECT_EQ(ReadAll(1, 1), want);
  EXPECT_EQ(store_->GetReplica(1)->length, 8000u);

  // At a chunk boundary, then a pure truncation to mid-chunk (n = 0).
  ASSERT_TRUE(w->Write(4096, b.data(), 100).ok());
  want = want.substr(0, 4096) + b.substr(0, 100);
  EXPECT_EQ(ReadAll(1, 1), want);
  ASSERT_TRUE(w->Write(3000, b.data(), 0).ok());
  EXPECT_EQ(w->length(), 3000u);
  want.resize(3000);
  EXPECT_EQ(ReadAll(1, 1), want);
  ASSERT_TRUE(w->Finalize().ok());
  EXPECT_EQ(ReadAll(1, 1), want);
  EXPECT_TRUE(store_->VerifyReplica(1, 0).ok());
  auto path = store_->DataPathForTests(1);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(FileSize(*path), 3000u);
  EXPECT_EQ(FileSize(CrcPath(*path)), 16u + 4u);
}

TEST_F(BlockStoreTest, WriteWithGapAndAfterFinalizeFail) {
  OpenStore(Options());
  auto w = Create(1, 1);
  ASSERT_NE(w, nullptr);
  char buf[10] = {};
  ASSERT_TRUE(w->Write(0, buf, 10).ok());
  Status s = w->Write(11, buf, 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("blk_1_1"), absl::string_view::npos) << s;
  ASSERT_TRUE(w->Sync().ok());
  ASSERT_TRUE(w->Finalize().ok());
  EXPECT_EQ(w->Write(10, buf, 1).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(BlockStoreTest, ZeroLengthReplica) {
  OpenStore(Options());
  WriteReplica(1, 1, "");
  auto r = store_->OpenReplica(1, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->length(), 0u);
  uint64_t aligned;
  std::string got = "junk";
  std::vector<uint32_t> crcs;
  ASSERT_TRUE((*r)->ReadChunks(0, 100, &aligned, &got, &crcs).ok());
  EXPECT_TRUE(got.empty());
  EXPECT_TRUE(store_->VerifyReplica(1, 0).ok());
  OpenStore(Options());
  auto info = store_->GetReplica(1);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, ReplicaState::kFinalized);
  EXPECT_EQ(info->length, 0u);
}

TEST_F(BlockStoreTest, ReopenFindsFinalizedAndBeingWritten) {
  BlockStoreOptions o = Options();
  o.fsync_on_finalize = true;
  OpenStore(o);
  const std::string fin = RandomBytes(10000, 1);
  const std::string rbw = RandomBytes(5000, 2);
  WriteReplica(1, 3, fin);
  WriteReplica(2, 4, rbw, /*finalize=*/false);
  WriteReplica(3, 5, "", /*finalize=*/false);
  const uint64_t used = store_->Report().used;
  EXPECT_EQ(used, FilesOnDisk(1));

  OpenStore(o);
  EXPECT_EQ(store_->AllReplicas().size(), 3u);
  auto i1 = store_->GetReplica(1);
  ASSERT_TRUE(i1.ok());
  EXPECT_EQ(i1->generation_stamp, 3u);
  EXPECT_EQ(i1->length, 10000u);
  EXPECT_EQ(i1->state, ReplicaState::kFinalized);
  auto i2 = store_->GetReplica(2);
  ASSERT_TRUE(i2.ok());
  EXPECT_EQ(i2->generation_stamp, 4u);
  EXPECT_EQ(i2->length, 5000u);
  EXPECT_EQ(i2->state, ReplicaState::kBeingWritten);
  auto i3 = store_->GetReplica(3);
  ASSERT_TRUE(i3.ok());
  EXPECT_EQ(i3->length, 0u);
  EXPECT_EQ(store_->Report().used, used);
  EXPECT_EQ(ReadAll(1, 3), fin);
  EXPECT_EQ(ReadAll(2, 4), rbw);  // the partial last chunk's CRC survived the restart

  // The reopened replica continues under a new stamp.
  auto w = store_->RecoverReplica(2, 6, 0);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ((*w)->length(), 5000u);
  const std::string more = RandomBytes(7000, 3);
  ASSERT_TRUE((*w)->Write(5000, more.data(), more.size()).ok());
  ASSERT_TRUE((*w)->Finalize().ok());
  EXPECT_EQ(ReadAll(2, 6), rbw + more);
  EXPECT_TRUE(store_->VerifyReplica(2, 0).ok());
}

TEST_F(BlockStoreTest, ReopenTrimsUncheckedBytesAndSkipsBadReplicas) {
  OpenStore(Options());
  const std::string data = RandomBytes(5000, 1);
  WriteReplica(1, 1, data, /*finalize=*/false);
  WriteReplica(2, 1, data, /*finalize=*/false);
  WriteReplica(3, 1, data);
  WriteReplica(4, 1, data);
  std::string p1 = *store_->DataPathForTests(1);
  std::string p2 = *store_->DataPathForTests(2);
  std::string p3 = *store_->DataPathForTests(3);
  std::string p4 = *store_->DataPathForTests(4);
  store_.reset();
  // 1: a crash after the data of a write but before its checksums.
  WriteFile(p1, data + RandomBytes(3000, 9));
  // 2: data beyond what the .crc covers.
  WriteFile(p2, data + RandomBytes(9000, 9));
  std::string crc2 = ReadFile(CrcPath(p2));
  // 3: a broken checksum header. A finalized replica's .crc is not read at Open (startup cost
  // on large volumes), so readers and the scanner catch it.
  WriteFile(CrcPath(p3), "CRNX" + ReadFile(CrcPath(p3)).substr(4));
  // 4: a .crc shorter than its header: ignored.
  WriteFile(CrcPath(p4), "CRNC");
  // Lone files are ignored (and kept); probe files left by a crash are removed.
  const std::string lone = Vol(0) + "/current/rbw/blk_50_1.data";
  WriteFile(lone, "lonely");
  const std::string probe = Vol(0) + "/current/.probe_1_2";
  WriteFile(probe, "probe");

  OpenStore(Options());
  auto i1 = store_->GetReplica(1);
  ASSERT_TRUE(i1.ok());
  EXPECT_EQ(i1->length, 5000u);
  EXPECT_EQ(ReadAll(1, 1), data);
  auto i2 = store_->GetReplica(2);
  ASSERT_TRUE(i2.ok());
  EXPECT_EQ(i2->length, 5000u);
  EXPECT_EQ(ReadAll(2, 1), data);
  EXPECT_EQ(store_->OpenReplica(3, 1).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->VerifyReplica(3, 0).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->GetReplica(4).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetReplica(50).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(fs::exists(lone));
  EXPECT_FALSE(fs::exists(probe));

  // Continuing the trimmed replica drops the stale bytes.
  auto w = store_->RecoverReplica(1, 2, 0);
  ASSERT_TRUE(w.ok());
  const std::string more = RandomBytes(100, 5);
  ASSERT_TRUE((*w)->Write(5000, more.data(), more.size()).ok());
  ASSERT_TRUE((*w)->Finalize().ok());
  EXPECT_EQ(ReadAll(1, 2), data + more);
  EXPECT_EQ(FileSize(*store_->DataPathForTests(1)), 5100u);
  EXPECT_TRUE(store_->VerifyReplica(1, 0).ok());
}

TEST_F(BlockStoreTest, ReopenKeepsNewestOfDuplicateReplicas) {
  OpenStore(Options(2));
  const std::string data = RandomBytes(6000, 1);
  WriteReplica(7, 5, data);
  const std::string path = *store_->DataPathForTests(7);
  const int volume = store_->GetReplica(7)->volume;
  store_.reset();
  // Older copies on the other volume (rbw) and in the same volume's rbw.
  const std::string other_rbw = Vol(1 - volume) + "/current/rbw/blk_7_3";
  const std::string same_rbw = Vol(volume) + "/current/rbw/blk_7_5";
  for (const std::string& base : {other_rbw, same_rbw}) {
    WriteFile(base + ".data", data.substr(0, 5000));
    WriteFile(base + ".crc", ReadFile(CrcPath(path)));
  }

  OpenStore(Options(2));
  auto info = store_->GetReplica(7);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->generation_stamp, 5u);
  EXPECT_EQ(info->state, ReplicaState::kFinalized);
  EXPECT_EQ(info->length, 6000u);
  EXPECT_EQ(info->volume, volume);
  EXPECT_FALSE(fs::exists(other_rbw + ".data"));
  EXPECT_FALSE(fs::exists(other_rbw + ".crc"));
  EXPECT_FALSE(fs::exists(same_rbw + ".data"));
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(ReadAll(7, 5), data);
}

TEST_F(BlockStoreTest, ReopenCompletesInterruptedFinalize) {
  OpenStore(Options());
  const std::string data = RandomBytes(9000, 1);
  WriteReplica(0x1ab, 2, data, /*finalize=*/false);
  const std::string rbw = *store_->DataPathForTests(0x1ab);
  store_.reset();
  // Finalize moves the .crc first; simulate a crash before the .data followed.
  const std::string dir = Vol(0) + "/current/finalized/ab";
  fs::create_directories(dir);
  fs::rename(CrcPath(rbw), dir + "/blk_427_2.crc");

  OpenStore(Options());
  auto info = store_->GetReplica(0x1ab);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, ReplicaState::kFinalized);
  EXPECT_EQ(info->length, 9000u);
  EXPECT_EQ(*store_->DataPathForTests(0x1ab), dir + "/blk_427_2.data");
  EXPECT_TRUE(store_->VerifyReplica(0x1ab, 0).ok());
}

TEST_F(BlockStoreTest, ChecksumChunkSizeKeptPerReplica) {
  BlockStoreOptions o = Options();
  o.bytes_per_checksum = 512;
  OpenStore(o);
  const std::string data = RandomBytes(20000, 1);
  WriteReplica(1, 1, data);
  WriteReplica(2, 1, data, /*finalize=*/false);

  OpenStore(Options());  // now 4096
  auto r = store_->OpenReplica(1, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->bytes_per_checksum(), 512u);
  EXPECT_EQ(ReadAll(1, 1), data);
  EXPECT_TRUE(store_->VerifyReplica(1, 0).ok());
  auto w = store_->RecoverReplica(2, 2, 0);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write(20000, data.data(), 1000).ok());
  ASSERT_TRUE((*w)->Finalize().ok());
  EXPECT_EQ(ReadAll(2, 2), data + data.substr(0, 1000));
  EXPECT_TRUE(store_->VerifyReplica(2, 0).ok());
  WriteReplica(3, 1, data);
  EXPECT_EQ((*store_->OpenReplica(3, 1))->bytes_per_checksum(), 4096u);
}

TEST_F(BlockStoreTest, CreateReplicaGenerationStamps) {
  OpenStore(Options());
  auto w = Create(1, 5);
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->Write(0, "hello", 5).ok());
  const std::string old_path = *store_->DataPathForTests(1);

  for (uint64_t gs : {4u, 5u}) {
    auto again = store_->CreateReplica(1, gs, 0);
    EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
    EXPECT_NE(again.status().message().find("blk_1_"), absl::string_view::npos);
  }
  EXPECT_TRUE(w->Write(5, "!", 1).ok());  // the first writer is untouched

  auto newer = store_->CreateReplica(1, 6, 0);
  ASSERT_TRUE(newer.ok()) << newer.status();
  EXPECT_FALSE(fs::exists(old_path));
  EXPECT_FALSE(fs::exists(CrcPath(old_path)));
  EXPECT_EQ(w->Write(6, "x", 1).code(), absl::StatusCode::kFailedPrecondition);
  auto info = store_->GetReplica(1);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->generation_stamp, 6u);
  EXPECT_EQ(info->length, 0u);

  // A finalized replica with an older stamp is replaced as well.
  WriteReplica(2, 1, "abc");
  const std::string fin_path = *store_->DataPathForTests(2);
  EXPECT_EQ(store_->CreateReplica(2, 1, 0).status().code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(store_->CreateReplica(2, 2, 0).ok());
  EXPECT_FALSE(fs::exists(fin_path));
  EXPECT_EQ(store_->GetReplica(2)->state, ReplicaState::kBeingWritten);
}

TEST_F(BlockStoreTest, OpenReplicaErrors) {
  OpenStore(Options());
  WriteReplica(1, 5, "abc");
  EXPECT_EQ(store_->OpenReplica(2, 5).status().code(), absl::StatusCode::kNotFound);
  auto stale = store_->OpenReplica(1, 4);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(stale.status().message().find("blk_1_4"), absl::string_view::npos);
  EXPECT_EQ(store_->OpenReplica(1, 6).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->GetReplica(2).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->DataPathForTests(2).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(BlockStoreTest, RecoverReplicaBumpsStampAndContinues) {
  OpenStore(Options());
  const std::string a = RandomBytes(5000, 1);
  auto w1 = Create(1, 1);
  ASSERT_NE(w1, nullptr);
  ASSERT_TRUE(w1->Write(0, a.data(), a.size()).ok());

  EXPECT_EQ(store_->RecoverReplica(2, 2, 0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->RecoverReplica(1, 1, 0).status().code(), absl::StatusCode::kFailedPrecondition);
  auto w2 = store_->RecoverReplica(1, 2, 0);
  ASSERT_TRUE(w2.ok()) << w2.status();
  EXPECT_EQ((*w2)->length(), 5000u);
  EXPECT_EQ(store_->GetReplica(1)->generation_stamp, 2u);
  EXPECT_TRUE(fs::exists(Vol(0) + "/current/rbw/blk_1_2.data"));
  EXPECT_FALSE(fs::exists(Vol(0) + "/current/rbw/blk_1_1.data"));

  // The old pipeline's writer is fenced off.
  EXPECT_EQ(w1->Write(5000, "x", 1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(w1->Finalize().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->OpenReplica(1, 1).status().code(), absl::StatusCode::kFailedPrecondition);

  // The resent packet overlaps what is on disk.
  const std::string b = RandomBytes(6000, 2);
  ASSERT_TRUE((*w2)->Write(4000, b.data(), b.size()).ok());
  ASSERT_TRUE((*w2)->Finalize().ok());
  EXPECT_EQ(ReadAll(1, 2), a.substr(0, 4000) + b);
  EXPECT_EQ(store_->RecoverReplica(1, 3, 0).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(BlockStoreTest, CommitRecoveryTruncatesAndFinalizes) {
  OpenStore(Options());
  const std::string data = RandomBytes(10000, 1);
  auto w = Create(1, 1);
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->Write(0, data.data(), data.size()).ok());

  EXPECT_EQ(store_->CommitRecovery(2, 3, 0).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->CommitRecovery(1, 3, 10001).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store_->CommitRecovery(1, 3, 6000).ok());
  auto info = store_->GetReplica(1);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->generation_stamp, 3u);
  EXPECT_EQ(info->length, 6000u);
  EXPECT_EQ(info->state, ReplicaState::kFinalized);
  EXPECT_EQ(w->Write(10000, "x", 1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadAll(1, 3), data.substr(0, 6000));
  EXPECT_TRUE(store_->VerifyReplica(1, 0).ok());
  const std::string path = *store_->DataPathForTests(1);
  EXPECT_EQ(FileSize(path), 6000u);
  EXPECT_EQ(FileSize(CrcPath(path)), 16u + 4 * 2);
  EXPECT_TRUE(store_->CommitRecovery(1, 3, 6000).ok());  // a retry is harmless

  // A finalized replica can be cut again under a newer stamp; not under an older one.
  EXPECT_EQ(store_->CommitRecovery(1, 2, 100).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->CommitRecovery(1, 4, 4097).ok());
  EXPECT_EQ(ReadAll(1, 4), data.substr(0, 4097));
  EXPECT_TRUE(store_->VerifyReplica(1, 0).ok());
  EXPECT_FALSE(fs::exists(path));

  OpenStore(Options());
  info = store_->GetReplica(1);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->generation_stamp, 4u);
  EXPECT_EQ(info->length, 4097u);
  EXPECT_EQ(store_->AllReplicas().size(), 1u);
}

// A failed transfer abandons its partial copy: deleted if it is still the transfer's own, left
// alone if a newer transfer replaced it (and finished) meanwhile. Regression: the transfer
// deleted whatever replica had the block id, a newer, finalized one included.
TEST_F(BlockStoreTest, AbandonDeletesOnlyTheWritersOwnReplica) {
  OpenStore(Options());
  const std::string data = RandomBytes(70000, 9);
  auto own = Create(1, 1);
  ASSERT_NE(own, nullptr);
  ASSERT_TRUE(own->Write(0, data.data(), 1000).ok());
  ASSERT_TRUE(own->Abandon().ok());
  EXPECT_EQ(store_->GetReplica(1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FilesOnDisk(1), 0u);

  auto first = Create(2, 1);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->Write(0, data.data(), 1000).ok());
  // A second transfer of the same block replaces the first one's copy and finishes.
  ASSERT_TRUE(store_->DeleteReplica(2).ok());
  auto second = Create(2, 1);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(second->Write(0, data.data(), data.size()).ok());
  ASSERT_TRUE(second->Finalize().ok());
  Status s = first->Abandon();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(ReadAll(2, 1), data);

  // A finalized replica is never abandoned.
  auto done = Create(3, 1);
  ASSERT_NE(done, nullptr);
  ASSERT_TRUE(done->Write(0, data.data(), data.size()).ok());
  ASSERT_TRUE(done->Finalize().ok());
  EXPECT_FALSE(done->Abandon().ok());
  EXPECT_EQ(ReadAll(3, 1), data);
}

TEST_F(BlockStoreTest, DeleteReplicaRemovesFiles) {
  OpenStore(Options());
  WriteReplica(1, 1, RandomBytes(5000, 1));
  auto w = Create(2, 1);
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->Write(0, "abc", 3).ok());
  const std::string p1 = *store_->DataPathForTests(1);
  const std::string p2 = *store_->DataPathForTests(2);
  EXPECT_GT(store_->Report().used, 0u);

  ASSERT_TRUE(store_->DeleteReplica(1).ok());
  ASSERT_TRUE(store_->DeleteReplica(2).ok());
  for (const std::string& p : {p1, p2}) {
    EXPECT_FALSE(fs::exists(p));
    EXPECT_FALSE(fs::exists(CrcPath(p)));
  }
  EXPECT_EQ(store_->GetReplica(1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteReplica(1).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(w->Write(3, "d", 1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->AllReplicas().empty());
  EXPECT_EQ(store_->Report().used, 0u);
}

TEST_F(BlockStoreTest, VerifyReplicaDetectsCorruption) {
  OpenStore(Options());
  const std::string data = RandomBytes(3 * 4096 + 100, 1);
  WriteReplica(9, 1, data);
  ASSERT_TRUE(store_->VerifyReplica(9, 0).ok());
  EXPECT_EQ(store_->VerifyReplica(10, 0).code(), absl::StatusCode::kNotFound);

  const std::string path = *store_->DataPathForTests(9);
  std::string bad = data;
  bad[5000] ^= 0x01;
  WriteFile(path, bad);
  Status s = store_->VerifyReplica(9, 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("blk_9_1"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("4096"), absl::string_view::npos) << s;

  // The partial last chunk too.
  bad = data;
  bad[data.size() - 1] ^= 0x80;
  WriteFile(path, bad);
  s = store_->VerifyReplica(9, 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("12288"), absl::string_view::npos) << s;

  // A short data file.
  WriteFile(path, data.substr(0, 9000));
  EXPECT_EQ(store_->VerifyReplica(9, 0).code(), absl::StatusCode::kDataLoss);

  // Only finalized replicas are verified.
  WriteReplica(11, 1, "abc", /*finalize=*/false);
  EXPECT_EQ(store_->VerifyReplica(11, 0).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(BlockStoreTest, VerifyReplicaIsRateLimited) {
  OpenStore(Options());
  WriteReplica(1, 1, RandomBytes(256 << 10, 1));
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(store_->VerifyReplica(1, 1 << 20).ok());  // 256 KiB at 1 MiB/s: ~250 ms
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, std::chrono::milliseconds(200));
  EXPECT_LT(elapsed, std::chrono::milliseconds(900));
}

TEST_F(BlockStoreTest, VolumesShareReplicasAndReportSums) {
  BlockStoreOptions o = Options(2);
  o.capacity_bytes_per_volume_for_tests = 64 << 20;
  OpenStore(o);
  std::set<int> volumes;
  for (uint64_t id = 1; id <= 8; ++id) {
    WriteReplica(id, 1, RandomBytes(10000 + id, static_cast<uint32_t>(id)));
    volumes.insert(store_->GetReplica(id)->volume);
  }
  EXPECT_EQ(volumes, (std::set<int>{0, 1}));
  int on0 = 0;
  for (const ReplicaInfo& r : store_->AllReplicas()) on0 += r.volume == 0;
  EXPECT_EQ(on0, 4);  // equal sizes alternate

  VolumeReport report = store_->Report();
  EXPECT_EQ(report.volumes, 2u);
  EXPECT_EQ(report.failed_volumes, 0u);
  EXPECT_EQ(report.capacity, 2u * (64 << 20));
  EXPECT_EQ(report.used, FilesOnDisk(2));
  EXPECT_EQ(report.remaining, report.capacity - report.used);

  // The emptier volume takes the next replica.
  auto w = Create(100, 1);
  ASSERT_NE(w, nullptr);
  std::string big = RandomBytes(1 << 20, 5);
  ASSERT_TRUE(w->Write(0, big.data(), big.size()).ok());
  const int full = store_->GetReplica(100)->volume;
  EXPECT_EQ(store_->Report().used, FilesOnDisk(2));
  WriteReplica(101, 1, "x");
  EXPECT_NE(store_->GetReplica(101)->volume, full);
}

TEST_F(BlockStoreTest, CapacityOverrideExhaustsSpace) {
  BlockStoreOptions o = Options();
  o.capacity_bytes_per_volume_for_tests = 64 << 10;
  OpenStore(o);
  auto w = Create(1, 1, 40000);
  ASSERT_NE(w, nullptr);
  const std::string data = RandomBytes(40000, 1);
  ASSERT_TRUE(w->Write(0, data.data(), data.size()).ok());
  auto no = store_->CreateReplica(2, 1, 40000);
  EXPECT_EQ(no.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(no.status().message().find("no space left on any volume"), absl::string_view::npos)
      << no.status();
  EXPECT_NE(no.status().message().find("blk_2_1"), absl::string_view::npos);
  EXPECT_TRUE(store_->CreateReplica(2, 1, 10000).ok());
  ASSERT_TRUE(store_->DeleteReplica(1).ok());
  EXPECT_TRUE(store_->CreateReplica(3, 1, 40000).ok());

  // The reservation counts against every volume.
  o.reserved_bytes_per_volume = 60 << 10;
  OpenStore(o);
  EXPECT_EQ(store_->CreateReplica(4, 1, 8 << 10).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_LE(store_->Report().remaining, 4u << 10);
}

// The length a writer announces is reserved on the volume until written, finalized or
// abandoned: concurrent writers are not promised the same free space (they would all run
// into ENOSPC mid-block). Regression: admission compared each announcement with the free
// space alone, so any number of writers was admitted to the last free block.
TEST_F(BlockStoreTest, AnnouncedLengthsAreReservedUntilWrittenOrGone) {
  BlockStoreOptions o = Options();
  o.capacity_bytes_per_volume_for_tests = 100 << 10;
  OpenStore(o);
  const uint64_t capacity = 100 << 10;
  auto a = Create(1, 1, 40 << 10);
  ASSERT_NE(a, nullptr);
  auto b = Create(2, 1, 40 << 10);
  ASSERT_NE(b, nullptr);
  // 80 KiB promised (plus checksums): a third 40 KiB writer does not fit.
  auto no = store_->CreateReplica(3, 1, 40 << 10);
  EXPECT_EQ(no.status().code(), absl::StatusCode::kResourceExhausted) << no.status();
  VolumeReport r = store_->Report();
  EXPECT_LT(r.remaining, capacity - (80u << 10));
  EXPECT_GT(r.remaining, capacity - (82u << 10));
  EXPECT_EQ(r.used, FilesOnDisk(1));

  // Written bytes move from the reservation to the used space: the remaining space stays.
  const std::string data = RandomBytes(30 << 10, 3);
  ASSERT_TRUE(a->Write(0, data.data(), data.size()).ok());
  EXPECT_EQ(store_->Report().remaining, r.remaining);
  // Finalized short of its announcement, `a` releases the rest; `b` is abandoned.
  ASSERT_TRUE(a->Finalize().ok());
  EXPECT_GT(store_->Report().remaining, r.remaining + (9u << 10));
  EXPECT_EQ(store_->CreateReplica(3, 1, 40 << 10).status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(b->Abandon().ok());
  auto c = Create(3, 1, 40 << 10);
  ASSERT_NE(c, nullptr);
  auto d = Create(4, 1, 20 << 10);
  ASSERT_NE(d, nullptr);
  // Deleting a replica being written releases its reservation too.
  EXPECT_EQ(store_->CreateReplica(5, 1, 20 << 10).status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(store_->DeleteReplica(3).ok());
  EXPECT_TRUE(store_->CreateReplica(5, 1, 20 << 10).ok());
  EXPECT_EQ(ReadAll(1, 1), data);

  // After a restart nothing is reserved for replicas being written (their writers are gone);
  // pipeline recovery reserves what its writer announces again.
  d.reset();
  OpenStore(o);
  const uint64_t unreserved = store_->Report().remaining;
  auto recovered = store_->RecoverReplica(4, 2, 20 << 10);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_LT(store_->Report().remaining, unreserved - (20u << 10) + 1);
  EXPECT_GT(store_->Report().remaining, unreserved - (21u << 10));
  ASSERT_TRUE((*recovered)->Finalize().ok());
  EXPECT_EQ(store_->Report().remaining, unreserved);
}

TEST_F(BlockStoreTest, CheckVolumesFailsRemovedVolume) {
  BlockStoreOptions o = Options(2);
  o.capacity_bytes_per_volume_for_tests = 1 << 30;  // the emptier volume wins, deterministically
  OpenStore(o);
  const std::string data = RandomBytes(7000, 1);
  std::vector<uint64_t> on[2];
  for (uint64_t id = 1; id <= 6; ++id) {
    WriteReplica(id, 1, data, /*finalize=*/id % 3 != 0);
    on[store_->GetReplica(id)->volume].push_back(id);
  }
  ASSERT_FALSE(on[0].empty());
  ASSERT_FALSE(on[1].empty());
  auto reader = store_->OpenReplica(on[1][0], 1);
  ASSERT_TRUE(reader.ok());

  store_->CheckVolumes();  // healthy volumes stay so, and no probe file remains
  EXPECT_EQ(store_->Report().failed_volumes, 0u);
  for (const auto& e : fs::directory_iterator(Vol(0) + "/current")) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "rbw" || name == "finalized" || name == "pool") << name;
  }

  fs::remove_all(Vol(1));
  store_->CheckVolumes();
  VolumeReport report = store_->Report();
  EXPECT_EQ(report.failed_volumes, 1u);
  EXPECT_EQ(report.volumes, 2u);
  EXPECT_EQ(report.used, FilesOnDisk(1));
  for (uint64_t id : on[1]) {
    EXPECT_EQ(store_->GetReplica(id).status().code(), absl::StatusCode::kNotFound);
  }
  for (uint64_t id : on[0]) EXPECT_EQ(ReadAll(id, 1), data);
  EXPECT_EQ(store_->AllReplicas().size(), on[0].size());
  // An open reader keeps its (unlinked) files.
  EXPECT_EQ(ReadAll(reader->get()), data);
  for (uint64_t id = 10; id < 14; ++id) {
    WriteReplica(id, 1, "abc");
    EXPECT_EQ(store_->GetReplica(id)->volume, 0);
  }
  store_->CheckVolumes();
  EXPECT_EQ(store_->Report().failed_volumes, 1u);
}

// A volume whose disk is full is not failed: its replicas stay readable, and it takes new
// replicas again once space is freed. Regression: the periodic volume probe failed to write on
// the full disk and dropped every replica of the volume until a restart. Needs root (tmpfs).
// New replicas take their two files from the volume's pool of empty files (renamed, no inode
// allocated on the writer's path); the pool refills, survives a restart, and a pooled file
// that is not empty (it never should be) is truncated before use.
TEST_F(BlockStoreTest, NewReplicasTakeTheirFilesFromThePool) {
  BlockStoreOptions o = Options();
  o.file_pool_size = 8;
  ASSERT_NO_FATAL_FAILURE(OpenStore(o));
  const std::string pool = Vol(0) + "/current/pool";
  auto pooled = [&] { return PooledInodes(pool); };
  auto wait_for_full_pool = [&] { return WaitForPooledFiles(pool, 8); };
  ASSERT_TRUE(wait_for_full_pool());
  const std::set<ino_t> before = pooled();
  const std::string data = "small replica";
  ASSERT_NO_FATAL_FAILURE(WriteReplica(1, 1, data));
  EXPECT_EQ(ReadAll(1, 1), data);
  auto path = store_->DataPathForTests(1);
  ASSERT_TRUE(path.ok()) << path.status();
  const auto store_path_of_1 = path;
  struct stat st;
  ASSERT_EQ(::stat(path->c_str(), &st), 0);
  EXPECT_EQ(before.count(st.st_ino), 1u) << "the data file was not one of the pooled files";
  ASSERT_EQ(::stat((path->substr(0, path->size() - 5) + ".crc").c_str(), &st), 0);
  EXPECT_EQ(before.count(st.st_ino), 1u) << "the checksum file was not one of the pooled files";
  ASSERT_TRUE(wait_for_full_pool()) << "the pool is refilled";

  // At the next start the empty pool files are adopted. A pool name that is a second link to
  // a replica's file (a crash undid the rename that took it out of the pool) or a file with
  // data is left alone, and the replica keeps its data while new replicas take pool files.
  store_.reset();
  ASSERT_TRUE(fs::exists(pool + "/.clean")) << "a clean stop leaves its marker";
  std::vector<fs::path> names;
  for (const auto& e : fs::directory_iterator(pool)) {
    if (e.path().filename() != ".clean") names.push_back(e.path());
  }
  ASSERT_EQ(names.size(), 8u);
  WriteFile(names[0].string(), "garbage!");
  fs::remove(names[1]);
  fs::create_hard_link(*store_path_of_1, names[1]);
  ASSERT_NO_FATAL_FAILURE(OpenStore(o));
  for (size_t i = 2; i < names.size(); ++i) EXPECT_TRUE(fs::exists(names[i])) << names[i];
  for (uint64_t id = 2; id < 20; ++id) {  // more than the pool holds
    ASSERT_NO_FATAL_FAILURE(WriteReplica(id, 1, absl::StrCat("replica ", id)));
  }
  for (uint64_t id = 2; id < 20; ++id) EXPECT_EQ(ReadAll(id, 1), absl::StrCat("replica ", id));
  EXPECT_EQ(ReadAll(1, 1), data);
  EXPECT_EQ(ReadFile(names[0].string()), "garbage!") << "left alone";
  EXPECT_TRUE(fs::exists(names[1])) << "left alone";
}

// After a crash (no clean-stop marker) nothing of the old pool is used: the directory is set
// aside and a new pool starts. Set-aside directories are swept at the following starts,
// before the new pool's filler runs: their empty files with one link that no replica file
// shares go, and each directory with them once empty; a pool name left on a replica's file (a
// crash undid the rename out of the pool) and a file with data stay, and the replica keeps
// its data. Two crashes within one second get directories of their own.
TEST_F(BlockStoreTest, PoolOfARunThatCrashedIsSetAsideAndSwept) {
  BlockStoreOptions o = Options();
  o.file_pool_size = 8;
  ASSERT_NO_FATAL_FAILURE(OpenStore(o));
  ASSERT_NO_FATAL_FAILURE(WriteReplica(1, 1, "one"));
  const std::string current = Vol(0) + "/current";
  const std::string pool = current + "/pool";
  ASSERT_TRUE(WaitForPooledFiles(pool, 8));
  auto data_of_1 = store_->DataPathForTests(1);
  ASSERT_TRUE(data_of_1.ok()) << data_of_1.status();
  store_.reset();
  ASSERT_TRUE(fs::remove(pool + "/.clean"));  // as if the DataNode had been killed
  std::vector<fs::path> names;
  for (const auto& e : fs::directory_iterator(pool)) names.push_back(e.path());
  ASSERT_EQ(names.size(), 8u);
  fs::remove(names[0]);
  fs::create_hard_link(*data_of_1, names[0]);  // a pool name on replica 1's data file
  WriteFile(names[1].string(), "data");
  std::set<std::string> all_names;
  for (const auto& n : names) all_names.insert(n.filename().string());
  auto aside_dirs = [&] {
    std::map<std::string, std::set<std::string>> out;
    for (const auto& e : fs::directory_iterator(current)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("pool.crashed-", 0) != 0) continue;
      auto& files = out[name];
      for (const auto& f : fs::directory_iterator(e.path())) {
        files.insert(f.path().filename().string());
      }
    }
    return out;
  };

  // The start after the crash sets the pool aside whole and uses nothing of it.
  ASSERT_NO_FATAL_FAILURE(OpenStore(o));
  ASSERT_TRUE(WaitForPooledFiles(pool, 8)) << "no new pool";
  auto aside = aside_dirs();
  ASSERT_EQ(aside.size(), 1u);
  EXPECT_EQ(aside.begin()->second, all_names);
  for (uint64_t id = 2; id < 6; ++id) {
    ASSERT_NO_FATAL_FAILURE(WriteReplica(id, 1, absl::StrCat("replica ", id)));
  }
  EXPECT_EQ(aside_dirs(), aside) << "a file of the crashed run's pool was used";

  // The next start sweeps it: the pool name on replica 1's file and the file with data stay.
  store_.reset();
  ASSERT_NO_FATAL_FAILURE(OpenStore(o));
  const std::string first = aside.begin()->first;
  aside = aside_dirs();
  ASSERT_EQ(aside.size(), 1u);
  EXPECT_EQ(aside[first], (std::set<std::string>{names[0].filename().string(),
                                                 names[1].filename().string()}));
  EXPECT_EQ(ReadFile(current + "/" + first + "/" + names[1].filename().string()), "data");
  EXPECT_EQ(ReadAll(1, 1), "one");

  // Two more crashes in quick succession (most likely within the second of the first one's
  // set-aside directory, which is still there), with nothing left behind but empty pool files:
  // each pool gets a directory of its own (else there would be no new pool), and the start
  // after the next sweeps it away.
  for (int crash = 0; crash < 2; ++crash) {
    ASSERT_TRUE(WaitForPooledFiles(pool, 8));
    store_.reset();
    ASSERT_TRUE(fs::remove(pool + "/.clean"));
    ASSERT_NO_FATAL_FAILURE(OpenStore(o));
    ASSERT_TRUE(WaitForPooledFiles(pool, 8)) << "no new pool after crash " << crash;
    EXPECT_EQ(aside_dirs().size(), 2u) << "crash " << crash;
  }
  store_.reset();
  ASSERT_NO_FATAL_FAILURE(OpenStore(o));
  EXPECT_EQ(aside_dirs(), aside);
  EXPECT_EQ(ReadAll(1, 1), "one");
  for (uint64_t id = 2; id < 6; ++id) EXPECT_EQ(ReadAll(id, 1), absl::StrCat("replica ", id));
}

// With no pool (file_pool_size 0) replicas are created as needed and no pool directory exists.
TEST_F(BlockStoreTest, NoPoolWhenTurnedOff) {
  BlockStoreOptions o = Options();
  o.file_pool_size = 0;
  ASSERT_NO_FATAL_FAILURE(OpenStore(o));
  ASSERT_NO_FATAL_FAILURE(WriteReplica(1, 1, "abc"));
  EXPECT_EQ(ReadAll(1, 1), "abc");
  EXPECT_FALSE(fs::exists(Vol(0) + "/current/pool"));
}

TEST_F(BlockStoreTest, FullDiskIsNotAFailedVolume) {
  ASSERT_TRUE(fs::create_directories(Vol(0)));
  if (::mount("tmpfs", Vol(0).c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << strerror(errno);
  }
  auto unmount = absl::MakeCleanup([this] {
    store_.reset();
    ::umount2(Vol(0).c_str(), MNT_DETACH);
  });
  OpenStore(Options(1));
  const std::string data = RandomBytes(100000, 3);
  WriteReplica(1, 1, data);
  {
    // Every byte left taken by something else.
    std::ofstream filler(Vol(0) + "/filler", std::ios::binary);
    const std::string chunk(64 << 10, 'f');
    while (filler.write(chunk.data(), chunk.size())) {
    }
  }
  struct statvfs vfs;
  ASSERT_EQ(::statvfs(Vol(0).c_str(), &vfs), 0);
  ASSERT_EQ(vfs.f_bavail, 0u) << "the tmpfs is not full";
  store_->CheckVolumes();
  EXPECT_EQ(store_->Report().failed_volumes, 0u);
  EXPECT_EQ(ReadAll(1, 1), data);
  // A new replica cannot be written, with a clear error...
  auto w = store_->CreateReplica(2, 1, 100000);
  if (w.ok()) {
    Status s = (*w)->Write(0, data.data(), data.size());
    if (s.ok()) s = (*w)->Finalize();
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  } else {
    EXPECT_EQ(w.status().code(), absl::StatusCode::kResourceExhausted) << w.status();
  }
  store_->CheckVolumes();
  EXPECT_EQ(store_->Report().failed_volumes, 0u);
  EXPECT_EQ(ReadAll(1, 1), data);
  // ...and can once space is freed.
  store_->DeleteReplica(2).IgnoreError();
  fs::remove(Vol(0) + "/filler");
  store_->CheckVolumes();
  WriteReplica(3, 1, data);
  EXPECT_EQ(ReadAll(3, 1), data);
  EXPECT_EQ(ReadAll(1, 1), data);
}

TEST_F(BlockStoreTest, FailedVolumeDetectedOnFinalize) {
  BlockStoreOptions o = Options(2);
  o.capacity_bytes_per_volume_for_tests = 1 << 30;  // the emptier volume wins, deterministically
  OpenStore(o);
  auto w0 = Create(1, 1);
  auto w1 = Create(2, 1);
  ASSERT_NE(w0, nullptr);
  ASSERT_NE(w1, nullptr);
  ReplicaWriter* lost = store_->GetReplica(1)->volume == 1 ? w0.get() : w1.get();
  ReplicaWriter* kept = lost == w0.get() ? w1.get() : w0.get();
  ASSERT_TRUE(lost->Write(0, "abc", 3).ok());
  fs::remove_all(Vol(1));
  Status s = lost->Finalize();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(store_->Report().failed_volumes, 1u);
  EXPECT_EQ(store_->AllReplicas().size(), 1u);
  ASSERT_TRUE(kept->Write(0, "def", 3).ok());
  ASSERT_TRUE(kept->Finalize().ok());
  EXPECT_TRUE(store_->CreateReplica(3, 1, 0).ok());
}

TEST_F(BlockStoreTest, OpenSkipsUnusableVolumes) {
  fs::create_directories(Vol(1));
  WriteFile(Vol(1) + "/current", "not a directory");
  OpenStore(Options(2));
  VolumeReport report = store_->Report();
  EXPECT_EQ(report.failed_volumes, 1u);
  EXPECT_EQ(report.volumes, 2u);
  for (uint64_t id = 1; id <= 3; ++id) {
    WriteReplica(id, 1, "abc");
    EXPECT_EQ(store_->GetReplica(id)->volume, 0);
  }
  store_.reset();

  BlockStoreOptions bad;
  bad.volumes = {Vol(1)};
  EXPECT_FALSE(BlockStore::Open(bad).ok());
  BlockStoreOptions none;
  EXPECT_EQ(BlockStore::Open(none).status().code(), absl::StatusCode::kInvalidArgument);
  BlockStoreOptions twice = Options(1);
  twice.volumes.push_back(Vol(0) + "/");
  EXPECT_EQ(BlockStore::Open(twice).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BlockStoreTest, ConcurrentReaderSeesWrittenPrefix) {
  OpenStore(Options());
  const std::string data = RandomBytes(2 << 20, 1);
  auto w = Create(1, 1);
  ASSERT_NE(w, nullptr);
  // The writer waits for one more read after every second write (no sleeping), so reads overlap
  // writes at many lengths, most of them mid-chunk.
  absl::Mutex mu;
  int reads = 0;             // guarded by mu
  bool reader_done = false;  // guarded by mu
  std::atomic<bool> writer_done{false};
  std::thread writer([&] {
    std::mt19937 rng(2);
    size_t pos = 0;
    for (int i = 0; pos < data.size(); ++i) {
      size_t k = std::min<size_t>(data.size() - pos, 1 + rng() % 70000);
      Status s = w->Write(pos, data.data() + pos, k);
      if (!s.ok()) {
        ADD_FAILURE() << s;
        break;
      }
      pos += k;
      if (i % 2 == 1) {
        absl::MutexLock l(&mu);
        const int target = reads + 1;
        auto caught_up = [&] { return reads >= target || reader_done; };
        mu.Await(absl::Condition(&caught_up));
      }
    }
    writer_done = true;
  });

  // Checksums (including a partial last chunk) match the bytes up to the length at open.
  uint64_t last_length = 0;
  std::set<uint64_t> lengths;
  auto check_once = [&]() -> bool {
    auto info = store_->GetReplica(1);
    auto r = store_->OpenReplica(1, 1);
    if (!info.ok() || !r.ok()) {
      ADD_FAILURE() << info.status() << " " << r.status();
      return false;
    }
    const uint64_t length = (*r)->length();
    EXPECT_GE(info->length, last_length);
    EXPECT_GE(length, info->length);
    last_length = length;
    lengths.insert(length);
    std::string got = ReadAll(r->get(), 256 << 10);
    if (got != data.substr(0, length)) {
      ADD_FAILURE() << "mismatch reading " << length << " bytes";
      return false;
    }
    absl::MutexLock l(&mu);
    ++reads;
    return true;
  };
  bool ok = true;
  while (ok && !writer_done.load()) ok = check_once();
  {
    absl::MutexLock l(&mu);
    reader_done = true;
  }
  writer.join();
  ASSERT_TRUE(ok);
  ASSERT_TRUE(check_once());
  EXPECT_EQ(last_length, data.size());
  EXPECT_GT(lengths.size(), 10u);
  ASSERT_TRUE(w->Finalize().ok());
}

// Fraction of the pages of `path` that are in the page cache (mincore), or -1 on error.
double ResidentFraction(const std::string& path) {
  const uint64_t size = FileSize(path);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || size == 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) return -1;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((size + page - 1) / page);
  const int rc = ::mincore(m, size, vec.data());
  ::munmap(m, size);
  if (rc != 0) return -1;
  return static_cast<double>(std::count_if(vec.begin(), vec.end(),
                                           [](unsigned char c) { return (c & 1) != 0; })) /
         static_cast<double>(vec.size());
}

// Large runs are written with O_DIRECT (they do not land in the page cache), mixed with small
// and unaligned writes and a rewrite from a lower offset; the bytes and checksums read back
// exactly either way, and with direct_io off everything goes through the page cache.
TEST_F(BlockStoreTest, DirectIoMixedWithSmallAndUnalignedWrites) {
  {
    // Skip where the file system has no O_DIRECT (tmpfs): the store then uses the page cache.
    const std::string probe = root_ + "/probe";
    int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_DIRECT | O_CLOEXEC, 0644);
    if (fd < 0) GTEST_SKIP() << "no O_DIRECT on " << root_;
    ::close(fd);
  }
  for (bool direct : {true, false}) {
    SCOPED_TRACE(direct ? "direct" : "buffered");
    BlockStoreOptions o = Options();
    o.direct_io = direct;
    OpenStore(o);
    const uint64_t id = direct ? 1 : 2;
    const std::string data = RandomBytes((8 << 20) + 1234, direct ? 11 : 12);
    auto w = Create(id, 1);
    ASSERT_NE(w, nullptr);
    // Offsets chosen to start writes aligned and unaligned, small (page cache) and large.
    const std::vector<size_t> pieces = {1 << 20, 100, 5000, (1 << 20) + 7, 3, 70000,
                                        2 << 20, 4096, 300000, 9};
    size_t pos = 0;
    for (size_t i = 0; pos < data.size(); ++i) {
      const size_t k = std::min(data.size() - pos, pieces[i % pieces.size()]);
      ASSERT_TRUE(w->Write(pos, data.data() + pos, k).ok()) << "at " << pos;
      pos += k;
      if (i == 4) {
        // A resend from below the end: the replica is cut there and continues.
        pos -= 1500;
        ASSERT_TRUE(w->Write(pos, data.data() + pos, 200000).ok());
        pos += 200000;
      }
      ASSERT_EQ(w->length(), pos);
    }
    // (Before reading back: reads fill the page cache.)
    auto path = store_->DataPathForTests(id);
    ASSERT_TRUE(path.ok());
    const double resident = ResidentFraction(*path);
    ASSERT_GE(resident, 0.0);
    if (direct) {
      EXPECT_LT(resident, 0.5) << "large writes went through the page cache";
    } else {
      EXPECT_GT(resident, 0.9);
    }
    EXPECT_EQ(ReadAll(id, 1), data);
    ASSERT_TRUE(w->Finalize().ok());
    EXPECT_EQ(ReadAll(id, 1, 5000), data);
    EXPECT_TRUE(store_->VerifyReplica(id, 0).ok());
    EXPECT_EQ(FileSize(*store_->DataPathForTests(id)), data.size());
  }
  // Both replicas survive a reopen of the store.
  OpenStore(Options());
  EXPECT_EQ(ReadAll(1, 1).size(), (8u << 20) + 1234);
  EXPECT_EQ(ReadAll(2, 1).size(), (8u << 20) + 1234);
}

TEST_F(BlockStoreTest, WriterOutlivesStore) {
  OpenStore(Options());
  auto w = Create(1, 1);
  ASSERT_NE(w, nullptr);
  store_.reset();
  ASSERT_TRUE(w->Write(0, "abcdef", 6).ok());
  ASSERT_TRUE(w->Finalize().ok());
  w.reset();
  OpenStore(Options());
  EXPECT_EQ(ReadAll(1, 1), "abcdef");
}

}  // namespace
}  // namespace cairn::datanode
