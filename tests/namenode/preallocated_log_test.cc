// Tests of the NameNode's preallocated LevelDB log: the log is zero-filled ahead of the writer
// while open, a copy taken while it is open (what a crash leaves: records, then zeros) opens
// with every committed mutation, and a clean close trims the zeros.
#include <stdlib.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <leveldb/db.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/logging.h"
#include "namenode/namespace_store.h"
#include "namenode/preallocated_log_env.h"
#include "tests/namenode/store_test_util.h"
#include "proto/namenode.pb.h"

namespace cairn::namenode {
namespace {

namespace fs = std::filesystem;

constexpr size_t kChunk = 64 << 10;

class PreallocatedLogTest : public StoreDirTest {
 protected:

  static std::unique_ptr<NamespaceStore> OpenStore(const std::string& dir, size_t prealloc) {
    NamespaceStoreOptions so;
    so.dir = dir;
    so.log_preallocate_bytes = prealloc;
    auto store = NamespaceStore::Open(so);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Creates directory /NAME, durably.
  static Status Mkdir(NamespaceStore* store, const std::string& name) {
    std::promise<Status> done;
    cairn::v1::MkdirRequest payload;
    payload.set_path("/" + name);
    store->Commit("Mkdir", payload, MkdirUnderRoot(name),
                  [&](Status s) { done.set_value(s); });
    return done.get_future().get();
  }

  // The sizes of the LevelDB log files in `dir`.
  static std::vector<uint64_t> LogSizes(const std::string& dir) {
    std::vector<uint64_t> sizes;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".log") sizes.push_back(e.file_size());
    }
    return sizes;
  }

  // The one log file of a closed store in `dir`.
  static std::string OnlyLog(const std::string& dir) {
    std::vector<std::string> logs;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".log") logs.push_back(e.path().string());
    }
    EXPECT_EQ(logs.size(), 1u);
    return logs.empty() ? "" : logs[0];
  }

  // Appends `bytes` and then `zeros` zero bytes to `path`: what a crash leaves in a
  // preallocated log after a write that was cut short.
  static void AppendCrashTail(const std::string& path, const std::string& bytes, size_t zeros) {
    std::ofstream f(path, std::ios::binary | std::ios::app);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    const std::string z(zeros, '\0');
    f.write(z.data(), static_cast<std::streamsize>(z.size()));
  }

  // A LevelDB log record header (db/log_format.h) for `payload` of record `type`; `good_crc`
  // false gives it a wrong checksum.
  static std::string RecordHeader(char type, const std::string& payload, bool good_crc) {
    std::string typed = std::string(1, type) + payload;
    uint32_t crc = Crc32c(typed.data(), typed.size());
    uint32_t masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    if (!good_crc) masked ^= 0x5a5a5a5a;
    std::string h(7, '\0');
    for (int i = 0; i < 4; ++i) h[i] = static_cast<char>(masked >> (8 * i));
    h[4] = static_cast<char>(payload.size() & 0xff);
    h[5] = static_cast<char>(payload.size() >> 8);
    h[6] = type;
    return h;
  }

  // Whether plain LevelDB (paranoid checks, as the NameNode opens it) opens a copy of `dir`.
  bool LevelDbOpensCopy(const std::string& dir) {
    const std::string copy = dir_ + "/leveldb-copy";
    fs::remove_all(copy);
    fs::copy(dir, copy, fs::copy_options::recursive);
    leveldb::Options lo;
    lo.paranoid_checks = true;
    leveldb::DB* db = nullptr;
    leveldb::Status s = leveldb::DB::Open(lo, copy, &db);
    delete db;
    return s.ok();
  }

  // Makes a store with /d0../d(n-1), closed cleanly.
  void MakeClosedStore(const std::string& meta, int n) {
    auto store = OpenStore(meta, kChunk);
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < n; ++i) ASSERT_TRUE(Mkdir(store.get(), absl::StrCat("d", i)).ok());
  }

  void ExpectDirs(NamespaceStore* store, int n) {
    for (int i = 0; i < n; ++i) {
      EXPECT_TRUE(store->ResolvePath(absl::StrCat("/d", i)).ok()) << "d" << i;
    }
  }
};

TEST_F(PreallocatedLogTest, LogIsZeroFilledAheadWhileOpenAndTrimmedAtClose) {
  const std::string meta = dir_ + "/meta";
  auto store = OpenStore(meta, kChunk);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Mkdir(store.get(), absl::StrCat("d", i)).ok());
  auto open_sizes = LogSizes(meta);
  ASSERT_EQ(open_sizes.size(), 1u);
  EXPECT_EQ(open_sizes[0], kChunk) << "ten small records fit in the first chunk";
  store.reset();
  auto closed_sizes = LogSizes(meta);
  ASSERT_EQ(closed_sizes.size(), 1u);
  EXPECT_GT(closed_sizes[0], 10u * 50) << "ten records are in it";
  EXPECT_LT(closed_sizes[0], kChunk) << "the zeros are trimmed at a clean close";
}

TEST_F(PreallocatedLogTest, LogLeftWithTrailingZerosRecoversEveryCommittedMutation) {
  const std::string meta = dir_ + "/meta";
  auto store = OpenStore(meta, kChunk);
  ASSERT_NE(store, nullptr);
  constexpr int kDirs = 1500;  // several chunks of log
  for (int i = 0; i < kDirs; ++i) ASSERT_TRUE(Mkdir(store.get(), absl::StrCat("d", i)).ok());
  const uint64_t txid = store->last_txid();

  // What a crash leaves behind: the files as they are while the store is open.
  const std::string copy = dir_ + "/copy";
  fs::copy(meta, copy, fs::copy_options::recursive);
  auto sizes = LogSizes(copy);
  ASSERT_EQ(sizes.size(), 1u);
  ASSERT_GT(sizes[0], kChunk) << "the test must cover more than one chunk";
  ASSERT_EQ(sizes[0] % kChunk, 0u) << "the copied log must end in preallocated zeros";

  for (size_t prealloc : {kChunk, size_t{0}}) {
    SCOPED_TRACE(absl::StrCat("reopened with log_preallocate_bytes=", prealloc));
    const std::string again = absl::StrCat(dir_, "/again", prealloc);
    fs::copy(copy, again, fs::copy_options::recursive);
    auto reopened = OpenStore(again, prealloc);
    ASSERT_NE(reopened, nullptr);
    EXPECT_EQ(reopened->last_txid(), txid);
    for (int i = 0; i < kDirs; ++i) {
      ASSERT_TRUE(reopened->ResolvePath(absl::StrCat("/d", i)).ok()) << "d" << i;
    }
    // And it goes on: the next mutation gets the next transaction id.
    ASSERT_TRUE(Mkdir(reopened.get(), "after").ok());
    EXPECT_EQ(reopened->last_txid(), txid + 1);
  }
}

// A crash in the middle of writing a record leaves it cut short, followed by the preallocated
// zeros. LevelDB alone reports that as corruption (fatal with paranoid checks: the NameNode
// would not start); the store drops the unfinished record, as for a log that ends there.
TEST_F(PreallocatedLogTest, RecordCutShortByACrashIsDroppedAtOpen) {
  const std::string meta = dir_ + "/meta";
  ASSERT_NO_FATAL_FAILURE(MakeClosedStore(meta, 20));
  // A 300-byte record of which 100 bytes made it.
  const std::string payload(300, 'x');
  AppendCrashTail(OnlyLog(meta), RecordHeader(1, payload, true) + payload.substr(0, 100),
                  kChunk);
  EXPECT_FALSE(LevelDbOpensCopy(meta)) << "the scenario must be one LevelDB refuses";
  auto store = OpenStore(meta, kChunk);
  ASSERT_NE(store, nullptr);
  ExpectDirs(store.get(), 20);
  EXPECT_TRUE(Mkdir(store.get(), "after").ok());
}

// A record spanning two log blocks is written as fragments; a crash between them leaves a
// first fragment followed by zeros.
TEST_F(PreallocatedLogTest, FirstFragmentFollowedByZerosIsDroppedAtOpen) {
  const std::string meta = dir_ + "/meta";
  ASSERT_NO_FATAL_FAILURE(MakeClosedStore(meta, 20));
  const std::string fragment(50, 'y');
  AppendCrashTail(OnlyLog(meta), RecordHeader(2 /* FIRST */, fragment, true) + fragment, kChunk);
  EXPECT_FALSE(LevelDbOpensCopy(meta)) << "the scenario must be one LevelDB refuses";
  auto store = OpenStore(meta, kChunk);
  ASSERT_NE(store, nullptr);
  ExpectDirs(store.get(), 20);
}

// A damaged record with good records after it is corruption, not a crash: it is left for
// LevelDB to report, and the store does not open.
TEST_F(PreallocatedLogTest, DamageBeforeGoodRecordsIsStillReported) {
  const std::string meta = dir_ + "/meta";
  ASSERT_NO_FATAL_FAILURE(MakeClosedStore(meta, 20));
  const std::string log = OnlyLog(meta);
  {
    std::fstream f(log, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);  // in the first record's payload
    f.put('\x7f');
  }
  AppendCrashTail(log, "", kChunk);
  NamespaceStoreOptions so;
  so.dir = meta;
  EXPECT_FALSE(NamespaceStore::Open(so).ok());
}

// The trim never touches the log of a store that is open (in this process or another): its
// writer owns the file.
TEST_F(PreallocatedLogTest, TrimLeavesTheLogOfAnOpenStoreAlone) {
  const std::string meta = dir_ + "/meta";
  auto store = OpenStore(meta, kChunk);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Mkdir(store.get(), absl::StrCat("d", i)).ok());
  ASSERT_EQ(LogSizes(meta), std::vector<uint64_t>{kChunk});
  ASSERT_TRUE(TrimPreallocatedLogs(meta).ok());
  EXPECT_EQ(LogSizes(meta), std::vector<uint64_t>{kChunk}) << "a live log was trimmed";
  ASSERT_TRUE(Mkdir(store.get(), "after").ok());
  store.reset();
  auto reopened = OpenStore(meta, kChunk);
  ASSERT_NE(reopened, nullptr);
  ExpectDirs(reopened.get(), 5);
  EXPECT_TRUE(reopened->ResolvePath("/after").ok());
}

}  // namespace
}  // namespace cairn::namenode
