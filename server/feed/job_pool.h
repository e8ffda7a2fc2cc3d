// JobPool: a few threads that run jobs posted to them.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace kessan {

// JobPool runs work that must not block the thread that asks for it: the
// feed's journal reads for subscriptions (a past view's snapshot, a
// resume's backlog), so neither a transport's callback thread nor the
// feed's mutex waits for the journal; scenario watches' runs. Jobs start in
// the order posted, one per thread at a time. Thread-safe. The destructor waits for
// the jobs running and drops those not started: a job must hold nothing
// that needs it to run (a subscription's read holds a weak reference).
class JobPool {
 public:
  explicit JobPool(int threads);
  ~JobPool();
  JobPool(const JobPool&) = delete;
  JobPool& operator=(const JobPool&) = delete;

  void Post(std::function<void()> job);

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace kessan
