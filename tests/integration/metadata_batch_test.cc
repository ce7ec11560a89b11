// The Batch RPC and the client library's batching of concurrent namespace calls: each operation
// of a batch gets the outcome it would have had alone (codes and POSIX details included), a
// malformed batch is refused as a whole with nothing applied, and many threads sharing one
// client see exactly their own results, also across a NameNode restart.
#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/errno_map.h"
#include "common/grpc_status.h"
#include "proto/namenode.grpc.pb.h"
#include "tests/testutil/fs_helpers.h"
#include "tests/testutil/mini_cluster.h"

namespace cairn::testing {
namespace {

using cairn::v1::BatchOp;
using cairn::v1::BatchRequest;
using cairn::v1::BatchResponse;
using cairn::v1::BatchResult;
using client::FileSystem;

class MetadataBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MiniClusterOptions o;
    o.num_datanodes = 1;
    o.replication = 1;
    cluster_ = std::make_unique<MiniCluster>(o);
    ASSERT_OK(cluster_->Start());
    nn_ = cairn::v1::NameNodeService::NewStub(
        grpc::CreateChannel(cluster_->namenode_address(), grpc::InsecureChannelCredentials()));
  }

  // A client whose namespace calls are batched whenever one is already in flight.
  std::unique_ptr<FileSystem> BatchingClient() {
    auto fs = cluster_->NewClient([](client::ClientOptions* o) { o->metadata_rpcs_in_flight = 1; });
    EXPECT_TRUE(fs.ok()) << fs.status();
    return fs.ok() ? std::move(*fs) : nullptr;
  }
  // A client that sends every call as its own RPC (no Batch at all).
  std::unique_ptr<FileSystem> PlainClient() {
    auto fs = cluster_->NewClient([](client::ClientOptions* o) { o->metadata_rpcs_in_flight = 0; });
    EXPECT_TRUE(fs.ok()) << fs.status();
    return fs.ok() ? std::move(*fs) : nullptr;
  }

  grpc::Status Batch(const BatchRequest& req, BatchResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return nn_->Batch(&ctx, req, resp);
  }

  std::unique_ptr<MiniCluster> cluster_;
  std::unique_ptr<cairn::v1::NameNodeService::Stub> nn_;
};

BatchOp Mkdir(const std::string& path) {
  BatchOp op;
  op.mutable_mkdir()->set_path(path);
  return op;
}
BatchOp Create(const std::string& path) {
  BatchOp op;
  op.mutable_create_file()->set_path(path);
  return op;
}
BatchOp Stat(const std::string& path) {
  BatchOp op;
  op.mutable_get_file_info()->set_path(path);
  return op;
}
BatchOp Remove(const std::string& path) {
  BatchOp op;
  op.mutable_remove()->set_path(path);
  return op;
}
Status Outcome(const BatchResult& r) { return r.has_error() ? FromOpError(r.error()) : absl::OkStatus(); }

TEST_F(MetadataBatchTest, EachOperationGetsItsOwnOutcome) {
  auto fs = PlainClient();
  ASSERT_OK(fs->Mkdir("/full/sub", true));
  ASSERT_OK(WriteFile(fs.get(), "/file", "x"));

  BatchRequest req;
  *req.add_ops() = Mkdir("/new-dir");           // 0: ok
  *req.add_ops() = Stat("/missing");            // 1: NOT_FOUND, ENOENT
  *req.add_ops() = Create("/file/child");       // 2: ENOTDIR
  *req.add_ops() = Remove("/full");             // 3: ENOTEMPTY
  *req.add_ops() = Stat("relative/path");       // 4: INVALID_ARGUMENT
  *req.add_ops() = Create("/new-file");         // 5: ok
  *req.add_ops() = Stat("/file");               // 6: ok, a 1-byte file
  *req.add_ops() = Mkdir("/file");              // 7: ALREADY_EXISTS
  BatchResponse resp;
  ASSERT_TRUE(Batch(req, &resp).ok());
  ASSERT_EQ(resp.results_size(), req.ops_size());

  EXPECT_OK(Outcome(resp.results(0)));
  EXPECT_EQ(resp.results(0).mkdir().info().type(), cairn::v1::FILE_TYPE_DIRECTORY);
  EXPECT_EQ(ToErrno(Outcome(resp.results(1))), ENOENT) << Outcome(resp.results(1));
  EXPECT_EQ(ToErrno(Outcome(resp.results(2))), ENOTDIR) << Outcome(resp.results(2));
  EXPECT_EQ(ToErrno(Outcome(resp.results(3))), ENOTEMPTY) << Outcome(resp.results(3));
  EXPECT_EQ(Outcome(resp.results(4)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(Outcome(resp.results(4)).message().find("relative/path"), std::string::npos);
  EXPECT_OK(Outcome(resp.results(5)));
  EXPECT_NE(resp.results(5).create_file().info().inode_id(), 0u);
  EXPECT_OK(Outcome(resp.results(6)));
  EXPECT_EQ(resp.results(6).get_file_info().info().length_bytes(), 1u);
  EXPECT_EQ(Outcome(resp.results(7)).code(), absl::StatusCode::kAlreadyExists);

  // The successes are real, the failures changed nothing.
  EXPECT_OK(fs->Stat("/new-dir").status());
  EXPECT_OK(fs->Stat("/new-file").status());
  EXPECT_OK(fs->Stat("/full/sub").status());
  EXPECT_EQ(fs->Stat("/file/child").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(MetadataBatchTest, FailedOperationsCarryTheErrorAndNoResponse) {
  BatchRequest req;
  *req.add_ops() = Stat("/missing");
  *req.add_ops() = Mkdir("/m");
  *req.add_ops() = Mkdir("/m");
  BatchResponse resp;
  ASSERT_TRUE(Batch(req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_TRUE(resp.results(0).has_error());
  EXPECT_EQ(resp.results(0).result_case(), BatchResult::RESULT_NOT_SET);
  EXPECT_FALSE(resp.results(1).has_error());
  EXPECT_EQ(resp.results(1).result_case(), BatchResult::kMkdir);
  EXPECT_TRUE(resp.results(2).has_error());
  EXPECT_EQ(resp.results(2).result_case(), BatchResult::RESULT_NOT_SET);
}

TEST_F(MetadataBatchTest, NamesThatAreNotUtf8CanBeStatted) {
  // Names are bytes everywhere: a file created under a non-UTF-8 name can be looked up, alone
  // and inside a batch, and the batch's other operations are not refused with it.
  const std::string odd = "/u\xff\xfe-name";
  BatchRequest create;
  *create.add_ops() = Create(odd);
  BatchResponse created;
  grpc::Status gs = Batch(create, &created);
  ASSERT_TRUE(gs.ok()) << gs.error_message();
  ASSERT_EQ(created.results_size(), 1);
  EXPECT_OK(Outcome(created.results(0)));
  // (The operations of one batch run at once: a stat does not see a create of its batch.)
  BatchRequest req;
  *req.add_ops() = Stat(odd);
  *req.add_ops() = Mkdir("/plain");
  *req.add_ops() = Stat("/missing\xff");  // its error message quotes the name
  BatchResponse resp;
  gs = Batch(req, &resp);
  ASSERT_TRUE(gs.ok()) << gs.error_message();
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_OK(Outcome(resp.results(0)));
  EXPECT_EQ(resp.results(0).get_file_info().info().name(), odd.substr(1));
  EXPECT_OK(Outcome(resp.results(1)));
  EXPECT_EQ(ToErrno(Outcome(resp.results(2))), ENOENT) << Outcome(resp.results(2));

  auto fs = PlainClient();
  auto st = fs->Stat(odd);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->type, client::FileType::kFile);
  EXPECT_OK(fs->Stat("/plain").status());
}

TEST_F(MetadataBatchTest, MalformedBatchesAreRefusedWithNothingApplied) {
  BatchResponse resp;
  BatchRequest empty;
  EXPECT_EQ(Batch(empty, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  BatchRequest unset;
  *unset.add_ops() = Mkdir("/before-the-hole");
  unset.add_ops();  // no operation set
  grpc::Status s = Batch(unset, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("operation 1"), std::string::npos) << s.error_message();

  BatchRequest huge;
  for (int i = 0; i < 1025; ++i) *huge.add_ops() = Mkdir(absl::StrCat("/huge-", i));
  s = Batch(huge, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("1025"), std::string::npos) << s.error_message();

  auto fs = PlainClient();
  EXPECT_EQ(fs->Stat("/before-the-hole").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs->Stat("/huge-0").status().code(), absl::StatusCode::kNotFound);
  auto root = fs->List("/");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_TRUE(root->empty());
}

// The mutations of one batch share a log sync, but each is still its own transaction: two
// creates of one name in one batch give exactly one file and one ALREADY_EXISTS.
TEST_F(MetadataBatchTest, ConflictingOperationsInOneBatch) {
  BatchRequest req;
  for (int i = 0; i < 8; ++i) *req.add_ops() = Create("/contested");
  BatchResponse resp;
  ASSERT_TRUE(Batch(req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 8);
  int created = 0, exists = 0;
  std::set<uint64_t> inodes;
  for (const auto& r : resp.results()) {
    if (Outcome(r).ok()) {
      ++created;
      inodes.insert(r.create_file().info().inode_id());
    } else if (Outcome(r).code() == absl::StatusCode::kAlreadyExists) {
      ++exists;
    }
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(exists, 7);
  auto st = PlainClient()->Stat("/contested");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(inodes, std::set<uint64_t>{st->inode_id});
}

// Many threads share one batching client: every call gets its own answer (successes and the
// right errors), and the namespace afterwards holds exactly what they made.
TEST_F(MetadataBatchTest, ThreadsSharingOneClientGetTheirOwnResults) {
  auto fs = BatchingClient();
  ASSERT_OK(fs->Mkdir("/t", false));
  ASSERT_OK(WriteFile(fs.get(), "/t/a-file", "x"));
  constexpr int kThreads = 24;
  constexpr int kFiles = 40;
  std::atomic<int> failures{0};
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) {
      ADD_FAILURE() << what;
      failures++;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string dir = absl::StrCat("/t/d", t);
      Status s = fs->Mkdir(dir, false);
      check(s.ok(), absl::StrCat(dir, ": ", s.ToString()));
      for (int i = 0; i < kFiles; ++i) {
        const std::string f = absl::StrCat(dir, "/f", i);
        s = fs->Touch(f);
        check(s.ok(), absl::StrCat(f, ": ", s.ToString()));
        auto st = fs->Stat(f);
        check(st.ok() && st->name == absl::StrCat("f", i) && st->type == client::FileType::kFile,
              absl::StrCat("stat ", f, ": ", st.status().ToString()));
        auto missing = fs->Stat(f + ".missing");
        check(ToErrno(missing.status()) == ENOENT, absl::StrCat(f, ".missing: ", missing.status().ToString()));
        s = fs->Mkdir("/t/a-file/under", false);
        check(ToErrno(s) == ENOTDIR, absl::StrCat("mkdir under a file: ", s.ToString()));
        if (i % 2 == 1) {
          s = fs->Rename(f, f + ".renamed");
          check(s.ok(), absl::StrCat("rename ", f, ": ", s.ToString()));
        }
        if (i % 4 == 3) {
          s = fs->Delete(f + ".renamed", false);
          check(s.ok(), absl::StrCat("delete ", f, ": ", s.ToString()));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);

  auto plain = PlainClient();
  for (int t = 0; t < kThreads; ++t) {
    auto entries = plain->List(absl::StrCat("/t/d", t));
    ASSERT_TRUE(entries.ok()) << entries.status();
    std::set<std::string> names;
    for (const auto& e : *entries) names.insert(e.name);
    std::set<std::string> want;
    for (int i = 0; i < kFiles; ++i) {
      if (i % 4 == 3) continue;
      want.insert(i % 2 == 1 ? absl::StrCat("f", i, ".renamed") : absl::StrCat("f", i));
    }
    EXPECT_EQ(names, want) << "/t/d" << t;
  }
}

// Reads that were waiting in a batch when the NameNode went away are retried and answered
// once it is back; mutations are not retried blindly and fail with UNAVAILABLE.
TEST_F(MetadataBatchTest, BatchedCallsAcrossANameNodeRestart) {
  auto fs = BatchingClient();
  ASSERT_OK(fs->Mkdir("/kept", false));
  cluster_->StopNameNode();
  EXPECT_EQ(fs->Mkdir("/while-down", false).code(), absl::StatusCode::kUnavailable);

  std::atomic<int> started{0}, answered{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 6; ++i) {
    readers.emplace_back([&] {
      started++;
      auto st = fs->Stat("/kept");
      EXPECT_TRUE(st.ok()) << st.status();
      if (st.ok() && st->type == client::FileType::kDirectory) answered++;
    });
  }
  ASSERT_TRUE(WaitFor([&] { return started.load() == 6; }, 10000));
  EXPECT_EQ(answered.load(), 0);  // nobody can be answered while the NameNode is down
  ASSERT_OK(cluster_->RestartNameNode());
  for (auto& r : readers) r.join();
  EXPECT_EQ(answered.load(), 6);
  ASSERT_OK(cluster_->WaitForSafeModeOff());
  EXPECT_OK(fs->Mkdir("/after", false));
  EXPECT_EQ(fs->Stat("/while-down").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cairn::testing
