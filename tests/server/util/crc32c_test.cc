// Tests of server/util/crc32c.cc: CRC32C against its published check values.
#include "util/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace kessan::crc32c {
namespace {

// RFC 3720 (iSCSI) B.4 and the CRC catalogue's check value.
TEST(Crc32cTest, StandardCheckValues) {
  for (auto extend : {&Extend, &ExtendPortable}) {
    auto value = [extend](const std::string& s) { return extend(0, s.data(), s.size()); };
    EXPECT_EQ(value("123456789"), 0xE3069283u);
    EXPECT_EQ(value(std::string(32, '\0')), 0x8A9136AAu);
    EXPECT_EQ(value(std::string(32, '\xff')), 0x62A8AB43u);
    std::string ascending, descending;
    for (int i = 0; i < 32; ++i) {
      ascending.push_back(static_cast<char>(i));
      descending.push_back(static_cast<char>(31 - i));
    }
    EXPECT_EQ(value(ascending), 0x46DD794Eu);
    EXPECT_EQ(value(descending), 0x113FDB5Cu);
    EXPECT_EQ(value(""), 0u);
  }
  EXPECT_EQ(Value("123456789"), 0xE3069283u);
}

// Any split of the bytes extends to the same value, on either path, at any
// alignment.
TEST(Crc32cTest, ExtendingInPiecesGivesTheWholeValue) {
  std::mt19937 rng(3720);
  std::string bytes(1000, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  for (size_t offset = 0; offset < 8; ++offset) {
    const std::string_view data = std::string_view(bytes).substr(offset);
    const uint32_t whole = ExtendPortable(0, data.data(), data.size());
    EXPECT_EQ(Extend(0, data.data(), data.size()), whole);
    for (size_t split : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{500}}) {
      EXPECT_EQ(Extend(Extend(0, data.data(), split), data.data() + split, data.size() - split), whole);
      EXPECT_EQ(
          ExtendPortable(ExtendPortable(0, data.data(), split), data.data() + split, data.size() - split),
          whole);
    }
  }
}

}  // namespace
}  // namespace kessan::crc32c
