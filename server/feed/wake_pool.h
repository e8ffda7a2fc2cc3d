// WakePool: wakes a fan-out's subscriptions from several threads at once.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "feed/subscription.h"

namespace kessan {

// A wake starts the stream's write, which gRPC sends inline: woken one after
// another, the last of 256 subscribers waits for 255 sendmsg calls. The
// pool's threads share a list, each taking the next subscription in turn.
class WakePool {
 public:
  // `helpers` threads besides the callers; 0 wakes inline.
  explicit WakePool(int helpers);
  ~WakePool();
  WakePool(const WakePool&) = delete;
  WakePool& operator=(const WakePool&) = delete;

  // Wakes them, with the helpers' help when `share`; returns once all are
  // woken.
  void WakeAll(const std::vector<std::shared_ptr<Subscription>>& subscriptions, bool share = true);

 private:
  struct Job {
    const std::vector<std::shared_ptr<Subscription>>* subscriptions;
    std::atomic<size_t> next{0};
    int helping = 0;  // guarded by the pool's mu_
  };
  static void Drain(Job& job);
  void Help();

  absl::Mutex mu_;
  std::deque<Job*> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace kessan
