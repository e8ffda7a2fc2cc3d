#include "kessan/backoff.h"

#include <algorithm>
#include <memory>
#include <random>
#include <utility>

namespace kessan {
namespace {

Backoff::Random DefaultRandom() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

}  // namespace

Backoff::Backoff(BackoffOptions options, Random random)
    : options_(std::move(options)), random_(random ? std::move(random) : DefaultRandom()) {}

absl::Duration Backoff::Ceiling(int n) const {
  absl::Duration ceiling = options_.initial;
  for (int i = 0; i < n && ceiling < options_.max; ++i) {
    ceiling = ceiling * options_.multiplier;
  }
  return std::min(ceiling, options_.max);
}

absl::Duration Backoff::NextDelay() {
  const absl::Duration ceiling = Ceiling(attempts_);
  ++attempts_;
  // Clamp: an injected random may return exactly 1.
  const double r = std::clamp(random_(), 0.0, 1.0);
  return absl::Nanoseconds(static_cast<int64_t>(r * static_cast<double>(absl::ToInt64Nanoseconds(ceiling))));
}

}  // namespace kessan
