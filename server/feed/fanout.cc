#include "feed/fanout.h"

#include <algorithm>

namespace kessan {

void FanOut::Add(std::shared_ptr<Subscription> subscription) {
  absl::MutexLock lock(&mu_);
  subscriptions_.push_back(std::move(subscription));
}

void FanOut::Remove(const Subscription* subscription) {
  absl::MutexLock lock(&mu_);
  auto it = std::find_if(subscriptions_.begin(), subscriptions_.end(),
                         [&](const auto& s) { return s.get() == subscription; });
  if (it != subscriptions_.end()) {
    std::swap(*it, subscriptions_.back());
    subscriptions_.pop_back();
  }
}

std::vector<std::shared_ptr<Subscription>> FanOut::Push(const std::vector<EventPtr>& events) {
  std::vector<std::shared_ptr<Subscription>> to_wake;
  absl::MutexLock lock(&mu_);
  // Made for the first subscription that takes it, shared by the rest. Even
  // for one, copying the frames costs less than a gRPC slice per event.
  WireRunPtr run;
  std::function<WireRunPtr()> make_run;
  if (!subscriptions_.empty() && !events.empty()) {
    make_run = [&] {
      if (!run) run = std::make_shared<const WireRun>(events);
      return run;
    };
  }
  for (const auto& subscription : subscriptions_) {
    if (subscription->PushMatching(events, make_run)) to_wake.push_back(subscription);
  }
  return to_wake;
}

void FanOut::Deliver(const std::vector<EventPtr>& events) {
  for (const auto& subscription : Push(events)) subscription->Wake();
}

void FanOut::Tick(absl::Time now, uint64_t last_sequence) {
  std::vector<std::shared_ptr<Subscription>> to_wake;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& subscription : subscriptions_) {
      if (subscription->MaybeHeartbeat(now, last_sequence)) to_wake.push_back(subscription);
    }
  }
  for (const auto& subscription : to_wake) subscription->Wake();
}

void FanOut::CloseAll(const absl::Status& status) {
  std::vector<std::shared_ptr<Subscription>> all;
  {
    absl::MutexLock lock(&mu_);
    all.swap(subscriptions_);
  }
  for (const auto& subscription : all) {
    subscription->Close(status);
    subscription->Wake();
  }
}

std::vector<metrics::SubscriptionStat> FanOut::Stats() const {
  absl::MutexLock lock(&mu_);
  std::vector<metrics::SubscriptionStat> stats;
  stats.reserve(subscriptions_.size());
  for (const auto& subscription : subscriptions_) {
    stats.push_back({subscription->id(), subscription->queued(), subscription->last_taken()});
  }
  return stats;
}

size_t FanOut::size() const {
  absl::MutexLock lock(&mu_);
  return subscriptions_.size();
}

}  // namespace kessan
