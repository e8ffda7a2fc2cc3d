#include "kessan/backoff.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace kessan {
namespace {

TEST(BackoffTest, CeilingDoublesFromTheBaseUpToTheCap) {
  Backoff backoff(BackoffOptions{});
  std::vector<absl::Duration> ceilings;
  for (int n = 0; n < 9; ++n) ceilings.push_back(backoff.Ceiling(n));
  EXPECT_EQ(ceilings, (std::vector<absl::Duration>{absl::Milliseconds(100), absl::Milliseconds(200),
                                                   absl::Milliseconds(400), absl::Milliseconds(800),
                                                   absl::Milliseconds(1600), absl::Milliseconds(3200),
                                                   absl::Seconds(5), absl::Seconds(5), absl::Seconds(5)}));
  EXPECT_EQ(backoff.Ceiling(1000), absl::Seconds(5));  // No overflow.
}

TEST(BackoffTest, FullJitterScalesTheCeilingByTheRandomDraw) {
  std::vector<double> draws = {0.0, 0.5, 0.25, 1.0, 0.999};
  size_t next = 0;
  Backoff backoff(BackoffOptions{}, [&] { return draws[next++]; });
  EXPECT_EQ(backoff.NextDelay(), absl::ZeroDuration());     // [0, 100ms]
  EXPECT_EQ(backoff.NextDelay(), absl::Milliseconds(100));  // [0, 200ms]
  EXPECT_EQ(backoff.NextDelay(), absl::Milliseconds(100));  // [0, 400ms]
  EXPECT_EQ(backoff.NextDelay(), absl::Milliseconds(800));  // [0, 800ms]
  EXPECT_LE(backoff.NextDelay(), absl::Milliseconds(1600));
  EXPECT_EQ(backoff.attempts(), 5);
}

TEST(BackoffTest, OutOfRangeDrawsAreClamped) {
  std::vector<double> draws = {-3.0, 7.0};
  size_t next = 0;
  Backoff backoff(BackoffOptions{}, [&] { return draws[next++]; });
  EXPECT_EQ(backoff.NextDelay(), absl::ZeroDuration());
  EXPECT_EQ(backoff.NextDelay(), absl::Milliseconds(200));
}

TEST(BackoffTest, ConfigurableBaseAndCap) {
  Backoff backoff(
      BackoffOptions{.initial = absl::Milliseconds(10), .max = absl::Milliseconds(50), .multiplier = 3.0},
      [] { return 1.0; });
  EXPECT_EQ(backoff.NextDelay(), absl::Milliseconds(10));
  EXPECT_EQ(backoff.NextDelay(), absl::Milliseconds(30));
  EXPECT_EQ(backoff.NextDelay(), absl::Milliseconds(50));
}

TEST(BackoffTest, ExhaustedAfterMaxAttemptsUntilReset) {
  Backoff backoff(BackoffOptions{.max_attempts = 3}, [] { return 1.0; });
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(backoff.Exhausted());
    backoff.NextDelay();
  }
  EXPECT_TRUE(backoff.Exhausted());
  backoff.Reset();
  EXPECT_FALSE(backoff.Exhausted());
  EXPECT_EQ(backoff.NextDelay(), absl::Milliseconds(100));  // From the base.
}

TEST(BackoffTest, ZeroMaxAttemptsNeverExhausts) {
  Backoff backoff(BackoffOptions{.max_attempts = 0}, [] { return 0.0; });
  for (int i = 0; i < 1000; ++i) backoff.NextDelay();
  EXPECT_FALSE(backoff.Exhausted());
}

TEST(BackoffTest, DefaultRandomStaysWithinTheCeilingAndVaries) {
  Backoff backoff(BackoffOptions{.max_attempts = 0});
  std::set<absl::Duration> seen;
  for (int i = 0; i < 50; ++i) {
    const absl::Duration ceiling = backoff.Ceiling(backoff.attempts());
    const absl::Duration delay = backoff.NextDelay();
    EXPECT_GE(delay, absl::ZeroDuration());
    EXPECT_LE(delay, ceiling);
    seen.insert(delay);
  }
  EXPECT_GT(seen.size(), 40u);  // Jittered, not a fixed schedule.
}

}  // namespace
}  // namespace kessan
