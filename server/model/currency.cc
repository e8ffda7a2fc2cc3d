#include "model/currency.h"

#include <algorithm>
#include <iterator>

namespace kessan {
namespace {

struct Currency {
  absl::string_view code;
  int minor_digits;
};

// Sorted by code. The currencies of the major listing venues; extend with
// care: a code outside this list is refused as unknown.
constexpr Currency kCurrencies[] = {
    {"AED", 2}, {"AUD", 2}, {"BRL", 2}, {"CAD", 2}, {"CHF", 2}, {"CLP", 0}, {"CNY", 2}, {"COP", 2},
    {"CZK", 2}, {"DKK", 2}, {"EUR", 2}, {"GBP", 2}, {"HKD", 2}, {"HUF", 2}, {"IDR", 2}, {"ILS", 2},
    {"INR", 2}, {"ISK", 0}, {"JPY", 0}, {"KRW", 0}, {"KWD", 3}, {"MXN", 2}, {"MYR", 2}, {"NOK", 2},
    {"NZD", 2}, {"PHP", 2}, {"PLN", 2}, {"QAR", 2}, {"RUB", 2}, {"SAR", 2}, {"SEK", 2}, {"SGD", 2},
    {"THB", 2}, {"TRY", 2}, {"TWD", 2}, {"UAH", 2}, {"USD", 2}, {"VND", 0}, {"ZAR", 2},
};

const Currency* Find(absl::string_view code) {
  auto end = std::end(kCurrencies);
  auto it = std::lower_bound(std::begin(kCurrencies), end, code,
                             [](const Currency& c, absl::string_view k) { return c.code < k; });
  return it != end && it->code == code ? &*it : nullptr;
}

}  // namespace

bool IsKnownCurrency(absl::string_view code) { return Find(code) != nullptr; }

int MinorUnitDigits(absl::string_view code) {
  const Currency* c = Find(code);
  return c ? c->minor_digits : 2;
}

}  // namespace kessan
