// Tests of server/event/bytes.cc: shared, immutable byte ranges.
#include "event/bytes.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace kessan {
namespace {

TEST(BytesTest, CopyOfHoldsTheBytes) {
  const std::string s("frame\0bytes", 11);
  Bytes b = Bytes::CopyOf(s);
  EXPECT_EQ(b.size(), 11u);
  EXPECT_EQ(b.view(), s);
  EXPECT_NE(b.data(), s.data());
  EXPECT_TRUE(Bytes::CopyOf("").empty());
  EXPECT_TRUE(Bytes().empty());
}

TEST(BytesTest, SubSharesTheBufferAndOutlivesTheWhole) {
  char* at;
  Bytes whole = Bytes::Allocate(8, &at);
  std::memcpy(at, "abcdefgh", 8);
  Bytes middle = whole.Sub(2, 5);
  EXPECT_EQ(middle.view(), "cde");
  EXPECT_EQ(middle.data(), whole.data() + 2);
  EXPECT_TRUE(middle.SharesBufferWith(whole));
  EXPECT_FALSE(middle.SharesBufferWith(Bytes::CopyOf("abcdefgh")));
  whole = Bytes();
  EXPECT_EQ(middle.view(), "cde");  // the buffer lives while a range does
  EXPECT_EQ(middle.Sub(1, 1).size(), 0u);
}

}  // namespace
}  // namespace kessan
