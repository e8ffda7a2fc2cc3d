// Counter and Histogram: lock-free instruments for the serving path.
//
// A layer records into an instrument it holds by reference (made once by a
// metrics::Registry); recording is a few relaxed atomic operations, with no
// lock, no allocation and no lookup. The registry reads them when scraped.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace kessan::metrics {

// Counter counts up. Thread-safe.
class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Histogram counts observations by bucket (upper bounds, ascending; +Inf is
// implicit) and sums them. Thread-safe; Observe is lock-free.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);

  void Observe(double value);

  struct Reading {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
  };
  // A reading consistent bucket by bucket: the count is the +Inf bucket.
  Reading Read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  const std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // not cumulative
  std::atomic<double> sum_{0};
};

// Bucket bounds: `count` bounds from `start`, each `factor` times the last.
std::vector<double> ExponentialBounds(double start, double factor, int count);

}  // namespace kessan::metrics
