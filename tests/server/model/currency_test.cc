// Tests of server/model/currency.cc: the ISO 4217 codes the feed accepts.
#include "model/currency.h"

#include <gtest/gtest.h>

#include <string>

namespace kessan {
namespace {

TEST(CurrencyTest, KnownCodes) {
  EXPECT_TRUE(IsKnownCurrency("JPY"));
  EXPECT_TRUE(IsKnownCurrency("USD"));
  EXPECT_TRUE(IsKnownCurrency("EUR"));
}

TEST(CurrencyTest, UnknownCodes) {
  for (const char* code : {"XYZ", "jpy", "Jpy", "", "JP", "JPYY", "AAA", "ZZZ", "YEN"}) {
    EXPECT_FALSE(IsKnownCurrency(code)) << "'" << code << "'";
  }
}

TEST(CurrencyTest, MinorUnitDigits) {
  EXPECT_EQ(MinorUnitDigits("JPY"), 0);
  EXPECT_EQ(MinorUnitDigits("USD"), 2);
  EXPECT_EQ(MinorUnitDigits("EUR"), 2);
  EXPECT_EQ(MinorUnitDigits("KRW"), 0);
  EXPECT_EQ(MinorUnitDigits("KWD"), 3);
}

// Lookups are a binary search: every code of the table is found only if the
// table is sorted. The list and minor units copy server/model/currency.cc
// (ISO 4217).
TEST(CurrencyTest, EveryListedCodeIsFoundWithItsMinorUnit) {
  const std::pair<const char*, int> kListed[] = {
      {"AED", 2}, {"AUD", 2}, {"BRL", 2}, {"CAD", 2}, {"CHF", 2}, {"CLP", 0}, {"CNY", 2}, {"COP", 2},
      {"CZK", 2}, {"DKK", 2}, {"EUR", 2}, {"GBP", 2}, {"HKD", 2}, {"HUF", 2}, {"IDR", 2}, {"ILS", 2},
      {"INR", 2}, {"ISK", 0}, {"JPY", 0}, {"KRW", 0}, {"KWD", 3}, {"MXN", 2}, {"MYR", 2}, {"NOK", 2},
      {"NZD", 2}, {"PHP", 2}, {"PLN", 2}, {"QAR", 2}, {"RUB", 2}, {"SAR", 2}, {"SEK", 2}, {"SGD", 2},
      {"THB", 2}, {"TRY", 2}, {"TWD", 2}, {"UAH", 2}, {"USD", 2}, {"VND", 0}, {"ZAR", 2},
  };
  for (const auto& [code, digits] : kListed) {
    EXPECT_TRUE(IsKnownCurrency(code)) << code;
    EXPECT_EQ(MinorUnitDigits(code), digits) << code;
  }
}

}  // namespace
}  // namespace kessan
