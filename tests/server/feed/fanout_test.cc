// Tests of server/feed/fanout.cc: delivery to matching subscriptions, wakes,
// removal and closing.
#include "feed/fanout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::CountingWaker;
using ::kessan::test::Drain;
using ::kessan::test::FactEvent;
using ::kessan::test::Sequences;
using ::kessan::test::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;

// A live-only subscription with a counting waker, added to a FanOut.
struct Subscriber {
  Subscriber(FanOut& fanout, v1::Filter filter = {}) {
    Subscription::Options options;
    options.filter = EventFilter(filter);
    subscription = std::make_shared<Subscription>(std::move(options));
    subscription->SetWaker(waker);
    fanout.Add(subscription);
  }
  std::shared_ptr<CountingWaker> waker = std::make_shared<CountingWaker>();
  std::shared_ptr<Subscription> subscription;
};

v1::Filter IssuerFilter(const char* issuer) {
  v1::Filter filter;
  filter.add_issuers(issuer);
  return filter;
}

TEST(FanOutTest, DeliversMatchingEventsInOrder) {
  FanOut fanout;
  Subscriber all(fanout), iij(fanout, IssuerFilter("IIJ")), sony(fanout, IssuerFilter("SONY"));
  fanout.Deliver({FactEvent(1, "IIJ"), FactEvent(2, "SONY"), FactEvent(3, "IIJ")});
  fanout.Deliver({FactEvent(4, "SONY")});
  EXPECT_THAT(Sequences(Drain(*all.subscription)), ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(Sequences(Drain(*iij.subscription)), ElementsAre(1, 3));
  EXPECT_THAT(Sequences(Drain(*sony.subscription)), ElementsAre(2, 4));
}

TEST(FanOutTest, WakesWaitingSubscriptionsOncePerDelivery) {
  FanOut fanout;
  Subscriber a(fanout), b(fanout), sony(fanout, IssuerFilter("SONY"));
  for (Subscriber* s : {&a, &b, &sony}) {
    EXPECT_THAT(s->subscription->Take(10, 1 << 20), IsEmpty());  // all wait
  }

  fanout.Deliver({FactEvent(1), FactEvent(2), FactEvent(3)});
  EXPECT_EQ(a.waker->wakes(), 1);
  EXPECT_EQ(b.waker->wakes(), 1);
  EXPECT_EQ(sony.waker->wakes(), 0);  // nothing matched

  // a drains and waits again; b still has events to take.
  Drain(*a.subscription);
  fanout.Deliver({FactEvent(4)});
  EXPECT_EQ(a.waker->wakes(), 2);
  EXPECT_EQ(b.waker->wakes(), 1);
  EXPECT_THAT(Sequences(Drain(*b.subscription)), ElementsAre(1, 2, 3, 4));
}

TEST(FanOutTest, RemovedSubscriptionsGetNothing) {
  FanOut fanout;
  Subscriber a(fanout), b(fanout), c(fanout);
  EXPECT_EQ(fanout.size(), 3u);
  fanout.Remove(b.subscription.get());
  fanout.Remove(b.subscription.get());  // twice is harmless
  EXPECT_EQ(fanout.size(), 2u);
  fanout.Deliver({FactEvent(1)});
  EXPECT_THAT(Sequences(Drain(*a.subscription)), ElementsAre(1));
  EXPECT_THAT(Drain(*b.subscription), IsEmpty());
  EXPECT_THAT(Sequences(Drain(*c.subscription)), ElementsAre(1));
}

TEST(FanOutTest, CloseAllClosesWakesAndForgets) {
  FanOut fanout;
  Subscriber a(fanout), b(fanout);
  fanout.CloseAll(absl::UnavailableError("shutting down"));
  EXPECT_EQ(fanout.size(), 0u);
  for (Subscriber* s : {&a, &b}) {
    EXPECT_EQ(s->waker->wakes(), 1);
    EXPECT_THAT(s->subscription->Finished(),
                Optional(StatusIs(absl::StatusCode::kUnavailable)));
  }
  fanout.Deliver({FactEvent(1)});
  EXPECT_THAT(Drain(*a.subscription), IsEmpty());
}

// Records the threads it is woken on.
class ThreadWaker : public Waker {
 public:
  void Wake() override {
    absl::MutexLock lock(&mu_);
    threads_.push_back(std::this_thread::get_id());
  }
  // Waits, at most 30 s, for `n` wakes and returns their threads.
  std::vector<std::thread::id> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] {
      mu_.AssertHeld();
      return threads_.size() >= n;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
    return threads_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::thread::id> threads_ ABSL_GUARDED_BY(mu_);
};

TEST(FanOutTest, OwnThreadWakesOffTheDeliveringThread) {
  FanOut fanout(FanOut::Wakes::kOwnThread);
  Subscription::Options options;
  auto subscription = std::make_shared<Subscription>(std::move(options));
  auto waker = std::make_shared<ThreadWaker>();
  subscription->SetWaker(waker);
  fanout.Add(subscription);
  EXPECT_THAT(subscription->Take(10, 1 << 20), IsEmpty());  // waits

  fanout.Deliver({FactEvent(1), FactEvent(2)});
  // The events are queued before Deliver returns; only the wake is deferred.
  EXPECT_THAT(Sequences(Drain(*subscription)), ElementsAre(1, 2));
  std::vector<std::thread::id> woken = waker->WaitFor(1);
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_NE(woken[0], std::this_thread::get_id());

  fanout.Deliver({FactEvent(3)});
  woken = waker->WaitFor(2);
  ASSERT_EQ(woken.size(), 2u);
  EXPECT_EQ(woken[1], woken[0]);  // the same thread, in delivery order
  EXPECT_THAT(Sequences(Drain(*subscription)), ElementsAre(3));
}

TEST(FanOutTest, OwnThreadStopsWithWakesPending) {
  auto waker = std::make_shared<ThreadWaker>();
  {
    FanOut fanout(FanOut::Wakes::kOwnThread);
    std::vector<std::shared_ptr<Subscription>> subscriptions;
    for (int i = 0; i < 64; ++i) {
      subscriptions.push_back(std::make_shared<Subscription>(Subscription::Options{}));
      subscriptions.back()->SetWaker(waker);
      subscriptions.back()->Take(1, 1 << 20);
      fanout.Add(subscriptions.back());
    }
    fanout.Deliver({FactEvent(1)});
  }  // joins its thread, which wakes every subscription first
  EXPECT_EQ(waker->WaitFor(64).size(), 64u);
}

}  // namespace
}  // namespace kessan
