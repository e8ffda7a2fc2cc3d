#include "feed/job_pool.h"

#include <algorithm>

namespace kessan {

JobPool::JobPool(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Loop(); });
}

JobPool::~JobPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
  absl::MutexLock lock(&mu_);
  jobs_.clear();
}

void JobPool::Post(std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  if (!stopping_) jobs_.push_back(std::move(job));
}

void JobPool::Loop() {
  while (true) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](JobPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->stopping_ || !p->jobs_.empty(); },
          this));
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace kessan
