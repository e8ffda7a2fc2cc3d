// kessan/backoff.h: exponential backoff with full jitter, for retries and
// reconnects.

#pragma once

#include <cstdint>
#include <functional>

#include "absl/time/time.h"

namespace kessan {

// BackoffOptions
//
// The schedule of a Backoff: the n-th delay (n = 0, 1, ...) is drawn
// uniformly from [0, min(max, initial * multiplier^n)] ("full jitter", so
// that many clients cut off at once do not come back at once).
struct BackoffOptions {
  absl::Duration initial = absl::Milliseconds(100);
  absl::Duration max = absl::Seconds(5);
  double multiplier = 2.0;
  // Attempts allowed without progress before giving up; 0: no limit.
  int max_attempts = 20;
};

// Backoff
//
// Hands out the delays of BackoffOptions one by one. `random` returns a
// number uniformly distributed in [0, 1); tests inject their own. Not
// thread-safe: one Backoff belongs to one retry loop.
//
// Example:
//
//   kessan::Backoff backoff(kessan::BackoffOptions{});
//   while (!TryOnce().ok() && !backoff.Exhausted()) {
//     absl::SleepFor(backoff.NextDelay());
//   }
class Backoff {
 public:
  using Random = std::function<double()>;

  // A null `random` uses a generator seeded from std::random_device.
  explicit Backoff(BackoffOptions options, Random random = nullptr);

  // The delay before the next attempt; counts one attempt.
  absl::Duration NextDelay();
  // The upper bound of the delay of attempt `n` (0-based).
  absl::Duration Ceiling(int n) const;
  // Forgets the attempts: the next delay is drawn from [0, initial] again.
  void Reset() { attempts_ = 0; }
  // Attempts counted since the last Reset().
  int attempts() const { return attempts_; }
  // True once max_attempts delays were handed out since the last Reset().
  bool Exhausted() const { return options_.max_attempts > 0 && attempts_ >= options_.max_attempts; }
  const BackoffOptions& options() const { return options_; }

 private:
  BackoffOptions options_;
  Random random_;
  int attempts_ = 0;
};

}  // namespace kessan
