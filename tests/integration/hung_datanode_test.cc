// A DataNode that is alive but hung (SIGSTOP: its kernel still accepts connections, nothing
// answers) in the middle of a pipeline, with real daemon processes. The DataNode upstream of it
// must give up on the pipeline within its peer keepalive, not hold the transfer (and the thread
// serving it) for as long as the other one hangs.
#include <signal.h>

#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "proto/datanode.grpc.pb.h"
#include "proto/namenode.grpc.pb.h"
#include "tests/testutil/fs_helpers.h"
#include "tests/testutil/mini_cluster.h"
#include "tests/testutil/process_cluster.h"

namespace cairn::testing {
namespace {

std::unique_ptr<grpc::ClientContext> Deadline(int64_t ms) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
  return ctx;
}

// One block written through `first` with `second` downstream (both must hold it); the
// client gives up after `deadline_ms`. Returns the stream's status.
grpc::Status WriteThroughPipeline(cairn::v1::DataNodeService::Stub* first,
                                  const cairn::v1::DataNodeReport& second, uint64_t block_id,
                                  int64_t deadline_ms) {
  auto ctx = Deadline(deadline_ms);
  auto stream = first->WriteBlock(ctx.get());
  cairn::v1::WriteBlockRequest header;
  auto* h = header.mutable_header();
  h->mutable_block()->set_block_id(block_id);
  h->mutable_block()->set_generation_stamp(1);
  auto* down = h->add_downstream();
  down->set_datanode_uuid(second.datanode_uuid());
  down->set_address(second.address());
  h->set_ack_mode(cairn::v1::ACK_MODE_SYNC);
  h->set_client_name("raw-client");
  h->set_min_replicas(2);
  h->set_expected_length_bytes(4 << 20);
  stream->Write(header);
  const std::string data = RandomBytes(1 << 20, block_id);
  for (int i = 0; i < 3; ++i) {
    cairn::v1::WriteBlockRequest r;
    auto* p = r.mutable_packet();
    p->set_seqno(static_cast<uint64_t>(i));
    p->set_offset_bytes(static_cast<uint64_t>(i) * data.size());
    p->set_data(data);
    p->set_last(i == 2);
    p->set_crc32c(Crc32c(data.data(), data.size()));
    if (!stream->Write(r)) break;
  }
  stream->WritesDone();
  cairn::v1::WriteBlockResponse ack;
  while (stream->Read(&ack)) {
  }
  return stream->Finish();
}

TEST(HungDataNodeTest, UpstreamGivesUpOnAStoppedDataNodeWithinItsKeepalive) {
  ProcessClusterOptions o;
  o.datanode_flags = {"--peer-keepalive-ms", "500"};
  ProcessCluster cluster(o);
  ASSERT_OK(cluster.Start(2));
  auto nn = cairn::v1::NameNodeService::NewStub(
      grpc::CreateChannel(cluster.namenode_address(), grpc::InsecureChannelCredentials()));
  auto report = [&]() {
    cairn::v1::GetDataNodeReportResponse rs;
    grpc::Status s =
        nn->GetDataNodeReport(Deadline(10000).get(), cairn::v1::GetDataNodeReportRequest(), &rs);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return rs;
  };
  cairn::v1::DataNodeReport second;
  const cairn::v1::GetDataNodeReportResponse all = report();
  for (const auto& r : all.datanodes()) {
    if (r.address() == cluster.datanode_address(1)) second = r;
  }
  ASSERT_FALSE(second.datanode_uuid().empty());
  auto first = cairn::v1::DataNodeService::NewStub(
      grpc::CreateChannel(cluster.datanode_address(0), grpc::InsecureChannelCredentials()));
  // The pipeline works (and DataNode 0 is connected to DataNode 1).
  grpc::Status ok = WriteThroughPipeline(first.get(), second, (uint64_t{1} << 40) + 1, 20000);
  ASSERT_TRUE(ok.ok()) << ok.error_message() << "\n" << cluster.LogTails();

  const pid_t hung = cluster.datanode_pid(1);
  ASSERT_EQ(::kill(hung, SIGSTOP), 0);
  auto resume = absl::MakeCleanup([hung] { ::kill(hung, SIGCONT); });
  // The client gives up after 2 s; DataNode 0 must let go too, though 1 never answers.
  grpc::Status gave_up = WriteThroughPipeline(first.get(), second, (uint64_t{1} << 40) + 2, 2000);
  EXPECT_FALSE(gave_up.ok());
  auto active_on_first = [&]() -> int {
    const cairn::v1::GetDataNodeReportResponse now = report();
    for (const auto& r : now.datanodes()) {
      if (r.address() == cluster.datanode_address(0)) {
        return static_cast<int>(r.storage().active_transfers());
      }
    }
    return -1;
  };
  EXPECT_TRUE(WaitFor([&] { return active_on_first() == 0; }, 15000))
      << "DataNode 0 still serves " << active_on_first() << " transfer(s) through the hung node\n"
      << cluster.LogTails();
  // Still usable for pipelines that do not involve the hung node.
  ASSERT_EQ(::kill(hung, SIGCONT), 0);
  std::move(resume).Cancel();
  ok = WriteThroughPipeline(first.get(), second, (uint64_t{1} << 40) + 3, 20000);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
}

}  // namespace
}  // namespace cairn::testing
