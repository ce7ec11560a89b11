// DataNodeManager::ChooseTargets: which registered DataNodes may take a new block.
#include "namenode/datanode_manager.h"

#include <gtest/gtest.h>

namespace cairn::namenode {
namespace {

void Register(DataNodeManager* m, const std::string& uuid, uint64_t remaining) {
  cairn::v1::RegisterDataNodeRequest req;
  req.set_cluster_id("CID-test");
  req.set_datanode_uuid(uuid);
  req.set_address(uuid + ":1");
  req.mutable_storage()->set_capacity_bytes(1ull << 40);
  req.mutable_storage()->set_remaining_bytes(remaining);
  cairn::v1::RegisterDataNodeResponse resp;
  ASSERT_TRUE(m->Register(req, &resp).ok());
}

// A DataNode reserves a block together with its checksum file: a node with room for the data
// alone would refuse the block, so it is not chosen. Regression: placement compared the
// remaining space with the block size alone.
TEST(DataNodeManagerTest, TargetsNeedRoomForTheBlockAndItsChecksums) {
  DataNodeManagerOptions o;
  o.cluster_id = "CID-test";
  DataNodeManager m(o, [] { return int64_t{1000}; });
  const uint64_t block = 128ull << 20;
  Register(&m, "exact", block);                   // the data only
  Register(&m, "roomy", block + (2ull << 20));    // data, checksums and more
  auto targets = m.ChooseTargets(2, {}, "", block);
  ASSERT_TRUE(targets.ok()) << targets.status();
  ASSERT_EQ(targets->size(), 1u);
  EXPECT_EQ((*targets)[0].datanode_uuid(), "roomy");
  auto none = m.ChooseTargets(1, {"roomy"}, "", block);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kResourceExhausted) << none.status();
}

}  // namespace
}  // namespace cairn::namenode
