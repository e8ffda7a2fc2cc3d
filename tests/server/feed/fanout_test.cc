// Tests of server/feed/fanout.cc: delivery to matching subscriptions, wakes,
// removal and closing.
#include "feed/fanout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
using ::testing::SizeIs;

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

TEST(FanOutTest, SubscribersOfAGroupShareOneRunOfItsFrames) {
  FanOut fanout;
  Subscriber a(fanout), b(fanout), sony(fanout, IssuerFilter("SONY"));
  fanout.Deliver({FactEvent(1, "IIJ"), FactEvent(2, "IIJ"), FactEvent(3, "SONY")});
  std::vector<WireRunPtr> runs_a;
  std::vector<WireRunPtr> runs_b;
  std::vector<WireRunPtr> runs_sony;
  EXPECT_THAT(Sequences(a.subscription->Take(10, 1 << 20, &runs_a)), ElementsAre(1, 2, 3));
  EXPECT_THAT(Sequences(b.subscription->Take(10, 1 << 20, &runs_b)), ElementsAre(1, 2, 3));
  EXPECT_THAT(Sequences(sony.subscription->Take(10, 1 << 20, &runs_sony)), ElementsAre(3));
  ASSERT_THAT(runs_a, SizeIs(1));
  EXPECT_EQ(runs_a, runs_b);  // one copy of the group for all
  EXPECT_EQ(runs_a[0]->first_sequence(), 1u);
  EXPECT_EQ(runs_a[0]->last_sequence(), 3u);
  EXPECT_THAT(runs_sony, IsEmpty());  // one event of three
}

TEST(FanOutTest, ALoneSubscriberGetsARunToo) {
  FanOut fanout;
  Subscriber only(fanout);
  fanout.Deliver({FactEvent(1), FactEvent(2)});
  std::vector<WireRunPtr> runs;
  EXPECT_THAT(Sequences(only.subscription->Take(10, 1 << 20, &runs)), ElementsAre(1, 2));
  ASSERT_THAT(runs, SizeIs(1));
  EXPECT_EQ(runs[0]->first_sequence(), 1u);
  EXPECT_EQ(runs[0]->last_sequence(), 2u);
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
    EXPECT_THAT(s->subscription->Finished(), Optional(StatusIs(absl::StatusCode::kUnavailable)));
  }
  fanout.Deliver({FactEvent(1)});
  EXPECT_THAT(Drain(*a.subscription), IsEmpty());
}

}  // namespace
}  // namespace kessan
