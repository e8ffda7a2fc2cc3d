// Tests of server/feed/wake_pool.cc: every subscription woken once, before
// WakeAll returns, by the caller and the helpers together.
#include "feed/wake_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/synchronization/notification.h"
#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::CountingWaker;

struct Woken {
  std::vector<std::shared_ptr<Subscription>> subscriptions;
  std::vector<std::shared_ptr<CountingWaker>> wakers;
};

Woken Subscriptions(int n) {
  Woken w;
  for (int i = 0; i < n; ++i) {
    w.subscriptions.push_back(std::make_shared<Subscription>(Subscription::Options{}));
    w.wakers.push_back(std::make_shared<CountingWaker>());
    w.subscriptions.back()->SetWaker(w.wakers.back());
  }
  return w;
}

// Which thread woke each subscription. The caller's first wake waits
// (bounded) until another thread has woken one, which only a helper can.
struct Witness {
  const std::thread::id caller = std::this_thread::get_id();
  absl::Notification other_woke;
  std::atomic<bool> waited{false};
  std::atomic<int> by_other{0};
  absl::Duration wait = absl::Seconds(10);
};

class ThreadWaker : public Waker {
 public:
  explicit ThreadWaker(Witness* witness) : witness_(witness) {}
  void Wake() override {
    if (std::this_thread::get_id() != witness_->caller) {
      witness_->by_other.fetch_add(1);
      if (!witness_->other_woke.HasBeenNotified()) witness_->other_woke.Notify();
    } else if (!witness_->waited.exchange(true)) {
      witness_->other_woke.WaitForNotificationWithTimeout(witness_->wait);
    }
  }

 private:
  Witness* const witness_;
};

std::vector<std::shared_ptr<Subscription>> Witnessed(Witness* witness, int n) {
  std::vector<std::shared_ptr<Subscription>> subscriptions;
  for (int i = 0; i < n; ++i) {
    subscriptions.push_back(std::make_shared<Subscription>(Subscription::Options{}));
    subscriptions.back()->SetWaker(std::make_shared<ThreadWaker>(witness));
  }
  return subscriptions;
}

TEST(WakePoolTest, WakesEachSubscriptionOnceBeforeReturning) {
  WakePool pool(1);
  for (int n : {1, 7, 8, 200}) {
    Woken w = Subscriptions(n);
    pool.WakeAll(w.subscriptions);
    for (const auto& waker : w.wakers) EXPECT_EQ(waker->wakes(), 1) << n << " subscriptions";
  }
}

TEST(WakePoolTest, AHelperWakesPartOfTheList) {
  WakePool pool(1);
  Witness witness;
  pool.WakeAll(Witnessed(&witness, 64));
  EXPECT_TRUE(witness.other_woke.HasBeenNotified());
  EXPECT_GE(witness.by_other.load(), 1);
}

TEST(WakePoolTest, WithoutHelpersTheCallerWakesThemAll) {
  WakePool pool(0);
  Witness witness;
  witness.waited = true;  // nobody else could end the wait
  pool.WakeAll(Witnessed(&witness, 64));
  EXPECT_EQ(witness.by_other.load(), 0);
}

TEST(WakePoolTest, ASmallListIsWokenByTheCaller) {
  WakePool pool(1);
  Witness witness;
  witness.waited = true;
  pool.WakeAll(Witnessed(&witness, 7));
  EXPECT_EQ(witness.by_other.load(), 0);
}

TEST(WakePoolTest, AListNotToShareIsWokenByTheCaller) {
  WakePool pool(1);
  Witness witness;
  witness.wait = absl::Milliseconds(300);  // time for a helper to show up if it were asked
  pool.WakeAll(Witnessed(&witness, 64), /*share=*/false);
  EXPECT_EQ(witness.by_other.load(), 0);
}

TEST(WakePoolTest, ConcurrentCallersEachGetTheirListWoken) {
  WakePool pool(2);
  constexpr int kCallers = 4, kRounds = 50, kEach = 40;
  std::vector<Woken> lists;
  for (int c = 0; c < kCallers; ++c) lists.push_back(Subscriptions(kEach));
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int r = 0; r < kRounds; ++r) pool.WakeAll(lists[c].subscriptions);
    });
  }
  for (std::thread& t : callers) t.join();
  for (const Woken& w : lists) {
    for (const auto& waker : w.wakers) EXPECT_EQ(waker->wakes(), kRounds);
  }
}

}  // namespace
}  // namespace kessan
