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

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "namenode/namespace_store.h"
#include "proto/namenode.pb.h"

namespace cairn::namenode {
namespace {

namespace fs = std::filesystem;

constexpr size_t kChunk = 64 << 10;

class PreallocatedLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DisableMutexDeadlockDetection();  // as the daemons do
    char tmpl[] = "/tmp/cairn_prealloc_log_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

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
    store->Commit(
        "Mkdir", payload,
        [name](Txn& txn) -> Status {
          ASSIGN_OR_RETURN(cairn::v1::InodeRecord root, txn.Resolve("/"));
          cairn::v1::InodeRecord dir;
          dir.set_inode_id(txn.NewInodeId());
          dir.set_parent_id(root.inode_id());
          dir.set_type(cairn::v1::FILE_TYPE_DIRECTORY);
          dir.set_name(name);
          dir.set_mode(0755);
          txn.PutInode(dir);
          txn.PutChild(root.inode_id(), name, dir);
          return absl::OkStatus();
        },
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

  std::string dir_;
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

}  // namespace
}  // namespace cairn::namenode
