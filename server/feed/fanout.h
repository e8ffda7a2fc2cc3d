// FanOut: delivers each new event to the subscriptions whose filter matches.
#pragma once

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "feed/subscription.h"
#include "metrics/feed_metrics.h"

namespace kessan {

// FanOut holds the live subscriptions. Deliver shares each event's encoded
// bytes with every matching subscription (no copy), then wakes the
// subscriptions that were idle, outside its lock. Thread-safe.
class FanOut {
 public:
  void Add(std::shared_ptr<Subscription> subscription);
  void Remove(const Subscription* subscription);
  // Events must come in sequence order.
  void Deliver(const std::vector<EventPtr>& events);
  // Deliver without the wakes: returns the subscriptions the caller must
  // Wake, so it can do so after it has released its own locks and work.
  [[nodiscard]] std::vector<std::shared_ptr<Subscription>> Push(const std::vector<EventPtr>& events);
  // Gives each idle subscription its heartbeat when due.
  void Tick(absl::Time now, uint64_t last_sequence);
  // Closes every subscription with `status` and forgets them.
  void CloseAll(const absl::Status& status);
  size_t size() const;
  // Each subscription's id, queue depth and progress.
  std::vector<metrics::SubscriptionStat> Stats() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Subscription>> subscriptions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kessan
