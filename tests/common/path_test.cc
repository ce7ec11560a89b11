#include "common/path.h"

#include <gtest/gtest.h>

namespace cairn {
namespace {

TEST(PathTest, SplitsValidPaths) {
  auto root = SplitPath("/");
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(root->empty());
  auto p = SplitPath("/a/bc/d/");
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[0], "a");
  EXPECT_EQ((*p)[1], "bc");
  EXPECT_EQ((*p)[2], "d");
}

TEST(PathTest, RejectsInvalidPathsNamingThem) {
  for (std::string bad : {std::string(""), std::string("a/b"), std::string("/a//b"),
                          std::string("/a/./b"), std::string("/a/.."), std::string("/a\0b", 4),
                          "/" + std::string(256, 'x'), "/" + std::string(4096, 'y')}) {
    auto s = SplitPath(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.status().message().find("invalid path"), absl::string_view::npos);
  }
  EXPECT_TRUE(SplitPath("/" + std::string(255, 'x')).ok());
  EXPECT_FALSE(SplitPath(std::string(4097, '/')).ok());
}

TEST(PathTest, ParentAndBase) {
  EXPECT_EQ(ParentPath("/a/b"), "/a");
  EXPECT_EQ(ParentPath("/a"), "/");
  EXPECT_EQ(ParentPath("/"), "/");
  EXPECT_EQ(BaseName("/a/b"), "b");
  EXPECT_EQ(BaseName("/"), "");
  EXPECT_EQ(JoinPath("/", "x"), "/x");
  EXPECT_EQ(JoinPath("/a", "x"), "/a/x");
}

}  // namespace
}  // namespace cairn
