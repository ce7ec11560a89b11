// Unit tests of the NameNode namespace: NamespaceOps on a NamespaceStore in a fresh temporary
// directory per test. Every mutation made through the fixture's helpers also checks the
// journal: one record with the next txid for a success, none for a failure.
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <leveldb/db.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/errno_map.h"
#include "common/logging.h"
#include "common/status.h"
#include "namenode/key_codec.h"
#include "namenode/kv_cache.h"
#include "namenode/namespace_ops.h"
#include "namenode/namespace_store.h"
#include "tests/namenode/store_test_util.h"

namespace cairn::namenode {
namespace {

using cairn::v1::FileInfo;
using cairn::v1::InodeRecord;
using cairn::v1::JournalRecord;

constexpr auto kDir = cairn::v1::FILE_TYPE_DIRECTORY;
constexpr auto kFile = cairn::v1::FILE_TYPE_FILE;
constexpr auto kSymlink = cairn::v1::FILE_TYPE_SYMLINK;

// Asserts the code and the errno of a failed Status.
#define EXPECT_FAILS(expr, want_code, want_errno)                                   \
  do {                                                                              \
    ::cairn::Status _s = (expr);                                                    \
    EXPECT_EQ(_s.code(), (want_code)) << #expr << " -> " << _s;                     \
    EXPECT_EQ(::cairn::ToErrno(_s), (want_errno)) << #expr << " -> " << _s;         \
  } while (0)

#define ASSERT_OK(expr)                                      \
  do {                                                       \
    ::cairn::Status _s = (expr);                             \
    ASSERT_TRUE(_s.ok()) << #expr << " -> " << _s;           \
  } while (0)

#define EXPECT_OK(expr)                                      \
  do {                                                       \
    ::cairn::Status _s = (expr);                             \
    EXPECT_TRUE(_s.ok()) << #expr << " -> " << _s;           \
  } while (0)

// Calls an asynchronous NamespaceOps method and waits for its Done callback.
template <typename Req, typename Resp>
Status CallSync(NamespaceOps* ops, void (NamespaceOps::*method)(const Req&, Resp*, NamespaceOps::Done),
                const Req& req, Resp* resp) {
  std::promise<Status> promise;
  auto future = promise.get_future();
  (ops->*method)(req, resp, [&promise](Status s) { promise.set_value(std::move(s)); });
  return future.get();
}

class NamespaceTest : public StoreDirTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreDirTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(OpenStore());
  }

  void TearDown() override {
    CloseStore();
    StoreDirTest::TearDown();
  }

  void OpenStore() {
    NamespaceStoreOptions so;
    so.dir = dir_ + "/meta";
    so.read_cache_entries = read_cache_entries_;
    so.journal_retain_txns = journal_retain_txns_;
    auto store = NamespaceStore::Open(so);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ops_ = std::make_unique<NamespaceOps>(store_.get(), options_);
  }

  void CloseStore() {
    ops_.reset();
    store_.reset();
  }

  void ReopenStore() {
    CloseStore();
    ASSERT_NO_FATAL_FAILURE(OpenStore());
  }

  // Runs a mutation and checks the journal: exactly one new record (txid last+1, `op`, the
  // request) on success, none on failure.
  template <typename Req, typename Resp>
  Status Mutation(absl::string_view op,
                  void (NamespaceOps::*method)(const Req&, Resp*, NamespaceOps::Done),
                  const Req& req, Resp* resp) {
    const uint64_t before = store_->last_txid();
    Status s = CallSync(ops_.get(), method, req, resp);
    auto journal = store_->ReadJournal(before + 1, 10);
    EXPECT_TRUE(journal.ok()) << journal.status();
    if (!journal.ok()) return s;
    if (s.ok()) {
      EXPECT_EQ(store_->last_txid(), before + 1) << op << " " << req.ShortDebugString();
      EXPECT_EQ(journal->size(), 1u) << op << " " << req.ShortDebugString();
      if (journal->size() == 1) {
        const JournalRecord& rec = (*journal)[0];
        EXPECT_EQ(rec.txid(), before + 1);
        EXPECT_EQ(rec.op(), op);
        EXPECT_EQ(rec.request(), req.SerializeAsString());
        EXPECT_GT(rec.time_ms(), 0);
      }
    } else {
      EXPECT_EQ(store_->last_txid(), before) << op << " failed but moved last_txid: " << s;
      EXPECT_TRUE(journal->empty()) << op << " failed but wrote a journal record: " << s;
    }
    return s;
  }

  // ---- Operation helpers ----

  Status Mkdir(const std::string& path, bool parents = false, uint32_t mode = 0,
               const std::string& owner = "", const std::string& group = "",
               FileInfo* info = nullptr) {
    cairn::v1::MkdirRequest req;
    req.set_path(path);
    req.set_parents(parents);
    req.set_mode(mode);
    req.set_owner(owner);
    req.set_group(group);
    cairn::v1::MkdirResponse resp;
    Status s = Mutation("Mkdir", &NamespaceOps::Mkdir, req, &resp);
    if (info) *info = resp.info();
    return s;
  }

  Status Create(const cairn::v1::CreateFileRequest& req, FileInfo* info = nullptr) {
    cairn::v1::CreateFileResponse resp;
    Status s = Mutation("CreateFile", &NamespaceOps::CreateFile, req, &resp);
    if (info) *info = resp.info();
    return s;
  }

  Status Create(const std::string& path, FileInfo* info = nullptr) {
    cairn::v1::CreateFileRequest req;
    req.set_path(path);
    return Create(req, info);
  }

  Status CreateOverwrite(const std::string& path, FileInfo* info = nullptr) {
    cairn::v1::CreateFileRequest req;
    req.set_path(path);
    req.set_overwrite(true);
    return Create(req, info);
  }

  Status Symlink(const std::string& path, const std::string& target, FileInfo* info = nullptr,
                 const std::string& owner = "", const std::string& group = "") {
    cairn::v1::CreateSymlinkRequest req;
    req.set_path(path);
    req.set_target(target);
    req.set_owner(owner);
    req.set_group(group);
    cairn::v1::CreateSymlinkResponse resp;
    Status s = Mutation("CreateSymlink", &NamespaceOps::CreateSymlink, req, &resp);
    if (info) *info = resp.info();
    return s;
  }

  Status Rename(const std::string& src, const std::string& dst, bool no_replace = false) {
    cairn::v1::RenameRequest req;
    req.set_src(src);
    req.set_dst(dst);
    req.set_no_replace(no_replace);
    cairn::v1::RenameResponse resp;
    return Mutation("Rename", &NamespaceOps::Rename, req, &resp);
  }

  Status Delete(const std::string& path, bool recursive = false) {
    cairn::v1::DeleteRequest req;
    req.set_path(path);
    req.set_recursive(recursive);
    cairn::v1::DeleteResponse resp;
    return Mutation("Delete", &NamespaceOps::Delete, req, &resp);
  }

  Status SetReplication(const std::string& path, uint32_t replication) {
    cairn::v1::SetReplicationRequest req;
    req.set_path(path);
    req.set_replication(replication);
    cairn::v1::SetReplicationResponse resp;
    return Mutation("SetReplication", &NamespaceOps::SetReplication, req, &resp);
  }

  Status SetPermission(const std::string& path, uint32_t mode) {
    cairn::v1::SetPermissionRequest req;
    req.set_path(path);
    req.set_mode(mode);
    cairn::v1::SetPermissionResponse resp;
    return Mutation("SetPermission", &NamespaceOps::SetPermission, req, &resp);
  }

  Status SetOwner(const std::string& path, const std::string& owner, const std::string& group) {
    cairn::v1::SetOwnerRequest req;
    req.set_path(path);
    req.set_owner(owner);
    req.set_group(group);
    cairn::v1::SetOwnerResponse resp;
    return Mutation("SetOwner", &NamespaceOps::SetOwner, req, &resp);
  }

  Status SetTimes(const std::string& path, std::optional<int64_t> mtime_ms,
                  std::optional<int64_t> atime_ms) {
    cairn::v1::SetTimesRequest req;
    req.set_path(path);
    if (mtime_ms) req.set_mtime_ms(*mtime_ms);
    if (atime_ms) req.set_atime_ms(*atime_ms);
    cairn::v1::SetTimesResponse resp;
    return Mutation("SetTimes", &NamespaceOps::SetTimes, req, &resp);
  }

  // Reads: they must never write to the journal either.
  StatusOr<FileInfo> Info(const std::string& path) {
    const uint64_t before = store_->last_txid();
    cairn::v1::GetFileInfoRequest req;
    req.set_path(path);
    cairn::v1::GetFileInfoResponse resp;
    Status s = CallSync(ops_.get(), &NamespaceOps::GetFileInfo, req, &resp);
    EXPECT_EQ(store_->last_txid(), before) << "GetFileInfo wrote to the journal";
    if (!s.ok()) return s;
    return resp.info();
  }

  Status InfoStatus(const std::string& path) { return Info(path).status(); }

  Status List(const std::string& path, const std::string& start_after, uint32_t limit,
              cairn::v1::ListDirectoryResponse* resp) {
    const uint64_t before = store_->last_txid();
    cairn::v1::ListDirectoryRequest req;
    req.set_path(path);
    req.set_start_after(start_after);
    req.set_limit(limit);
    Status s = CallSync(ops_.get(), &NamespaceOps::ListDirectory, req, resp);
    EXPECT_EQ(store_->last_txid(), before) << "ListDirectory wrote to the journal";
    return s;
  }

  // Every name in `path`, following has_more through pages of `limit`.
  std::vector<std::string> ListAll(const std::string& path, uint32_t limit = 0) {
    std::vector<std::string> names;
    std::string after;
    for (int pages = 0; pages < 1000000; ++pages) {
      cairn::v1::ListDirectoryResponse resp;
      Status s = List(path, after, limit, &resp);
      EXPECT_TRUE(s.ok()) << path << ": " << s;
      if (!s.ok()) break;
      for (const auto& e : resp.entries()) names.push_back(e.name());
      if (!resp.has_more()) break;
      EXPECT_GT(resp.entries_size(), 0) << "has_more with an empty page";
      if (resp.entries_size() == 0) break;
      after = resp.entries(resp.entries_size() - 1).name();
    }
    return names;
  }

  // The field of `path` (0 and a test failure if it does not resolve).
  uint64_t Children(const std::string& path) {
    auto info = Info(path);
    EXPECT_TRUE(info.ok()) << path << ": " << info.status();
    return info.ok() ? info->children_count() : 0;
  }
  uint64_t InodeId(const std::string& path) {
    auto info = Info(path);
    EXPECT_TRUE(info.ok()) << path << ": " << info.status();
    return info.ok() ? info->inode_id() : 0;
  }

  // Waits (a few ms at most) until the wall clock is past `ms`, so that a later time stamp is
  // distinguishable from `ms`.
  static void WaitForClockPast(int64_t ms) {
    const int64_t deadline = MonoMillis() + 2000;
    while (WallMillis() <= ms && MonoMillis() < deadline) std::this_thread::yield();
    ASSERT_GT(WallMillis(), ms);
  }

  NamespaceOpsOptions options_;
  size_t read_cache_entries_ = NamespaceStoreOptions().read_cache_entries;
  uint64_t journal_retain_txns_ = NamespaceStoreOptions().journal_retain_txns;
  std::unique_ptr<NamespaceStore> store_;
  std::unique_ptr<NamespaceOps> ops_;
};

// ================================ Store basics ================================

TEST_F(NamespaceTest, FreshStoreHasOnlyTheRoot) {
  auto root = Info("/");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->inode_id(), kRootInodeId);
  EXPECT_EQ(root->type(), kDir);
  EXPECT_EQ(root->name(), "");
  EXPECT_EQ(root->mode(), 0755u);
  EXPECT_EQ(root->owner(), "root");
  EXPECT_EQ(root->group(), "root");
  EXPECT_EQ(root->children_count(), 0u);
  EXPECT_TRUE(ListAll("/").empty());
  int inodes = 0;
  ASSERT_OK(store_->ForEachInode([&](const InodeRecord&) { ++inodes; }));
  EXPECT_EQ(inodes, 1);
  // Formatting is the first transaction.
  EXPECT_EQ(store_->last_txid(), 1u);
  auto journal = store_->ReadJournal(1, 10);
  ASSERT_TRUE(journal.ok());
  ASSERT_EQ(journal->size(), 1u);
  EXPECT_EQ((*journal)[0].op(), "Format");
}

TEST_F(NamespaceTest, OpenRejectsEmptyDirectory) {
  NamespaceStoreOptions so;
  auto store = NamespaceStore::Open(so);
  EXPECT_FAILS(store.status(), absl::StatusCode::kInvalidArgument, EINVAL);
}

TEST_F(NamespaceTest, SecondOpenOfALockedStoreFailsCleanly) {
  NamespaceStoreOptions so;
  so.dir = dir_ + "/meta";
  auto second = NamespaceStore::Open(so);
  EXPECT_FALSE(second.ok());
}

TEST_F(NamespaceTest, GetInodeOfUnknownIdIsNotFound) {
  EXPECT_FAILS(store_->GetInode(424242).status(), absl::StatusCode::kNotFound, ENOENT);
  auto root = store_->GetInode(kRootInodeId);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->type(), kDir);
}

// ================================ Mkdir ================================

TEST_F(NamespaceTest, MkdirCreatesDirectoryWithAttributes) {
  const int64_t before = WallMillis();
  FileInfo info;
  ASSERT_OK(Mkdir("/a", false, 0700, "alice", "staff", &info));
  const int64_t after = WallMillis();
  EXPECT_EQ(info.type(), kDir);
  EXPECT_EQ(info.name(), "a");
  EXPECT_EQ(info.mode(), 0700u);
  EXPECT_EQ(info.owner(), "alice");
  EXPECT_EQ(info.group(), "staff");
  EXPECT_GT(info.inode_id(), kRootInodeId);

  auto got = Info("/a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->inode_id(), info.inode_id());
  EXPECT_EQ(got->type(), kDir);
  EXPECT_EQ(got->mode(), 0700u);
  EXPECT_EQ(got->owner(), "alice");
  EXPECT_EQ(got->group(), "staff");
  EXPECT_EQ(got->children_count(), 0u);
  EXPECT_GE(got->mtime_ms(), before);
  EXPECT_LE(got->mtime_ms(), after);
  EXPECT_EQ(got->atime_ms(), got->mtime_ms());
  EXPECT_EQ(got->ctime_ms(), got->mtime_ms());
  EXPECT_EQ(Children("/"), 1u);
  // The parent's mtime follows the new entry.
  auto root = Info("/");
  ASSERT_TRUE(root.ok());
  EXPECT_GE(root->mtime_ms(), before);
}

TEST_F(NamespaceTest, MkdirDefaultsModeAndInheritsOwnerGroup) {
  FileInfo info;
  ASSERT_OK(Mkdir("/a", false, 0, "", "", &info));
  EXPECT_EQ(info.mode(), 0755u);
  EXPECT_EQ(info.owner(), "root");
  EXPECT_EQ(info.group(), "root");
  ASSERT_OK(Mkdir("/a/b", false, 0, "bob", "", &info));
  ASSERT_OK(Mkdir("/a/b/c", false, 0, "", "", &info));
  EXPECT_EQ(info.owner(), "bob");
  EXPECT_EQ(info.group(), "root");
  // Type bits beyond 07777 are dropped.
  ASSERT_OK(Mkdir("/m", false, 040750, "", "", &info));
  EXPECT_EQ(info.mode(), 0750u);
  EXPECT_EQ(Info("/m")->mode(), 0750u);
}

TEST_F(NamespaceTest, MkdirExistingIsEEXIST) {
  ASSERT_OK(Mkdir("/a"));
  ASSERT_OK(Create("/f"));
  const uint64_t a_id = InodeId("/a");
  EXPECT_FAILS(Mkdir("/a"), absl::StatusCode::kAlreadyExists, EEXIST);
  EXPECT_FAILS(Mkdir("/f"), absl::StatusCode::kAlreadyExists, EEXIST);
  EXPECT_FAILS(Mkdir("/"), absl::StatusCode::kAlreadyExists, EEXIST);
  EXPECT_EQ(InodeId("/a"), a_id);
  EXPECT_EQ(Info("/f")->type(), kFile);
  EXPECT_EQ(Children("/"), 2u);
}

TEST_F(NamespaceTest, MkdirMissingParentIsENOENT) {
  EXPECT_FAILS(Mkdir("/x/y"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(Mkdir("/x/y/z"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(InfoStatus("/x"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_EQ(Children("/"), 0u);
}

TEST_F(NamespaceTest, MkdirUnderFileIsENOTDIR) {
  ASSERT_OK(Create("/f"));
  EXPECT_FAILS(Mkdir("/f/x"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_FAILS(Mkdir("/f/x/y"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_EQ(Info("/f")->type(), kFile);
}

TEST_F(NamespaceTest, MkdirParentsCreatesEveryMissingAncestor) {
  ASSERT_OK(Mkdir("/a"));
  FileInfo info;
  ASSERT_OK(Mkdir("/a/b/c/d", true, 0711, "carol", "eng", &info));
  EXPECT_EQ(info.name(), "d");
  EXPECT_EQ(info.type(), kDir);
  EXPECT_EQ(InodeId("/a/b/c/d"), info.inode_id());
  for (const std::string p : {"/a/b", "/a/b/c", "/a/b/c/d"}) {
    auto i = Info(p);
    ASSERT_TRUE(i.ok()) << p << ": " << i.status();
    EXPECT_EQ(i->type(), kDir) << p;
    EXPECT_EQ(i->mode(), 0711u) << p;
    EXPECT_EQ(i->owner(), "carol") << p;
  }
  EXPECT_EQ(Children("/"), 1u);
  EXPECT_EQ(Children("/a"), 1u);
  EXPECT_EQ(Children("/a/b"), 1u);
  EXPECT_EQ(Children("/a/b/c"), 1u);
  EXPECT_EQ(Children("/a/b/c/d"), 0u);
}

TEST_F(NamespaceTest, MkdirParentsOverExistingDirectoryIsOk) {
  FileInfo first;
  ASSERT_OK(Mkdir("/a/b", true, 0, "", "", &first));
  const uint64_t a_id = InodeId("/a");
  FileInfo again;
  ASSERT_OK(Mkdir("/a/b", true, 0, "", "", &again));
  EXPECT_EQ(again.inode_id(), first.inode_id());
  EXPECT_EQ(InodeId("/a"), a_id);
  EXPECT_EQ(Children("/a"), 1u);
  ASSERT_OK(Mkdir("/", true));
  EXPECT_EQ(Children("/"), 1u);
}

TEST_F(NamespaceTest, MkdirParentsThroughAFile) {
  ASSERT_OK(Mkdir("/d"));
  ASSERT_OK(Create("/d/f"));
  // A file in the middle of the path.
  EXPECT_FAILS(Mkdir("/d/f/x", true), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_FAILS(Mkdir("/d/f/x/y", true), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  // The file is the last component.
  EXPECT_FAILS(Mkdir("/d/f", true), absl::StatusCode::kAlreadyExists, EEXIST);
  EXPECT_EQ(Info("/d/f")->type(), kFile);
  EXPECT_EQ(Children("/d"), 1u);
  // Nothing half-made when a later component fails.
  ASSERT_OK(Create("/d/g"));
  EXPECT_FAILS(Mkdir("/d/new/g2", false), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(InfoStatus("/d/new"), absl::StatusCode::kNotFound, ENOENT);
}

// ================================ CreateFile ================================

TEST_F(NamespaceTest, CreateFileStoresItsAttributes) {
  cairn::v1::CreateFileRequest req;
  req.set_path("/f");
  req.set_replication(2);
  req.set_block_size_bytes(1 << 20);
  req.set_mode(0600);
  req.set_owner("alice");
  req.set_group("staff");
  const int64_t before = WallMillis();
  FileInfo created;
  ASSERT_OK(Create(req, &created));
  const int64_t after = WallMillis();
  auto info = Info("/f");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->inode_id(), created.inode_id());
  EXPECT_EQ(info->type(), kFile);
  EXPECT_EQ(info->name(), "f");
  EXPECT_EQ(info->length_bytes(), 0u);
  EXPECT_EQ(info->replication(), 2u);
  EXPECT_EQ(info->block_size_bytes(), 1u << 20);
  EXPECT_EQ(info->mode(), 0600u);
  EXPECT_EQ(info->owner(), "alice");
  EXPECT_EQ(info->group(), "staff");
  EXPECT_GE(info->mtime_ms(), before);
  EXPECT_LE(info->mtime_ms(), after);
  EXPECT_EQ(info->atime_ms(), info->mtime_ms());
  EXPECT_EQ(info->ctime_ms(), info->mtime_ms());
  EXPECT_EQ(info->children_count(), 0u);
  EXPECT_FALSE(info->under_construction());
  EXPECT_EQ(info->ack_mode(), cairn::v1::ACK_MODE_SYNC);
  EXPECT_EQ(Children("/"), 1u);
  // The stored record agrees.
  auto rec = store_->GetInode(created.inode_id());
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->parent_id(), kRootInodeId);
  EXPECT_EQ(rec->name(), "f");
  EXPECT_TRUE(rec->lease_holder().empty());
}

TEST_F(NamespaceTest, CreateFileDefaults) {
  ASSERT_OK(Mkdir("/d", false, 0, "dan", "devs"));
  FileInfo info;
  ASSERT_OK(Create("/d/f", &info));
  EXPECT_EQ(info.replication(), options_.default_replication);
  EXPECT_EQ(info.block_size_bytes(), options_.default_block_size_bytes);
  EXPECT_EQ(info.mode(), 0644u);
  EXPECT_EQ(info.owner(), "dan");
  EXPECT_EQ(info.group(), "devs");
  auto got = Info("/d/f");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->replication(), 3u);
  EXPECT_EQ(got->block_size_bytes(), 64u << 20);
}

TEST_F(NamespaceTest, CreateFileWithClientNameIsUnderConstruction) {
  cairn::v1::CreateFileRequest req;
  req.set_path("/f");
  req.set_client_name("client-1");
  req.set_ack_mode(cairn::v1::ACK_MODE_ASYNC);
  ASSERT_OK(Create(req));
  auto info = Info("/f");
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->under_construction());
  EXPECT_EQ(info->ack_mode(), cairn::v1::ACK_MODE_ASYNC);
  EXPECT_EQ(store_->GetInode(info->inode_id())->lease_holder(), "client-1");
  // Another client cannot overwrite it while the lease is held; the holder can.
  req.set_overwrite(true);
  req.set_client_name("client-2");
  EXPECT_FAILS(Create(req), absl::StatusCode::kFailedPrecondition, ETXTBSY);
  req.set_client_name("client-1");
  FileInfo replaced;
  ASSERT_OK(Create(req, &replaced));
  EXPECT_NE(replaced.inode_id(), info->inode_id());
}

TEST_F(NamespaceTest, CreateFileExistingIsEEXIST) {
  FileInfo first;
  ASSERT_OK(Create("/f", &first));
  EXPECT_FAILS(Create("/f"), absl::StatusCode::kAlreadyExists, EEXIST);
  ASSERT_OK(Symlink("/l", "/f"));
  EXPECT_FAILS(Create("/l"), absl::StatusCode::kAlreadyExists, EEXIST);
  EXPECT_EQ(InodeId("/f"), first.inode_id());
  EXPECT_EQ(Children("/"), 2u);
}

TEST_F(NamespaceTest, CreateFileOverwriteReplacesAFile) {
  cairn::v1::CreateFileRequest req;
  req.set_path("/f");
  req.set_replication(2);
  req.set_owner("old");
  FileInfo old_info;
  ASSERT_OK(Create(req, &old_info));
  req.set_overwrite(true);
  req.set_replication(5);
  req.set_owner("new");
  FileInfo new_info;
  ASSERT_OK(Create(req, &new_info));
  EXPECT_NE(new_info.inode_id(), old_info.inode_id());
  EXPECT_GT(new_info.inode_id(), old_info.inode_id());
  auto got = Info("/f");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->inode_id(), new_info.inode_id());
  EXPECT_EQ(got->replication(), 5u);
  EXPECT_EQ(got->owner(), "new");
  // The old inode is gone, the parent still has one child.
  EXPECT_FAILS(store_->GetInode(old_info.inode_id()).status(), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_EQ(Children("/"), 1u);
  EXPECT_EQ(ListAll("/"), std::vector<std::string>{"f"});
  // overwrite on a path that does not exist just creates it.
  ASSERT_OK(CreateOverwrite("/g"));
  EXPECT_EQ(Children("/"), 2u);
}

TEST_F(NamespaceTest, CreateFileNeverReplacesADirectory) {
  ASSERT_OK(Mkdir("/d"));
  ASSERT_OK(Create("/d/child"));
  const uint64_t d_id = InodeId("/d");
  EXPECT_FAILS(CreateOverwrite("/d"), absl::StatusCode::kFailedPrecondition, EISDIR);
  EXPECT_FAILS(Create("/d"), absl::StatusCode::kFailedPrecondition, EISDIR);
  ASSERT_OK(Mkdir("/empty"));
  EXPECT_FAILS(CreateOverwrite("/empty"), absl::StatusCode::kFailedPrecondition, EISDIR);
  EXPECT_FAILS(CreateOverwrite("/"), absl::StatusCode::kFailedPrecondition, EISDIR);
  EXPECT_EQ(InodeId("/d"), d_id);
  EXPECT_EQ(Info("/d")->type(), kDir);
  EXPECT_EQ(Info("/empty")->type(), kDir);
  EXPECT_TRUE(Info("/d/child").ok());
  EXPECT_EQ(Children("/"), 2u);
}

TEST_F(NamespaceTest, CreateFileRejectsBadReplicationAndBlockSize) {
  cairn::v1::CreateFileRequest req;
  req.set_path("/f");
  req.set_replication(options_.max_replication + 1);
  EXPECT_FAILS(Create(req), absl::StatusCode::kInvalidArgument, EINVAL);
  req.set_replication(1000000);
  EXPECT_FAILS(Create(req), absl::StatusCode::kInvalidArgument, EINVAL);
  req.set_replication(options_.max_replication);
  ASSERT_OK(Create(req));

  req.set_replication(1);
  req.set_overwrite(true);
  for (uint64_t bad : {uint64_t{512}, options_.min_block_size_bytes - 512,
                       options_.min_block_size_bytes + 1, uint64_t{1} << 20 | 100,
                       options_.max_block_size_bytes + 512, ~uint64_t{0}}) {
    req.set_block_size_bytes(bad);
    Status s = Create(req);
    EXPECT_FAILS(s, absl::StatusCode::kInvalidArgument, EINVAL);
    EXPECT_NE(s.message().find("/f"), absl::string_view::npos) << s;
  }
  for (uint64_t good : {options_.min_block_size_bytes, options_.max_block_size_bytes,
                        uint64_t{128} << 10}) {
    req.set_block_size_bytes(good);
    FileInfo info;
    ASSERT_OK(Create(req, &info));
    EXPECT_EQ(info.block_size_bytes(), good);
    EXPECT_EQ(Info("/f")->block_size_bytes(), good);
  }
  EXPECT_EQ(Children("/"), 1u);
}

TEST_F(NamespaceTest, CreateFileMissingParentAndParentIsFile) {
  EXPECT_FAILS(Create("/nodir/f"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(Create("/nodir/sub/f"), absl::StatusCode::kNotFound, ENOENT);
  ASSERT_OK(Create("/file"));
  EXPECT_FAILS(Create("/file/f"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_FAILS(Create("/file/sub/f"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_EQ(Children("/"), 1u);
}

TEST_F(NamespaceTest, CreateFileCreateParents) {
  cairn::v1::CreateFileRequest req;
  req.set_path("/x/y/z/f");
  req.set_create_parents(true);
  req.set_owner("erin");
  FileInfo info;
  ASSERT_OK(Create(req, &info));
  EXPECT_EQ(InodeId("/x/y/z/f"), info.inode_id());
  for (const std::string p : {"/x", "/x/y", "/x/y/z"}) {
    auto d = Info(p);
    ASSERT_TRUE(d.ok()) << p;
    EXPECT_EQ(d->type(), kDir) << p;
    EXPECT_EQ(d->children_count(), 1u) << p;
    EXPECT_EQ(d->owner(), "erin") << p;
  }
  // Existing ancestors are reused.
  req.set_path("/x/y/g");
  ASSERT_OK(Create(req));
  EXPECT_EQ(Children("/x/y"), 2u);
  EXPECT_EQ(Children("/"), 1u);
}

TEST_F(NamespaceTest, CreateFileCreateParentsThroughAFileIsENOTDIR) {
  ASSERT_OK(Create("/f"));
  cairn::v1::CreateFileRequest req;
  req.set_create_parents(true);
  // A file two levels up.
  req.set_path("/f/x/g");
  EXPECT_FAILS(Create(req), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  // The file is the immediate parent: open("/f/g", O_CREAT) gives ENOTDIR.
  req.set_path("/f/g");
  EXPECT_FAILS(Create(req), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_EQ(Info("/f")->type(), kFile);
}

TEST_F(NamespaceTest, CreateFileAtRootIsEISDIR) {
  EXPECT_FAILS(Create("/"), absl::StatusCode::kFailedPrecondition, EISDIR);
}

// ================================ GetFileInfo ================================

TEST_F(NamespaceTest, GetFileInfoFields) {
  ASSERT_OK(Mkdir("/d", false, 0750, "u1", "g1"));
  cairn::v1::CreateFileRequest req;
  req.set_path("/d/f");
  req.set_replication(4);
  req.set_block_size_bytes(8 << 20);
  req.set_mode(0640);
  req.set_owner("u2");
  req.set_group("g2");
  FileInfo created;
  ASSERT_OK(Create(req, &created));
  ASSERT_OK(Mkdir("/d/sub"));
  ASSERT_OK(Symlink("/d/link", "f"));
  ASSERT_OK(SetTimes("/d/f", 1000, 2000));

  auto f = Info("/d/f");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->type(), kFile);
  EXPECT_EQ(f->name(), "f");
  EXPECT_EQ(f->inode_id(), created.inode_id());
  EXPECT_EQ(f->length_bytes(), 0u);
  EXPECT_EQ(f->replication(), 4u);
  EXPECT_EQ(f->block_size_bytes(), 8u << 20);
  EXPECT_EQ(f->mode(), 0640u);
  EXPECT_EQ(f->owner(), "u2");
  EXPECT_EQ(f->group(), "g2");
  EXPECT_EQ(f->mtime_ms(), 1000);
  EXPECT_EQ(f->atime_ms(), 2000);
  EXPECT_EQ(f->children_count(), 0u);
  EXPECT_TRUE(f->symlink_target().empty());

  auto d = Info("/d");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->type(), kDir);
  EXPECT_EQ(d->mode(), 0750u);
  EXPECT_EQ(d->owner(), "u1");
  EXPECT_EQ(d->group(), "g1");
  EXPECT_EQ(d->children_count(), 3u);
  EXPECT_EQ(d->replication(), 0u);

  // A trailing slash names the same inode.
  EXPECT_EQ(InodeId("/d/"), d->inode_id());

  auto l = Info("/d/link");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->type(), kSymlink);  // not followed
  EXPECT_EQ(l->symlink_target(), "f");

  // Inode ids are unique.
  std::set<uint64_t> ids{kRootInodeId, d->inode_id(), f->inode_id(), l->inode_id(),
                         InodeId("/d/sub")};
  EXPECT_EQ(ids.size(), 5u);
}

TEST_F(NamespaceTest, GetFileInfoErrors) {
  ASSERT_OK(Create("/f"));
  EXPECT_FAILS(InfoStatus("/nope"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(InfoStatus("/nope/deeper"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(InfoStatus("/f/x"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  // Through a symlink: not followed, so the symlink is not a directory.
  ASSERT_OK(Mkdir("/d"));
  ASSERT_OK(Symlink("/l", "/d"));
  EXPECT_FAILS(InfoStatus("/l/x"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
}

// ================================ ListDirectory ================================

TEST_F(NamespaceTest, ListIsSortedByName) {
  ASSERT_OK(Mkdir("/d"));
  const std::vector<std::string> names = {"b", "a", "B", "aa", "a.b", "_", "z9", "z10", "0",
                                          "~tilde", "A", "ab"};
  for (size_t i = 0; i < names.size(); ++i) {
    if (i % 3 == 0) {
      ASSERT_OK(Mkdir("/d/" + names[i]));
    } else if (i % 3 == 1) {
      ASSERT_OK(Create("/d/" + names[i]));
    } else {
      ASSERT_OK(Symlink("/d/" + names[i], "t"));
    }
  }
  std::vector<std::string> want = names;
  std::sort(want.begin(), want.end());  // byte order
  cairn::v1::ListDirectoryResponse resp;
  ASSERT_OK(List("/d", "", 0, &resp));
  EXPECT_FALSE(resp.has_more());
  std::vector<std::string> got;
  for (const auto& e : resp.entries()) {
    got.push_back(e.name());
    // Each entry carries the same info as GetFileInfo.
    auto info = Info("/d/" + e.name());
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->SerializeAsString(), e.SerializeAsString()) << e.name();
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(Children("/d"), names.size());
  // The same with a trailing slash.
  EXPECT_EQ(ListAll("/d/"), want);
}

TEST_F(NamespaceTest, ListEmptyDirectory) {
  ASSERT_OK(Mkdir("/e"));
  cairn::v1::ListDirectoryResponse resp;
  ASSERT_OK(List("/e", "", 10, &resp));
  EXPECT_EQ(resp.entries_size(), 0);
  EXPECT_FALSE(resp.has_more());
  ASSERT_OK(List("/e", "zzz", 10, &resp));
  EXPECT_EQ(resp.entries_size(), 0);
}

TEST_F(NamespaceTest, ListPaginatesWithStartAfterAndLimit) {
  ASSERT_OK(Mkdir("/d"));
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) {
    names.push_back(absl::StrFormat("f%02d", i * 2));  // f00, f02, ... f18
    ASSERT_OK(Create("/d/" + names.back()));
  }
  // Pages of 3: 3, 3, 3, 1.
  std::vector<std::string> got;
  std::string after;
  std::vector<int> sizes;
  std::vector<bool> more;
  for (int page = 0; page < 10; ++page) {
    cairn::v1::ListDirectoryResponse resp;
    ASSERT_OK(List("/d", after, 3, &resp));
    sizes.push_back(resp.entries_size());
    more.push_back(resp.has_more());
    for (const auto& e : resp.entries()) got.push_back(e.name());
    if (!resp.has_more()) break;
    after = got.back();
  }
  EXPECT_EQ(sizes, (std::vector<int>{3, 3, 3, 1}));
  EXPECT_EQ(more, (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(got, names);

  // An exact fit: the last full page has has_more = false.
  cairn::v1::ListDirectoryResponse resp;
  ASSERT_OK(List("/d", "f08", 5, &resp));
  EXPECT_EQ(resp.entries_size(), 5);
  EXPECT_EQ(resp.entries(0).name(), "f10");
  EXPECT_FALSE(resp.has_more());

  // start_after need not exist: listing resumes at the next name.
  resp.Clear();
  ASSERT_OK(List("/d", "f05", 2, &resp));
  ASSERT_EQ(resp.entries_size(), 2);
  EXPECT_EQ(resp.entries(0).name(), "f06");
  EXPECT_EQ(resp.entries(1).name(), "f08");
  EXPECT_TRUE(resp.has_more());
  // A prefix of an existing name sorts before it.
  resp.Clear();
  ASSERT_OK(List("/d", "f1", 1, &resp));
  ASSERT_EQ(resp.entries_size(), 1);
  EXPECT_EQ(resp.entries(0).name(), "f10");

  // After the last name: nothing more.
  resp.Clear();
  ASSERT_OK(List("/d", "f18", 3, &resp));
  EXPECT_EQ(resp.entries_size(), 0);
  EXPECT_FALSE(resp.has_more());
  resp.Clear();
  ASSERT_OK(List("/d", "g", 3, &resp));
  EXPECT_EQ(resp.entries_size(), 0);
  EXPECT_FALSE(resp.has_more());

  // Before the first name: everything. limit 0 = the default (1000).
  resp.Clear();
  ASSERT_OK(List("/d", "a", 0, &resp));
  EXPECT_EQ(resp.entries_size(), 10);
  EXPECT_FALSE(resp.has_more());
  // limit 1 walks one name at a time.
  EXPECT_EQ(ListAll("/d", 1), names);
}

TEST_F(NamespaceTest, ListOnlyShowsTheDirectorysOwnChildren) {
  ASSERT_OK(Mkdir("/a/b/c", true));
  ASSERT_OK(Create("/a/f"));
  ASSERT_OK(Create("/a/b/g"));
  ASSERT_OK(Create("/z"));
  EXPECT_EQ(ListAll("/"), (std::vector<std::string>{"a", "z"}));
  EXPECT_EQ(ListAll("/a"), (std::vector<std::string>{"b", "f"}));
  EXPECT_EQ(ListAll("/a/b"), (std::vector<std::string>{"c", "g"}));
  EXPECT_TRUE(ListAll("/a/b/c").empty());
}

TEST_F(NamespaceTest, ListErrors) {
  ASSERT_OK(Create("/f"));
  ASSERT_OK(Symlink("/l", "/"));
  cairn::v1::ListDirectoryResponse resp;
  EXPECT_FAILS(List("/f", "", 0, &resp), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_FAILS(List("/l", "", 0, &resp), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_FAILS(List("/missing", "", 0, &resp), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(List("/f/sub", "", 0, &resp), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_EQ(resp.entries_size(), 0);
}

// 100,000 entries, created with concurrent commits (no waiting between submissions), list
// completely and in order, one page of at most 10,000 at a time.
TEST_F(NamespaceTest, HundredThousandEntriesListCompletelyInPages) {
  constexpr int kEntries = 100000;
  ASSERT_OK(Mkdir("/big"));
  const uint64_t txid_before = store_->last_txid();

  std::vector<cairn::v1::CreateFileRequest> reqs(kEntries);
  std::vector<cairn::v1::CreateFileResponse> resps(kEntries);
  // Submit in a shuffled order (a fixed permutation) so that the listing order comes from the
  // store, not from the submission order.
  std::vector<int> order(kEntries);
  for (int i = 0; i < kEntries; ++i) order[i] = static_cast<int>((static_cast<uint64_t>(i) * 7919) % kEntries);
  for (int i = 0; i < kEntries; ++i) {
    reqs[i].set_path(absl::StrFormat("/big/e%06d", order[i]));
    reqs[i].set_replication(1);
  }
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  int failed = 0;
  Status first_error;
  for (int i = 0; i < kEntries; ++i) {
    ops_->CreateFile(reqs[i], &resps[i], [&](Status s) {
      std::lock_guard<std::mutex> l(mu);
      if (!s.ok() && failed++ == 0) first_error = s;
      if (++done == kEntries) cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(60), [&] { return done == kEntries; }))
        << done << " of " << kEntries << " creates finished";
    ASSERT_EQ(failed, 0) << first_error;
  }
  EXPECT_EQ(store_->last_txid(), txid_before + kEntries);
  EXPECT_EQ(Children("/big"), static_cast<uint64_t>(kEntries));

  // limit above the maximum is capped at 10,000 per page.
  cairn::v1::ListDirectoryResponse resp;
  ASSERT_OK(List("/big", "", 50000, &resp));
  EXPECT_EQ(resp.entries_size(), 10000);
  EXPECT_TRUE(resp.has_more());
  // limit 0 is 1000.
  resp.Clear();
  ASSERT_OK(List("/big", "", 0, &resp));
  EXPECT_EQ(resp.entries_size(), 1000);
  EXPECT_TRUE(resp.has_more());

  std::vector<std::string> names = ListAll("/big", 10000);
  ASSERT_EQ(names.size(), static_cast<size_t>(kEntries));
  for (int i = 0; i < kEntries; ++i) {
    ASSERT_EQ(names[i], absl::StrFormat("e%06d", i)) << "at position " << i;
  }
  // An odd page size gives the same result.
  EXPECT_EQ(ListAll("/big", 9999), names);
}

// ================================ Rename ================================

TEST_F(NamespaceTest, RenameFileWithinAndAcrossDirectories) {
  ASSERT_OK(Mkdir("/a"));
  ASSERT_OK(Mkdir("/b"));
  FileInfo f;
  ASSERT_OK(Create("/a/f", &f));
  WaitForClockPast(f.ctime_ms());

  ASSERT_OK(Rename("/a/f", "/a/g"));
  EXPECT_FAILS(InfoStatus("/a/f"), absl::StatusCode::kNotFound, ENOENT);
  auto g = Info("/a/g");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->inode_id(), f.inode_id());
  EXPECT_EQ(g->name(), "g");
  EXPECT_GT(g->ctime_ms(), f.ctime_ms());
  EXPECT_EQ(g->mtime_ms(), f.mtime_ms());
  EXPECT_EQ(Children("/a"), 1u);

  ASSERT_OK(Rename("/a/g", "/b/h"));
  EXPECT_FAILS(InfoStatus("/a/g"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_EQ(InodeId("/b/h"), f.inode_id());
  EXPECT_EQ(Children("/a"), 0u);
  EXPECT_EQ(Children("/b"), 1u);
  EXPECT_EQ(Children("/"), 2u);
  auto rec = store_->GetInode(f.inode_id());
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->parent_id(), InodeId("/b"));
  EXPECT_EQ(rec->name(), "h");
  EXPECT_EQ(ListAll("/a"), std::vector<std::string>{});
  EXPECT_EQ(ListAll("/b"), std::vector<std::string>{"h"});

  // Up to the root.
  ASSERT_OK(Rename("/b/h", "/top"));
  EXPECT_EQ(InodeId("/top"), f.inode_id());
  EXPECT_EQ(Children("/b"), 0u);
  EXPECT_EQ(Children("/"), 3u);
}

TEST_F(NamespaceTest, RenameDirectoryMovesItsSubtree) {
  ASSERT_OK(Mkdir("/a/b/c", true));
  ASSERT_OK(Create("/a/b/c/f"));
  ASSERT_OK(Create("/a/g"));
  ASSERT_OK(Mkdir("/x"));
  const uint64_t a = InodeId("/a"), b = InodeId("/a/b"), c = InodeId("/a/b/c"),
                 f = InodeId("/a/b/c/f"), g = InodeId("/a/g");

  ASSERT_OK(Rename("/a", "/x/y"));
  EXPECT_FAILS(InfoStatus("/a"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(InfoStatus("/a/b/c/f"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_EQ(InodeId("/x/y"), a);
  EXPECT_EQ(InodeId("/x/y/b"), b);
  EXPECT_EQ(InodeId("/x/y/b/c"), c);
  EXPECT_EQ(InodeId("/x/y/b/c/f"), f);
  EXPECT_EQ(InodeId("/x/y/g"), g);
  EXPECT_EQ(Children("/"), 1u);
  EXPECT_EQ(Children("/x"), 1u);
  EXPECT_EQ(Children("/x/y"), 2u);
  EXPECT_EQ(ListAll("/x/y"), (std::vector<std::string>{"b", "g"}));
  // New entries go to the moved directory.
  ASSERT_OK(Create("/x/y/b/c/new"));
  EXPECT_EQ(Children("/x/y/b/c"), 2u);
  // Rename a directory to a sibling name.
  ASSERT_OK(Rename("/x/y/b", "/x/y/bb"));
  EXPECT_EQ(InodeId("/x/y/bb/c/f"), f);
  EXPECT_EQ(Children("/x/y"), 2u);
}

// The namespace's inode count (what `df -i` shows through the mount) follows every mutation,
// failed ones not at all, survives a restart, and is recounted for a namespace written before
// the count was kept (its counters record is 8 bytes shorter).
TEST_F(NamespaceTest, InodeCountFollowsCreatesAndDeletes) {
  EXPECT_EQ(store_->inode_count(), 1u) << "the root";
  ASSERT_OK(Mkdir("/a"));
  ASSERT_OK(Create("/a/f"));
  ASSERT_OK(Symlink("/s", "/a/f"));
  ASSERT_OK(Mkdir("/a/b/c", /*parents=*/true));
  EXPECT_EQ(store_->inode_count(), 6u);
  EXPECT_FALSE(Mkdir("/a").ok());
  EXPECT_FALSE(Create("/a/b/c/x/y").ok());
  EXPECT_EQ(store_->inode_count(), 6u) << "failed mutations change nothing";
  ASSERT_OK(Create("/a/g"));
  ASSERT_OK(Rename("/a/g", "/a/f"));  // replaces /a/f
  EXPECT_EQ(store_->inode_count(), 6u);
  ASSERT_OK(CreateOverwrite("/a/f"));
  EXPECT_EQ(store_->inode_count(), 6u);
  ASSERT_OK(Delete("/a", /*recursive=*/true));  // a, f, b, c
  EXPECT_EQ(store_->inode_count(), 2u);
  ASSERT_NO_FATAL_FAILURE(ReopenStore());
  EXPECT_EQ(store_->inode_count(), 2u);

  // The counters record as an older NameNode wrote it: 32 bytes, no count.
  CloseStore();
  {
    leveldb::DB* raw = nullptr;
    leveldb::Options lo;
    ASSERT_TRUE(leveldb::DB::Open(lo, dir_ + "/meta", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::string counters;
    ASSERT_TRUE(db->Get(leveldb::ReadOptions(), MetaKey("counters"), &counters).ok());
    ASSERT_EQ(counters.size(), 40u);
    counters.resize(32);
    leveldb::WriteOptions wo;
    wo.sync = true;
    ASSERT_TRUE(db->Put(wo, MetaKey("counters"), counters).ok());
  }
  ASSERT_NO_FATAL_FAILURE(OpenStore());
  EXPECT_EQ(store_->inode_count(), 2u) << "recounted";
  ASSERT_OK(Mkdir("/d"));
  EXPECT_EQ(store_->inode_count(), 3u);
}

TEST_F(NamespaceTest, RenameOntoExistingFileReplacesIt) {
  ASSERT_OK(Mkdir("/a"));
  ASSERT_OK(Mkdir("/b"));
  FileInfo src, dst;
  ASSERT_OK(Create("/a/src", &src));
  ASSERT_OK(Create("/b/dst", &dst));
  ASSERT_OK(Create("/b/other"));
  ASSERT_OK(Rename("/a/src", "/b/dst"));
  EXPECT_EQ(InodeId("/b/dst"), src.inode_id());
  EXPECT_FAILS(InfoStatus("/a/src"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(store_->GetInode(dst.inode_id()).status(), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_EQ(Children("/a"), 0u);
  EXPECT_EQ(Children("/b"), 2u);
  EXPECT_EQ(ListAll("/b"), (std::vector<std::string>{"dst", "other"}));
  // Within one directory.
  ASSERT_OK(Rename("/b/other", "/b/dst"));
  EXPECT_EQ(Children("/b"), 1u);
  EXPECT_EQ(ListAll("/b"), std::vector<std::string>{"dst"});
  EXPECT_FAILS(store_->GetInode(src.inode_id()).status(), absl::StatusCode::kNotFound, ENOENT);
  // A symlink replaces a file too.
  ASSERT_OK(Symlink("/b/l", "x"));
  ASSERT_OK(Rename("/b/l", "/b/dst"));
  EXPECT_EQ(Info("/b/dst")->type(), kSymlink);
  EXPECT_EQ(Children("/b"), 1u);
  int inodes = 0;
  ASSERT_OK(store_->ForEachInode([&](const InodeRecord&) { ++inodes; }));
  EXPECT_EQ(inodes, 4);  // /, /a, /b, /b/dst
}

TEST_F(NamespaceTest, RenameDirectoryOntoEmptyDirectory) {
  ASSERT_OK(Mkdir("/src/sub", true));
  ASSERT_OK(Mkdir("/p/dst", true));
  const uint64_t src = InodeId("/src"), sub = InodeId("/src/sub"), dst = InodeId("/p/dst");
  ASSERT_OK(Rename("/src", "/p/dst"));
  EXPECT_EQ(InodeId("/p/dst"), src);
  EXPECT_EQ(InodeId("/p/dst/sub"), sub);
  EXPECT_FAILS(store_->GetInode(dst).status(), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(InfoStatus("/src"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_EQ(Children("/"), 1u);
  EXPECT_EQ(Children("/p"), 1u);
  EXPECT_EQ(Children("/p/dst"), 1u);
}

TEST_F(NamespaceTest, RenameDirectoryOntoNonEmptyDirectoryIsENOTEMPTY) {
  ASSERT_OK(Mkdir("/src"));
  ASSERT_OK(Mkdir("/dst"));
  ASSERT_OK(Create("/dst/f"));
  EXPECT_FAILS(Rename("/src", "/dst"), absl::StatusCode::kFailedPrecondition, ENOTEMPTY);
  EXPECT_TRUE(Info("/src").ok());
  EXPECT_TRUE(Info("/dst/f").ok());
  EXPECT_EQ(Children("/"), 2u);
  EXPECT_EQ(Children("/dst"), 1u);
  // Renaming a directory onto its own (non-empty) ancestor.
  ASSERT_OK(Mkdir("/dst/sub"));
  EXPECT_FAILS(Rename("/dst/sub", "/dst"), absl::StatusCode::kFailedPrecondition, ENOTEMPTY);
}

TEST_F(NamespaceTest, RenameFileOntoDirectoryIsEISDIR) {
  ASSERT_OK(Create("/f"));
  ASSERT_OK(Mkdir("/empty"));
  ASSERT_OK(Mkdir("/full"));
  ASSERT_OK(Create("/full/x"));
  EXPECT_FAILS(Rename("/f", "/empty"), absl::StatusCode::kFailedPrecondition, EISDIR);
  EXPECT_FAILS(Rename("/f", "/full"), absl::StatusCode::kFailedPrecondition, EISDIR);
  EXPECT_EQ(Info("/f")->type(), kFile);
  EXPECT_EQ(Info("/empty")->type(), kDir);
  EXPECT_EQ(Children("/"), 3u);
}

TEST_F(NamespaceTest, RenameDirectoryOntoFileIsENOTDIR) {
  ASSERT_OK(Mkdir("/d"));
  ASSERT_OK(Create("/f"));
  EXPECT_FAILS(Rename("/d", "/f"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_EQ(Info("/d")->type(), kDir);
  EXPECT_EQ(Info("/f")->type(), kFile);
  EXPECT_EQ(Children("/"), 2u);
}

TEST_F(NamespaceTest, RenameDirectoryUnderItselfIsEINVAL) {
  ASSERT_OK(Mkdir("/a/b", true));
  EXPECT_FAILS(Rename("/a", "/a/x"), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(Rename("/a", "/a/b/x"), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(Rename("/a", "/a/b"), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_EQ(Children("/"), 1u);
  EXPECT_EQ(Children("/a"), 1u);
  EXPECT_TRUE(Info("/a/b").ok());
  // A sibling whose name starts with the source's is not "under" it.
  ASSERT_OK(Rename("/a/b", "/ab"));
  EXPECT_TRUE(Info("/ab").ok());
}

TEST_F(NamespaceTest, RenameNoReplace) {
  ASSERT_OK(Create("/a"));
  ASSERT_OK(Create("/b"));
  ASSERT_OK(Mkdir("/d"));
  const uint64_t a = InodeId("/a"), b = InodeId("/b");
  EXPECT_FAILS(Rename("/a", "/b", true), absl::StatusCode::kAlreadyExists, EEXIST);
  EXPECT_FAILS(Rename("/a", "/d", true), absl::StatusCode::kAlreadyExists, EEXIST);
  EXPECT_EQ(InodeId("/a"), a);
  EXPECT_EQ(InodeId("/b"), b);
  // no_replace onto a free name is an ordinary rename.
  ASSERT_OK(Rename("/a", "/c", true));
  EXPECT_EQ(InodeId("/c"), a);
  EXPECT_EQ(Children("/"), 3u);
}

TEST_F(NamespaceTest, RenameMissingSourceOrDestinationParent) {
  ASSERT_OK(Create("/f"));
  ASSERT_OK(Create("/file"));
  EXPECT_FAILS(Rename("/missing", "/x"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(Rename("/nodir/missing", "/x"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(Rename("/f", "/nodir/x"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(Rename("/f", "/nodir/deeper/x"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(Rename("/f", "/file/x"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_FAILS(Rename("/file/x", "/y"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_TRUE(Info("/f").ok());
  EXPECT_EQ(Children("/"), 2u);
}

TEST_F(NamespaceTest, RenameRootIsEINVAL) {
  ASSERT_OK(Mkdir("/d"));
  EXPECT_FAILS(Rename("/", "/d/x"), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(Rename("/d", "/"), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_TRUE(Info("/d").ok());
}

TEST_F(NamespaceTest, RenameToSamePathIsANoOp) {
  ASSERT_OK(Mkdir("/d"));
  FileInfo f;
  ASSERT_OK(Create("/d/f", &f));
  auto before = Info("/d/f");
  ASSERT_TRUE(before.ok());
  ASSERT_OK(Rename("/d/f", "/d/f"));
  ASSERT_OK(Rename("/d", "/d/"));  // the same path spelled with a trailing slash
  auto after = Info("/d/f");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->SerializeAsString(), before->SerializeAsString());
  EXPECT_EQ(Children("/d"), 1u);
  EXPECT_EQ(Children("/"), 1u);
  // no_replace onto itself: the source exists, so it is "replaced" by itself; either outcome
  // must leave the file alone.
  Status s = Rename("/d/f", "/d/f", true);
  EXPECT_TRUE(s.ok() || s.code() == absl::StatusCode::kAlreadyExists) << s;
  EXPECT_EQ(InodeId("/d/f"), f.inode_id());
  // Missing source: still ENOENT.
  EXPECT_FAILS(Rename("/d/none", "/d/none"), absl::StatusCode::kNotFound, ENOENT);
}

TEST_F(NamespaceTest, RenameKeepsChildrenCountsOfBothParents) {
  ASSERT_OK(Mkdir("/p"));
  ASSERT_OK(Mkdir("/q"));
  for (const std::string n : {"1", "2", "3"}) ASSERT_OK(Create("/p/" + n));
  ASSERT_OK(Create("/q/3"));
  ASSERT_OK(Mkdir("/q/dir"));
  auto check = [&](uint64_t p, uint64_t q) {
    EXPECT_EQ(Children("/p"), p);
    EXPECT_EQ(Children("/q"), q);
    EXPECT_EQ(ListAll("/p").size(), p);
    EXPECT_EQ(ListAll("/q").size(), q);
    EXPECT_EQ(Children("/"), 2u);
  };
  check(3, 2);
  ASSERT_OK(Rename("/p/1", "/q/1"));  // move to a new name
  check(2, 3);
  ASSERT_OK(Rename("/p/3", "/q/3"));  // move replacing a file
  check(1, 3);
  ASSERT_OK(Rename("/q/1", "/q/one"));  // rename within one directory
  check(1, 3);
  ASSERT_OK(Rename("/q/one", "/q/3"));  // replace within one directory
  check(1, 2);
  EXPECT_FAILS(Rename("/p/2", "/q/dir"), absl::StatusCode::kFailedPrecondition, EISDIR);
  check(1, 2);
  ASSERT_OK(Rename("/q/dir", "/p/dir"));
  check(2, 1);
  ASSERT_OK(Mkdir("/p/empty"));
  check(3, 1);
  ASSERT_OK(Rename("/p/dir", "/p/empty"));  // directory onto an empty directory, same parent
  check(2, 1);
  ASSERT_OK(Mkdir("/q/e2"));
  check(2, 2);
  ASSERT_OK(Rename("/p/empty", "/q/e2"));  // directory onto an empty directory, other parent
  check(1, 2);
}

TEST_F(NamespaceTest, RenameFileUnderItselfIsENOTDIR) {
  // rename(2): "/f/x" needs "/f" to be a directory, and it is a file.
  ASSERT_OK(Create("/f"));
  EXPECT_FAILS(Rename("/f", "/f/x"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_EQ(Info("/f")->type(), kFile);
}

TEST_F(NamespaceTest, RenameOntoItselfWithNoReplaceIsEEXIST) {
  // renameat2(RENAME_NOREPLACE) of a name onto itself: the destination exists.
  ASSERT_OK(Mkdir("/a"));
  ASSERT_OK(Create("/a/f"));
  EXPECT_FAILS(Rename("/a/f", "/a/f", /*no_replace=*/true), absl::StatusCode::kAlreadyExists,
               EEXIST);
  EXPECT_OK(Rename("/a/f", "/a/f"));
  EXPECT_EQ(Info("/a/f")->type(), kFile);
}

TEST_F(NamespaceTest, TrailingSlashNamesADirectory) {
  // As for POSIX paths: "name/" must resolve to a directory.
  ASSERT_OK(Mkdir("/d/"));
  ASSERT_OK(Create("/d/f"));
  EXPECT_EQ(Info("/d/")->type(), kDir);
  EXPECT_FAILS(InfoStatus("/d/f/"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_FAILS(Rename("/d/f/", "/d/g"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_FAILS(Delete("/d/f/"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_FAILS(Create("/d/new/"), absl::StatusCode::kFailedPrecondition, EISDIR);
  EXPECT_FAILS(InfoStatus("/d/new"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_EQ(Info("/d/f")->type(), kFile);
}

TEST_F(NamespaceTest, NewInodeAttributesAreCheckedAsTheirSettersCheckThem) {
  // Mode bits that are neither permission nor file-type bits, and owner/group names over 255
  // bytes, are refused (not masked or kept).
  EXPECT_FAILS(Mkdir("/m", false, 0xffffffffu), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(Mkdir("/m", false, 01000755), absl::StatusCode::kInvalidArgument, EINVAL);
  cairn::v1::CreateFileRequest req;
  req.set_path("/f");
  req.set_mode(0200644);
  EXPECT_FAILS(Create(req), absl::StatusCode::kInvalidArgument, EINVAL);
  req.set_mode(0640);
  req.set_owner(std::string(256, 'o'));
  EXPECT_FAILS(Create(req), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(Mkdir("/m", false, 0, "u", std::string(100000, 'g')),
               absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(Symlink("/l", "/f", nullptr, std::string(256, 'o')),
               absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(InfoStatus("/m"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(InfoStatus("/f"), absl::StatusCode::kNotFound, ENOENT);
  // At the limits: accepted.
  req.set_mode(07777);
  req.set_owner(std::string(255, 'o'));
  FileInfo info;
  ASSERT_OK(Create(req, &info));
  EXPECT_EQ(info.mode(), 07777u);
  EXPECT_EQ(info.owner(), std::string(255, 'o'));
}

TEST_F(NamespaceTest, TruncatingCreateOverASymlinkReplacesIt) {
  // open(O_TRUNC) semantics apply to regular files; a symlink in the way is replaced by a new
  // file (as without truncate_existing), never turned into a leased "file" of type symlink.
  ASSERT_OK(Symlink("/lnk", "/elsewhere"));
  cairn::v1::CreateFileRequest req;
  req.set_path("/lnk");
  req.set_overwrite(true);
  req.set_truncate_existing(true);
  req.set_client_name("c1");
  FileInfo info;
  ASSERT_OK(Create(req, &info));
  EXPECT_EQ(info.type(), kFile);
  EXPECT_TRUE(info.under_construction());
  auto now = Info("/lnk");
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->type(), kFile);
  EXPECT_TRUE(now->symlink_target().empty());
  EXPECT_EQ(Children("/"), 1u);
}

TEST_F(NamespaceTest, DeleteOfATreeNestedDeeperThanAPathCanNameWorks) {
  // A single path names at most ~2,000 levels, but renames stack such trees on top of each
  // other; removing the result once recursed per level and overflowed the stack.
  constexpr int kLevels = 2000;
  constexpr int kTrees = 10;
  std::string chain;
  for (int i = 0; i < kLevels; ++i) chain += "/a";
  for (int t = 0; t < kTrees; ++t) {
    ASSERT_OK(Mkdir(absl::StrCat("/t", t, chain), /*parents=*/true));
    if (t > 0) ASSERT_OK(Rename(absl::StrCat("/t", t - 1), absl::StrCat("/t", t, chain, "/x")));
  }
  const std::string top = absl::StrCat("/t", kTrees - 1);
  ASSERT_OK(Delete(top, /*recursive=*/true));
  EXPECT_FAILS(InfoStatus(top), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_EQ(Children("/"), 0u);
  // Nothing of the 20,000 directories is left behind: the root is the only inode.
  ReopenStore();
  int inodes = 0;
  ASSERT_OK(store_->ForEachInode([&](const InodeRecord&) { ++inodes; }));
  EXPECT_EQ(inodes, 1);
  EXPECT_OK(Mkdir(top));
}

// ================================ Delete ================================

TEST_F(NamespaceTest, DeleteFile) {
  ASSERT_OK(Mkdir("/d"));
  FileInfo f;
  ASSERT_OK(Create("/d/f", &f));
  ASSERT_OK(Create("/d/g"));
  ASSERT_OK(Delete("/d/f"));
  EXPECT_FAILS(InfoStatus("/d/f"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(store_->GetInode(f.inode_id()).status(), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_EQ(Children("/d"), 1u);
  EXPECT_EQ(ListAll("/d"), std::vector<std::string>{"g"});
  // The name can be reused, with a new inode.
  FileInfo again;
  ASSERT_OK(Create("/d/f", &again));
  EXPECT_GT(again.inode_id(), f.inode_id());
  // Symlinks delete like files.
  ASSERT_OK(Symlink("/d/l", "f"));
  ASSERT_OK(Delete("/d/l"));
  EXPECT_EQ(Children("/d"), 2u);
}

TEST_F(NamespaceTest, DeleteEmptyDirectory) {
  ASSERT_OK(Mkdir("/d/e", true));
  const uint64_t e = InodeId("/d/e");
  ASSERT_OK(Delete("/d/e"));
  EXPECT_FAILS(InfoStatus("/d/e"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(store_->GetInode(e).status(), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_EQ(Children("/d"), 0u);
  ASSERT_OK(Delete("/d", /*recursive=*/true));  // recursive on an empty directory is fine
  EXPECT_EQ(Children("/"), 0u);
}

TEST_F(NamespaceTest, DeleteNonEmptyDirectoryWithoutRecursiveIsENOTEMPTY) {
  ASSERT_OK(Mkdir("/d"));
  ASSERT_OK(Create("/d/f"));
  EXPECT_FAILS(Delete("/d"), absl::StatusCode::kFailedPrecondition, ENOTEMPTY);
  EXPECT_TRUE(Info("/d").ok());
  EXPECT_TRUE(Info("/d/f").ok());
  EXPECT_EQ(Children("/"), 1u);
  EXPECT_EQ(Children("/d"), 1u);
}

TEST_F(NamespaceTest, DeleteRecursiveRemovesTheWholeSubtree) {
  ASSERT_OK(Mkdir("/keep"));
  ASSERT_OK(Create("/keep/k"));
  std::vector<std::string> paths;
  ASSERT_OK(Mkdir("/t"));
  paths.push_back("/t");
  for (int i = 0; i < 3; ++i) {
    const std::string d1 = absl::StrCat("/t/d", i);
    ASSERT_OK(Mkdir(d1));
    paths.push_back(d1);
    for (int j = 0; j < 3; ++j) {
      const std::string d2 = absl::StrCat(d1, "/e", j);
      ASSERT_OK(Mkdir(d2));
      paths.push_back(d2);
      for (int k = 0; k < 3; ++k) {
        const std::string f = absl::StrCat(d2, "/f", k);
        ASSERT_OK(Create(f));
        paths.push_back(f);
      }
    }
    const std::string l = absl::StrCat(d1, "/link");
    ASSERT_OK(Symlink(l, "/keep"));
    paths.push_back(l);
  }
  std::vector<uint64_t> ids;
  for (const auto& p : paths) ids.push_back(InodeId(p));

  ASSERT_OK(Delete("/t", /*recursive=*/true));
  for (size_t i = 0; i < paths.size(); ++i) {
    EXPECT_FAILS(InfoStatus(paths[i]), absl::StatusCode::kNotFound, ENOENT);
    EXPECT_FAILS(store_->GetInode(ids[i]).status(), absl::StatusCode::kNotFound, ENOENT);
  }
  EXPECT_EQ(Children("/"), 1u);
  EXPECT_EQ(ListAll("/"), std::vector<std::string>{"keep"});
  EXPECT_TRUE(Info("/keep/k").ok());
  std::set<uint64_t> live;
  ASSERT_OK(store_->ForEachInode([&](const InodeRecord& r) { live.insert(r.inode_id()); }));
  EXPECT_EQ(live, (std::set<uint64_t>{kRootInodeId, InodeId("/keep"), InodeId("/keep/k")}));
  // The name is free again and the new directory is empty.
  ASSERT_OK(Mkdir("/t"));
  EXPECT_TRUE(ListAll("/t").empty());
}

TEST_F(NamespaceTest, DeleteRootIsEINVAL) {
  ASSERT_OK(Create("/f"));
  EXPECT_FAILS(Delete("/"), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(Delete("/", true), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_TRUE(Info("/").ok());
  EXPECT_TRUE(Info("/f").ok());
}

TEST_F(NamespaceTest, DeleteMissingIsENOENT) {
  ASSERT_OK(Create("/f"));
  EXPECT_FAILS(Delete("/missing"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(Delete("/missing", true), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(Delete("/nodir/x"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(Delete("/f/x"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  ASSERT_OK(Delete("/f"));
  EXPECT_FAILS(Delete("/f"), absl::StatusCode::kNotFound, ENOENT);
}

// ================================ Set* ================================

TEST_F(NamespaceTest, SetReplication) {
  FileInfo f;
  ASSERT_OK(Create("/f", &f));
  WaitForClockPast(f.ctime_ms());
  ASSERT_OK(SetReplication("/f", 7));
  auto got = Info("/f");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->replication(), 7u);
  EXPECT_GT(got->ctime_ms(), f.ctime_ms());
  EXPECT_EQ(got->mtime_ms(), f.mtime_ms());
  ASSERT_OK(SetReplication("/f", 1));
  ASSERT_OK(SetReplication("/f", options_.max_replication));
  EXPECT_EQ(Info("/f")->replication(), options_.max_replication);

  EXPECT_FAILS(SetReplication("/f", 0), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(SetReplication("/f", options_.max_replication + 1),
               absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(SetReplication("/missing", 2), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(SetReplication("/f/x", 2), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  ASSERT_OK(Mkdir("/d"));
  EXPECT_FAILS(SetReplication("/d", 2), absl::StatusCode::kFailedPrecondition, EISDIR);
  ASSERT_OK(Symlink("/l", "/f"));
  EXPECT_FAILS(SetReplication("/l", 2), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_EQ(Info("/f")->replication(), options_.max_replication);
}

TEST_F(NamespaceTest, SetPermission) {
  FileInfo f;
  ASSERT_OK(Create("/f", &f));
  ASSERT_OK(Mkdir("/d"));
  WaitForClockPast(f.ctime_ms());
  ASSERT_OK(SetPermission("/f", 0600));
  auto got = Info("/f");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->mode(), 0600u);
  EXPECT_GT(got->ctime_ms(), f.ctime_ms());
  EXPECT_EQ(got->mtime_ms(), f.mtime_ms());
  ASSERT_OK(SetPermission("/f", 07777));
  EXPECT_EQ(Info("/f")->mode(), 07777u);
  ASSERT_OK(SetPermission("/f", 0));
  EXPECT_EQ(Info("/f")->mode(), 0u);
  ASSERT_OK(SetPermission("/d", 0700));
  EXPECT_EQ(Info("/d")->mode(), 0700u);
  ASSERT_OK(SetPermission("/", 0777));
  EXPECT_EQ(Info("/")->mode(), 0777u);

  EXPECT_FAILS(SetPermission("/f", 010000), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(SetPermission("/f", 0100644), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(SetPermission("/missing", 0644), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(SetPermission("/f/x", 0644), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_EQ(Info("/f")->mode(), 0u);
}

TEST_F(NamespaceTest, SetOwner) {
  FileInfo f;
  ASSERT_OK(Create("/f", &f));
  WaitForClockPast(f.ctime_ms());
  ASSERT_OK(SetOwner("/f", "alice", "staff"));
  auto got = Info("/f");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->owner(), "alice");
  EXPECT_EQ(got->group(), "staff");
  EXPECT_GT(got->ctime_ms(), f.ctime_ms());
  ASSERT_OK(SetOwner("/f", "bob", ""));  // group unchanged
  EXPECT_EQ(Info("/f")->owner(), "bob");
  EXPECT_EQ(Info("/f")->group(), "staff");
  ASSERT_OK(SetOwner("/f", "", "wheel"));  // owner unchanged
  EXPECT_EQ(Info("/f")->owner(), "bob");
  EXPECT_EQ(Info("/f")->group(), "wheel");
  ASSERT_OK(SetOwner("/f", std::string(255, 'o'), std::string(255, 'g')));
  EXPECT_EQ(Info("/f")->owner(), std::string(255, 'o'));

  EXPECT_FAILS(SetOwner("/f", std::string(256, 'o'), ""), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(SetOwner("/f", "", std::string(256, 'g')), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(SetOwner("/missing", "a", "b"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(SetOwner("/f/x", "a", "b"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_EQ(Info("/f")->owner(), std::string(255, 'o'));
  ASSERT_OK(Mkdir("/d"));
  ASSERT_OK(SetOwner("/d", "dirowner", ""));
  EXPECT_EQ(Info("/d")->owner(), "dirowner");
}

TEST_F(NamespaceTest, SetTimes) {
  FileInfo f;
  ASSERT_OK(Create("/f", &f));
  WaitForClockPast(f.ctime_ms());
  ASSERT_OK(SetTimes("/f", 1234, 5678));
  auto got = Info("/f");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->mtime_ms(), 1234);
  EXPECT_EQ(got->atime_ms(), 5678);
  EXPECT_GT(got->ctime_ms(), f.ctime_ms());
  const int64_t ctime1 = got->ctime_ms();
  // An absent time is left unchanged.
  ASSERT_OK(SetTimes("/f", std::nullopt, 9999));
  EXPECT_EQ(Info("/f")->mtime_ms(), 1234);
  EXPECT_EQ(Info("/f")->atime_ms(), 9999);
  ASSERT_OK(SetTimes("/f", 4321, std::nullopt));
  EXPECT_EQ(Info("/f")->mtime_ms(), 4321);
  EXPECT_EQ(Info("/f")->atime_ms(), 9999);
  EXPECT_GE(Info("/f")->ctime_ms(), ctime1);
  // 0 (the epoch) is a valid time.
  ASSERT_OK(SetTimes("/f", 0, 0));
  EXPECT_EQ(Info("/f")->mtime_ms(), 0);
  EXPECT_EQ(Info("/f")->atime_ms(), 0);
  // Directories too.
  ASSERT_OK(Mkdir("/d"));
  ASSERT_OK(SetTimes("/d", 42, 43));
  EXPECT_EQ(Info("/d")->mtime_ms(), 42);

  EXPECT_FAILS(SetTimes("/missing", 1, 1), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(SetTimes("/f/x", 1, 1), absl::StatusCode::kFailedPrecondition, ENOTDIR);
}

TEST_F(NamespaceTest, SetTimesAcceptsTimesBeforeTheEpoch) {
  // Negative values are times before 1970 (touch -d 1969), -1 ms included: "unchanged" is an
  // absent field, not a value.
  ASSERT_OK(Create("/f"));
  ASSERT_OK(SetTimes("/f", -5000, -86400000));
  auto got = Info("/f");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->mtime_ms(), -5000);
  EXPECT_EQ(got->atime_ms(), -86400000);
  ASSERT_OK(SetTimes("/f", -1, -1));
  got = Info("/f");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->mtime_ms(), -1);
  EXPECT_EQ(got->atime_ms(), -1);
}

// Test-only mutation: gives the file at `path` `n` complete blocks, as AddBlock/CompleteFile
// would.
Status AddFakeBlocks(NamespaceStore* store, const std::string& path, int n,
                     std::vector<cairn::v1::BlockRecord>* added) {
  cairn::v1::GetFileInfoRequest journal_payload;
  journal_payload.set_path(path);
  return store->CommitAndWait("TestAddBlocks", journal_payload, [&](Txn& txn) -> Status {
    ASSIGN_OR_RETURN(InodeRecord inode, txn.Resolve(path));
    for (int i = 0; i < n; ++i) {
      cairn::v1::BlockRecord* b = inode.add_blocks();
      b->set_block_id(txn.NewBlockId());
      b->set_generation_stamp(txn.NewGenerationStamp());
      b->set_length_bytes(1000 + i);
      b->set_state(cairn::v1::BLOCK_STATE_COMPLETE);
      inode.set_length_bytes(inode.length_bytes() + b->length_bytes());
      added->push_back(*b);
    }
    txn.PutInode(inode);
    return absl::OkStatus();
  });
}

std::set<uint64_t> BlockIds(const std::vector<cairn::v1::BlockRecord>& blocks) {
  std::set<uint64_t> ids;
  for (const auto& b : blocks) ids.insert(b.block_id());
  return ids;
}

TEST_F(NamespaceTest, BlocksRemovedHookGetsTheBlocksOfRemovedFiles) {
  std::vector<std::vector<cairn::v1::BlockRecord>> calls;  // done runs after the hook
  ops_->set_blocks_removed(
      [&calls](std::vector<cairn::v1::BlockRecord> blocks) { calls.push_back(std::move(blocks)); });
  ASSERT_OK(Mkdir("/d/e", true));
  std::vector<cairn::v1::BlockRecord> a, b, c, e1, e2;
  for (const std::string p : {"/a", "/b", "/c", "/d/e/1", "/d/e/2", "/x", "/noblocks"}) {
    ASSERT_OK(Create(p));
  }
  ASSERT_OK(AddFakeBlocks(store_.get(), "/a", 2, &a));
  ASSERT_OK(AddFakeBlocks(store_.get(), "/b", 1, &b));
  ASSERT_OK(AddFakeBlocks(store_.get(), "/c", 3, &c));
  ASSERT_OK(AddFakeBlocks(store_.get(), "/d/e/1", 1, &e1));
  ASSERT_OK(AddFakeBlocks(store_.get(), "/d/e/2", 2, &e2));
  EXPECT_EQ(Info("/c")->length_bytes(), 1000u + 1001u + 1002u);
  std::set<uint64_t> all_ids;
  for (const auto* v : {&a, &b, &c, &e1, &e2}) {
    for (const auto& blk : *v) EXPECT_TRUE(all_ids.insert(blk.block_id()).second);
  }

  ASSERT_OK(Delete("/a"));
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(BlockIds(calls[0]), BlockIds(a));

  ASSERT_OK(CreateOverwrite("/b"));
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(BlockIds(calls[1]), BlockIds(b));

  ASSERT_OK(Rename("/x", "/c"));
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(BlockIds(calls[2]), BlockIds(c));

  // Failures and removals without blocks do not call the hook.
  EXPECT_FAILS(Delete("/d"), absl::StatusCode::kFailedPrecondition, ENOTEMPTY);
  ASSERT_OK(Delete("/noblocks"));
  EXPECT_EQ(calls.size(), 3u);

  ASSERT_OK(Delete("/d", true));
  ASSERT_EQ(calls.size(), 4u);
  std::set<uint64_t> want = BlockIds(e1);
  for (uint64_t id : BlockIds(e2)) want.insert(id);
  EXPECT_EQ(BlockIds(calls[3]), want);

  // Block ids and generation stamps keep increasing across a restart.
  const uint64_t max_block = *all_ids.rbegin();
  ASSERT_NO_FATAL_FAILURE(ReopenStore());
  ASSERT_OK(Create("/after"));
  std::vector<cairn::v1::BlockRecord> after;
  ASSERT_OK(AddFakeBlocks(store_.get(), "/after", 1, &after));
  ASSERT_EQ(after.size(), 1u);
  EXPECT_GT(after[0].block_id(), max_block);
  EXPECT_GT(after[0].generation_stamp(), e2.back().generation_stamp());
}

// ================================ Symlinks ================================

TEST_F(NamespaceTest, CreateSymlinkStoresTarget) {
  ASSERT_OK(Mkdir("/d"));
  FileInfo info;
  ASSERT_OK(Symlink("/d/rel", "../some/where", &info, "sam", "sg"));
  EXPECT_EQ(info.type(), kSymlink);
  EXPECT_EQ(info.symlink_target(), "../some/where");
  auto got = Info("/d/rel");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->inode_id(), info.inode_id());
  EXPECT_EQ(got->type(), kSymlink);
  EXPECT_EQ(got->symlink_target(), "../some/where");
  EXPECT_EQ(got->length_bytes(), std::string("../some/where").size());
  EXPECT_EQ(got->mode(), 0777u);
  EXPECT_EQ(got->owner(), "sam");
  EXPECT_EQ(got->group(), "sg");
  // Targets are stored verbatim, even dangling, odd or maximal ones.
  ASSERT_OK(Symlink("/d/abs", "/does/not/exist"));
  EXPECT_EQ(Info("/d/abs")->symlink_target(), "/does/not/exist");
  ASSERT_OK(Symlink("/d/odd", "a//b/./c/../"));
  EXPECT_EQ(Info("/d/odd")->symlink_target(), "a//b/./c/../");
  ASSERT_OK(Symlink("/d/long", std::string(4096, 't')));
  EXPECT_EQ(Info("/d/long")->symlink_target(), std::string(4096, 't'));
  EXPECT_EQ(Children("/d"), 4u);
  auto rec = store_->GetInode(info.inode_id());
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->symlink_target(), "../some/where");
}

TEST_F(NamespaceTest, CreateSymlinkErrors) {
  ASSERT_OK(Create("/f"));
  EXPECT_FAILS(Symlink("/f", "x"), absl::StatusCode::kAlreadyExists, EEXIST);
  EXPECT_FAILS(Symlink("/l", ""), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(Symlink("/l", std::string("a\0b", 3)), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(Symlink("/l", std::string(4097, 't')), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(Symlink("/nodir/l", "x"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(Symlink("/f/l", "x"), absl::StatusCode::kFailedPrecondition, ENOTDIR);
  EXPECT_FAILS(Symlink("/", "x"), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(InfoStatus("/l"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_EQ(Info("/f")->type(), kFile);
  EXPECT_EQ(Children("/"), 1u);
}

// ================================ Path rules ================================

struct BadPath {
  std::string what;
  std::string path;
};

std::vector<BadPath> BadPaths() {
  std::string long_path;
  while (long_path.size() <= 4096) long_path += "/" + std::string(100, 'p');
  return {
      {"empty", ""},
      {"relative", "a/b"},
      {"relative single", "a"},
      {"dot relative", "./a"},
      {"double slash", "/a//b"},
      {"leading double slash", "//a"},
      {"trailing double slash", "/a//"},
      {"dot", "/a/./b"},
      {"trailing dot", "/a/."},
      {"root dot", "/."},
      {"dotdot", "/a/../b"},
      {"trailing dotdot", "/a/.."},
      {"root dotdot", "/.."},
      {"NUL", std::string("/a\0b", 4)},
      {"trailing NUL", std::string("/a\0", 3)},
      {"256-byte component", "/d/" + std::string(256, 'x')},
      {"path over 4096 bytes", long_path},
  };
}

// What the error message shows of a path: C-escaped, the first 200 bytes of long paths.
std::string ShownPath(const std::string& path) {
  return absl::CHexEscape(path.size() > 200 ? path.substr(0, 200) : path);
}

TEST_F(NamespaceTest, PathRuleViolationsAreInvalidArgumentNamingThePath) {
  ASSERT_OK(Mkdir("/d"));
  ASSERT_OK(Mkdir("/a"));
  ASSERT_OK(Create("/d/f"));
  const uint64_t txid = store_->last_txid();
  for (const BadPath& bad : BadPaths()) {
    SCOPED_TRACE(bad.what + ": " + absl::CHexEscape(bad.path.substr(0, 60)));
    const std::string& p = bad.path;
    const std::string shown = ShownPath(p);
    std::vector<std::pair<std::string, Status>> results;
    results.emplace_back("Mkdir", Mkdir(p));
    results.emplace_back("Mkdir -p", Mkdir(p, true));
    results.emplace_back("CreateFile", Create(p));
    {
      cairn::v1::CreateFileRequest req;
      req.set_path(p);
      req.set_create_parents(true);
      req.set_overwrite(true);
      results.emplace_back("CreateFile -p", Create(req));
    }
    results.emplace_back("CreateSymlink", Symlink(p, "target"));
    results.emplace_back("GetFileInfo", InfoStatus(p));
    {
      cairn::v1::ListDirectoryResponse resp;
      results.emplace_back("ListDirectory", List(p, "", 0, &resp));
    }
    results.emplace_back("Rename src", Rename(p, "/d/renamed"));
    results.emplace_back("Rename dst", Rename("/d/f", p));
    results.emplace_back("Rename dst noreplace", Rename("/d/f", p, true));
    results.emplace_back("Delete", Delete(p));
    results.emplace_back("Delete -r", Delete(p, true));
    results.emplace_back("SetReplication", SetReplication(p, 2));
    results.emplace_back("SetPermission", SetPermission(p, 0600));
    results.emplace_back("SetOwner", SetOwner(p, "o", "g"));
    results.emplace_back("SetTimes", SetTimes(p, 1, 1));
    for (const auto& [op, s] : results) {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << op << ": " << s;
      EXPECT_EQ(ToErrno(s), EINVAL) << op << ": " << s;
      EXPECT_NE(s.message().find(shown), absl::string_view::npos)
          << op << ": message does not name the path: " << s;
    }
  }
  // Nothing was written and the namespace is intact.
  EXPECT_EQ(store_->last_txid(), txid);
  EXPECT_EQ(ListAll("/"), (std::vector<std::string>{"a", "d"}));
  EXPECT_EQ(ListAll("/d"), std::vector<std::string>{"f"});
  EXPECT_EQ(Children("/d"), 1u);
}

TEST_F(NamespaceTest, PathsAtTheLimitsAreAccepted) {
  const std::string name255(255, 'n');
  ASSERT_OK(Mkdir("/" + name255));
  EXPECT_EQ(Info("/" + name255)->name(), name255);
  // A path of exactly 4096 bytes.
  std::string dir = "/" + name255;
  std::string path = dir;
  while (path.size() + 1 + 255 < 4096) {
    path += "/" + name255;
  }
  ASSERT_OK(Mkdir(path, true));
  const std::string last = "/" + std::string(4096 - path.size() - 1, 'f');
  const std::string file = path + last;
  ASSERT_EQ(file.size(), 4096u);
  ASSERT_OK(Create(file));
  EXPECT_EQ(Info(file)->type(), kFile);
  // One byte more is refused.
  EXPECT_FAILS(Create(file + "x"), absl::StatusCode::kInvalidArgument, EINVAL);
}

TEST_F(NamespaceTest, DoubleSlashAloneIsNotAValidPath) {
  // "//" has an empty component, like "/a//" (which is refused); the rules allow a single
  // trailing slash only.
  EXPECT_FAILS(InfoStatus("//"), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(Mkdir("//"), absl::StatusCode::kInvalidArgument, EINVAL);
  EXPECT_FAILS(Delete("//"), absl::StatusCode::kInvalidArgument, EINVAL);
}

TEST_F(NamespaceTest, NamesWithUnusualBytesRoundTrip) {
  // Anything but '/' and NUL is a valid name byte: spaces, control characters, UTF-8.
  ASSERT_OK(Mkdir("/d"));
  const std::vector<std::string> names = {"with space", "tab\there", "new\nline", "\x01",
                                          "caf\xc3\xa9", "\xe2\x9c\x93"};
  for (const auto& n : names) {
    SCOPED_TRACE(absl::CHexEscape(n));
    ASSERT_OK(Create("/d/" + n));
  }
  std::vector<std::string> want = names;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ListAll("/d"), want);
  for (const auto& n : names) EXPECT_EQ(Info("/d/" + n)->name(), n);
}

TEST_F(NamespaceTest, NonUtf8NameIsRefusedOrUsable) {
  // Linux names are bytes. A name that is not UTF-8 must either be refused up front with
  // INVALID_ARGUMENT or work like any other name; it must never be accepted and then make the
  // file or its directory unreadable.
  ASSERT_OK(Mkdir("/d"));
  const std::string bad = "/d/\xff\xfe-latin1-\xe9";
  Status s = Create(bad);
  if (!s.ok()) {
    EXPECT_FAILS(s, absl::StatusCode::kInvalidArgument, EINVAL);
    return;
  }
  EXPECT_OK(InfoStatus(bad));
  cairn::v1::ListDirectoryResponse resp;
  EXPECT_OK(List("/d", "", 0, &resp));
  EXPECT_OK(Delete(bad));
  // And the directory holding it can still be removed.
  EXPECT_OK(Delete("/d", true));
}

// ================================ Journal and restart ================================

TEST_F(NamespaceTest, EverySuccessfulMutationWritesOneJournalRecord) {
  const uint64_t start = store_->last_txid();
  // Each helper checks the single new record itself; here the sequence as a whole.
  ASSERT_OK(Mkdir("/a"));
  ASSERT_OK(Mkdir("/a/b/c", true));
  ASSERT_OK(Create("/a/f"));
  ASSERT_OK(Symlink("/a/l", "f"));
  ASSERT_OK(Rename("/a/f", "/a/g"));
  ASSERT_OK(SetReplication("/a/g", 2));
  ASSERT_OK(SetPermission("/a/g", 0600));
  ASSERT_OK(SetOwner("/a/g", "o", "g"));
  ASSERT_OK(SetTimes("/a/g", 1, 2));
  ASSERT_OK(Delete("/a/l"));
  ASSERT_OK(Delete("/a/b", true));
  // Reads write nothing.
  ASSERT_TRUE(Info("/a").ok());
  ListAll("/a");
  // Failures write nothing.
  EXPECT_FAILS(Mkdir("/a"), absl::StatusCode::kAlreadyExists, EEXIST);
  EXPECT_FAILS(Delete("/zzz"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_FAILS(SetReplication("/a/g", 0), absl::StatusCode::kInvalidArgument, EINVAL);

  const std::vector<std::string> ops = {"Mkdir",         "Mkdir",    "CreateFile",
                                        "CreateSymlink", "Rename",   "SetReplication",
                                        "SetPermission", "SetOwner", "SetTimes",
                                        "Delete",        "Delete"};
  EXPECT_EQ(store_->last_txid(), start + ops.size());
  auto journal = store_->ReadJournal(start + 1, 1000);
  ASSERT_TRUE(journal.ok()) << journal.status();
  ASSERT_EQ(journal->size(), ops.size());
  int64_t prev_time = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    EXPECT_EQ((*journal)[i].txid(), start + 1 + i);
    EXPECT_EQ((*journal)[i].op(), ops[i]);
    EXPECT_GE((*journal)[i].time_ms(), prev_time);
    prev_time = (*journal)[i].time_ms();
  }
  // The journal record carries the request.
  cairn::v1::RenameRequest rename;
  ASSERT_TRUE(rename.ParseFromString((*journal)[4].request()));
  EXPECT_EQ(rename.src(), "/a/f");
  EXPECT_EQ(rename.dst(), "/a/g");
  // ReadJournal honours from_txid and max.
  auto two = store_->ReadJournal(start + 3, 2);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].txid(), start + 3);
  EXPECT_EQ((*two)[1].txid(), start + 4);
  auto past_end = store_->ReadJournal(store_->last_txid() + 1, 10);
  ASSERT_TRUE(past_end.ok());
  EXPECT_TRUE(past_end->empty());
  auto all = store_->ReadJournal(0, 100000);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), store_->last_txid());  // txids 1..last, no gaps
}

// The journal keeps the newest journal_retain_txns records (contiguous, ending at the last
// txid), also across a reopen; the namespace itself is untouched by the trimming.
TEST_F(NamespaceTest, JournalKeepsOnlyTheNewestRecords) {
  constexpr uint64_t kRetain = 50;
  journal_retain_txns_ = kRetain;
  ASSERT_NO_FATAL_FAILURE(ReopenStore());
  auto check = [&](const std::string& when) {
    SCOPED_TRACE(when);
    const uint64_t last = store_->last_txid();
    auto all = store_->ReadJournal(0, 100000);
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_EQ(all->size(), kRetain);
    EXPECT_EQ(store_->first_journal_txid(), last - kRetain + 1);
    for (size_t i = 0; i < all->size(); ++i) EXPECT_EQ((*all)[i].txid(), last - kRetain + 1 + i);
  };
  for (int i = 0; i < 300; ++i) ASSERT_OK(Mkdir(absl::StrCat("/d", i)));
  ASSERT_NO_FATAL_FAILURE(check("after 300 mkdirs"));
  auto gone = store_->ReadJournal(store_->first_journal_txid() - 1, 10);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kOutOfRange);
  ASSERT_NO_FATAL_FAILURE(ReopenStore());
  ASSERT_NO_FATAL_FAILURE(check("after a reopen"));
  ASSERT_OK(Mkdir("/after-reopen"));
  ASSERT_NO_FATAL_FAILURE(check("after one more mkdir"));
  EXPECT_EQ(ListAll("/").size(), 301u);
  // With retention off, nothing more is deleted.
  journal_retain_txns_ = 0;
  ASSERT_NO_FATAL_FAILURE(ReopenStore());
  for (int i = 0; i < 20; ++i) ASSERT_OK(Mkdir(absl::StrCat("/e", i)));
  auto all = store_->ReadJournal(0, 100000);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), kRetain + 20);
}

TEST_F(NamespaceTest, ReopenKeepsNamespaceJournalAndCounters) {
  ASSERT_OK(Mkdir("/a/b", true, 0700, "alice", "staff"));
  cairn::v1::CreateFileRequest req;
  req.set_path("/a/b/f");
  req.set_replication(2);
  req.set_block_size_bytes(1 << 20);
  ASSERT_OK(Create(req));
  ASSERT_OK(Symlink("/a/l", "b/f"));
  ASSERT_OK(Create("/gone"));
  const uint64_t gone_id = InodeId("/gone");
  ASSERT_OK(Delete("/gone"));
  ASSERT_OK(SetTimes("/a/b/f", 77, 88));
  // A failed create (create_parents, then EEXIST).
  req.set_path("/n1/n2/n3/f");
  req.set_create_parents(true);
  ASSERT_OK(Create(req));
  EXPECT_FAILS(Create(req), absl::StatusCode::kAlreadyExists, EEXIST);

  std::map<std::string, std::string> before;
  uint64_t max_id = 0;
  for (const std::string p : {"/", "/a", "/a/b", "/a/b/f", "/a/l", "/n1", "/n1/n2", "/n1/n2/n3",
                              "/n1/n2/n3/f"}) {
    auto info = Info(p);
    ASSERT_TRUE(info.ok()) << p;
    before[p] = info->SerializeAsString();
    max_id = std::max(max_id, info->inode_id());
  }
  max_id = std::max(max_id, gone_id);
  const uint64_t last_txid = store_->last_txid();
  auto journal_before = store_->ReadJournal(0, 100000);
  ASSERT_TRUE(journal_before.ok());

  ASSERT_NO_FATAL_FAILURE(ReopenStore());

  EXPECT_EQ(store_->last_txid(), last_txid);
  for (const auto& [p, info] : before) {
    auto now = Info(p);
    ASSERT_TRUE(now.ok()) << p << ": " << now.status();
    EXPECT_EQ(now->SerializeAsString(), info) << p;
  }
  EXPECT_FAILS(InfoStatus("/gone"), absl::StatusCode::kNotFound, ENOENT);
  EXPECT_EQ(ListAll("/"), (std::vector<std::string>{"a", "n1"}));
  auto journal_after = store_->ReadJournal(0, 100000);
  ASSERT_TRUE(journal_after.ok());
  ASSERT_EQ(journal_after->size(), journal_before->size());
  for (size_t i = 0; i < journal_after->size(); ++i) {
    EXPECT_EQ((*journal_after)[i].SerializeAsString(), (*journal_before)[i].SerializeAsString());
  }

  // New mutations continue the journal and never reuse an inode id.
  FileInfo fresh;
  ASSERT_OK(Create("/fresh", &fresh));  // helper checks txid == last_txid + 1
  EXPECT_EQ(store_->last_txid(), last_txid + 1);
  EXPECT_GT(fresh.inode_id(), max_id);
  FileInfo dir;
  ASSERT_OK(Mkdir("/fresh_dir", false, 0, "", "", &dir));
  EXPECT_GT(dir.inode_id(), fresh.inode_id());

  // And once more, with nothing new in between.
  ASSERT_NO_FATAL_FAILURE(ReopenStore());
  EXPECT_EQ(store_->last_txid(), last_txid + 2);
  FileInfo third;
  ASSERT_OK(Create("/third", &third));
  EXPECT_GT(third.inode_id(), dir.inode_id());
  EXPECT_EQ(InodeId("/fresh"), fresh.inode_id());
}

TEST_F(NamespaceTest, ReopenAfterManyEntriesAndDeletes) {
  ASSERT_OK(Mkdir("/d"));
  for (int i = 0; i < 60; ++i) ASSERT_OK(Create(absl::StrFormat("/d/f%03d", i)));
  for (int i = 0; i < 60; i += 2) ASSERT_OK(Delete(absl::StrFormat("/d/f%03d", i)));
  ASSERT_OK(Rename("/d/f001", "/moved"));
  ASSERT_NO_FATAL_FAILURE(ReopenStore());
  std::vector<std::string> want;
  for (int i = 3; i < 60; i += 2) want.push_back(absl::StrFormat("f%03d", i));
  EXPECT_EQ(ListAll("/d", 7), want);
  EXPECT_EQ(Children("/d"), want.size());
  EXPECT_TRUE(Info("/moved").ok());
}

// ================================ Concurrency ================================

TEST_F(NamespaceTest, GroupCommitOfConcurrentCreates) {
  constexpr int kThreads = 64;
  ASSERT_OK(Mkdir("/g"));
  const uint64_t before = store_->last_txid();
  std::vector<Status> results(kThreads);
  std::vector<uint64_t> inode_ids(kThreads);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      cairn::v1::CreateFileRequest req;
      req.set_path(absl::StrCat("/g/t", t));
      cairn::v1::CreateFileResponse resp;
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      results[t] = CallSync(ops_.get(), &NamespaceOps::CreateFile, req, &resp);
      inode_ids[t] = resp.info().inode_id();
    });
  }
  while (ready.load() < kThreads) std::this_thread::yield();
  go.store(true);
  for (auto& th : threads) th.join();

  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(results[t].ok()) << t << ": " << results[t];
  EXPECT_EQ(std::set<uint64_t>(inode_ids.begin(), inode_ids.end()).size(), size_t{kThreads});
  EXPECT_EQ(store_->last_txid(), before + kThreads);
  auto journal = store_->ReadJournal(before + 1, 1000);
  ASSERT_TRUE(journal.ok());
  ASSERT_EQ(journal->size(), size_t{kThreads});
  std::set<std::string> paths;
  for (int i = 0; i < kThreads; ++i) {
    const JournalRecord& rec = (*journal)[i];
    EXPECT_EQ(rec.txid(), before + 1 + i);
    EXPECT_EQ(rec.op(), "CreateFile");
    cairn::v1::CreateFileRequest req;
    ASSERT_TRUE(req.ParseFromString(rec.request()));
    paths.insert(req.path());
  }
  EXPECT_EQ(paths.size(), size_t{kThreads});
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(paths.count(absl::StrCat("/g/t", t)), 1u);
  EXPECT_EQ(Children("/g"), uint64_t{kThreads});
  EXPECT_EQ(ListAll("/g").size(), size_t{kThreads});
}

TEST_F(NamespaceTest, ConcurrentConflictingCreatesExactlyOneWins) {
  constexpr int kThreads = 16;
  const uint64_t before = store_->last_txid();
  std::vector<Status> results(kThreads);
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      cairn::v1::MkdirRequest req;
      req.set_path("/same");
      cairn::v1::MkdirResponse resp;
      while (!go.load()) std::this_thread::yield();
      results[t] = CallSync(ops_.get(), &NamespaceOps::Mkdir, req, &resp);
    });
  }
  go.store(true);
  for (auto& th : threads) th.join();
  int ok = 0;
  for (const Status& s : results) {
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_FAILS(s, absl::StatusCode::kAlreadyExists, EEXIST);
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(store_->last_txid(), before + 1);
  EXPECT_EQ(Children("/"), 1u);
}

TEST_F(NamespaceTest, ReadsRunConcurrentlyWithMutations) {
  ASSERT_OK(Mkdir("/r"));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!stop.load()) {
      cairn::v1::ListDirectoryRequest req;
      req.set_path("/r");
      cairn::v1::ListDirectoryResponse resp;
      Status s = CallSync(ops_.get(), &NamespaceOps::ListDirectory, req, &resp);
      if (!s.ok()) bad.fetch_add(1);
      // Names are always in order.
      for (int i = 1; i < resp.entries_size(); ++i) {
        if (!(resp.entries(i - 1).name() < resp.entries(i).name())) bad.fetch_add(1);
      }
    }
  });
  for (int i = 0; i < 60; ++i) {
    const std::string p = absl::StrFormat("/r/x%03d", i);
    ASSERT_OK(Create(p));
    if (i % 3 == 0) ASSERT_OK(Delete(p));
  }
  stop.store(true);
  reader.join();
  EXPECT_EQ(bad.load(), 0);
}

// The read cache never answers with a value older than a finished mutation: readers racing
// with creates, renames and deletes (each filling the cache with what it read, positive or
// negative) never make a later read miss a created entry or see a renamed or deleted one.
// Run with a tiny cache (evicting all along) and with the default one.
TEST_F(NamespaceTest, ReadCacheStaysCoherentWithRacingReaders) {
  for (size_t entries : {size_t{8}, NamespaceStoreOptions().read_cache_entries}) {
    SCOPED_TRACE(absl::StrCat(entries, " cache entries"));
    read_cache_entries_ = entries;
    ASSERT_NO_FATAL_FAILURE(ReopenStore());
    const std::string dir = absl::StrCat("/race", entries);
    ASSERT_OK(Mkdir(dir));
    auto f = [&](int i) { return absl::StrCat(dir, "/f", i); };
    auto g = [&](int i) { return absl::StrCat(dir, "/g", i); };
    std::atomic<int> current{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; ++r) {
      readers.emplace_back([&] {
        while (!stop.load()) {
          const int i = current.load();
          for (const std::string& p : {f(i), g(i), f(i + 1), dir}) store_->ResolvePath(p).IgnoreError();
        }
      });
    }
    auto found = [&](const std::string& p) { return store_->ResolvePath(p).ok(); };
    for (int i = 0; i < 200; ++i) {
      current.store(i);
      ASSERT_OK(Create(f(i)));
      ASSERT_TRUE(found(f(i))) << f(i) << " missing after its create";
      ASSERT_OK(Rename(f(i), g(i)));
      ASSERT_FALSE(found(f(i))) << f(i) << " still there after its rename";
      ASSERT_TRUE(found(g(i))) << g(i) << " missing after the rename";
      ASSERT_OK(Delete(g(i)));
      ASSERT_FALSE(found(g(i))) << g(i) << " still there after its delete";
    }
    stop.store(true);
    for (auto& t : readers) t.join();
    auto info = Info(dir);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->children_count(), 0u);
  }
}

// The cache's generation protocol, step by step: a value read before a write began is never
// stored after it; written values replace cached ones; absence is cached too; the oldest key
// goes first when full; a failed write forgets everything.
TEST(KvCacheTest, GenerationsEvictionAndFailedWrites) {
  KvCache c(3);
  const uint64_t before = c.generation();
  c.BeginWrite();
  c.Fill(before, "k", "old");  // read before the write began, stored after: dropped
  EXPECT_FALSE(c.Get("k").has_value());
  c.Fill(c.generation(), "k", "during");  // read while the write is in progress: dropped
  EXPECT_FALSE(c.Get("k").has_value());
  c.EndWrite({{"k", "new"}, {"gone", std::nullopt}});
  c.Fill(before, "k", "old");  // still dropped: the generation moved on
  ASSERT_TRUE(c.Get("k").has_value());
  EXPECT_EQ(*c.Get("k"), std::optional<std::string>("new"));
  ASSERT_TRUE(c.Get("gone").has_value());
  EXPECT_FALSE(c.Get("gone")->has_value());  // known to be absent
  c.Fill(c.generation(), "k", "new2");  // a current read replaces the value
  EXPECT_EQ(*c.Get("k"), std::optional<std::string>("new2"));
  c.Fill(c.generation(), "third", "3");
  c.Fill(c.generation(), "fourth", "4");  // full: "gone", the oldest inserted, goes
  EXPECT_FALSE(c.Get("gone").has_value());
  EXPECT_TRUE(c.Get("k").has_value());
  EXPECT_TRUE(c.Get("third").has_value());
  EXPECT_TRUE(c.Get("fourth").has_value());
  c.BeginWrite();
  c.EndFailedWrite();
  EXPECT_FALSE(c.Get("k").has_value());
  EXPECT_FALSE(c.Get("fourth").has_value());
  EXPECT_EQ(c.generation() % 2, 0u);
  KvCache none(0);
  none.Fill(none.generation(), "k", "v");
  EXPECT_FALSE(none.Get("k").has_value());
}

}  // namespace
}  // namespace cairn::namenode
