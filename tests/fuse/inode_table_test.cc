// InodeTable without FUSE: paths, lookup counts, forget, renames and removals.
#include "fuse/inode_table.h"

#include <gtest/gtest.h>

#include "common/errno_map.h"

namespace cairn::fuse {
namespace {

client::FileStatus Dir(uint64_t ino) {
  client::FileStatus st;
  st.inode_id = ino;
  st.type = client::FileType::kDirectory;
  return st;
}

client::FileStatus File(uint64_t ino, uint64_t length = 0) {
  client::FileStatus st;
  st.inode_id = ino;
  st.length = length;
  return st;
}

TEST(InodeTableTest, RootAndPaths) {
  InodeTable t;
  EXPECT_EQ(*t.Path(InodeTable::kRootIno), "/");
  EXPECT_EQ(*t.ChildPath(InodeTable::kRootIno, "a"), "/a");
  t.Remember(10, 1, "a", Dir(10));
  t.Remember(11, 10, "b", Dir(11));
  t.Remember(12, 11, "c.txt", File(12, 5));
  EXPECT_EQ(*t.Path(12), "/a/b/c.txt");
  EXPECT_EQ(*t.ChildPath(11, "d"), "/a/b/d");
  EXPECT_EQ(t.Find(11, "c.txt"), 12u);
  EXPECT_EQ(t.Find(11, "nope"), 0u);
  EXPECT_EQ(t.LastStatus(12)->length, 5u);
  EXPECT_EQ(ToErrno(t.Path(99).status()), ENOENT);
}

TEST(InodeTableTest, LookupCountsAndForget) {
  InodeTable t;
  t.Remember(10, 1, "a", File(10));
  t.Remember(10, 1, "a", File(10));
  t.Remember(10, 1, "a", File(10));
  EXPECT_EQ(t.nlookup(10), 3u);
  t.Forget(10, 2);
  EXPECT_EQ(t.nlookup(10), 1u);
  EXPECT_TRUE(t.Path(10).ok());
  t.Forget(10, 1);
  EXPECT_EQ(t.nlookup(10), 0u);
  EXPECT_FALSE(t.Path(10).ok());
  EXPECT_EQ(t.Find(1, "a"), 0u);
  t.Forget(1, 100);  // the root is never forgotten
  EXPECT_EQ(*t.Path(1), "/");
  EXPECT_EQ(t.size(), 1u);
}

TEST(InodeTableTest, RenameMovesSubtreeAndDetachesTarget) {
  InodeTable t;
  t.Remember(10, 1, "dir", Dir(10));
  t.Remember(11, 10, "f", File(11));
  t.Remember(20, 1, "other", Dir(20));
  t.Remember(21, 20, "g", File(21));
  EXPECT_EQ(t.Renamed(1, "dir", 20, "g"), 21u);  // replaces other/g
  EXPECT_EQ(*t.Path(11), "/other/g/f");
  EXPECT_EQ(t.Find(20, "g"), 10u);
  EXPECT_EQ(t.Find(1, "dir"), 0u);
  auto stale = t.Path(21);
  EXPECT_EQ(ToErrno(stale.status()), ESTALE);
  // The detached inode is still known until the kernel forgets it.
  EXPECT_TRUE(t.LastStatus(21).has_value());
  t.Forget(21, 1);
  EXPECT_FALSE(t.LastStatus(21).has_value());
  // Forgetting the detached inode did not disturb the new owner of the name.
  EXPECT_EQ(t.Find(20, "g"), 10u);
}

TEST(InodeTableTest, RemovedAndReplacedByAnotherClient) {
  InodeTable t;
  t.Remember(10, 1, "f", File(10));
  EXPECT_EQ(t.Removed(1, "f"), 10u);
  EXPECT_EQ(ToErrno(t.Path(10).status()), ESTALE);
  EXPECT_EQ(t.Removed(1, "f"), 0u);
  // Another client replaced /g: a lookup finds a new inode under the old name.
  t.Remember(30, 1, "g", File(30));
  t.Remember(31, 1, "g", File(31));
  EXPECT_EQ(*t.Path(31), "/g");
  EXPECT_EQ(ToErrno(t.Path(30).status()), ESTALE);
  // A lookup under a new name (renamed by another client) moves the inode.
  t.Remember(31, 1, "h", File(31));
  EXPECT_EQ(*t.Path(31), "/h");
  EXPECT_EQ(t.Find(1, "g"), 0u);
  EXPECT_EQ(t.nlookup(31), 2u);
}

TEST(InodeTableTest, DetachedParentMakesChildrenStale) {
  InodeTable t;
  t.Remember(10, 1, "d", Dir(10));
  t.Remember(11, 10, "f", File(11));
  t.Removed(1, "d");
  EXPECT_EQ(ToErrno(t.Path(11).status()), ESTALE);
  EXPECT_EQ(ToErrno(t.ChildPath(10, "x").status()), ESTALE);
}

}  // namespace
}  // namespace cairn::fuse
