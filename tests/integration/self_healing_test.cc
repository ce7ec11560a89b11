// Self-healing of a MiniCluster (issue 4): dead and returning DataNodes, corrupt replicas, a
// decommission during a write, NameNode restarts and safemode, lease recovery of a dead writer,
// deletion, full volumes, setrep and a failed volume. Every test reads its data back byte for
// byte, and waits for conditions with deadlines (never sleeps and hopes). Tests whose comment
// starts with BUG: fail because of the product bug it describes.
#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cairn/admin.h"
#include "common/clock.h"
#include "common/errno_map.h"
#include "common/grpc_status.h"
#include "datanode/block_store.h"
#include "namenode/safe_mode.h"
#include "proto/datanode.grpc.pb.h"
#include "tests/testutil/fs_helpers.h"
#include "tests/testutil/mini_cluster.h"

namespace cairn::testing {
namespace {

using client::Admin;
using client::BlockInfo;
using client::CreateOptions;
using client::FileSystem;
using client::SafeModeAction;

// How long self-healing may take (the issue asks for "within a bound", e.g. 20 s). Healthy
// runs need 0.5-4 s with the intervals of FastOptions().
constexpr int64_t kHealMs = 15000;





// Inverts `n` bytes of a file at `offset` (a replica corrupted on disk).
Status FlipBytes(const std::string& path, uint64_t offset, size_t n) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!f) return absl::InternalError(absl::StrCat("cannot open ", path));
  std::string buf(n, '\0');
  f.seekg(static_cast<std::streamoff>(offset));
  f.read(buf.data(), static_cast<std::streamsize>(n));
  if (static_cast<size_t>(f.gcount()) != n) return absl::InternalError(path + ": short read");
  for (char& c : buf) c = static_cast<char>(~c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(buf.data(), static_cast<std::streamsize>(n));
  f.flush();
  return f ? absl::OkStatus() : absl::InternalError(path + ": write failed");
}


// Reads a whole replica straight from one DataNode (not through the client's failover).
StatusOr<std::string> ReadReplicaFrom(const std::string& address, const BlockInfo& b) {
  auto stub = cairn::v1::DataNodeService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  cairn::v1::ReadBlockRequest req;
  req.mutable_block()->set_block_id(b.block_id);
  req.mutable_block()->set_generation_stamp(b.generation_stamp);
  req.mutable_block()->set_length_bytes(b.length);
  req.set_offset_bytes(0);
  req.set_length_bytes(b.length);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto reader = stub->ReadBlock(&ctx, req);
  std::string out;
  cairn::v1::ReadBlockResponse resp;
  while (reader->Read(&resp)) {
    if (resp.offset_bytes() != out.size()) return absl::DataLossError("unexpected range");
    out += resp.data();
  }
  RETURN_IF_ERROR(FromGrpcStatus(reader->Finish()));
  out.resize(std::min<size_t>(out.size(), b.length));
  return out;
}

class SelfHealingTest : public ::testing::Test {
 protected:
  static MiniClusterOptions FastOptions() {
    MiniClusterOptions o;
    o.num_datanodes = 4;
    o.replication = 3;
    o.heartbeat_interval_ms = 100;
    o.stale_after_ms = 1000;
    o.dead_after_ms = 3000;
    o.replication_check_interval_ms = 100;
    o.pending_replication_timeout_ms = 3000;
    o.safemode_extension_ms = 500;
    return o;
  }

  void StartCluster(MiniClusterOptions o = FastOptions()) {
    options_ = o;
    cluster_ = std::make_unique<MiniCluster>(o);
    Status s = cluster_->Start();
    ASSERT_TRUE(s.ok()) << s;
    fs_ = NewClient();
    ASSERT_NE(fs_, nullptr);
    client::ClientOptions ao;
    ao.namenode = cluster_->namenode_address();
    ao.rpc_timeout_ms = 10000;
    auto admin = Admin::Connect(ao);
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = std::move(*admin);
  }

  std::unique_ptr<FileSystem> NewClient(
      std::function<void(client::ClientOptions*)> tweak = nullptr) {
    auto fs = cluster_->NewClient(std::move(tweak));
    EXPECT_TRUE(fs.ok()) << fs.status();
    return fs.ok() ? std::move(*fs) : nullptr;
  }

  // Writes three files (3 + 2 + 1 blocks) and waits until every block has 3 replicas.
  void WriteSomeFiles(const std::string& dir) {
    const std::vector<std::pair<std::string, size_t>> files = {
        {"a", 5 * kMiB / 2 + 7}, {"b", kMiB + 1}, {"c", 300000}};
    uint64_t seed = 100;
    for (const auto& [name, size] : files) {
      const std::string path = absl::StrCat(dir, "/", name);
      files_[path] = RandomBytes(size, seed++);
      CreateOptions co;
      co.create_parents = true;
      ASSERT_OK(WriteFile(fs_.get(), path, files_[path], co));
    }
    ASSERT_TRUE(WaitFor([&] { return Healed(3); }, kHealMs)) << Describe();
  }

  void ExpectFilesReadBack() {
    for (const auto& [path, data] : files_) {
      auto back = ReadFile(fs_.get(), path);
      ASSERT_TRUE(back.ok()) << path << ": " << back.status();
      EXPECT_TRUE(SameBytes(*back, data)) << path;
    }
  }

  std::vector<BlockInfo> Blocks(const std::string& path) {
    auto b = fs_->GetBlocks(path);
    return b.ok() ? *b : std::vector<BlockInfo>{};
  }

  size_t TotalBlocks() {
    size_t n = 0;
    for (const auto& [path, data] : files_) n += Blocks(path).size();
    return n;
  }

  // Running DataNodes holding a finalized, full, current replica of `b` on disk.
  int DiskCopies(const BlockInfo& b) {
    int n = 0;
    for (int i = 0; i < cluster_->num_datanodes(); ++i) {
      datanode::DataNode* dn = cluster_->datanode(i);
      if (dn == nullptr) continue;
      auto r = dn->store()->GetReplica(b.block_id);
      if (r.ok() && r->state == datanode::ReplicaState::kFinalized && r->length == b.length &&
          r->generation_stamp == b.generation_stamp) {
        ++n;
      }
    }
    return n;
  }

  // Replicas of any block on the disks of all running DataNodes.
  size_t DiskReplicaTotal() {
    size_t n = 0;
    for (int i = 0; i < cluster_->num_datanodes(); ++i) {
      if (cluster_->datanode(i)) n += cluster_->datanode(i)->store()->AllReplicas().size();
    }
    return n;
  }

  // Every block of `paths` (default: every file written) has exactly `n` locations, none at
  // `exclude`, and exactly `n` good copies on the disks of running DataNodes.
  bool Healed(int n, const std::string& exclude = "", std::vector<std::string> paths = {}) {
    if (paths.empty()) {
      for (const auto& [path, data] : files_) paths.push_back(path);
    }
    for (const auto& path : paths) {
      auto blocks = fs_->GetBlocks(path);
      if (!blocks.ok() || blocks->empty()) return false;
      for (const auto& b : *blocks) {
        if (static_cast<int>(b.datanodes.size()) != n) return false;
        if (!exclude.empty() && Contains(b.datanodes, exclude)) return false;
        if (DiskCopies(b) != n) return false;
      }
    }
    return true;
  }

  // Block locations and disk copies of every file, for failure messages.
  std::string Describe() {
    std::string out;
    for (const auto& [path, data] : files_) {
      for (const auto& b : Blocks(path)) {
        absl::StrAppend(&out, "\n  ", path, " blk_", b.block_id, "_", b.generation_stamp, " @",
                        b.offset, ": ", b.datanodes.size(), " locations [");
        for (const auto& d : b.datanodes) absl::StrAppend(&out, d, " ");
        absl::StrAppend(&out, "], ", DiskCopies(b), " good copies on disk",
                        b.corrupt ? " CORRUPT" : "");
      }
    }
    return out;
  }

  int IndexOf(const std::string& address) {
    for (int i = 0; i < cluster_->num_datanodes(); ++i) {
      if (cluster_->datanode(i) && cluster_->datanode(i)->address() == address) return i;
    }
    return -1;
  }

  std::optional<client::DataNodeStatus> NodeStatus(const std::string& address) {
    auto report = admin_->DataNodeReport();
    if (!report.ok()) return std::nullopt;
    for (const auto& d : *report) {
      if (d.address == address) return d;
    }
    return std::nullopt;
  }

  std::string StateOf(const std::string& address) {
    auto st = NodeStatus(address);
    return st ? st->state : "UNKNOWN";
  }

  std::string AdminStateOf(const std::string& address) {
    auto st = NodeStatus(address);
    return st ? st->admin_state : "UNKNOWN";
  }

  bool FsckClean() {
    auto r = admin_->Fsck("/");
    return r.ok() && r->healthy && r->under_replicated == 0 && r->missing == 0 && r->corrupt == 0;
  }

  std::string FsckText() {
    auto r = admin_->Fsck("/");
    if (!r.ok()) return r.status().ToString();
    std::string out = absl::StrCat("fsck: healthy=", r->healthy, " blocks=", r->blocks,
                                   " under=", r->under_replicated, " missing=", r->missing,
                                   " corrupt=", r->corrupt);
    for (const auto& f : r->unhealthy_files) {
      for (const auto& p : f.problems) absl::StrAppend(&out, "\n  ", f.path, ": ", p);
    }
    return out;
  }

  // The index of the running DataNode holding the most replicas.
  int BusiestDataNode() {
    int best = -1;
    size_t most = 0;
    for (int i = 0; i < cluster_->num_datanodes(); ++i) {
      if (!cluster_->datanode(i)) continue;
      const size_t n = cluster_->datanode(i)->store()->AllReplicas().size();
      if (best < 0 || n > most) {
        best = i;
        most = n;
      }
    }
    return best;
  }

  // Stops DataNode `victim` and waits until the NameNode calls it DEAD.
  void KillDataNode(int victim, const std::string& address) {
    cluster_->StopDataNode(victim);
    ASSERT_TRUE(WaitFor([&] { return StateOf(address) == "DEAD"; },
                        options_.dead_after_ms + 10000))
        << address << " is " << StateOf(address);
  }

  MiniClusterOptions options_;
  std::unique_ptr<MiniCluster> cluster_;
  std::unique_ptr<FileSystem> fs_;
  std::unique_ptr<Admin> admin_;
  std::map<std::string, std::string> files_;  // path -> contents
};

// 1. A DataNode holding replicas of several files dies: it turns STALE, then DEAD in the report;
// new writes avoid it; every block is back to 3 live replicas and fsck is clean.
TEST_F(SelfHealingTest, DeadDataNodeIsReportedAndItsBlocksAreReReplicated) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(WriteSomeFiles("/kill"));
  const int victim = BusiestDataNode();
  ASSERT_GE(victim, 0);
  const std::string address = cluster_->datanode(victim)->address();
  ASSERT_GT(cluster_->datanode(victim)->store()->AllReplicas().size(), 0u);

  const int64_t start = MonoMillis();
  cluster_->StopDataNode(victim);
  // Stale first (no heartbeat for 1 s), dead after 3 s.
  std::string first_state;
  ASSERT_TRUE(WaitFor([&] {
    first_state = StateOf(address);
    return first_state != "LIVE";
  }, 10000));
  EXPECT_EQ(first_state, "STALE");
  // A stale (or dead) node is not chosen for new blocks.
  const std::string fresh = RandomBytes(3 * kMiB / 2, 7);
  ASSERT_OK(WriteFile(fs_.get(), "/kill/fresh", fresh));
  for (const auto& b : Blocks("/kill/fresh")) {
    EXPECT_FALSE(Contains(b.datanodes, address))
        << "new block blk_" << b.block_id << " on " << address;
  }
  files_["/kill/fresh"] = fresh;

  ASSERT_TRUE(WaitFor([&] { return StateOf(address) == "DEAD"; }, 10000)) << StateOf(address);
  auto status = NodeStatus(address);
  ASSERT_TRUE(status.has_value());
  EXPECT_GE(status->last_heartbeat_age_ms, options_.dead_after_ms);
  auto stats = fs_->GetFsStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->live_datanodes, 3u);
  EXPECT_EQ(stats->dead_datanodes, 1u);

  EXPECT_TRUE(WaitFor([&] { return Healed(3, address); }, kHealMs)) << Describe();
  EXPECT_LT(MonoMillis() - start, kHealMs);
  EXPECT_TRUE(WaitFor([&] { return FsckClean(); }, 5000)) << FsckText();
  ExpectFilesReadBack();
}

// 2. The dead DataNode comes back with its old replicas: the excess copies are deleted, so every
// block is back to exactly 3 replicas, on disk as well.
TEST_F(SelfHealingTest, ReturningDataNodeExcessReplicasAreRemoved) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(WriteSomeFiles("/back"));
  const size_t blocks = TotalBlocks();
  ASSERT_EQ(blocks, 6u);
  const int victim = BusiestDataNode();
  const std::string address = cluster_->datanode(victim)->address();
  ASSERT_NO_FATAL_FAILURE(KillDataNode(victim, address));
  ASSERT_TRUE(WaitFor([&] { return Healed(3, address); }, kHealMs)) << Describe();
  ASSERT_EQ(DiskReplicaTotal(), blocks * 3);

  ASSERT_OK(cluster_->RestartDataNode(victim));
  // Its replicas are still on its disk: now 4 copies of some blocks exist.
  const size_t returned = cluster_->datanode(victim)->store()->AllReplicas().size();
  EXPECT_GT(returned, 0u);
  const std::string new_address = cluster_->datanode(victim)->address();
  ASSERT_TRUE(WaitFor([&] { return StateOf(new_address) == "LIVE"; }, 10000));
  EXPECT_TRUE(WaitFor([&] { return Healed(3) && DiskReplicaTotal() == blocks * 3; }, kHealMs))
      << "replicas on disk: " << DiskReplicaTotal() << ", want " << blocks * 3 << Describe();
  // What the NameNode counts on the node is what is on its disk.
  EXPECT_TRUE(WaitFor([&] {
    auto st = NodeStatus(new_address);
    return st && st->blocks == cluster_->datanode(victim)->store()->AllReplicas().size();
  }, 5000));
  EXPECT_TRUE(FsckClean()) << FsckText();
  ExpectFilesReadBack();
}

// 3. A replica corrupted on disk is found by the block scanner, a good replica is copied to the
// spare DataNode and the corrupt one is deleted.
TEST_F(SelfHealingTest, ScannerFindsCorruptReplicaAndItIsRepaired) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(WriteSomeFiles("/scan"));
  const std::vector<BlockInfo> blocks = Blocks("/scan/a");
  ASSERT_EQ(blocks.size(), 3u);
  const BlockInfo target = blocks[1];
  ASSERT_EQ(target.datanodes.size(), 3u);
  const std::string bad_address = target.datanodes[0];
  const int bad = IndexOf(bad_address);
  ASSERT_GE(bad, 0);
  int spare = -1;
  for (int i = 0; i < cluster_->num_datanodes(); ++i) {
    if (!Contains(target.datanodes, cluster_->datanode(i)->address())) spare = i;
  }
  ASSERT_GE(spare, 0);
  const std::string spare_address = cluster_->datanode(spare)->address();
  // Other replicas on the same node must survive.
  std::vector<uint64_t> others_on_bad;
  for (const auto& r : cluster_->datanode(bad)->store()->AllReplicas()) {
    if (r.block_id != target.block_id) others_on_bad.push_back(r.block_id);
  }

  auto path = cluster_->datanode(bad)->store()->DataPathForTests(target.block_id);
  ASSERT_TRUE(path.ok()) << path.status();
  ASSERT_OK(FlipBytes(*path, 5000, 64));
  cluster_->datanode(bad)->ScanNowForTests();

  EXPECT_TRUE(WaitFor([&] {
    auto now = Blocks("/scan/a");
    return now.size() == 3 && now[1].datanodes.size() == 3 &&
           !Contains(now[1].datanodes, bad_address) && Contains(now[1].datanodes, spare_address) &&
           !cluster_->datanode(bad)->store()->GetReplica(target.block_id).ok() &&
           DiskCopies(target) == 3;
  }, kHealMs)) << Describe();
  EXPECT_FALSE(std::filesystem::exists(*path)) << *path;
  for (uint64_t id : others_on_bad) {
    EXPECT_TRUE(cluster_->datanode(bad)->store()->GetReplica(id).ok()) << "blk_" << id;
  }
  EXPECT_TRUE(WaitFor([&] { return FsckClean(); }, 5000)) << FsckText();
  EXPECT_TRUE(Healed(3)) << Describe();
  ExpectFilesReadBack();
}

// 3b. Re-replication from a source whose replica turns out to be corrupt fails part-way (the
// corruption is in the last MiB of a 4 MiB block, so three packets reach the target first). That
// attempt must not leave a partial replica on the target that blocks every later repair.
// (Regression: the failed transfer once left its partial replica in rbw/ on the target, where
// nothing deleted it, and every later transfer to that node failed with ALREADY_EXISTS.)
TEST_F(SelfHealingTest, FailedTransferFromCorruptSourceDoesNotBlockRepair) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const std::string data = RandomBytes(7 * kMiB / 2, 31);
  files_["/e/file"] = data;
  CreateOptions co;
  co.create_parents = true;
  co.block_size = 4 * kMiB;
  ASSERT_OK(WriteFile(fs_.get(), "/e/file", data, co));
  ASSERT_TRUE(WaitFor([&] { return Healed(3); }, kHealMs)) << Describe();
  const std::vector<BlockInfo> blocks = Blocks("/e/file");
  ASSERT_EQ(blocks.size(), 1u);
  const BlockInfo b = blocks[0];
  const int a = IndexOf(b.datanodes[0]);
  const int h1 = IndexOf(b.datanodes[1]);
  const int h2 = IndexOf(b.datanodes[2]);
  int spare = -1;
  for (int i = 0; i < cluster_->num_datanodes(); ++i) {
    if (i != a && i != h1 && i != h2) spare = i;
  }
  ASSERT_TRUE(a >= 0 && h1 >= 0 && h2 >= 0 && spare >= 0);
  const std::string a1 = cluster_->datanode(h1)->address();
  const std::string a2 = cluster_->datanode(h2)->address();

  // Corrupt a's replica near its end without telling anyone, then lose the two good ones: the
  // NameNode tells a to copy its replica to the spare, and that transfer finds the corruption
  // after sending 3 MiB.
  auto path = cluster_->datanode(a)->store()->DataPathForTests(b.block_id);
  ASSERT_TRUE(path.ok()) << path.status();
  ASSERT_OK(FlipBytes(*path, 3 * kMiB + 5000, 64));
  cluster_->StopDataNode(h1);
  cluster_->StopDataNode(h2);
  ASSERT_TRUE(WaitFor([&] { return StateOf(a1) == "DEAD" && StateOf(a2) == "DEAD"; }, 15000));
  ASSERT_TRUE(WaitFor([&] {
    auto r = admin_->Fsck("/");
    return r.ok() && r->corrupt == 1;
  }, 10000)) << FsckText();
  // The spare notices the aborted stream on its own schedule: wait for its clean-up.
  EXPECT_TRUE(WaitFor([&] {
    return !cluster_->datanode(spare)->store()->GetReplica(b.block_id).ok();
  }, 5000)) << "the failed transfer left a partial replica on the spare DataNode";

  // The good replicas return: the block must get back to 3 good replicas and lose the bad one.
  ASSERT_OK(cluster_->RestartDataNode(h1));
  ASSERT_OK(cluster_->RestartDataNode(h2));
  EXPECT_TRUE(WaitFor([&] {
    return Healed(3) && !cluster_->datanode(a)->store()->GetReplica(b.block_id).ok();
  }, kHealMs)) << Describe() << "\n" << FsckText();
  ExpectFilesReadBack();
}

// A replication towards a DataNode that died and is not declared dead yet fails; its source
// reports the failure and the block is copied elsewhere at once, not after the transfer's
// timeout (2 minutes here, like the time the NameNode takes to notice the death).
TEST_F(SelfHealingTest, FailedTransferIsScheduledAgainElsewhereAtOnce) {
  MiniClusterOptions o = FastOptions();
  o.stale_after_ms = 60000;
  o.dead_after_ms = 120000;
  o.pending_replication_timeout_ms = 120000;
  o.capacity_bytes_per_volume = 2ull << 30;
  ASSERT_NO_FATAL_FAILURE(StartCluster(o));
  const std::string data = RandomBytes(300000, 41);
  files_["/f/two"] = data;
  CreateOptions co;
  co.create_parents = true;
  co.replication = 2;
  ASSERT_OK(WriteFile(fs_.get(), "/f/two", data, co));
  ASSERT_TRUE(WaitFor([&] { return Healed(2); }, kHealMs)) << Describe();
  const std::vector<BlockInfo> blocks = Blocks("/f/two");
  ASSERT_EQ(blocks.size(), 1u);
  std::vector<int> spares;
  for (int i = 0; i < cluster_->num_datanodes(); ++i) {
    if (!Contains(blocks[0].datanodes, cluster_->datanode(i)->address())) spares.push_back(i);
  }
  ASSERT_EQ(spares.size(), 2u);
  // The first spare gets the most room (so it is the preferred target), then dies silently.
  const int doomed = spares[0];
  cluster_->StopDataNode(doomed);
  cluster_->datanode_options(doomed).capacity_bytes_per_volume_for_tests = 8ull << 30;
  ASSERT_OK(cluster_->RestartDataNode(doomed));
  const std::string doomed_address = cluster_->datanode(doomed)->address();
  ASSERT_TRUE(WaitFor([&] {
    auto st = NodeStatus(doomed_address);
    return st && st->remaining > (4ull << 30);
  }, 10000));
  cluster_->StopDataNode(doomed);

  ASSERT_OK(fs_->SetReplication("/f/two", 3));
  EXPECT_TRUE(WaitFor([&] { return Healed(3); }, kHealMs)) << Describe();
  EXPECT_EQ(StateOf(doomed_address), "LIVE") << "healed only once the death was noticed";
  ExpectFilesReadBack();
}

// 4. Every replica of one block is corrupt: fsck says so, reads of that range fail with DATA_LOSS
// instead of returning bad bytes, the other blocks stay readable, and the corrupt replicas are
// kept (there is nothing better).
TEST_F(SelfHealingTest, AllReplicasCorruptIsReportedAndReadsFailCleanly) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const std::string path = "/d/file";
  const std::string data = RandomBytes(7 * kMiB / 2 + 11, 41);
  files_[path] = data;
  CreateOptions co;
  co.create_parents = true;
  ASSERT_OK(WriteFile(fs_.get(), path, data, co));
  ASSERT_TRUE(WaitFor([&] { return Healed(3); }, kHealMs)) << Describe();
  const std::vector<BlockInfo> blocks = Blocks(path);
  ASSERT_EQ(blocks.size(), 4u);
  const BlockInfo target = blocks[1];
  std::vector<int> holders;
  for (const auto& address : target.datanodes) {
    const int i = IndexOf(address);
    ASSERT_GE(i, 0);
    holders.push_back(i);
    auto p = cluster_->datanode(i)->store()->DataPathForTests(target.block_id);
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_OK(FlipBytes(*p, 100, 32));
  }
  for (int i : holders) cluster_->datanode(i)->ScanNowForTests();

  ASSERT_TRUE(WaitFor([&] {
    auto r = admin_->Fsck("/");
    return r.ok() && r->corrupt == 1;
  }, 10000)) << FsckText();
  auto report = admin_->Fsck("/");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->healthy);
  EXPECT_EQ(report->corrupt, 1u);
  EXPECT_EQ(report->missing, 0u);
  ASSERT_EQ(report->unhealthy_files.size(), 1u);
  EXPECT_EQ(report->unhealthy_files[0].path, path);
  ASSERT_EQ(report->unhealthy_files[0].problems.size(), 1u);
  EXPECT_TRUE(absl::StrContains(report->unhealthy_files[0].problems[0],
                                absl::StrCat("blk_", target.block_id)));
  EXPECT_TRUE(absl::StrContains(report->unhealthy_files[0].problems[0], "CORRUPT"));
  EXPECT_TRUE(Blocks(path)[1].corrupt);

  auto in = fs_->Open(path);
  ASSERT_TRUE(in.ok()) << in.status();
  std::string buf(kMiB, '\0');
  // Inside the corrupt block, and a range that starts in a good block and runs into it.
  for (auto [offset, n] : {std::pair<uint64_t, size_t>{kMiB + 1000, 5000},
                           std::pair<uint64_t, size_t>{kMiB - 10, 20}}) {
    SCOPED_TRACE(absl::StrCat("Pread(", offset, ", ", n, ")"));
    auto got = (*in)->Pread(offset, buf.data(), n);
    ASSERT_FALSE(got.ok()) << "read " << *got << " bytes of a block whose every replica is corrupt";
    EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
    EXPECT_TRUE(absl::StrContains(got.status().message(), "corrupt")) << got.status();
    EXPECT_TRUE(absl::StrContains(got.status().message(), path)) << got.status();
  }
  // The other blocks are fine.
  for (int i : {0, 2, 3}) {
    SCOPED_TRACE(absl::StrCat("block ", i));
    const BlockInfo& bi = blocks[i];
    std::string part(bi.length, '\0');
    auto got = (*in)->Pread(bi.offset, part.data(), part.size());
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(*got, bi.length);
    EXPECT_TRUE(SameBytes(part, data.substr(bi.offset, bi.length)));
  }
  auto whole = ReadFile(fs_.get(), path);
  EXPECT_EQ(whole.status().code(), absl::StatusCode::kDataLoss) << whole.status();
  // No good copy exists, so the corrupt ones stay where they are.
  for (int i : holders) {
    EXPECT_TRUE(cluster_->datanode(i)->store()->GetReplica(target.block_id).ok())
        << "DataNode " << i;
  }
}

// 5. A DataNode is decommissioned while a file is being written to it: the write completes,
// nothing is lost, new blocks avoid the node, it becomes DECOMMISSIONED, and once it is stopped
// every block still has 3 live replicas.
TEST_F(SelfHealingTest, DecommissionDuringWriteLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const std::string path = "/dec/file";
  const std::string data = RandomBytes(6 * kMiB + 123, 51);
  files_[path] = data;
  CreateOptions co;
  co.create_parents = true;
  auto out = fs_->Create(path, co);
  ASSERT_TRUE(out.ok()) << out.status();
  const size_t first = 5 * kMiB / 2;
  for (size_t off = 0; off < first; off += 100000) {
    ASSERT_OK((*out)->Write(data.data() + off, std::min<size_t>(100000, first - off)));
  }
  ASSERT_OK((*out)->Hflush());
  const std::vector<BlockInfo> before = Blocks(path);
  ASSERT_EQ(before.size(), 3u);
  ASSERT_FALSE(before.back().datanodes.empty());
  // A node of the pipeline of the block being written.
  const std::string address = before.back().datanodes[0];
  const int node = IndexOf(address);
  ASSERT_GE(node, 0);

  EXPECT_EQ(admin_->Decommission("127.0.0.1:1").code(), absl::StatusCode::kNotFound);
  ASSERT_OK(admin_->Decommission(address));
  EXPECT_EQ(AdminStateOf(address), "DECOMMISSIONING");
  for (size_t off = first; off < data.size(); off += 100000) {
    ASSERT_OK((*out)->Write(data.data() + off, std::min<size_t>(100000, data.size() - off)));
  }
  ASSERT_OK((*out)->Close());
  auto back = ReadFile(fs_.get(), path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameBytes(*back, data));

  EXPECT_TRUE(WaitFor([&] { return AdminStateOf(address) == "DECOMMISSIONED"; }, kHealMs))
      << AdminStateOf(address) << Describe();
  const std::vector<BlockInfo> after = Blocks(path);
  ASSERT_EQ(after.size(), 7u);
  for (size_t i = 0; i < after.size(); ++i) {
    std::vector<std::string> in_service;
    for (const auto& d : after[i].datanodes) {
      if (d != address) in_service.push_back(d);
    }
    EXPECT_EQ(in_service.size(), 3u) << "block " << i << Describe();
    // Blocks started after the decommission never went to the node.
    if (i >= before.size()) {
      EXPECT_FALSE(Contains(after[i].datanodes, address)) << "block " << i;
    }
  }
  EXPECT_TRUE(FsckClean()) << FsckText();

  ASSERT_NO_FATAL_FAILURE(KillDataNode(node, address));
  EXPECT_TRUE(WaitFor([&] { return Healed(3, address); }, kHealMs)) << Describe();
  EXPECT_TRUE(FsckClean()) << FsckText();
  ExpectFilesReadBack();
}

// 6a. A restarted NameNode stays in safemode (read-only: mutations fail with UNAVAILABLE) until
// the DataNodes have reported its blocks, then waits safemode_extension_ms and leaves it.
TEST_F(SelfHealingTest, RestartedNameNodeIsInSafeModeUntilBlocksAreReported) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(WriteSomeFiles("/sm"));
  const size_t blocks = TotalBlocks();
  // A DataNode that does not hold every block.
  int partial = -1;
  for (int i = 0; i < cluster_->num_datanodes() && partial < 0; ++i) {
    if (cluster_->datanode(i)->store()->AllReplicas().size() < blocks) partial = i;
  }
  ASSERT_GE(partial, 0);
  const size_t partial_blocks = cluster_->datanode(partial)->store()->AllReplicas().size();

  for (int i = 0; i < cluster_->num_datanodes(); ++i) cluster_->StopDataNode(i);
  ASSERT_OK(cluster_->RestartNameNode());
  auto sm = admin_->SafeMode(SafeModeAction::kGet);
  ASSERT_TRUE(sm.ok()) << sm.status();
  EXPECT_TRUE(sm->first);
  EXPECT_TRUE(absl::StartsWith(sm->second, "ON")) << sm->second;
  EXPECT_TRUE(absl::StrContains(sm->second, absl::StrCat("0 of ", blocks))) << sm->second;

  // Read-only: mutations fail at once with UNAVAILABLE; reads of the namespace work.
  Status s = fs_->Mkdir("/sm/new");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "safemode")) << s;
  auto created = fs_->Create("/sm/new-file", {});
  EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable) << created.status();
  s = fs_->Delete("/sm/a");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  auto st = fs_->Stat("/sm/a");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->length, files_["/sm/a"].size());

  // One DataNode's report is not enough.
  ASSERT_OK(cluster_->RestartDataNode(partial));
  const std::string paddr = cluster_->datanode(partial)->address();
  ASSERT_TRUE(WaitFor([&] {
    auto n = NodeStatus(paddr);
    return n && n->state == "LIVE" && n->blocks == partial_blocks;
  }, 10000));
  cluster_->namenode()->safemode()->Update();
  EXPECT_TRUE(cluster_->namenode()->safemode()->InSafeMode());
  sm = admin_->SafeMode(SafeModeAction::kGet);
  ASSERT_TRUE(sm.ok()) << sm.status();
  EXPECT_TRUE(sm->first) << sm->second;
  EXPECT_EQ(fs_->Mkdir("/sm/new").code(), absl::StatusCode::kUnavailable);

  // All of them: safemode ends, no sooner than the extension after the last report.
  const int64_t all_started = MonoMillis();
  for (int i = 0; i < cluster_->num_datanodes(); ++i) {
    if (i != partial) ASSERT_OK(cluster_->RestartDataNode(i));
  }
  ASSERT_TRUE(WaitFor([&] {
    auto g = admin_->SafeMode(SafeModeAction::kGet);
    return g.ok() && !g->first;
  }, 15000));
  EXPECT_GE(MonoMillis() - all_started, options_.safemode_extension_ms);
  EXPECT_OK(fs_->Mkdir("/sm/new"));
  EXPECT_TRUE(WaitFor([&] { return Healed(3); }, kHealMs)) << Describe();
  EXPECT_TRUE(FsckClean()) << FsckText();
  ExpectFilesReadBack();
}

// 6b. A NameNode restart with every DataNode running: safemode on at first, off once they have
// re-registered and reported, then a normal cluster with the whole block map rebuilt.
TEST_F(SelfHealingTest, NameNodeRestartWithRunningDataNodes) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(WriteSomeFiles("/nn"));
  ASSERT_OK(cluster_->RestartNameNode());
  // The DataNodes need a heartbeat, a registration and a report, then the 500 ms extension.
  auto sm = admin_->SafeMode(SafeModeAction::kGet);
  ASSERT_TRUE(sm.ok()) << sm.status();
  EXPECT_TRUE(sm->first) << sm->second;
  ASSERT_TRUE(WaitFor([&] {
    auto g = admin_->SafeMode(SafeModeAction::kGet);
    return g.ok() && !g->first;
  }, 15000));
  EXPECT_OK(fs_->Mkdir("/nn/after"));
  EXPECT_TRUE(WaitFor([&] { return Healed(3); }, 10000)) << Describe();
  EXPECT_TRUE(FsckClean()) << FsckText();
  ExpectFilesReadBack();
  const std::string more = RandomBytes(kMiB + 5, 61);
  ASSERT_OK(WriteFile(fs_.get(), "/nn/more", more));
  files_["/nn/more"] = more;
  ExpectFilesReadBack();
}

// 6c. Safemode entered by an administrator stays on (the monitor does not end it) until left.
TEST_F(SelfHealingTest, ManualSafeModeEnterAndLeave) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const std::string data = RandomBytes(kMiB + 3, 71);
  files_["/m"] = data;
  ASSERT_OK(WriteFile(fs_.get(), "/m", data));
  auto sm = admin_->SafeMode(SafeModeAction::kGet);
  ASSERT_TRUE(sm.ok()) << sm.status();
  EXPECT_FALSE(sm->first);
  EXPECT_EQ(sm->second, "OFF");

  sm = admin_->SafeMode(SafeModeAction::kEnter);
  ASSERT_TRUE(sm.ok()) << sm.status();
  EXPECT_TRUE(sm->first);
  EXPECT_TRUE(absl::StrContains(sm->second, "manual")) << sm->second;
  Status s = fs_->Mkdir("/x");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(fs_->Create("/y", {}).status().code(), absl::StatusCode::kUnavailable);
  cluster_->namenode()->safemode()->Update();  // what the monitor does every 100 ms
  sm = admin_->SafeMode(SafeModeAction::kGet);
  ASSERT_TRUE(sm.ok()) << sm.status();
  EXPECT_TRUE(sm->first) << "manual safemode ended by itself";
  ExpectFilesReadBack();  // reads still work

  sm = admin_->SafeMode(SafeModeAction::kLeave);
  ASSERT_TRUE(sm.ok()) << sm.status();
  EXPECT_FALSE(sm->first);
  EXPECT_OK(fs_->Mkdir("/x"));
  const std::string more = RandomBytes(1000, 72);
  ASSERT_OK(WriteFile(fs_.get(), "/y", more));
  files_["/y"] = more;
  ExpectFilesReadBack();
}

// 7. A writer dies after hflush (its stream is never closed and its client stops renewing the
// lease): after lease_hard_limit_ms the NameNode recovers the file, which is then closed, with
// every hflushed byte readable.
TEST_F(SelfHealingTest, LeaseRecoveryClosesFileOfDeadWriter) {
  MiniClusterOptions o = FastOptions();
  o.lease_hard_limit_ms = 1500;
  ASSERT_NO_FATAL_FAILURE(StartCluster(o));
  const std::string path = "/lease/file";
  const std::string data = RandomBytes(5 * kMiB / 2 + 17, 81);
  const size_t flushed = data.size() - 100;
  auto writer = NewClient();
  ASSERT_NE(writer, nullptr);
  CreateOptions co;
  co.create_parents = true;
  auto out = writer->Create(path, co);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_OK((*out)->Write(data.data(), flushed));
  ASSERT_OK((*out)->Hflush());
  ASSERT_OK((*out)->Write(data.data() + flushed, 100));  // stays in the client's buffer
  auto st = fs_->Stat(path);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(st->under_construction);
  EXPECT_EQ(st->length, flushed);

  // The writer "dies": its stream is never closed, its client stops renewing the lease.
  client::OutputStream* leaked = out->release();
  (void)leaked;
  writer.reset();
  const int64_t died = MonoMillis();
  ASSERT_TRUE(WaitFor([&] {
    auto s = fs_->Stat(path);
    return s.ok() && !s->under_construction;
  }, 15000)) << "the file was never recovered";
  EXPECT_GE(MonoMillis() - died, 1000);
  st = fs_->Stat(path);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->length, flushed);
  files_[path] = data.substr(0, flushed);
  ExpectFilesReadBack();
  EXPECT_TRUE(WaitFor([&] { return Healed(3); }, kHealMs)) << Describe();
  EXPECT_TRUE(FsckClean()) << FsckText();

  // The lease is free: another client may replace the file.
  co.overwrite = true;
  const std::string next = RandomBytes(1234, 82);
  ASSERT_OK(WriteFile(fs_.get(), path, next, co));
  files_[path] = next;
  ExpectFilesReadBack();
}

// 8. A deleted file's replicas disappear from the DataNodes' stores and disks; other files stay.
TEST_F(SelfHealingTest, DeletedFileBlocksLeaveTheDisks) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(WriteSomeFiles("/del"));
  const std::vector<BlockInfo> doomed = Blocks("/del/a");
  ASSERT_EQ(doomed.size(), 3u);
  std::set<uint64_t> ids;
  std::vector<std::string> paths;
  for (const auto& b : doomed) {
    ids.insert(b.block_id);
    for (const auto& address : b.datanodes) {
      auto p = cluster_->datanode(IndexOf(address))->store()->DataPathForTests(b.block_id);
      ASSERT_TRUE(p.ok()) << p.status();
      ASSERT_TRUE(std::filesystem::exists(*p));
      paths.push_back(*p);
    }
  }
  ASSERT_EQ(paths.size(), 9u);
  ASSERT_OK(fs_->Delete("/del/a"));
  files_.erase("/del/a");

  auto block_files_left = [&] {
    size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(cluster_->root_dir(), ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      for (uint64_t id : ids) {
        if (absl::StartsWith(name, absl::StrCat("blk_", id, "_"))) ++n;
      }
    }
    return n;
  };
  EXPECT_TRUE(WaitFor([&] {
    for (int i = 0; i < cluster_->num_datanodes(); ++i) {
      for (uint64_t id : ids) {
        if (cluster_->datanode(i)->store()->GetReplica(id).ok()) return false;
      }
    }
    return block_files_left() == 0;
  }, 10000)) << block_files_left() << " block files left";
  for (const auto& p : paths) EXPECT_FALSE(std::filesystem::exists(p)) << p;
  EXPECT_EQ(DiskReplicaTotal(), TotalBlocks() * 3);
  EXPECT_TRUE(Healed(3)) << Describe();
  ExpectFilesReadBack();
}

// Small volumes (6 MiB per DataNode, replication 1). Each 1 MiB block takes 1 MiB + 1040 bytes
// of checksums: five fit on a volume, twenty on the cluster.
MiniClusterOptions SmallVolumeOptions(MiniClusterOptions o) {
  o.replication = 1;
  o.capacity_bytes_per_volume = 6 * kMiB;
  return o;
}
constexpr int kBlocksThatFit = 4 * 5;

// Writes 1 MiB files /full/<i> until one fails; returns that failure. `settle` runs after each
// successful write.
Status FillUp(FileSystem* fs, std::map<std::string, std::string>* files, int* written,
              const std::function<void()>& settle) {
  *written = 0;
  for (int i = 0; i < kBlocksThatFit + 10; ++i) {
    const std::string path = absl::StrCat("/full/", i);
    const std::string data = RandomBytes(kMiB, 1000 + i);
    CreateOptions co;
    co.create_parents = true;
    const int64_t start = MonoMillis();
    Status s = WriteFile(fs, path, data, co);
    EXPECT_LT(MonoMillis() - start, 10000) << "writing " << path << " took too long: " << s;
    if (!s.ok()) return s;
    (*files)[path] = data;
    ++*written;
    if (settle) settle();
  }
  return absl::OkStatus();
}

void ExpectNoSpaceError(const Status& s) {
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(ToErrno(s), ENOSPC) << s;
  EXPECT_TRUE(absl::StrContains(absl::AsciiStrToLower(s.message()), "space")) << s;
}

// 9a. Writes fill the DataNodes one block at a time, with the NameNode's view of free space up
// to date after each: blocks go to whichever DataNode still has room until all are full; then
// writes fail promptly with RESOURCE_EXHAUSTED (ENOSPC) and a message about space, while earlier
// files stay readable. Deleting a file makes room again.
TEST_F(SelfHealingTest, FullVolumesGiveAClearNoSpaceError) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(SmallVolumeOptions(FastOptions())));
  // Waits until every DataNode's free space, as the NameNode knows it, is what its disk says.
  auto settle = [&] {
    EXPECT_TRUE(WaitFor([&] {
      for (int i = 0; i < cluster_->num_datanodes(); ++i) {
        auto st = NodeStatus(cluster_->datanode(i)->address());
        const uint64_t on_disk = cluster_->datanode(i)->store()->Report().remaining;
        if (!st || st->remaining != on_disk) return false;
      }
      return true;
    }, 5000));
  };
  int written = 0;
  Status failure = FillUp(fs_.get(), &files_, &written, settle);
  ASSERT_FALSE(failure.ok()) << "wrote " << written << " MiB onto 24 MiB of volumes";
  EXPECT_EQ(written, kBlocksThatFit) << failure;
  ExpectNoSpaceError(failure);
  for (int i = 0; i < cluster_->num_datanodes(); ++i) {
    EXPECT_EQ(cluster_->datanode(i)->store()->AllReplicas().size(), 5u) << "DataNode " << i;
  }
  // The error is stable, also for a small file.
  ExpectNoSpaceError(WriteFile(fs_.get(), "/full/small", "tiny"));
  ExpectFilesReadBack();

  // Deleting a file makes room again.
  ASSERT_OK(fs_->Delete("/full/0"));
  files_.erase("/full/0");
  ASSERT_TRUE(WaitFor([&] {
    auto report = admin_->DataNodeReport();
    if (!report.ok()) return false;
    for (const auto& d : *report) {
      if (d.remaining >= kMiB + 2048) return true;
    }
    return false;
  }, 10000));
  const std::string last = RandomBytes(kMiB, 2000);
  EXPECT_OK(WriteFile(fs_.get(), "/full/again", last));
  files_["/full/again"] = last;
  ExpectFilesReadBack();
}

// 9b. The same, without waiting for heartbeats: the NameNode learns a DataNode's free space only
// from its heartbeats, so it may send a block to a DataNode that has just filled up. That
// DataNode refuses (RESOURCE_EXHAUSTED: "no space left on any volume"); the writer must then
// take the block elsewhere, and only fail -- with a no-space error -- when no DataNode has room.
// (Regression: the writer once gave up on the first pipeline failure of a new block, with
// UNAVAILABLE instead of trying other DataNodes, and a full cluster reported UNAVAILABLE instead
// of ENOSPC.)
TEST_F(SelfHealingTest, WritesToAJustFilledDataNodeGoElsewhere) {
  // Heartbeats every 2 s: for a while the NameNode sees every DataNode as empty, as it does
  // between heartbeats in any busy cluster.
  MiniClusterOptions o = SmallVolumeOptions(FastOptions());
  o.heartbeat_interval_ms = 2000;
  o.stale_after_ms = 10000;
  o.dead_after_ms = 30000;
  ASSERT_NO_FATAL_FAILURE(StartCluster(o));
  int written = 0;
  Status failure = FillUp(fs_.get(), &files_, &written, nullptr);
  ASSERT_FALSE(failure.ok()) << "wrote " << written << " MiB onto 24 MiB of volumes";
  EXPECT_EQ(written, kBlocksThatFit) << failure;
  ExpectNoSpaceError(failure);
  ExpectFilesReadBack();
}

// 10. setrep up and down is re-replication and excess removal: 3 -> 4 -> 5 (only 4 DataNodes:
// reported under-replicated) -> 2.
TEST_F(SelfHealingTest, SetReplicationUpAndDown) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const std::string path = "/r/file";
  const std::string data = RandomBytes(5 * kMiB / 2 + 1, 91);
  files_[path] = data;
  CreateOptions co;
  co.create_parents = true;
  ASSERT_OK(WriteFile(fs_.get(), path, data, co));
  ASSERT_TRUE(WaitFor([&] { return Healed(3); }, kHealMs)) << Describe();

  ASSERT_OK(fs_->SetReplication(path, 4));
  EXPECT_EQ(fs_->Stat(path)->replication, 4u);
  EXPECT_TRUE(WaitFor([&] { return Healed(4); }, kHealMs)) << Describe();
  EXPECT_TRUE(FsckClean()) << FsckText();

  ASSERT_OK(fs_->SetReplication(path, 5));
  EXPECT_TRUE(WaitFor([&] {
    auto r = admin_->Fsck("/");
    return r.ok() && r->under_replicated == 3 && r->healthy;
  }, 5000)) << FsckText();
  EXPECT_TRUE(Healed(4)) << Describe();
  ExpectFilesReadBack();

  ASSERT_OK(fs_->SetReplication(path, 2));
  EXPECT_TRUE(WaitFor([&] { return Healed(2) && DiskReplicaTotal() == 3 * 2; }, kHealMs))
      << DiskReplicaTotal() << " replicas on disk" << Describe();
  EXPECT_TRUE(FsckClean()) << FsckText();
  ExpectFilesReadBack();

  EXPECT_EQ(fs_->SetReplication(path, 0).code(), absl::StatusCode::kInvalidArgument);
}

// 12. One of a DataNode's two volumes disappears: the node keeps serving from the other one,
// reports failed_volumes = 1, and the replicas lost with the volume are re-replicated.
// (Regression: a failed volume's replicas were once dropped from the store without telling the
// NameNode, which kept offering them and re-replicated nothing; a volume failure now triggers a
// full block report.)
TEST_F(SelfHealingTest, FailedVolumeIsReportedAndItsReplicasAreReReplicated) {
  MiniClusterOptions o = FastOptions();
  o.volumes_per_datanode = 2;
  ASSERT_NO_FATAL_FAILURE(StartCluster(o));
  ASSERT_NO_FATAL_FAILURE(WriteSomeFiles("/vol"));
  const std::string more = RandomBytes(3 * kMiB, 111);
  ASSERT_OK(WriteFile(fs_.get(), "/vol/d", more));
  files_["/vol/d"] = more;
  ASSERT_TRUE(WaitFor([&] { return Healed(3); }, kHealMs)) << Describe();

  // The DataNode with the most replicas on its second volume.
  int node = -1;
  size_t most = 0;
  for (int i = 0; i < cluster_->num_datanodes(); ++i) {
    size_t n = 0;
    for (const auto& r : cluster_->datanode(i)->store()->AllReplicas()) n += r.volume == 1 ? 1 : 0;
    if (n > most) {
      node = i;
      most = n;
    }
  }
  ASSERT_GE(node, 0) << "no replica on any second volume";
  const std::string address = cluster_->datanode(node)->address();
  std::set<uint64_t> lost, kept;
  for (const auto& r : cluster_->datanode(node)->store()->AllReplicas()) {
    (r.volume == 1 ? lost : kept).insert(r.block_id);
  }
  ASSERT_FALSE(lost.empty());
  ASSERT_FALSE(kept.empty()) << "every replica of the node is on its second volume";

  std::error_code ec;
  std::filesystem::remove_all(cluster_->DataNodeVolume(node, 1), ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(WaitFor([&] {
    auto st = NodeStatus(address);
    return st && st->failed_volumes == 1;
  }, 10000));
  EXPECT_EQ(StateOf(address), "LIVE");
  for (const auto& r : cluster_->datanode(node)->store()->AllReplicas()) {
    EXPECT_EQ(r.volume, 0) << "blk_" << r.block_id;
    EXPECT_TRUE(kept.count(r.block_id)) << "blk_" << r.block_id;
  }
  // It still serves the replicas of its good volume.
  int served = 0;
  for (const auto& [path, data] : files_) {
    for (const auto& b : Blocks(path)) {
      if (!kept.count(b.block_id)) continue;
      auto got = ReadReplicaFrom(address, b);
      ASSERT_TRUE(got.ok()) << "blk_" << b.block_id << ": " << got.status();
      EXPECT_TRUE(SameBytes(*got, data.substr(b.offset, b.length))) << "blk_" << b.block_id;
      ++served;
    }
  }
  EXPECT_EQ(served, static_cast<int>(kept.size()));

  // The lost replicas are copied again from the other holders.
  EXPECT_TRUE(WaitFor([&] {
    for (const auto& [path, data] : files_) {
      for (const auto& b : Blocks(path)) {
        if (!lost.count(b.block_id)) continue;
        if (b.datanodes.size() != 3 || Contains(b.datanodes, address) || DiskCopies(b) != 3) {
          return false;
        }
      }
    }
    return true;
  }, kHealMs)) << "lost with the volume: " << lost.size() << " replicas" << Describe();
  ExpectFilesReadBack();
  EXPECT_TRUE(FsckClean()) << FsckText();
}

}  // namespace
}  // namespace cairn::testing
