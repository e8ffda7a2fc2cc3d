// Tests of server/auth/limits.cc: the publish rate limiter and lease counters.
#include "auth/limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kessan::auth {
namespace {

using ::testing::HasSubstr;

TEST(RateLimiterTest, TokenBucketPerKey) {
  absl::Time now = absl::UnixEpoch();
  RateLimiter limiter(10, 20, [&] { return now; });
  EXPECT_TRUE(limiter.Take("a", 20).ok());
  absl::Status s = limiter.Take("a", 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("publish rate: limit 10 items/s per principal (burst 20) exceeded"));
  EXPECT_TRUE(limiter.Take("b", 5).ok());  // others are not affected
  now += absl::Milliseconds(500);
  EXPECT_TRUE(limiter.Take("a", 5).ok());
  EXPECT_FALSE(limiter.Take("a", 1).ok());
  s = limiter.Take("a", 21);
  EXPECT_THAT(s.message(), HasSubstr("a batch of 21 items exceeds the burst of 20 items"));
  RateLimiter unlimited(0, 0);
  EXPECT_TRUE(unlimited.Take("a", 1000000).ok());
}

TEST(LeaseCounterTest, BoundsLeasesPerKey) {
  LeaseCounter counter("subscriptions per connection", 2);
  absl::StatusOr<Lease> a = counter.Acquire("c1");
  absl::StatusOr<Lease> b = counter.Acquire("c1");
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<Lease> c = counter.Acquire("c1");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(c.status().message(), "subscriptions per connection: at most 2");
  EXPECT_TRUE(counter.Acquire("c2").ok());
  a->reset();
  EXPECT_EQ(counter.count("c1"), 1u);
  EXPECT_TRUE(counter.Acquire("c1").ok());
}

}  // namespace
}  // namespace kessan::auth
