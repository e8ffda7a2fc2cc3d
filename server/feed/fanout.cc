#include "feed/fanout.h"

#include <pthread.h>

#include <algorithm>

namespace kessan {

FanOut::FanOut(Wakes wakes) {
  if (wakes == Wakes::kOwnThread) {
    waker_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "kessan-wake");
      WakeLoop();
    });
  }
}

FanOut::~FanOut() {
  if (!waker_.joinable()) return;
  {
    absl::MutexLock lock(&wake_mu_);
    stopping_ = true;
  }
  waker_.join();
}

void FanOut::WakeAll(std::vector<std::shared_ptr<Subscription>> to_wake) {
  if (to_wake.empty()) return;
  if (!waker_.joinable()) {
    for (const auto& subscription : to_wake) subscription->Wake();
    return;
  }
  absl::MutexLock lock(&wake_mu_);
  if (to_wake_.empty()) {
    to_wake_.swap(to_wake);
  } else {
    to_wake_.insert(to_wake_.end(), to_wake.begin(), to_wake.end());
  }
}

void FanOut::WakeLoop() {
  std::vector<std::shared_ptr<Subscription>> batch;
  while (true) {
    {
      absl::MutexLock lock(&wake_mu_);
      auto ready = [this] {
        wake_mu_.AssertHeld();
        return stopping_ || !to_wake_.empty();
      };
      wake_mu_.Await(absl::Condition(&ready));
      if (to_wake_.empty()) return;  // stopping, nothing left to wake
      batch.swap(to_wake_);
    }
    for (const auto& subscription : batch) subscription->Wake();
    batch.clear();
  }
}

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

void FanOut::Deliver(const std::vector<EventPtr>& events) {
  std::vector<std::shared_ptr<Subscription>> to_wake;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& subscription : subscriptions_) {
      if (subscription->PushMatching(events)) to_wake.push_back(subscription);
    }
  }
  WakeAll(std::move(to_wake));
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

size_t FanOut::size() const {
  absl::MutexLock lock(&mu_);
  return subscriptions_.size();
}

}  // namespace kessan
