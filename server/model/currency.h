// ISO 4217 currencies the feed accepts.
#pragma once

#include "absl/strings/string_view.h"

namespace kessan {

// True for an active ISO 4217 code in the feed's list ("JPY", "USD", ...).
bool IsKnownCurrency(absl::string_view code);

// Digits of the currency's minor unit: 0 for JPY, 2 for USD.
int MinorUnitDigits(absl::string_view code);

}  // namespace kessan
