// Limits of what one caller may use: a publish rate per principal (token
// bucket) and bounded counts of things held at once (subscriptions per
// connection, concurrent scenario runs). A breach is RESOURCE_EXHAUSTED
// naming the limit; nothing else is affected. Pure logic, no gRPC.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kessan::auth {

// RateLimiter: one token bucket per key (principal). Thread-safe.
class RateLimiter {
 public:
  using Clock = std::function<absl::Time()>;
  // `per_second` items refill each key's bucket, which holds at most
  // `burst` (0: one second's worth, at least 1). per_second 0: no limit.
  RateLimiter(double per_second, double burst, Clock clock = &absl::Now);

  // Takes `items` from `key`'s bucket, or refuses with RESOURCE_EXHAUSTED
  // (taking nothing) when the bucket holds fewer.
  absl::Status Take(const std::string& key, size_t items);

 private:
  struct Bucket {
    double tokens;
    absl::Time updated;
  };
  const double per_second_;
  const double burst_;
  const Clock clock_;
  absl::Mutex mu_;
  std::map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

// Lease: holds one unit of a LeaseCounter until destroyed.
using Lease = std::shared_ptr<void>;

// LeaseCounter: at most `max` leases per key at once. Thread-safe; must
// outlive its leases. max 0: no limit.
class LeaseCounter {
 public:
  // `what` names the limit in errors ("subscriptions per connection").
  LeaseCounter(std::string what, size_t max) : what_(std::move(what)), max_(max) {}

  absl::StatusOr<Lease> Acquire(const std::string& key);
  size_t count(const std::string& key) const;

 private:
  void Release(const std::string& key);

  const std::string what_;
  const size_t max_;
  mutable absl::Mutex mu_;
  std::map<std::string, size_t> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kessan::auth
