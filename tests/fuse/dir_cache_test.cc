// DirCache without FUSE: present / absent / unknown answers, expiry, changes through the
// mount, racing listings and directories created through the mount.
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

using Kind = DirCache::Answer::Kind;

TEST(DirCacheTest, AnswersPresentAndAbsentFromAFreshListing) {
  DirCache c(60000);
  EXPECT_EQ(c.Lookup(1, "a").kind, Kind::kUnknown);
  const uint64_t token = c.BeginList(1);
  c.Put(1, {Entry("a", 10), Entry("b", 11)}, token, MonoMillis());
  ASSERT_TRUE(c.Lookup(1, "a").present());
  EXPECT_EQ(c.Lookup(1, "a").status.inode_id, 10u);
  EXPECT_TRUE(c.Lookup(1, "c").absent());  // not in the listing: does not exist
  EXPECT_EQ(c.Lookup(2, "a").kind, Kind::kUnknown);  // no listing of directory 2
}

TEST(DirCacheTest, NamesChangedThroughTheMountAreUnknownAndRacingListingsDropped) {
  DirCache c(60000);
  uint64_t token = c.BeginList(1);
  c.Put(1, {Entry("a", 10), Entry("b", 11)}, token, MonoMillis());
  c.Erase(1, "a");  // removed or rewritten through the mount
  c.Erase(1, "n");  // created through the mount
  EXPECT_EQ(c.Lookup(1, "a").kind, Kind::kUnknown);
  EXPECT_EQ(c.Lookup(1, "n").kind, Kind::kUnknown) << "a name created here must be asked for";
  EXPECT_TRUE(c.Lookup(1, "b").present());
  EXPECT_TRUE(c.Lookup(1, "z").absent());
  // A listing that started before a change is not stored.
  token = c.BeginList(1);
  c.Erase(1, "b");
  c.Put(1, {Entry("a", 10), Entry("b", 11)}, token, MonoMillis());
  EXPECT_EQ(c.Lookup(1, "b").kind, Kind::kUnknown);
  // A new listing answers for the changed names again.
  token = c.BeginList(1);
  c.Put(1, {Entry("b", 11), Entry("n", 12)}, token, MonoMillis());
  EXPECT_TRUE(c.Lookup(1, "a").absent());
  EXPECT_TRUE(c.Lookup(1, "n").present());
  c.Drop(1);
  EXPECT_EQ(c.Lookup(1, "b").kind, Kind::kUnknown);
  EXPECT_EQ(c.Lookup(1, "z").kind, Kind::kUnknown);
}

TEST(DirCacheTest, TooManyChangesForgetTheListing) {
  DirCache c(60000, /*max_entries=*/3);
  const uint64_t token = c.BeginList(1);
  c.Put(1, {Entry("a", 10)}, token, MonoMillis());
  for (int i = 0; i < 3; ++i) c.Erase(1, absl::StrCat("new", i));
  EXPECT_TRUE(c.Lookup(1, "other").absent());
  c.Erase(1, "new3");
  EXPECT_EQ(c.Lookup(1, "other").kind, Kind::kUnknown);
  EXPECT_EQ(c.Lookup(1, "a").kind, Kind::kUnknown);
}

TEST(DirCacheTest, ADirectoryCreatedThroughTheMountStartsEmpty) {
  constexpr int64_t kTtl = 300;
  DirCache c(kTtl);
  const int64_t started = MonoMillis();
  c.PutNew(7, c.BeginNew(), started);
  EXPECT_TRUE(c.Lookup(7, "x").absent());
  c.Erase(7, "x");
  EXPECT_EQ(c.Lookup(7, "x").kind, Kind::kUnknown);
  EXPECT_TRUE(c.Lookup(7, "y").absent());
  // A change in the directory recorded before PutNew (a create that raced with the mkdir's
  // reply): no guess.
  const uint64_t token8 = c.BeginNew();
  c.Erase(8, "early");
  c.PutNew(8, token8, MonoMillis());
  EXPECT_EQ(c.Lookup(8, "early").kind, Kind::kUnknown);
  EXPECT_EQ(c.Lookup(8, "other").kind, Kind::kUnknown);
  // Records forgotten (too many directories) after BeginNew: no guess either.
  {
    DirCache small(60000, 4096, /*max_dirs=*/2);
    const uint64_t token = small.BeginNew();
    small.Erase(20, "x");   // recorded...
    small.Erase(21, "y");
    small.Erase(22, "z");   // ...and forgotten to make room
    small.PutNew(20, token, MonoMillis());
    EXPECT_EQ(small.Lookup(20, "x").kind, Kind::kUnknown);
    small.PutNew(23, small.BeginNew(), MonoMillis());
    EXPECT_TRUE(small.Lookup(23, "x").absent());
  }
  // The empty listing ages out like any other, counted from when the mkdir was sent.
  while (MonoMillis() - started <= kTtl) std::this_thread::yield();
  EXPECT_EQ(c.Lookup(7, "y").kind, Kind::kUnknown);
}

TEST(DirCacheTest, ExpiresAfterTheTtl) {
  DirCache c(30);
  const uint64_t token = c.BeginList(1);
  const int64_t listed = MonoMillis();
  c.Put(1, {Entry("a", 10)}, token, listed);
  EXPECT_TRUE(c.Lookup(1, "a").present());
  EXPECT_TRUE(c.Lookup(1, "b").absent());
  while (MonoMillis() - listed <= 30) std::this_thread::yield();  // the listing ages out
  EXPECT_EQ(c.Lookup(1, "a").kind, Kind::kUnknown);
  EXPECT_EQ(c.Lookup(1, "b").kind, Kind::kUnknown);
}

TEST(DirCacheTest, ListsOnTheThirdMissAndNotTooLargeDirectories) {
  DirCache c(60000, /*max_entries=*/2);
  EXPECT_FALSE(c.ShouldList(1));
  EXPECT_FALSE(c.ShouldList(1));
  EXPECT_TRUE(c.ShouldList(1));
  const uint64_t token = c.BeginList(1);
  c.Put(1, {Entry("a", 1), Entry("b", 2), Entry("c", 3)}, token, MonoMillis());
  EXPECT_EQ(c.Lookup(1, "a").kind, Kind::kUnknown);  // over max_entries: not cached
  c.TooLarge(1);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(c.ShouldList(1));
}

TEST(DirCacheTest, DisabledWithZeroTtl) {
  DirCache c(0);
  EXPECT_FALSE(c.enabled());
  const uint64_t token = c.BeginList(1);
  c.Put(1, {Entry("a", 1)}, token, MonoMillis());
  c.PutNew(2, c.BeginNew(), MonoMillis());
  EXPECT_EQ(c.Lookup(1, "a").kind, Kind::kUnknown);
  EXPECT_EQ(c.Lookup(2, "a").kind, Kind::kUnknown);
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
  ASSERT_TRUE(c.Lookup(1, "a").present());
  for (int i = 0; i < 10; ++i) {
    c.Erase(1, absl::StrCat("new", i));  // created through the mount: unknown to the listing
    EXPECT_EQ(c.Lookup(1, absl::StrCat("new", i)).kind, Kind::kUnknown);
    EXPECT_FALSE(c.ShouldList(1)) << "listed again while the listing is fresh";
  }
  while (MonoMillis() - listed <= kTtl) std::this_thread::yield();  // the listing ages out
  EXPECT_EQ(c.Lookup(1, "a").kind, Kind::kUnknown);
  EXPECT_FALSE(c.ShouldList(1));
  EXPECT_FALSE(c.ShouldList(1));
  EXPECT_TRUE(c.ShouldList(1));
}

}  // namespace
}  // namespace cairn::fuse
