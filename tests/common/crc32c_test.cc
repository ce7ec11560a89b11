#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace cairn {
namespace {

TEST(Crc32cTest, KnownValue) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32c("", 0), 0u);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  std::string data(10000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 3);
  uint32_t whole = Crc32c(data.data(), data.size());
  uint32_t part = Crc32c(data.data(), 4321);
  EXPECT_EQ(Crc32cExtend(part, data.data() + 4321, data.size() - 4321), whole);
  data[5000] ^= 1;
  EXPECT_NE(Crc32c(data.data(), data.size()), whole);
}

}  // namespace
}  // namespace cairn
