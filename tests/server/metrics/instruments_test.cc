#include "metrics/instruments.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace kessan::metrics {
namespace {

TEST(HistogramTest, CountsEachObservationInTheFirstBucketItFits) {
  Histogram h({1, 5, 10});
  for (double v : {0.5, 1.0, 1.5, 5.0, 7.0, 10.0, 11.0, 1000.0}) h.Observe(v);
  const Histogram::Reading r = h.Read();
  // le=1: 0.5, 1.0; le=5: +1.5, 5.0; le=10: +7, 10; +Inf: +11, 1000.
  EXPECT_EQ(r.cumulative, (std::vector<uint64_t>{2, 4, 6, 8}));
  EXPECT_DOUBLE_EQ(r.sum, 0.5 + 1 + 1.5 + 5 + 7 + 10 + 11 + 1000);
}

TEST(HistogramTest, ObservationsFromManyThreadsAreAllCounted) {
  Histogram h({1, 2});
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        h.Observe(i % 3);
        c.Increment();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const Histogram::Reading r = h.Read();
  EXPECT_EQ(r.cumulative.back(), 40000u);
  EXPECT_EQ(c.value(), 40000u);
  // 0, 1, 2 in turn: 3334 zeros, 3333 ones and twos per thread.
  EXPECT_DOUBLE_EQ(r.sum, 4 * (3333 * 1 + 3333 * 2));
  EXPECT_EQ(r.cumulative[0], 4u * (3334 + 3333));
}

TEST(ExponentialBoundsTest, MultipliesEachBound) {
  EXPECT_EQ(ExponentialBounds(0.5, 2, 4), (std::vector<double>{0.5, 1, 2, 4}));
}

}  // namespace
}  // namespace kessan::metrics
