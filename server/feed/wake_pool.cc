#include "feed/wake_pool.h"

namespace kessan {
namespace {

// Fewer than this are woken inline: handing them over costs more than it saves.
constexpr size_t kMinShared = 8;

}  // namespace

WakePool::WakePool(int helpers) {
  for (int i = 0; i < helpers; ++i) threads_.emplace_back([this] { Help(); });
}

WakePool::~WakePool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void WakePool::Drain(Job& job) {
  const auto& subscriptions = *job.subscriptions;
  for (size_t i = job.next.fetch_add(1); i < subscriptions.size(); i = job.next.fetch_add(1)) {
    subscriptions[i]->Wake();
  }
}

void WakePool::WakeAll(const std::vector<std::shared_ptr<Subscription>>& subscriptions, bool share) {
  if (!share || threads_.empty() || subscriptions.size() < kMinShared) {
    for (const auto& s : subscriptions) s->Wake();
    return;
  }
  Job job;
  job.subscriptions = &subscriptions;
  {
    absl::MutexLock lock(&mu_);
    jobs_.push_back(&job);
  }
  Drain(job);
  absl::MutexLock lock(&mu_);
  for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
    if (*it == &job) {
      jobs_.erase(it);
      break;
    }
  }
  // The job is on this stack: wait for the helpers still inside it.
  mu_.Await(absl::Condition(
      +[](Job* j) { return j->helping == 0; }, &job));
}

void WakePool::Help() {
  absl::MutexLock lock(&mu_);
  while (true) {
    mu_.Await(absl::Condition(
        +[](WakePool* p) ABSL_NO_THREAD_SAFETY_ANALYSIS { return p->stopping_ || !p->jobs_.empty(); }, this));
    if (stopping_) return;
    // Left in the queue for the other helpers; whoever finds it drained
    // takes it out (the caller too).
    Job* job = jobs_.front();
    ++job->helping;
    mu_.Unlock();
    Drain(*job);
    mu_.Lock();
    --job->helping;
    if (!jobs_.empty() && jobs_.front() == job) jobs_.pop_front();
  }
}

}  // namespace kessan
