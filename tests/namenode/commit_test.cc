// Tests of how the namespace store commits: a lone mutation on the caller's thread, mutations
// arriving meanwhile queued and committed together by the commit thread in order, and the
// mutations of a Batch RPC held back and committed as one group. Log syncs are counted through
// a LevelDB Env that wraps the real one.
#include <stdlib.h>

#include <gtest/gtest.h>
#include <leveldb/env.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/logging.h"
#include "namenode/batch_ops.h"
#include "namenode/namespace_ops.h"
#include "namenode/namespace_store.h"
#include "tests/namenode/store_test_util.h"

namespace cairn::namenode {
namespace {

// Counts Sync() calls on LevelDB's write-ahead log files (*.log).
class SyncCountingEnv : public leveldb::EnvWrapper {
 public:
  SyncCountingEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

  leveldb::Status NewWritableFile(const std::string& name,
                                  leveldb::WritableFile** result) override {
    leveldb::Status s = target()->NewWritableFile(name, result);
    if (s.ok() && name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0) {
      *result = new CountingFile(*result, &log_syncs_);
    }
    return s;
  }

  int log_syncs() const { return log_syncs_.load(); }

 private:
  class CountingFile : public leveldb::WritableFile {
   public:
    CountingFile(leveldb::WritableFile* file, std::atomic<int>* syncs)
        : file_(file), syncs_(syncs) {}
    leveldb::Status Append(const leveldb::Slice& data) override { return file_->Append(data); }
    leveldb::Status Close() override { return file_->Close(); }
    leveldb::Status Flush() override { return file_->Flush(); }
    leveldb::Status Sync() override {
      syncs_->fetch_add(1);
      return file_->Sync();
    }

   private:
    std::unique_ptr<leveldb::WritableFile> file_;
    std::atomic<int>* syncs_;
  };

  std::atomic<int> log_syncs_{0};
};

class CommitTest : public StoreDirTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreDirTest::SetUp());
    NamespaceStoreOptions so;
    so.dir = dir_ + "/meta";
    so.env = &env_;
    auto store = NamespaceStore::Open(so);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ops_ = std::make_unique<NamespaceOps>(store_.get(), NamespaceOpsOptions());
  }

  void TearDown() override {
    ops_.reset();
    store_.reset();
    StoreDirTest::TearDown();
  }

  // A mutation creating directory `name` under the root, through the store directly.
  static NamespaceStore::MutationFn MkdirFn(std::string name) { return MkdirUnderRoot(name); }

  SyncCountingEnv env_;
  std::unique_ptr<NamespaceStore> store_;
  std::unique_ptr<NamespaceOps> ops_;
};

TEST_F(CommitTest, LoneMutationIsCommittedOnTheCallersThreadBeforeCommitReturns) {
  const int syncs_before = env_.log_syncs();
  std::thread::id done_on;
  Status result;
  absl::Notification done;
  cairn::v1::MkdirRequest journal_payload;
  store_->Commit("Mkdir", journal_payload, MkdirFn("a"), [&](Status s) {
    done_on = std::this_thread::get_id();
    result = s;
    done.Notify();
  });
  const bool done_at_return = done.HasBeenNotified();
  done.WaitForNotification();  // (only if the expectation below fails)
  EXPECT_TRUE(done_at_return) << "the outcome must be there when Commit returns";
  EXPECT_EQ(done_on, std::this_thread::get_id());
  EXPECT_TRUE(result.ok()) << result;
  EXPECT_EQ(env_.log_syncs(), syncs_before + 1);
  EXPECT_TRUE(store_->ResolvePath("/a").ok());
}

TEST_F(CommitTest, MutationsArrivingDuringACommitQueueAndCommitTogetherInOrder) {
  // The first mutation is held inside its function (on its caller's thread) until released.
  absl::Notification entered, release;
  std::promise<Status> first;
  std::thread committer([&] {
    cairn::v1::MkdirRequest payload;
    auto mkdir = MkdirFn("first");
    store_->Commit(
        "Mkdir", payload,
        [&, mkdir](Txn& txn) {
          entered.Notify();
          release.WaitForNotification();
          return mkdir(txn);
        },
        [&](Status s) { first.set_value(s); });
  });
  entered.WaitForNotification();
  const int syncs_before = env_.log_syncs();
  const uint64_t txid_before = store_->last_txid();

  // These arrive while the first is being committed: queued, not run on this thread.
  constexpr int kQueued = 5;
  std::vector<std::promise<std::thread::id>> done_on(kQueued);
  std::vector<Status> results(kQueued, absl::UnknownError("not run"));
  std::vector<uint64_t> last_txid_seen(kQueued);
  for (int i = 0; i < kQueued; ++i) {
    cairn::v1::MkdirRequest payload;
    store_->Commit("Mkdir", payload, MkdirFn(absl::StrCat("q", i)), [&, i](Status s) {
      results[i] = s;
      last_txid_seen[i] = store_->last_txid();
      done_on[i].set_value(std::this_thread::get_id());
    });
  }
  EXPECT_EQ(store_->last_txid(), txid_before) << "nothing may commit before the first";
  release.Notify();
  committer.join();
  EXPECT_TRUE(first.get_future().get().ok());
  for (int i = 0; i < kQueued; ++i) {
    const std::thread::id on = done_on[i].get_future().get();
    EXPECT_NE(on, std::this_thread::get_id()) << i;
    EXPECT_TRUE(results[i].ok()) << i << ": " << results[i];
    EXPECT_EQ(last_txid_seen[i], txid_before + 1 + kQueued) << "one group for the queued ones";
  }
  // The first mutation's group, then one group for the five queued behind it.
  EXPECT_EQ(env_.log_syncs(), syncs_before + 2);
  auto journal = store_->ReadJournal(txid_before + 1, 100);
  ASSERT_TRUE(journal.ok()) << journal.status();
  ASSERT_EQ(journal->size(), size_t{1 + kQueued});
  for (int i = 0; i < kQueued; ++i) {
    auto dir = store_->ResolvePath(absl::StrCat("/q", i));
    ASSERT_TRUE(dir.ok()) << dir.status();
    // Inode ids follow the commit order: the first, then the queue in arrival order.
    auto first_dir = store_->ResolvePath("/first");
    ASSERT_TRUE(first_dir.ok());
    EXPECT_EQ(dir->inode_id(), first_dir->inode_id() + 1 + i);
  }
}

TEST_F(CommitTest, BatchMutationsAreOneGroupWithOneSync) {
  BatchOps batch(ops_.get());
  constexpr int kOps = 8;
  cairn::v1::BatchRequest req;
  for (int i = 0; i < kOps; ++i) {
    req.add_ops()->mutable_create_file()->set_path(absl::StrCat("/f", i));
  }
  req.add_ops()->mutable_get_file_info()->set_path("/");
  const int syncs_before = env_.log_syncs();
  const uint64_t txid_before = store_->last_txid();
  cairn::v1::BatchResponse resp;
  std::promise<Status> done;
  batch.Batch(req, &resp, [&](Status s) { done.set_value(s); });
  ASSERT_TRUE(done.get_future().get().ok());
  ASSERT_EQ(resp.results_size(), kOps + 1);
  for (int i = 0; i < kOps; ++i) {
    EXPECT_FALSE(resp.results(i).has_error()) << i << ": " << resp.results(i).ShortDebugString();
    EXPECT_EQ(resp.results(i).create_file().info().name(), absl::StrCat("f", i));
  }
  EXPECT_EQ(store_->last_txid(), txid_before + kOps);
  EXPECT_EQ(env_.log_syncs(), syncs_before + 1);

  // A batch whose mutations fail (they exist now) syncs nothing and reports each error.
  const int syncs_after_first = env_.log_syncs();
  cairn::v1::BatchResponse again;
  std::promise<Status> done_again;
  batch.Batch(req, &again, [&](Status s) { done_again.set_value(s); });
  ASSERT_TRUE(done_again.get_future().get().ok());
  for (int i = 0; i < kOps; ++i) EXPECT_TRUE(again.results(i).has_error()) << i;
  EXPECT_EQ(store_->last_txid(), txid_before + kOps);
  EXPECT_EQ(env_.log_syncs(), syncs_after_first);
}

TEST_F(CommitTest, GroupScopeHoldsCommitsUntilItEnds) {
  const int syncs_before = env_.log_syncs();
  std::atomic<int> done{0};
  {
    NamespaceStore::GroupScope scope(store_.get());
    for (int i = 0; i < 4; ++i) {
      cairn::v1::MkdirRequest payload;
      store_->Commit("Mkdir", payload, MkdirFn(absl::StrCat("s", i)),
                     [&](Status s) { if (s.ok()) done.fetch_add(1); });
    }
    EXPECT_EQ(done.load(), 0) << "held until the scope ends";
    EXPECT_FALSE(store_->ResolvePath("/s0").ok());
  }
  // Idle store: the group was committed on this thread as the scope ended.
  EXPECT_EQ(done.load(), 4);
  EXPECT_EQ(env_.log_syncs(), syncs_before + 1);
}

}  // namespace
}  // namespace cairn::namenode
