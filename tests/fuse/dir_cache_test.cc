// DirCache without FUSE: positive answers only, expiry, erasure and racing listings.
#include "fuse/dir_cache.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock.h"

namespace cairn::fuse {
namespace {

client::FileStatus Entry(const std::string& name, uint64_t ino) {
  client::FileStatus st;
  st.name = name;
  st.inode_id = ino;
  return st;
}

TEST(DirCacheTest, ServesListedEntriesOnly) {
  DirCache c(60000);
  EXPECT_FALSE(c.Lookup(1, "a"));
  const uint64_t token = c.BeginList(1);
  c.Put(1, {Entry("a", 10), Entry("b", 11)}, token, MonoMillis());
  ASSERT_TRUE(c.Lookup(1, "a"));
  EXPECT_EQ(c.Lookup(1, "a")->inode_id, 10u);
  EXPECT_FALSE(c.Lookup(1, "c"));  // not listed: the caller asks the NameNode
  EXPECT_FALSE(c.Lookup(2, "a"));
}

TEST(DirCacheTest, ChangesEraseAndRacingListingsAreDropped) {
  DirCache c(60000);
  uint64_t token = c.BeginList(1);
  c.Put(1, {Entry("a", 10), Entry("b", 11)}, token, MonoMillis());
  c.Erase(1, "a");
  EXPECT_FALSE(c.Lookup(1, "a"));
  EXPECT_TRUE(c.Lookup(1, "b"));
  // A listing that started before a change is not stored.
  token = c.BeginList(1);
  c.Erase(1, "b");
  c.Put(1, {Entry("a", 10), Entry("b", 11)}, token, MonoMillis());
  EXPECT_FALSE(c.Lookup(1, "b"));
  c.Drop(1);
  EXPECT_FALSE(c.Lookup(1, "a"));
}

TEST(DirCacheTest, ExpiresAfterTheTtl) {
  DirCache c(30);
  const uint64_t token = c.BeginList(1);
  const int64_t listed = MonoMillis();
  c.Put(1, {Entry("a", 10)}, token, listed);
  EXPECT_TRUE(c.Lookup(1, "a"));
  while (MonoMillis() - listed <= 30) std::this_thread::yield();  // the listing ages out
  EXPECT_FALSE(c.Lookup(1, "a"));
}

TEST(DirCacheTest, ListsOnTheThirdMissAndNotTooLargeDirectories) {
  DirCache c(60000, /*max_entries=*/2);
  EXPECT_FALSE(c.ShouldList(1));
  EXPECT_FALSE(c.ShouldList(1));
  EXPECT_TRUE(c.ShouldList(1));
  const uint64_t token = c.BeginList(1);
  c.Put(1, {Entry("a", 1), Entry("b", 2), Entry("c", 3)}, token, MonoMillis());
  EXPECT_FALSE(c.Lookup(1, "a"));  // over max_entries: not cached
  c.TooLarge(1);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(c.ShouldList(1));
}

TEST(DirCacheTest, DisabledWithZeroTtl) {
  DirCache c(0);
  EXPECT_FALSE(c.enabled());
  const uint64_t token = c.BeginList(1);
  c.Put(1, {Entry("a", 1)}, token, MonoMillis());
  EXPECT_FALSE(c.Lookup(1, "a"));
  EXPECT_FALSE(c.ShouldList(1));
}

// Lookups of names missing from a fresh listing (files being created) do not list the
// directory again; once the listing is older than the ttl, misses count again.
TEST(DirCacheTest, NoNewListingWhileOneIsFresh) {
  constexpr int64_t kTtl = 300;
  DirCache c(kTtl);
  const int64_t listed = MonoMillis();
  const uint64_t token = c.BeginList(1);
  c.Put(1, {Entry("a", 1)}, token, listed);
  ASSERT_TRUE(c.Lookup(1, "a"));
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(c.Lookup(1, absl::StrCat("new", i)));
    EXPECT_FALSE(c.ShouldList(1)) << "listed again while the listing is fresh";
  }
  while (MonoMillis() - listed <= kTtl) std::this_thread::yield();  // the listing ages out
  EXPECT_FALSE(c.Lookup(1, "a"));
  EXPECT_FALSE(c.ShouldList(1));
  EXPECT_FALSE(c.ShouldList(1));
  EXPECT_TRUE(c.ShouldList(1));
}

}  // namespace
}  // namespace cairn::fuse
