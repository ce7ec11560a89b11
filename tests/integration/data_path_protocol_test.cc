// The data-path protocols abused through raw gRPC stubs on a MiniCluster: a second writer of an
// open file, DataNodes that are not registered or belong to another cluster, and malformed or
// out-of-range NameNode and DataNode requests. Each must get a clear error, change nothing and
// crash nothing: every test ends by writing and reading a file.
#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>

#include <cerrno>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/errno_map.h"
#include "common/grpc_status.h"
#include "datanode/block_store.h"
#include "namenode/block_manager.h"
#include "namenode/datanode_manager.h"
#include "namenode/lease_manager.h"
#include "proto/datanode.grpc.pb.h"
#include "proto/namenode.grpc.pb.h"
#include "tests/testutil/fs_helpers.h"
#include "tests/testutil/mini_cluster.h"

namespace cairn::testing {
namespace {

using client::BlockInfo;
using client::CreateOptions;
using client::FileSystem;
using grpc::StatusCode;


// A grpc::Status with the expected code and a message.
#define EXPECT_GRPC(code, expr)                                                     \
  do {                                                                              \
    const ::grpc::Status _g = (expr);                                               \
    EXPECT_EQ(_g.error_code(), (code)) << #expr << ": " << _g.error_message();      \
    if (_g.error_code() != StatusCode::OK) {                                        \
      EXPECT_FALSE(_g.error_message().empty());                                     \
    }                                                                               \
  } while (0)




std::unique_ptr<grpc::ClientContext> Deadline(int64_t ms = 10000) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
  return ctx;
}

// Block ids far above anything the NameNode allocates.
uint64_t FakeBlockId(int n) { return (uint64_t{1} << 40) + static_cast<uint64_t>(n); }

cairn::v1::WriteBlockRequest Header(uint64_t block_id, uint64_t gs, bool recovery = false,
                                    uint64_t expected_bytes = kMiB) {
  cairn::v1::WriteBlockRequest r;
  auto* h = r.mutable_header();
  h->mutable_block()->set_block_id(block_id);
  h->mutable_block()->set_generation_stamp(gs);
  h->set_ack_mode(cairn::v1::ACK_MODE_SYNC);
  h->set_client_name("raw-client");
  h->set_min_replicas(1);
  h->set_recovery(recovery);
  h->set_expected_length_bytes(expected_bytes);
  return r;
}

cairn::v1::WriteBlockRequest Packet(uint64_t seqno, uint64_t offset, const std::string& data,
                                    bool last = false, bool bad_crc = false) {
  cairn::v1::WriteBlockRequest r;
  auto* p = r.mutable_packet();
  p->set_seqno(seqno);
  p->set_offset_bytes(offset);
  p->set_data(data);
  p->set_last(last);
  p->set_crc32c(Crc32c(data.data(), data.size()) ^ (bad_crc ? 1u : 0u));
  return r;
}

struct RawWriteResult {
  grpc::Status status;
  std::vector<cairn::v1::WriteBlockResponse> acks;
  std::string first_error() const {
    for (const auto& a : acks) {
      if (!a.error().empty()) return a.error();
    }
    return "";
  }
};

// Sends `msgs` on one WriteBlock stream, half-closes it and collects every answer.
RawWriteResult RawWrite(cairn::v1::DataNodeService::Stub* dn,
                        const std::vector<cairn::v1::WriteBlockRequest>& msgs) {
  RawWriteResult out;
  auto ctx = Deadline();
  auto stream = dn->WriteBlock(ctx.get());
  for (const auto& m : msgs) {
    if (!stream->Write(m)) break;
  }
  stream->WritesDone();
  cairn::v1::WriteBlockResponse r;
  while (stream->Read(&r)) out.acks.push_back(r);
  out.status = stream->Finish();
  return out;
}

struct RawReadResult {
  grpc::Status status;
  std::string data;  // from the first response's (aligned) offset
  uint64_t first_offset = 0;
  int responses = 0;
};

RawReadResult RawRead(cairn::v1::DataNodeService::Stub* dn, uint64_t block_id, uint64_t gs,
                      uint64_t offset, uint64_t length) {
  cairn::v1::ReadBlockRequest rq;
  rq.mutable_block()->set_block_id(block_id);
  rq.mutable_block()->set_generation_stamp(gs);
  rq.set_offset_bytes(offset);
  rq.set_length_bytes(length);
  RawReadResult out;
  auto ctx = Deadline();
  auto stream = dn->ReadBlock(ctx.get(), rq);
  cairn::v1::ReadBlockResponse resp;
  while (stream->Read(&resp)) {
    if (out.responses++ == 0) out.first_offset = resp.offset_bytes();
    if (resp.offset_bytes() == out.first_offset + out.data.size()) out.data += resp.data();
  }
  out.status = stream->Finish();
  return out;
}

class DataPathProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<MiniCluster>(MiniClusterOptions{});
    ASSERT_OK(cluster_->Start());
    fs_ = NewClient();
    ASSERT_NE(fs_, nullptr);
    nn_ = cairn::v1::NameNodeService::NewStub(
        grpc::CreateChannel(cluster_->namenode_address(), grpc::InsecureChannelCredentials()));
  }
  std::unique_ptr<FileSystem> NewClient(std::function<void(client::ClientOptions*)> tweak = nullptr) {
    auto fs = cluster_->NewClient(std::move(tweak));
    EXPECT_TRUE(fs.ok()) << fs.status();
    return fs.ok() ? std::move(*fs) : nullptr;
  }
  std::unique_ptr<cairn::v1::DataNodeService::Stub> DataNodeStub(int i) {
    return cairn::v1::DataNodeService::NewStub(grpc::CreateChannel(
        cluster_->datanode(i)->address(), grpc::InsecureChannelCredentials()));
  }
  int IndexOfAddress(const std::string& address) {
    for (int i = 0; i < cluster_->num_datanodes(); ++i) {
      if (cluster_->datanode(i) && cluster_->datanode(i)->address() == address) return i;
    }
    return -1;
  }
  // As the writer "raw-client": creates `path` (replication 1) with its first block.
  cairn::v1::CreateFileResponse RawCreateWithFirstBlock(const std::string& path) {
    cairn::v1::CreateFileRequest rq;
    rq.set_path(path);
    rq.set_replication(1);
    rq.set_client_name("raw-client");
    rq.set_allocate_first_block(true);
    cairn::v1::CreateFileResponse rs;
    EXPECT_GRPC(StatusCode::OK, nn_->CreateFile(Deadline().get(), rq, &rs));
    return rs;
  }
  // Writes `data` as the whole of block `lb`, in one packet, to its first DataNode.
  RawWriteResult RawWriteBlock(const cairn::v1::LocatedBlock& lb, const std::string& data) {
    const int dn = lb.locations_size() > 0 ? IndexOfAddress(lb.locations(0).address()) : -1;
    EXPECT_GE(dn, 0) << "the block names no DataNode of the cluster";
    if (dn < 0) return RawWriteResult{grpc::Status(StatusCode::NOT_FOUND, "no DataNode"), {}};
    return RawWrite(DataNodeStub(dn).get(),
                    {Header(lb.block().block_id(), lb.block().generation_stamp()),
                     Packet(0, 0, data, /*last=*/true)});
  }
  // Completes `path` as "raw-client" with `last`, asking again while the NameNode answers
  // complete=false; true once it is complete.
  bool RawComplete(const std::string& path, const cairn::v1::Block& last) {
    cairn::v1::CompleteFileRequest rq;
    rq.set_path(path);
    rq.set_client_name("raw-client");
    *rq.mutable_last() = last;
    bool done = false;
    EXPECT_TRUE(WaitFor([&] {
      cairn::v1::CompleteFileResponse rs;
      grpc::Status gs = nn_->CompleteFile(Deadline().get(), rq, &rs);
      EXPECT_TRUE(gs.ok()) << gs.error_message();
      done = gs.ok() && rs.complete();
      return done || !gs.ok();
    }, 10000));
    return done;
  }
  // Writes and reads back a multi-block file; every DataNode is still registered and live.
  void ExpectClusterStillWorks() {
    const std::string path = absl::StrCat("/still-works-", ++still_works_);
    const std::string data = RandomBytes(2 * kMiB + kMiB / 2 + 11, 1000 + still_works_);
    ASSERT_OK(WriteFile(fs_.get(), path, data));
    auto back = ReadFile(NewClient().get(), path);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(SameBytes(*back, data));
    auto stats = fs_->GetFsStats();
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->live_datanodes, static_cast<uint32_t>(cluster_->num_datanodes()));
    EXPECT_EQ(stats->dead_datanodes, 0u);
    for (int i = 0; i < cluster_->num_datanodes(); ++i) {
      EXPECT_TRUE(cluster_->datanode(i)->registered()) << "DataNode " << i;
    }
  }

  std::unique_ptr<MiniCluster> cluster_;
  std::unique_ptr<FileSystem> fs_;
  std::unique_ptr<cairn::v1::NameNodeService::Stub> nn_;
  int still_works_ = 0;
};

// ---- Two writers -------------------------------------------------------------------------------

// While one client writes a file, a second can neither replace it nor write into it; the first
// finishes undisturbed.
TEST_F(DataPathProtocolTest, SecondWriterOfAnOpenFileIsRefused) {
  auto second = NewClient();
  ASSERT_NE(second, nullptr);
  const std::string data = RandomBytes(2 * kMiB + 500, 100);
  auto out = fs_->Create("/shared", {});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_OK((*out)->Write(data.data(), kMiB + 100));
  ASSERT_OK((*out)->Hflush());

  auto replaced = second->Create("/shared", CreateOptions{.overwrite = true});
  ASSERT_FALSE(replaced.ok()) << "a second writer replaced a file being written";
  EXPECT_EQ(replaced.status().code(), absl::StatusCode::kFailedPrecondition) << replaced.status();
  EXPECT_EQ(ToErrno(replaced.status()), ETXTBSY) << replaced.status();
  EXPECT_NE(replaced.status().message().find("/shared"), std::string::npos) << replaced.status();
  auto truncated = second->Create("/shared", CreateOptions{.overwrite = true, .truncate_existing = true});
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(ToErrno(truncated.status()), ETXTBSY) << truncated.status();
  auto exclusive = second->Create("/shared", {});
  ASSERT_FALSE(exclusive.ok());
  EXPECT_EQ(exclusive.status().code(), absl::StatusCode::kAlreadyExists) << exclusive.status();

  // Raw data-path calls under the second client's name.
  const std::string intruder = second->options().client_name;
  auto blocks = fs_->GetBlocks("/shared");
  ASSERT_TRUE(blocks.ok());
  ASSERT_EQ(blocks->size(), 2u);
  const BlockInfo open_block = blocks->back();
  cairn::v1::Block last;
  last.set_block_id(open_block.block_id);
  last.set_generation_stamp(open_block.generation_stamp);
  last.set_length_bytes(open_block.length);
  {
    cairn::v1::AddBlockRequest rq;
    rq.set_path("/shared");
    rq.set_client_name(intruder);
    *rq.mutable_previous() = last;
    cairn::v1::AddBlockResponse rs;
    grpc::Status gs = nn_->AddBlock(Deadline().get(), rq, &rs);
    EXPECT_EQ(gs.error_code(), StatusCode::FAILED_PRECONDITION) << gs.error_message();
    EXPECT_NE(gs.error_message().find("lease"), std::string::npos) << gs.error_message();
    rq.clear_previous();
    rq.set_inode_id((*out)->inode_id());
    EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, nn_->AddBlock(Deadline().get(), rq, &rs));
  }
  {
    cairn::v1::UpdateLengthRequest rq;
    rq.set_path("/shared");
    rq.set_client_name(intruder);
    *rq.mutable_last() = last;
    rq.mutable_last()->set_length_bytes(5);
    cairn::v1::UpdateLengthResponse rs;
    EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, nn_->UpdateLength(Deadline().get(), rq, &rs));
  }
  {
    cairn::v1::UpdatePipelineRequest rq;
    rq.set_path("/shared");
    rq.set_client_name(intruder);
    *rq.mutable_block() = last;
    rq.add_survivor_uuids(cluster_->datanode(0)->uuid());
    cairn::v1::UpdatePipelineResponse rs;
    EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, nn_->UpdatePipeline(Deadline().get(), rq, &rs));
  }
  {
    cairn::v1::AbandonBlockRequest rq;
    rq.set_path("/shared");
    rq.set_client_name(intruder);
    *rq.mutable_block() = last;
    cairn::v1::AbandonBlockResponse rs;
    EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, nn_->AbandonBlock(Deadline().get(), rq, &rs));
  }
  {
    cairn::v1::CompleteFileRequest rq;
    rq.set_path("/shared");
    rq.set_client_name(intruder);
    cairn::v1::CompleteFileResponse rs;
    EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, nn_->CompleteFile(Deadline().get(), rq, &rs));
  }
  // Nothing changed: same block, same stamp, the file still open.
  auto now_blocks = fs_->GetBlocks("/shared");
  ASSERT_TRUE(now_blocks.ok());
  ASSERT_EQ(now_blocks->size(), 2u);
  EXPECT_EQ(now_blocks->back().block_id, open_block.block_id);
  EXPECT_EQ(now_blocks->back().generation_stamp, open_block.generation_stamp);
  EXPECT_EQ(now_blocks->back().length, open_block.length);

  // The first writer finishes; then the second may replace the file.
  ASSERT_OK((*out)->Write(data.data() + kMiB + 100, data.size() - kMiB - 100));
  ASSERT_OK((*out)->Close());
  auto back = ReadFile(second.get(), "/shared");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameBytes(*back, data));
  const std::string mine = RandomBytes(kMiB + 3, 101);
  ASSERT_OK(WriteFile(second.get(), "/shared", mine, CreateOptions{.overwrite = true}));
  EXPECT_TRUE(SameBytes(*ReadFile(fs_.get(), "/shared"), mine));
  ExpectClusterStillWorks();
}

// CompleteFile from a client that does not hold the lease, naming the open last block.
// Regression: CompleteFile once counted finalized replicas before checking the lease, so a
// client without the lease spun on complete=false until its deadline instead of getting the
// lease error.
TEST_F(DataPathProtocolTest, CompleteFileByAClientWithoutTheLease) {
  auto out = fs_->Create("/leased", {});
  ASSERT_TRUE(out.ok()) << out.status();
  const std::string data = RandomBytes(100000, 102);
  ASSERT_OK((*out)->Write(data.data(), data.size()));
  ASSERT_OK((*out)->Hflush());
  auto blocks = fs_->GetBlocks("/leased");
  ASSERT_TRUE(blocks.ok());
  ASSERT_EQ(blocks->size(), 1u);
  cairn::v1::CompleteFileRequest rq;
  rq.set_path("/leased");
  rq.set_client_name("not-the-writer");
  rq.mutable_last()->set_block_id(blocks->back().block_id);
  rq.mutable_last()->set_generation_stamp(blocks->back().generation_stamp);
  rq.mutable_last()->set_length_bytes(data.size());
  cairn::v1::CompleteFileResponse rs;
  grpc::Status gs = nn_->CompleteFile(Deadline().get(), rq, &rs);
  EXPECT_EQ(gs.error_code(), StatusCode::FAILED_PRECONDITION)
      << gs.error_message() << " (complete=" << rs.complete() << ")";
  ASSERT_OK((*out)->Close());
  EXPECT_TRUE(SameBytes(*ReadFile(fs_.get(), "/leased"), data));
  ExpectClusterStillWorks();
}

// ---- The first block, allocated with the create ---------------------------------------------

// CreateFile(allocate_first_block) hands out the first block in the same call: data written to
// it completes the file like a block from AddBlock; a file closed without data loses it (no
// block is left behind to be reported missing), also when the Complete is retried.
TEST_F(DataPathProtocolTest, FirstBlockAllocatedWithTheCreate) {
  // With data: written straight to the DataNode the create named.
  cairn::v1::CreateFileResponse with_data = RawCreateWithFirstBlock("/first-block");
  ASSERT_TRUE(with_data.has_first_block());
  const cairn::v1::LocatedBlock& lb = with_data.first_block();
  ASSERT_EQ(lb.locations_size(), 1);
  EXPECT_TRUE(lb.under_construction());
  EXPECT_EQ(lb.offset_bytes(), 0u);
  auto blocks = fs_->GetBlocks("/first-block");
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  ASSERT_EQ(blocks->size(), 1u);
  EXPECT_EQ((*blocks)[0].block_id, lb.block().block_id());
  const std::string data = RandomBytes(70000, 77);
  RawWriteResult w = RawWriteBlock(lb, data);
  ASSERT_TRUE(w.status.ok()) << w.status.error_message() << " " << w.first_error();
  cairn::v1::Block last = lb.block();
  last.set_length_bytes(data.size());
  ASSERT_TRUE(RawComplete("/first-block", last));
  auto back = ReadFile(fs_.get(), "/first-block");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameBytes(*back, data));

  // Without data: the block is dropped at completion; a retried completion is fine.
  const uint64_t blocks_before = fs_->GetFsStats()->blocks;
  cairn::v1::CreateFileResponse empty = RawCreateWithFirstBlock("/first-block-empty");
  ASSERT_TRUE(empty.has_first_block());
  EXPECT_EQ(fs_->GetFsStats()->blocks, blocks_before + 1);
  cairn::v1::Block unused = empty.first_block().block();
  unused.set_length_bytes(0);
  ASSERT_TRUE(RawComplete("/first-block-empty", unused));
  ASSERT_TRUE(RawComplete("/first-block-empty", unused));
  blocks = fs_->GetBlocks("/first-block-empty");
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  EXPECT_TRUE(blocks->empty());
  EXPECT_EQ(fs_->Stat("/first-block-empty")->length, 0u);
  EXPECT_EQ(fs_->GetFsStats()->blocks, blocks_before);

  // A block the writer made visible (hflush length) is not dropped by a zero length.
  cairn::v1::CreateFileResponse flushed = RawCreateWithFirstBlock("/first-block-flushed");
  ASSERT_TRUE(flushed.has_first_block());
  const cairn::v1::LocatedBlock& fb = flushed.first_block();
  const std::string some = RandomBytes(5000, 78);
  w = RawWriteBlock(fb, some);
  ASSERT_TRUE(w.status.ok()) << w.status.error_message();
  cairn::v1::UpdateLengthRequest ul;
  ul.set_path("/first-block-flushed");
  ul.set_client_name("raw-client");
  *ul.mutable_last() = fb.block();
  ul.mutable_last()->set_length_bytes(some.size());
  cairn::v1::UpdateLengthResponse ur;
  ASSERT_TRUE(nn_->UpdateLength(Deadline().get(), ul, &ur).ok());
  cairn::v1::Block zero = fb.block();
  zero.set_length_bytes(0);
  cairn::v1::CompleteFileRequest crq;
  crq.set_path("/first-block-flushed");
  crq.set_client_name("raw-client");
  *crq.mutable_last() = zero;
  cairn::v1::CompleteFileResponse crs;
  EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, nn_->CompleteFile(Deadline().get(), crq, &crs));
  blocks = fs_->GetBlocks("/first-block-flushed");
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  EXPECT_EQ(blocks->size(), 1u);
  cairn::v1::Block full = fb.block();
  full.set_length_bytes(some.size());
  ASSERT_TRUE(RawComplete("/first-block-flushed", full));
  back = ReadFile(fs_.get(), "/first-block-flushed");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameBytes(*back, some));

  // Through the client library (its default): small, empty and multi-block files.
  for (size_t size : {size_t{0}, size_t{1}, size_t{4096}, size_t{3 * kMiB + 5}}) {
    const std::string path = absl::StrCat("/first-block-client-", size);
    const std::string bytes = RandomBytes(size, 90 + size);
    CreateOptions co;
    co.block_size = kMiB;
    co.replication = 2;
    auto out = fs_->Create(path, co);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_OK((*out)->Write(bytes.data(), bytes.size()));
    ASSERT_OK((*out)->Close());
    auto got = ReadFile(NewClient().get(), path);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameBytes(*got, bytes)) << path;
    blocks = fs_->GetBlocks(path);
    ASSERT_TRUE(blocks.ok());
    EXPECT_EQ(blocks->size(), (size + kMiB - 1) / kMiB) << path;
  }
  ExpectClusterStillWorks();
}

// CompleteFile of a file that is already closed (a retry whose first answer was lost, or a
// writer whose file lease recovery closed) says OK only if the file ends as the caller wrote
// it. Regression: a retry was matched on the last block's id alone, so a writer whose file
// was closed shorter than it wrote was told OK (before that, it was told complete=false until
// its deadline, waiting for a replica of its length that would never come).
TEST_F(DataPathProtocolTest, CompleteFileOfAClosedFileChecksItsEnd) {
  cairn::v1::CreateFileResponse cresp = RawCreateWithFirstBlock("/closed-end");
  ASSERT_TRUE(cresp.has_first_block());
  const cairn::v1::LocatedBlock& lb = cresp.first_block();
  const std::string data = RandomBytes(70000, 79);
  RawWriteResult w = RawWriteBlock(lb, data);
  ASSERT_TRUE(w.status.ok()) << w.status.error_message() << " " << w.first_error();
  cairn::v1::CompleteFileRequest rq;
  rq.set_path("/closed-end");
  rq.set_client_name("raw-client");
  *rq.mutable_last() = lb.block();
  rq.mutable_last()->set_length_bytes(data.size());
  ASSERT_TRUE(RawComplete("/closed-end", rq.last()));

  // The same end again: OK, by path and by inode id.
  cairn::v1::CompleteFileResponse rs;
  EXPECT_GRPC(StatusCode::OK, nn_->CompleteFile(Deadline().get(), rq, &rs));
  EXPECT_TRUE(rs.complete());
  rq.set_inode_id(cresp.info().inode_id());
  rs.Clear();
  EXPECT_GRPC(StatusCode::OK, nn_->CompleteFile(Deadline().get(), rq, &rs));
  EXPECT_TRUE(rs.complete());
  // Another end: refused (not "complete=false, try again"), longer or shorter.
  for (uint64_t length : {data.size() + 5000, data.size() - 1}) {
    rq.mutable_last()->set_length_bytes(length);
    rs.Clear();
    EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, nn_->CompleteFile(Deadline().get(), rq, &rs));
    EXPECT_FALSE(rs.complete()) << length;
  }
  auto st = fs_->Stat("/closed-end");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_FALSE(st->under_construction);
  EXPECT_EQ(st->length, data.size());
  EXPECT_TRUE(SameBytes(*ReadFile(fs_.get(), "/closed-end"), data));
  ExpectClusterStillWorks();
}

// A file deleted while open: its writer's CompleteFile gets NOT_FOUND and the NameNode drops
// the lease. Regression: the entry stayed for as long as the writer's client renewed its other
// leases (a mount with files open for days), and lease expiry later "recovered" a missing file.
TEST_F(DataPathProtocolTest, CompleteFileOfADeletedFileDropsItsLease) {
  namenode::LeaseManager* leases = cluster_->namenode()->leases();
  cairn::v1::CreateFileRequest cr;
  cr.set_path("/deleted-while-open");
  cr.set_client_name("doomed-writer");
  cairn::v1::CreateFileResponse cresp;
  ASSERT_TRUE(nn_->CreateFile(Deadline().get(), cr, &cresp).ok());
  cr.set_path("/still-open");
  cairn::v1::CreateFileResponse other;
  ASSERT_TRUE(nn_->CreateFile(Deadline().get(), cr, &other).ok());
  ASSERT_GE(leases->AgeOf("doomed-writer"), 0);
  ASSERT_OK(fs_->Delete("/deleted-while-open"));

  cairn::v1::CompleteFileRequest rq;
  rq.set_path("/deleted-while-open");
  rq.set_client_name("doomed-writer");
  rq.set_inode_id(cresp.info().inode_id());
  cairn::v1::CompleteFileResponse rs;
  EXPECT_GRPC(StatusCode::NOT_FOUND, nn_->CompleteFile(Deadline().get(), rq, &rs));
  auto held = leases->Expired(-1);  // every lease
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0], std::make_pair(std::string("doomed-writer"), other.info().inode_id()));

  rq.set_path("/still-open");
  rq.set_inode_id(other.info().inode_id());
  EXPECT_GRPC(StatusCode::OK, nn_->CompleteFile(Deadline().get(), rq, &rs));
  EXPECT_TRUE(rs.complete());
  EXPECT_EQ(leases->AgeOf("doomed-writer"), -1);
  EXPECT_EQ(leases->size(), 0u);

  // A writer that never completes: its entry goes once the NameNode sees the file is gone
  // (a check every ten monitor rounds), long before the lease would expire.
  cr.set_path("/deleted-never-closed");
  cr.set_client_name("silent-writer");
  ASSERT_TRUE(nn_->CreateFile(Deadline().get(), cr, &cresp).ok());
  ASSERT_GE(leases->AgeOf("silent-writer"), 0);
  ASSERT_OK(fs_->Delete("/deleted-never-closed"));
  EXPECT_TRUE(WaitFor([&] { return leases->AgeOf("silent-writer") == -1; }, 15000));
  ExpectClusterStillWorks();
}

// ---- DataNodes the NameNode must not listen to --------------------------------------------------

TEST_F(DataPathProtocolTest, UnregisteredDataNodeIsRefused) {
  const std::string data = RandomBytes(kMiB + 9, 103);
  ASSERT_OK(WriteFile(fs_.get(), "/known", data));
  auto blocks = fs_->GetBlocks("/known");
  ASSERT_TRUE(blocks.ok());
  const BlockInfo b = blocks->front();
  ASSERT_TRUE(WaitFor([&] {
    auto bl = fs_->GetBlocks("/known");
    return bl.ok() && bl->front().datanodes.size() == 3;
  }, 10000));

  cairn::v1::ReplicaReport claim;
  claim.mutable_block()->set_block_id(b.block_id);
  claim.mutable_block()->set_generation_stamp(b.generation_stamp);
  claim.mutable_block()->set_length_bytes(b.length);
  claim.set_state(cairn::v1::REPLICA_STATE_FINALIZED);
  {
    cairn::v1::ReportBlocksRequest rq;
    rq.set_datanode_uuid("DN-not-registered");
    *rq.add_replicas() = claim;
    cairn::v1::ReportBlocksResponse rs;
    grpc::Status gs = nn_->ReportBlocks(Deadline().get(), rq, &rs);
    EXPECT_EQ(gs.error_code(), StatusCode::FAILED_PRECONDITION) << gs.error_message();
    EXPECT_NE(gs.error_message().find("not registered"), std::string::npos) << gs.error_message();
  }
  {
    cairn::v1::ReportIncrementalBlocksRequest rq;
    rq.set_datanode_uuid("DN-not-registered");
    *rq.add_received() = claim;
    rq.add_deleted()->CopyFrom(claim.block());
    cairn::v1::ReportIncrementalBlocksResponse rs;
    EXPECT_GRPC(StatusCode::FAILED_PRECONDITION,
                nn_->ReportIncrementalBlocks(Deadline().get(), rq, &rs));
    rq.set_datanode_uuid("");
    EXPECT_GRPC(StatusCode::FAILED_PRECONDITION,
                nn_->ReportIncrementalBlocks(Deadline().get(), rq, &rs));
  }
  {
    // A heartbeat from a stranger is told to register, and registers nothing.
    cairn::v1::HeartbeatRequest rq;
    rq.set_datanode_uuid("DN-not-registered");
    rq.mutable_storage()->set_capacity_bytes(1ull << 40);
    rq.mutable_storage()->set_remaining_bytes(1ull << 40);
    cairn::v1::HeartbeatResponse rs;
    grpc::Status gs = nn_->Heartbeat(Deadline().get(), rq, &rs);
    ASSERT_TRUE(gs.ok()) << gs.error_message();
    ASSERT_EQ(rs.commands_size(), 1);
    EXPECT_EQ(rs.commands(0).kind(), cairn::v1::DataNodeCommand::KIND_REREGISTER);
  }
  EXPECT_FALSE(cluster_->namenode()->datanodes()->IsRegistered("DN-not-registered"));
  EXPECT_EQ(cluster_->namenode()->blocks()->BlocksOn("DN-not-registered"), 0u);
  namenode::BlockEntry e;
  ASSERT_TRUE(cluster_->namenode()->blocks()->Get(b.block_id, &e));
  EXPECT_EQ(e.replicas.count("DN-not-registered"), 0u);
  EXPECT_EQ(e.replicas.size(), 3u);  // the claimed deletion was ignored too
  auto stats = fs_->GetFsStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->live_datanodes, 3u);
  EXPECT_TRUE(SameBytes(*ReadFile(fs_.get(), "/known"), data));
  ExpectClusterStillWorks();
}

TEST_F(DataPathProtocolTest, DataNodeOfAnotherClusterIsRefused) {
  const std::string data = RandomBytes(kMiB + 19, 104);
  ASSERT_OK(WriteFile(fs_.get(), "/mine", data));
  {
    cairn::v1::RegisterDataNodeRequest rq;
    rq.set_cluster_id("CID-some-other-cluster");
    rq.set_datanode_uuid("DN-intruder");
    rq.set_address("127.0.0.1:1");
    rq.mutable_storage()->set_capacity_bytes(1ull << 40);
    rq.mutable_storage()->set_remaining_bytes(1ull << 40);
    cairn::v1::RegisterDataNodeResponse rs;
    grpc::Status gs = nn_->RegisterDataNode(Deadline().get(), rq, &rs);
    EXPECT_EQ(gs.error_code(), StatusCode::FAILED_PRECONDITION) << gs.error_message();
    EXPECT_NE(gs.error_message().find("CID-some-other-cluster"), std::string::npos)
        << gs.error_message();
    EXPECT_TRUE(rs.cluster_id().empty());
    // Nor may it take over a member's identity (and redirect its address).
    rq.set_datanode_uuid(cluster_->datanode(0)->uuid());
    EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, nn_->RegisterDataNode(Deadline().get(), rq, &rs));
    // Malformed registrations.
    rq.set_cluster_id("");
    rq.set_datanode_uuid("");
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, nn_->RegisterDataNode(Deadline().get(), rq, &rs));
    rq.set_datanode_uuid("DN-no-address");
    rq.set_address("");
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, nn_->RegisterDataNode(Deadline().get(), rq, &rs));
    rq.set_datanode_uuid(std::string(1000, 'x'));
    rq.set_address("127.0.0.1:1");
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, nn_->RegisterDataNode(Deadline().get(), rq, &rs));
  }
  EXPECT_FALSE(cluster_->namenode()->datanodes()->IsRegistered("DN-intruder"));
  EXPECT_FALSE(cluster_->namenode()->datanodes()->IsRegistered("DN-no-address"));
  EXPECT_EQ(cluster_->namenode()->datanodes()->AddressOf(cluster_->datanode(0)->uuid()),
            cluster_->datanode(0)->address());
  auto stats = fs_->GetFsStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->live_datanodes, 3u);
  EXPECT_TRUE(SameBytes(*ReadFile(fs_.get(), "/mine"), data));
  ExpectClusterStillWorks();
}

// ---- Malformed DataNode requests ---------------------------------------------------------------

TEST_F(DataPathProtocolTest, MalformedReadBlockRequests) {
  const std::string data = RandomBytes(kMiB / 2 + 1234, 105);
  ASSERT_OK(WriteFile(fs_.get(), "/readme", data));
  auto blocks = fs_->GetBlocks("/readme");
  ASSERT_TRUE(blocks.ok());
  const BlockInfo b = blocks->front();
  ASSERT_FALSE(b.datanodes.empty());
  const int i = IndexOfAddress(b.datanodes[0]);
  ASSERT_GE(i, 0);
  auto dn = DataNodeStub(i);
  const uint64_t len = b.length;
  const uint64_t gs = b.generation_stamp;

  EXPECT_GRPC(StatusCode::NOT_FOUND, RawRead(dn.get(), FakeBlockId(1), 1, 0, 10).status);
  EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, RawRead(dn.get(), b.block_id, gs + 1, 0, 10).status);
  EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, RawRead(dn.get(), b.block_id, 0, 0, 10).status);
  for (auto [offset, length] : std::vector<std::pair<uint64_t, uint64_t>>{
           {len + 1, 1}, {0, len + 1}, {len - 10, 11}, {len - 10, UINT64_MAX},
           {UINT64_MAX, 1}, {UINT64_MAX, UINT64_MAX}, {len + 1, 0}}) {
    SCOPED_TRACE(absl::StrCat("offset ", offset, " length ", length));
    RawReadResult r = RawRead(dn.get(), b.block_id, gs, offset, length);
    EXPECT_GRPC(StatusCode::OUT_OF_RANGE, r.status);
    EXPECT_EQ(r.responses, 0);
  }
  // In range: empty at the end, and an unaligned piece, delivered from a chunk boundary.
  RawReadResult r = RawRead(dn.get(), b.block_id, gs, len, 0);
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_TRUE(r.data.empty());
  r = RawRead(dn.get(), b.block_id, gs, 5000, 10000);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_LE(r.first_offset, 5000u);
  EXPECT_EQ(r.first_offset % 512, 0u);
  ASSERT_GE(r.first_offset + r.data.size(), 15000u);
  EXPECT_TRUE(SameBytes(r.data, data.substr(r.first_offset, r.data.size())));
  r = RawRead(dn.get(), b.block_id, gs, len - 7, 7);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.first_offset + r.data.size(), len);
  {
    cairn::v1::GetReplicaInfoRequest rq;
    rq.mutable_block()->set_block_id(FakeBlockId(2));
    cairn::v1::GetReplicaInfoResponse rs;
    EXPECT_GRPC(StatusCode::NOT_FOUND, dn->GetReplicaInfo(Deadline().get(), rq, &rs));
  }
  EXPECT_TRUE(SameBytes(*ReadFile(fs_.get(), "/readme"), data));
  ExpectClusterStillWorks();
}

TEST_F(DataPathProtocolTest, MalformedWriteBlockStreams) {
  const std::string data = RandomBytes(kMiB / 2 + 77, 106);
  ASSERT_OK(WriteFile(fs_.get(), "/earlier", "x"));  // so that /existing's stamp is above 1
  ASSERT_OK(WriteFile(fs_.get(), "/existing", data));
  auto blocks = fs_->GetBlocks("/existing");
  ASSERT_TRUE(blocks.ok());
  const BlockInfo b = blocks->front();
  ASSERT_GT(b.generation_stamp, 1u);
  const int i = IndexOfAddress(b.datanodes[0]);
  ASSERT_GE(i, 0);
  auto dn = DataNodeStub(i);
  datanode::BlockStore* store = cluster_->datanode(i)->store();
  const std::string chunk = RandomBytes(10000, 107);

  {
    SCOPED_TRACE("no message at all");
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, RawWrite(dn.get(), {}).status);
  }
  {
    SCOPED_TRACE("a packet without a header");
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, RawWrite(dn.get(), {Packet(0, 0, chunk)}).status);
  }
  {
    SCOPED_TRACE("block id 0, generation stamp 0");
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, RawWrite(dn.get(), {Header(0, 1)}).status);
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, RawWrite(dn.get(), {Header(FakeBlockId(3), 0)}).status);
    EXPECT_TRUE(absl::IsNotFound(store->GetReplica(FakeBlockId(3)).status()));
  }
  {
    SCOPED_TRACE("a pipeline of 17 downstream DataNodes");
    auto h = Header(FakeBlockId(4), 1);
    for (int k = 0; k < 17; ++k) {
      auto* d = h.mutable_header()->add_downstream();
      d->set_datanode_uuid(absl::StrCat("DN-", k));
      d->set_address("127.0.0.1:1");
    }
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, RawWrite(dn.get(), {h}).status);
    EXPECT_TRUE(absl::IsNotFound(store->GetReplica(FakeBlockId(4)).status()));
  }
  {
    SCOPED_TRACE("a second header instead of a packet");
    RawWriteResult r = RawWrite(dn.get(), {Header(FakeBlockId(5), 1), Header(FakeBlockId(5), 1)});
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, r.status);
    EXPECT_FALSE(r.first_error().empty());
  }
  {
    SCOPED_TRACE("a packet with a bad crc32c");
    RawWriteResult r = RawWrite(dn.get(), {Header(FakeBlockId(6), 1), Packet(0, 0, chunk, false, true)});
    EXPECT_GRPC(StatusCode::DATA_LOSS, r.status);
    EXPECT_NE(r.first_error().find("checksum"), std::string::npos) << r.first_error();
    for (const auto& a : r.acks) EXPECT_FALSE(a.error().empty()) << "the bad packet was acknowledged";
    auto info = store->GetReplica(FakeBlockId(6));
    if (info.ok()) {
      EXPECT_EQ(info->length, 0u) << "the bad packet was written";
    }
  }
  {
    SCOPED_TRACE("a packet leaving a gap");
    RawWriteResult r = RawWrite(dn.get(), {Header(FakeBlockId(7), 1), Packet(0, 0, chunk),
                                           Packet(1, chunk.size() + 5000, chunk)});
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, r.status);
    EXPECT_NE(r.first_error().find("gap"), std::string::npos) << r.first_error();
    ASSERT_FALSE(r.acks.empty());
    EXPECT_EQ(r.acks[0].seqno(), 0u);
    EXPECT_TRUE(r.acks[0].error().empty());
    auto info = store->GetReplica(FakeBlockId(7));
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->length, chunk.size());
  }
  {
    SCOPED_TRACE("a stream that ends before the last packet");
    RawWriteResult r = RawWrite(dn.get(), {Header(FakeBlockId(8), 1), Packet(0, 0, chunk)});
    EXPECT_FALSE(r.status.ok());
    auto info = store->GetReplica(FakeBlockId(8));
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->state, datanode::ReplicaState::kBeingWritten);
  }
  {
    SCOPED_TRACE("a packet past the announced length");
    RawWriteResult r = RawWrite(dn.get(), {Header(FakeBlockId(29), 1, false, chunk.size() + 100),
                                           Packet(0, 0, chunk), Packet(1, chunk.size(), chunk, true)});
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, r.status);
    EXPECT_NE(r.first_error().find("announced"), std::string::npos) << r.first_error();
    auto info = store->GetReplica(FakeBlockId(29));
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->length, chunk.size()) << "bytes past the announced length were written";
  }
  {
    SCOPED_TRACE("no room for the expected length");
    RawWriteResult r = RawWrite(dn.get(), {Header(FakeBlockId(9), 1, false, uint64_t{1} << 60)});
    EXPECT_GRPC(StatusCode::RESOURCE_EXHAUSTED, r.status);
    EXPECT_FALSE(r.first_error().empty());
  }
  {
    // The node starts the replica afresh (the pipeline broke before it got anything), but a
    // resend that does not start at offset 0 is a gap.
    SCOPED_TRACE("recovery of a replica the node never had");
    RawWriteResult r = RawWrite(dn.get(), {Header(FakeBlockId(10), 2, /*recovery=*/true),
                                           Packet(0, 4096, chunk, true)});
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, r.status);
    EXPECT_FALSE(r.first_error().empty());
  }
  {
    SCOPED_TRACE("an unreachable downstream DataNode");
    auto h = Header(FakeBlockId(11), 1);
    h.mutable_header()->set_min_replicas(2);
    auto* d = h.mutable_header()->add_downstream();
    d->set_datanode_uuid("DN-nowhere");
    d->set_address("127.0.0.1:1");
    RawWriteResult r = RawWrite(dn.get(), {h, Packet(0, 0, chunk, true)});
    EXPECT_FALSE(r.status.ok());
    ASSERT_FALSE(r.first_error().empty());
    bool named = false;
    for (const auto& a : r.acks) {
      for (const auto& u : a.failed_uuids()) named |= u == "DN-nowhere";
    }
    EXPECT_TRUE(named) << "the error does not name the unreachable DataNode: " << r.first_error();
  }
  // The file's finalized replica survives every attempt to overwrite or recover it.
  for (uint64_t gs : {b.generation_stamp, b.generation_stamp - 1}) {
    SCOPED_TRACE(absl::StrCat("rewrite of the finalized replica with gs ", gs));
    RawWriteResult r = RawWrite(dn.get(), {Header(b.block_id, gs), Packet(0, 0, chunk, true)});
    EXPECT_GRPC(StatusCode::ALREADY_EXISTS, r.status);
    EXPECT_FALSE(r.first_error().empty());
  }
  {
    // A survivor that already finalized the block keeps it under the new stamp and
    // acknowledges the resent packets.
    SCOPED_TRACE("pipeline recovery of a finalized replica");
    RawWriteResult w = RawWrite(dn.get(), {Header(FakeBlockId(13), 1), Packet(0, 0, chunk, true)});
    ASSERT_TRUE(w.status.ok()) << w.status.error_message();
    RawWriteResult r = RawWrite(dn.get(), {Header(FakeBlockId(13), 2, true),
                                           Packet(0, 0, chunk, true)});
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    auto rec = store->GetReplica(FakeBlockId(13));
    ASSERT_TRUE(rec.ok()) << rec.status();
    EXPECT_EQ(rec->generation_stamp, 2u);
    EXPECT_EQ(rec->length, chunk.size());
    EXPECT_EQ(rec->state, datanode::ReplicaState::kFinalized);
  }
  {
    SCOPED_TRACE("RecoverReplica from an old epoch, or longer than the replica");
    cairn::v1::RecoverReplicaRequest rq;
    rq.mutable_block()->set_block_id(b.block_id);
    rq.mutable_block()->set_generation_stamp(b.generation_stamp + 1);
    rq.mutable_block()->set_length_bytes(10);
    rq.set_epoch(0);
    cairn::v1::RecoverReplicaResponse rs;
    EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, dn->RecoverReplica(Deadline().get(), rq, &rs));
    rq.set_epoch(cluster_->namenode()->datanodes()->epoch());
    rq.mutable_block()->set_length_bytes(b.length + 1);
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, dn->RecoverReplica(Deadline().get(), rq, &rs));
    rq.mutable_block()->set_block_id(FakeBlockId(12));
    EXPECT_GRPC(StatusCode::NOT_FOUND, dn->RecoverReplica(Deadline().get(), rq, &rs));
  }
  auto info = store->GetReplica(b.block_id);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->generation_stamp, b.generation_stamp);
  EXPECT_EQ(info->length, b.length);
  EXPECT_EQ(info->state, datanode::ReplicaState::kFinalized);
  EXPECT_OK(store->VerifyReplica(b.block_id, 0));
  RawReadResult r = RawRead(dn.get(), b.block_id, b.generation_stamp, 0, b.length);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_TRUE(SameBytes(r.data, data));
  EXPECT_TRUE(SameBytes(*ReadFile(fs_.get(), "/existing"), data));
  ExpectClusterStillWorks();
}

// A follower reports an error (its own downstream is unreachable) before the first DataNode has
// forwarded the block's last packet. The first DataNode must end the writer's stream with an
// error and let go of the block.
// Regression: on a follower's error ack the downstream call was once neither cancelled nor
// half-closed, so the follower and the first DataNode waited for each other for good (the
// write never ended and DataNode shutdown hung). A failed downstream call is now cancelled.
TEST_F(DataPathProtocolTest, FollowerErrorBeforeTheLastPacketDoesNotHangThePipeline) {
  auto first = DataNodeStub(0);
  const std::string first_uuid = cluster_->datanode(0)->uuid();
  auto h = Header(FakeBlockId(30), 1);
  h.mutable_header()->set_min_replicas(3);
  *h.mutable_header()->add_downstream() = [&] {
    cairn::v1::DataNodeId id;
    id.set_datanode_uuid(cluster_->datanode(1)->uuid());
    id.set_address(cluster_->datanode(1)->address());
    return id;
  }();
  auto* nowhere = h.mutable_header()->add_downstream();
  nowhere->set_datanode_uuid("DN-nowhere");
  nowhere->set_address("127.0.0.1:1");

  auto ctx = Deadline(3000);
  auto stream = first->WriteBlock(ctx.get());
  ASSERT_TRUE(stream->Write(h));
  // The follower cannot reach DN-nowhere: its error comes back through the first DataNode.
  cairn::v1::WriteBlockResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_FALSE(resp.error().empty());
  bool named = false;
  for (const auto& u : resp.failed_uuids()) named |= u == "DN-nowhere";
  EXPECT_TRUE(named) << resp.error();
  // The writer, as a client would when it already had the last packet on the wire, sends it.
  stream->Write(Packet(0, 0, RandomBytes(1000, 110), /*last=*/true));
  stream->WritesDone();
  while (stream->Read(&resp)) {
  }
  grpc::Status st = stream->Finish();
  EXPECT_NE(st.error_code(), StatusCode::DEADLINE_EXCEEDED)
      << "the first DataNode never ended the stream (3 s)";
  EXPECT_NE(st.error_code(), StatusCode::OK);
  // The first DataNode lets go of the transfer.
  EXPECT_TRUE(WaitFor(
      [&] {
        for (const auto& n : cluster_->namenode()->datanodes()->Snapshot()) {
          if (n.uuid == first_uuid) return n.storage.active_transfers() == 0;
        }
        return false;
      },
      2000))
      << "the write handler on the first DataNode is stuck";
  // Stopping the follower first unblocks a stuck pipeline, so that the cluster can shut down.
  cluster_->StopDataNode(1);
  ASSERT_OK(cluster_->RestartDataNode(1));
  ASSERT_TRUE(WaitFor([&] { return cluster_->datanode(1)->registered(); }, 10000));
  ExpectClusterStillWorks();
}

// ---- Malformed NameNode data-path requests -----------------------------------------------------

TEST_F(DataPathProtocolTest, MalformedNameNodeDataPathRequests) {
  const std::string closed_data = RandomBytes(kMiB + 1, 108);
  ASSERT_OK(WriteFile(fs_.get(), "/closed", closed_data));
  ASSERT_OK(fs_->Mkdir("/dir"));
  for (int k = 0; k < 30; ++k) ASSERT_OK(fs_->Touch(absl::StrCat("/dir/f", k)));
  const std::string writer = "raw-writer";
  {
    cairn::v1::CreateFileRequest rq;
    rq.set_path("/raw");
    rq.set_client_name(writer);
    cairn::v1::CreateFileResponse rs;
    grpc::Status gs = nn_->CreateFile(Deadline().get(), rq, &rs);
    ASSERT_TRUE(gs.ok()) << gs.error_message();
    // Out-of-range file parameters.
    rq.set_path("/bad-block-size");
    rq.set_block_size_bytes(1000);
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, nn_->CreateFile(Deadline().get(), rq, &rs));
    rq.set_block_size_bytes(0);
    rq.set_replication(100000);
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, nn_->CreateFile(Deadline().get(), rq, &rs));
    rq.set_replication(0);
    rq.set_path("relative/path");
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, nn_->CreateFile(Deadline().get(), rq, &rs));
    rq.set_path("/dir");
    rq.set_overwrite(true);
    EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, nn_->CreateFile(Deadline().get(), rq, &rs));
  }

  auto add_block = [&](const std::string& path, const std::string& client,
                       const cairn::v1::Block* previous, uint64_t inode_id,
                       cairn::v1::AddBlockResponse* rs) {
    cairn::v1::AddBlockRequest rq;
    rq.set_path(path);
    rq.set_client_name(client);
    rq.set_inode_id(inode_id);
    if (previous) *rq.mutable_previous() = *previous;
    return nn_->AddBlock(Deadline().get(), rq, rs);
  };
  cairn::v1::AddBlockResponse ab;
  EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, add_block("/raw", "someone-else", nullptr, 0, &ab));
  EXPECT_GRPC(StatusCode::NOT_FOUND, add_block("/missing", writer, nullptr, 0, &ab));
  EXPECT_GRPC(StatusCode::NOT_FOUND, add_block("/raw", writer, nullptr, 987654321, &ab));
  EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, add_block("raw", writer, nullptr, 0, &ab));
  EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, add_block("/closed", writer, nullptr, 0, &ab));
  {
    grpc::Status gs = add_block("/dir", writer, nullptr, 0, &ab);
    EXPECT_EQ(gs.error_code(), StatusCode::FAILED_PRECONDITION) << gs.error_message();
    EXPECT_EQ(ToErrno(FromGrpcStatus(gs)), EISDIR) << gs.error_message();
  }
  // A real block, then calls that misdescribe it.
  grpc::Status gs = add_block("/raw", writer, nullptr, 0, &ab);
  ASSERT_TRUE(gs.ok()) << gs.error_message();
  const cairn::v1::Block first = ab.block().block();
  EXPECT_EQ(ab.block().locations_size(), 3);
  EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, add_block("/raw", writer, nullptr, 0, &ab));
  {
    cairn::v1::Block bogus = first;
    bogus.set_block_id(FakeBlockId(20));
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, add_block("/raw", writer, &bogus, 0, &ab));
    bogus = first;
    bogus.set_generation_stamp(first.generation_stamp() + 100);
    EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, add_block("/raw", writer, &bogus, 0, &ab));
    bogus = first;
    bogus.set_length_bytes(kMiB + 1);
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, add_block("/raw", writer, &bogus, 0, &ab));
  }
  {
    cairn::v1::UpdateLengthRequest rq;
    rq.set_path("/raw");
    rq.set_client_name(writer);
    *rq.mutable_last() = first;
    rq.mutable_last()->set_length_bytes(kMiB + 1);
    cairn::v1::UpdateLengthResponse rs;
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, nn_->UpdateLength(Deadline().get(), rq, &rs));
  }
  {
    cairn::v1::UpdatePipelineRequest rq;
    rq.set_path("/raw");
    rq.set_client_name(writer);
    *rq.mutable_block() = first;
    cairn::v1::UpdatePipelineResponse rs;
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, nn_->UpdatePipeline(Deadline().get(), rq, &rs));
    rq.add_survivor_uuids("DN-unknown");
    gs = nn_->UpdatePipeline(Deadline().get(), rq, &rs);
    EXPECT_EQ(gs.error_code(), StatusCode::INVALID_ARGUMENT) << gs.error_message();
    EXPECT_NE(gs.error_message().find("DN-unknown"), std::string::npos) << gs.error_message();
    rq.clear_survivor_uuids();
    rq.add_survivor_uuids(cluster_->datanode(0)->uuid());
    rq.mutable_block()->set_generation_stamp(first.generation_stamp() + 100);
    EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, nn_->UpdatePipeline(Deadline().get(), rq, &rs));
  }
  {
    cairn::v1::CompleteFileRequest rq;
    rq.set_path("/raw");
    rq.set_client_name(writer);
    cairn::v1::CompleteFileResponse rs;
    // Without `last` while the last block is open; with a block that is not the last.
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, nn_->CompleteFile(Deadline().get(), rq, &rs));
    rq.mutable_last()->set_block_id(FakeBlockId(21));
    rq.mutable_last()->set_generation_stamp(1);
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, nn_->CompleteFile(Deadline().get(), rq, &rs));
    rq.set_client_name("someone-else");
    rq.clear_last();
    EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, nn_->CompleteFile(Deadline().get(), rq, &rs));
  }
  {
    // The generation stamp is unchanged by all of the above.
    namenode::BlockEntry e;
    ASSERT_TRUE(cluster_->namenode()->blocks()->Get(first.block_id(), &e));
    EXPECT_EQ(e.generation_stamp, first.generation_stamp());
    EXPECT_FALSE(e.complete);
  }
  {
    // Abandon the unwritten block, close the file empty.
    cairn::v1::AbandonBlockRequest rq;
    rq.set_path("/raw");
    rq.set_client_name(writer);
    *rq.mutable_block() = first;
    cairn::v1::AbandonBlockResponse rs;
    gs = nn_->AbandonBlock(Deadline().get(), rq, &rs);
    ASSERT_TRUE(gs.ok()) << gs.error_message();
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, nn_->AbandonBlock(Deadline().get(), rq, &rs));
    cairn::v1::CompleteFileRequest cq;
    cq.set_path("/raw");
    cq.set_client_name(writer);
    cairn::v1::CompleteFileResponse cs;
    gs = nn_->CompleteFile(Deadline().get(), cq, &cs);
    ASSERT_TRUE(gs.ok()) << gs.error_message();
    EXPECT_TRUE(cs.complete());
    auto st = fs_->Stat("/raw");
    ASSERT_TRUE(st.ok());
    EXPECT_FALSE(st->under_construction);
    EXPECT_EQ(st->length, 0u);
  }
  {
    cairn::v1::GetBlockLocationsRequest rq;
    cairn::v1::GetBlockLocationsResponse rs;
    rq.set_path("/dir");
    gs = nn_->GetBlockLocations(Deadline().get(), rq, &rs);
    EXPECT_EQ(gs.error_code(), StatusCode::FAILED_PRECONDITION) << gs.error_message();
    EXPECT_EQ(ToErrno(FromGrpcStatus(gs)), EISDIR) << gs.error_message();
    rq.set_path("/missing");
    EXPECT_GRPC(StatusCode::NOT_FOUND, nn_->GetBlockLocations(Deadline().get(), rq, &rs));
    rq.set_path("");
    EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, nn_->GetBlockLocations(Deadline().get(), rq, &rs));
    rq.set_path("/closed/child");
    gs = nn_->GetBlockLocations(Deadline().get(), rq, &rs);
    EXPECT_NE(gs.error_code(), StatusCode::OK);
    rq.set_path("/closed");
    rq.set_offset_bytes(closed_data.size() + 10);
    rs.Clear();
    gs = nn_->GetBlockLocations(Deadline().get(), rq, &rs);
    ASSERT_TRUE(gs.ok()) << gs.error_message();
    EXPECT_EQ(rs.blocks_size(), 0);
    EXPECT_EQ(rs.info().length_bytes(), closed_data.size());
  }
  {
    cairn::v1::ListDirectoryRequest rq;
    cairn::v1::ListDirectoryResponse rs;
    rq.set_path("/dir");
    rq.set_limit(UINT32_MAX);
    gs = nn_->ListDirectory(Deadline().get(), rq, &rs);
    ASSERT_TRUE(gs.ok()) << gs.error_message();
    EXPECT_EQ(rs.entries_size(), 30);
    EXPECT_FALSE(rs.has_more());
    rq.set_limit(1);
    rs.Clear();
    gs = nn_->ListDirectory(Deadline().get(), rq, &rs);
    ASSERT_TRUE(gs.ok()) << gs.error_message();
    EXPECT_EQ(rs.entries_size(), 1);
    EXPECT_TRUE(rs.has_more());
    rq.set_limit(UINT32_MAX);
    rq.set_start_after(std::string(300, '\xff'));
    rs.Clear();
    gs = nn_->ListDirectory(Deadline().get(), rq, &rs);
    ASSERT_TRUE(gs.ok()) << gs.error_message();
    EXPECT_EQ(rs.entries_size(), 0);
    rq.set_path("/closed");
    rq.clear_start_after();
    gs = nn_->ListDirectory(Deadline().get(), rq, &rs);
    EXPECT_EQ(gs.error_code(), StatusCode::FAILED_PRECONDITION) << gs.error_message();
    EXPECT_EQ(ToErrno(FromGrpcStatus(gs)), ENOTDIR) << gs.error_message();
  }
  {
    // Reports about replicas and clients nobody knows change nothing.
    cairn::v1::ReportBadBlocksRequest rq;
    auto* r = rq.add_replicas();
    r->mutable_block()->set_block_id(FakeBlockId(22));
    r->mutable_block()->set_generation_stamp(1);
    r->set_datanode_uuid("DN-unknown");
    auto blocks = fs_->GetBlocks("/closed");
    ASSERT_TRUE(blocks.ok());
    auto* r2 = rq.add_replicas();
    r2->mutable_block()->set_block_id(blocks->front().block_id);
    r2->mutable_block()->set_generation_stamp(blocks->front().generation_stamp);
    r2->set_datanode_uuid("DN-unknown");
    cairn::v1::ReportBadBlocksResponse rs;
    gs = nn_->ReportBadBlocks(Deadline().get(), rq, &rs);
    EXPECT_TRUE(gs.ok()) << gs.error_message();
    cairn::v1::RenewLeaseRequest lq;
    lq.set_client_name("nobody");
    cairn::v1::RenewLeaseResponse ls;
    gs = nn_->RenewLease(Deadline().get(), lq, &ls);
    EXPECT_TRUE(gs.ok()) << gs.error_message();
    EXPECT_TRUE(WaitFor([&] {
      auto bl = fs_->GetBlocks("/closed");
      return bl.ok() && bl->front().datanodes.size() == 3 && !bl->front().corrupt;
    }, 10000));
  }
  EXPECT_TRUE(SameBytes(*ReadFile(fs_.get(), "/closed"), closed_data));
  ExpectClusterStillWorks();
}

// A writer that holds the lease may close a block once, with at least the length readers were
// shown, at most the block size; a complete block's length is final. Regression: AddBlock's
// `previous` and UpdateLength once rewrote any length (even of a complete block), after which
// the NameNode had the DataNodes delete the good replicas of "wrong" length.
TEST_F(DataPathProtocolTest, WriterCannotRewriteTheLengthOfABlock) {
  const std::string writer = "raw-writer";
  cairn::v1::CreateFileRequest cq;
  cq.set_path("/w");
  cq.set_client_name(writer);
  cq.set_replication(1);
  cairn::v1::CreateFileResponse cs;
  grpc::Status gs = nn_->CreateFile(Deadline().get(), cq, &cs);
  ASSERT_TRUE(gs.ok()) << gs.error_message();
  cairn::v1::AddBlockRequest aq;
  aq.set_path("/w");
  aq.set_client_name(writer);
  cairn::v1::AddBlockResponse as;
  gs = nn_->AddBlock(Deadline().get(), aq, &as);
  ASSERT_TRUE(gs.ok()) << gs.error_message();
  ASSERT_EQ(as.block().locations_size(), 1);
  const cairn::v1::Block blk = as.block().block();
  const int dn = IndexOfAddress(as.block().locations(0).address());
  ASSERT_GE(dn, 0);
  const std::string data = RandomBytes(500, 77);
  RawWriteResult w = RawWrite(DataNodeStub(dn).get(),
                              {Header(blk.block_id(), blk.generation_stamp()),
                               Packet(0, 0, data, /*last=*/true)});
  ASSERT_TRUE(w.status.ok()) << w.status.error_message() << " " << w.first_error();

  auto with_length = [&](uint64_t n) {
    cairn::v1::Block b = blk;
    b.set_length_bytes(n);
    return b;
  };
  // hflush: readers may now see 500 bytes.
  cairn::v1::UpdateLengthRequest uq;
  uq.set_path("/w");
  uq.set_client_name(writer);
  *uq.mutable_last() = with_length(500);
  cairn::v1::UpdateLengthResponse us;
  gs = nn_->UpdateLength(Deadline().get(), uq, &us);
  ASSERT_TRUE(gs.ok()) << gs.error_message();
  // Closing the block below the visible length is refused.
  *aq.mutable_previous() = with_length(10);
  EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, nn_->AddBlock(Deadline().get(), aq, &as));
  // Closing it at 500: a second block; given up again, the first is the last and complete.
  *aq.mutable_previous() = with_length(500);
  gs = nn_->AddBlock(Deadline().get(), aq, &as);
  ASSERT_TRUE(gs.ok()) << gs.error_message();
  cairn::v1::AbandonBlockRequest bq;
  bq.set_path("/w");
  bq.set_client_name(writer);
  *bq.mutable_block() = as.block().block();
  cairn::v1::AbandonBlockResponse bs;
  gs = nn_->AbandonBlock(Deadline().get(), bq, &bs);
  ASSERT_TRUE(gs.ok()) << gs.error_message();
  // Now its length is final: neither AddBlock, UpdateLength nor CompleteFile may change it.
  *aq.mutable_previous() = with_length(200);
  EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, nn_->AddBlock(Deadline().get(), aq, &as));
  *uq.mutable_last() = with_length(5000);
  EXPECT_GRPC(StatusCode::FAILED_PRECONDITION, nn_->UpdateLength(Deadline().get(), uq, &us));
  cairn::v1::CompleteFileRequest fq;
  fq.set_path("/w");
  fq.set_client_name(writer);
  *fq.mutable_last() = with_length(200);
  cairn::v1::CompleteFileResponse fs;
  gs = nn_->CompleteFile(Deadline().get(), fq, &fs);
  EXPECT_TRUE(!gs.ok() || !fs.complete()) << "closed with a length no replica has";
  *fq.mutable_last() = with_length(500);
  ASSERT_TRUE(WaitFor([&] {
    fs.Clear();
    return nn_->CompleteFile(Deadline().get(), fq, &fs).ok() && fs.complete();
  }, 10000));
  // The replica was never condemned: the file reads back whole, from its DataNode.
  auto blocks = fs_->GetBlocks("/w");
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  ASSERT_EQ(blocks->size(), 1u);
  EXPECT_EQ(blocks->front().length, 500u);
  EXPECT_EQ(blocks->front().datanodes.size(), 1u);
  auto back = ReadFile(NewClient().get(), "/w");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameBytes(*back, data));

  // Longer than the block size: refused before anything is looked up.
  cq.set_path("/h");
  gs = nn_->CreateFile(Deadline().get(), cq, &cs);
  ASSERT_TRUE(gs.ok()) << gs.error_message();
  aq.set_path("/h");
  aq.clear_previous();
  gs = nn_->AddBlock(Deadline().get(), aq, &as);
  ASSERT_TRUE(gs.ok()) << gs.error_message();
  fq.set_path("/h");
  *fq.mutable_last() = as.block().block();
  fq.mutable_last()->set_length_bytes(uint64_t{1} << 40);
  EXPECT_GRPC(StatusCode::INVALID_ARGUMENT, nn_->CompleteFile(Deadline().get(), fq, &fs));
  ExpectClusterStillWorks();
}

// In safemode the namespace is read-only, for the data-path calls of a writer too.
TEST_F(DataPathProtocolTest, WriterCallsAreRefusedInSafemode) {
  const std::string writer = "raw-writer";
  cairn::v1::CreateFileRequest cq;
  cq.set_path("/s");
  cq.set_client_name(writer);
  cairn::v1::CreateFileResponse cs;
  grpc::Status gs = nn_->CreateFile(Deadline().get(), cq, &cs);
  ASSERT_TRUE(gs.ok()) << gs.error_message();
  cairn::v1::AddBlockRequest aq;
  aq.set_path("/s");
  aq.set_client_name(writer);
  cairn::v1::AddBlockResponse as;
  gs = nn_->AddBlock(Deadline().get(), aq, &as);
  ASSERT_TRUE(gs.ok()) << gs.error_message();
  const cairn::v1::Block blk = as.block().block();

  auto safemode = [&](cairn::v1::SetSafeModeRequest::Action action) {
    cairn::v1::SetSafeModeRequest rq;
    rq.set_action(action);
    cairn::v1::SetSafeModeResponse rs;
    grpc::Status s = nn_->SetSafeMode(Deadline().get(), rq, &rs);
    ASSERT_TRUE(s.ok()) << s.error_message();
  };
  safemode(cairn::v1::SetSafeModeRequest::ACTION_ENTER);
  {
    cairn::v1::UpdateLengthRequest rq;
    rq.set_path("/s");
    rq.set_client_name(writer);
    *rq.mutable_last() = blk;
    rq.mutable_last()->set_length_bytes(77);
    cairn::v1::UpdateLengthResponse rs;
    EXPECT_GRPC(StatusCode::UNAVAILABLE, nn_->UpdateLength(Deadline().get(), rq, &rs));
  }
  {
    cairn::v1::UpdatePipelineRequest rq;
    rq.set_path("/s");
    rq.set_client_name(writer);
    *rq.mutable_block() = blk;
    rq.add_survivor_uuids(cluster_->datanode(0)->uuid());
    cairn::v1::UpdatePipelineResponse rs;
    EXPECT_GRPC(StatusCode::UNAVAILABLE, nn_->UpdatePipeline(Deadline().get(), rq, &rs));
  }
  {
    cairn::v1::AbandonBlockRequest rq;
    rq.set_path("/s");
    rq.set_client_name(writer);
    *rq.mutable_block() = blk;
    cairn::v1::AbandonBlockResponse rs;
    EXPECT_GRPC(StatusCode::UNAVAILABLE, nn_->AbandonBlock(Deadline().get(), rq, &rs));
  }
  safemode(cairn::v1::SetSafeModeRequest::ACTION_LEAVE);
  // Nothing changed: the block is as allocated, and can still be given up.
  auto st = fs_->Stat("/s");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->length, 0u);
  namenode::BlockEntry e;
  ASSERT_TRUE(cluster_->namenode()->blocks()->Get(blk.block_id(), &e));
  EXPECT_EQ(e.generation_stamp, blk.generation_stamp());
  cairn::v1::AbandonBlockRequest rq;
  rq.set_path("/s");
  rq.set_client_name(writer);
  *rq.mutable_block() = blk;
  cairn::v1::AbandonBlockResponse rs;
  gs = nn_->AbandonBlock(Deadline().get(), rq, &rs);
  EXPECT_TRUE(gs.ok()) << gs.error_message();
  ExpectClusterStillWorks();
}

// GetBlockLocations for "offset to the end" spelled as a huge length.
// Regression: GetBlockLocations once computed offset + length without an overflow check, so a
// length near UINT64_MAX wrapped and the NameNode answered with no blocks at all.
TEST_F(DataPathProtocolTest, GetBlockLocationsWithAHugeLength) {
  const std::string data = RandomBytes(2 * kMiB + kMiB / 2, 109);
  ASSERT_OK(WriteFile(fs_.get(), "/huge", data));
  for (auto [offset, length, want] : std::vector<std::tuple<uint64_t, uint64_t, int>>{
           {0, 0, 3}, {0, UINT64_MAX, 3}, {1, UINT64_MAX, 3}, {kMiB + 5, UINT64_MAX - kMiB, 2},
           {2 * kMiB, UINT64_MAX, 1}}) {
    SCOPED_TRACE(absl::StrCat("offset ", offset, " length ", length));
    cairn::v1::GetBlockLocationsRequest rq;
    rq.set_path("/huge");
    rq.set_offset_bytes(offset);
    rq.set_length_bytes(length);
    cairn::v1::GetBlockLocationsResponse rs;
    grpc::Status gs = nn_->GetBlockLocations(Deadline().get(), rq, &rs);
    if (gs.ok()) {
      EXPECT_EQ(rs.blocks_size(), want);
    } else {
      EXPECT_EQ(gs.error_code(), StatusCode::INVALID_ARGUMENT) << gs.error_message();
    }
  }
  ExpectClusterStillWorks();
}

}  // namespace
}  // namespace cairn::testing
