// LeaseManager: renewal ages, expiry, and removal of a lease only as it was listed.
#include "namenode/lease_manager.h"

#include <gtest/gtest.h>

#include <atomic>

namespace cairn::namenode {
namespace {

TEST(LeaseManagerTest, ExpiryFollowsRenewal) {
  std::atomic<int64_t> now{1000};
  LeaseManager leases([&] { return now.load(); });
  EXPECT_EQ(leases.AgeOf("a"), -1);
  leases.Add("a", 5);
  leases.Add("a", 6);
  leases.Add("b", 7);
  now = 1500;
  leases.Renew("b");
  EXPECT_EQ(leases.AgeOf("a"), 500);
  EXPECT_EQ(leases.AgeOf("b"), 0);
  auto expired = leases.Expired(400);
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0], std::make_pair(std::string("a"), uint64_t{5}));
  EXPECT_EQ(expired[1], std::make_pair(std::string("a"), uint64_t{6}));
  leases.Remove("a", 5);
  leases.Remove("a", 6);
  EXPECT_EQ(leases.AgeOf("a"), -1);
  EXPECT_EQ(leases.size(), 1u);
}

// A lease listed by All(), then released and taken again by the same writer, is live: removing
// the listed entry must leave it (the NameNode's sweep of stale leases relies on this).
TEST(LeaseManagerTest, RemoveIfUnchangedKeepsALeaseTakenAgain) {
  LeaseManager leases([] { return int64_t{0}; });
  leases.Add("w", 5);
  leases.Add("w", 6);
  auto listed = leases.All();
  ASSERT_EQ(listed.size(), 2u);
  leases.Remove("w", 5);
  leases.Add("w", 5);  // closed and opened again
  for (const auto& e : listed) leases.RemoveIfUnchanged(e);
  auto left = leases.All();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].client, "w");
  EXPECT_EQ(left[0].inode_id, 5u);
  leases.RemoveIfUnchanged(left[0]);
  EXPECT_EQ(leases.size(), 0u);
}

}  // namespace
}  // namespace cairn::namenode
