// Data path through a MiniCluster: writes and reads in every ack mode, pipeline failures,
// corrupt replicas, leases, NameNode restarts, malformed requests.
#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/errno_map.h"
#include "datanode/block_store.h"
#include "namenode/block_manager.h"
#include "proto/datanode.grpc.pb.h"
#include "proto/namenode.grpc.pb.h"
#include "tests/testutil/mini_cluster.h"

namespace cairn::testing {
namespace {

using client::AckMode;
using client::CreateOptions;
using client::FileSystem;

Status WriteFile(FileSystem* fs, const std::string& path, const std::string& data,
                 CreateOptions co = {}, size_t chunk = 100000) {
  ASSIGN_OR_RETURN(auto out, fs->Create(path, co));
  for (size_t off = 0; off < data.size(); off += chunk) {
    RETURN_IF_ERROR(out->Write(data.data() + off, std::min(chunk, data.size() - off)));
  }
  return out->Close();
}

StatusOr<std::string> ReadFile(FileSystem* fs, const std::string& path) {
  ASSIGN_OR_RETURN(auto in, fs->Open(path));
  std::string out(in->length(), '\0');
  size_t done = 0;
  while (done < out.size()) {
    ASSIGN_OR_RETURN(size_t n, in->Read(out.data() + done, std::min<size_t>(300001, out.size() - done)));
    if (n == 0) break;
    done += n;
  }
  out.resize(done);
  return out;
}

// Live, good replicas of every block of `path`, as the NameNode sees them.
std::vector<int> ReplicaCounts(FileSystem* fs, const std::string& path) {
  std::vector<int> counts;
  auto blocks = fs->GetBlocks(path);
  if (!blocks.ok()) return counts;
  for (const auto& b : *blocks) counts.push_back(static_cast<int>(b.datanodes.size()));
  return counts;
}

bool AllBlocksHave(FileSystem* fs, const std::string& path, int n) {
  auto counts = ReplicaCounts(fs, path);
  if (counts.empty()) return false;
  for (int c : counts) {
    if (c != n) return false;
  }
  return true;
}

class DataPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<MiniCluster>(options_);
    ASSERT_TRUE(cluster_->Start().ok());
    auto fs = cluster_->NewClient();
    ASSERT_TRUE(fs.ok()) << fs.status();
    fs_ = std::move(*fs);
  }
  MiniClusterOptions options_;
  std::unique_ptr<MiniCluster> cluster_;
  std::unique_ptr<FileSystem> fs_;
};

TEST_F(DataPathTest, MultiBlockFilesInEveryAckMode) {
  // 3.5 blocks of 1 MiB, written in odd-sized chunks.
  const std::string data = RandomBytes((7 << 20) / 2 + 123, 1);
  for (AckMode mode : {AckMode::kSync, AckMode::kSemiSync, AckMode::kAsync}) {
    const std::string path = absl::StrCat("/f", static_cast<int>(mode));
    CreateOptions co;
    co.ack = mode;
    ASSERT_TRUE(WriteFile(fs_.get(), path, data, co, 77777).ok());
    auto st = fs_->Stat(path);
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->length, data.size());
    EXPECT_FALSE(st->under_construction);
    auto back = ReadFile(fs_.get(), path);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == data) << "mode " << static_cast<int>(mode);
    EXPECT_EQ(ReplicaCounts(fs_.get(), path).size(), 4u);
    EXPECT_TRUE(WaitFor([&] { return AllBlocksHave(fs_.get(), path, 3); }, 10000))
        << "mode " << static_cast<int>(mode);
  }
}

TEST_F(DataPathTest, EmptyAndTinyFiles) {
  ASSERT_TRUE(WriteFile(fs_.get(), "/empty", "").ok());
  auto st = fs_->Stat("/empty");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->length, 0u);
  auto back = ReadFile(fs_.get(), "/empty");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "");
  ASSERT_TRUE(WriteFile(fs_.get(), "/one", "x").ok());
  EXPECT_EQ(*ReadFile(fs_.get(), "/one"), "x");
  // Exactly one block.
  const std::string block = RandomBytes(1 << 20, 2);
  ASSERT_TRUE(WriteFile(fs_.get(), "/block", block).ok());
  EXPECT_EQ(ReplicaCounts(fs_.get(), "/block").size(), 1u);
  EXPECT_TRUE(*ReadFile(fs_.get(), "/block") == block);
}

}  // namespace
}  // namespace cairn::testing
