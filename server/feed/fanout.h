// FanOut: delivers each new event to the subscriptions whose filter matches.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "feed/subscription.h"

namespace kessan {

// FanOut holds the live subscriptions. Deliver shares each event's encoded
// bytes with every matching subscription (no copy), then wakes the
// subscriptions that were idle, outside its lock. Thread-safe.
class FanOut {
 public:
  enum class Wakes {
    kInline,  // Deliver wakes the subscriptions before it returns
    // A thread of the FanOut's own wakes them, so the publisher's commit
    // does not wait for the streams' first writes (each may be a syscall).
    kOwnThread,
  };
  explicit FanOut(Wakes wakes = Wakes::kInline);
  ~FanOut();
  FanOut(const FanOut&) = delete;
  FanOut& operator=(const FanOut&) = delete;

  void Add(std::shared_ptr<Subscription> subscription);
  void Remove(const Subscription* subscription);
  // Events must come in sequence order.
  void Deliver(const std::vector<EventPtr>& events);
  // Gives each idle subscription its heartbeat when due.
  void Tick(absl::Time now, uint64_t last_sequence);
  // Closes every subscription with `status` and forgets them.
  void CloseAll(const absl::Status& status);
  size_t size() const;

 private:
  void WakeAll(std::vector<std::shared_ptr<Subscription>> to_wake);
  void WakeLoop();

  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Subscription>> subscriptions_ ABSL_GUARDED_BY(mu_);

  absl::Mutex wake_mu_;
  std::vector<std::shared_ptr<Subscription>> to_wake_ ABSL_GUARDED_BY(wake_mu_);
  bool stopping_ ABSL_GUARDED_BY(wake_mu_) = false;
  std::thread waker_;
};

}  // namespace kessan
