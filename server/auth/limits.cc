#include "auth/limits.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kessan::auth {

RateLimiter::RateLimiter(double per_second, double burst, Clock clock)
    : per_second_(per_second),
      burst_(burst > 0 ? burst : std::max(1.0, per_second)),
      clock_(std::move(clock)) {}

absl::Status RateLimiter::Take(const std::string& key, size_t items) {
  if (per_second_ <= 0) return absl::OkStatus();
  const double n = static_cast<double>(items);
  if (n > burst_) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("publish rate: a batch of %d items exceeds the burst of %.0f items (limit %.6g "
                        "items/s per principal)",
                        items, burst_, per_second_));
  }
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_();
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + absl::ToDoubleSeconds(now - b.updated) * per_second_);
  b.updated = now;
  if (b.tokens < n) {
    const double wait = (n - b.tokens) / per_second_;
    return absl::ResourceExhaustedError(absl::StrFormat(
        "publish rate: limit %.6g items/s per principal (burst %.0f) exceeded; retry in %.3f s", per_second_,
        burst_, wait));
  }
  b.tokens -= n;
  return absl::OkStatus();
}

absl::StatusOr<Lease> LeaseCounter::Acquire(const std::string& key) {
  {
    absl::MutexLock lock(&mu_);
    size_t& held = held_[key];
    if (max_ > 0 && held >= max_) {
      if (held == 0) held_.erase(key);
      return absl::ResourceExhaustedError(absl::StrCat(what_, ": at most ", max_));
    }
    ++held;
  }
  return Lease(static_cast<void*>(this), [this, key](void*) { Release(key); });
}

size_t LeaseCounter::count(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = held_.find(key);
  return it == held_.end() ? 0 : it->second;
}

void LeaseCounter::Release(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = held_.find(key);
  if (it != held_.end() && --it->second == 0) held_.erase(it);
}

}  // namespace kessan::auth
