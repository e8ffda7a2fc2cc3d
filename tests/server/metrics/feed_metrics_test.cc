// What the feed records into its FeedMetrics as it publishes and fans out.
#include "metrics/feed_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "feed/feed.h"
#include "journal/sqlite_journal.h"
#include "metrics/registry.h"
#include "prometheus_text.h"
#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::Batch;
using ::kessan::test::Iij;
using ::kessan::test::Item;
using ::kessan::test::MakeFact;
using ::kessan::test::ParsePrometheusText;
using ::kessan::test::Quarter;
using ::kessan::test::Scrape;
using ::kessan::test::TempDir;

class FeedRecordingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<SqliteJournal>> log = SqliteJournal::Open(dir_.File("journal.db"));
    ASSERT_TRUE(log.ok()) << log.status();
    Feed::Options options;
    options.max_queued_events = 4;
    options.metrics = &metrics_;
    options.tick = absl::ZeroDuration();
    absl::StatusOr<std::unique_ptr<Feed>> feed = Feed::Open(*std::move(log), std::move(options));
    ASSERT_TRUE(feed.ok()) << feed.status();
    feed_ = *std::move(feed);
    Feed* raw = feed_.get();
    metrics::AddFeedReadings(registry_, {[raw] { return raw->last_sequence(); },
                                         [raw] { return static_cast<uint64_t>(raw->subscriber_count()); },
                                         [raw] { return raw->SubscriptionStats(); }});
  }

  Scrape MustScrape() {
    absl::StatusOr<Scrape> scrape = ParsePrometheusText(registry_.Text());
    EXPECT_TRUE(scrape.ok()) << scrape.status();
    return scrape.ok() ? *scrape : Scrape();
  }

  void MustPublish(std::vector<v1::PublishItem> items) {
    absl::StatusOr<v1::PublishResponse> published = feed_->Publish(Batch(std::move(items)));
    ASSERT_TRUE(published.ok()) << published.status();
  }

  std::shared_ptr<Subscription> LiveSubscription(v1::SlowConsumerPolicy policy) {
    v1::SubscribeRequest request;
    request.set_start(v1::START_MODE_LIVE_ONLY);
    request.set_slow_consumer_policy(policy);
    absl::StatusOr<std::shared_ptr<Subscription>> s = feed_->Subscribe(request);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : nullptr;
  }

  TempDir dir_;
  metrics::Registry registry_;
  metrics::FeedMetrics metrics_{registry_};
  std::unique_ptr<Feed> feed_;
};

TEST_F(FeedRecordingTest, BatchSizesCommitsAndEvents) {
  MustPublish({Item(Iij())});
  MustPublish({Item(MakeFact("IIJ", "revenue", Quarter(2002, 1))),
               Item(MakeFact("IIJ", "revenue", Quarter(2002, 2))),
               Item(MakeFact("IIJ", "revenue", Quarter(2002, 3)))});
  Scrape s = MustScrape();
  EXPECT_EQ(s.Get("kessan_published_events_total"), 4);
  EXPECT_EQ(s.Get("kessan_publish_batch_items_count"), 2);
  EXPECT_EQ(s.Get("kessan_publish_batch_items_sum"), 4);
  EXPECT_EQ(s.Get("kessan_publish_batch_items_bucket", {{"le", "1"}}), 1);
  EXPECT_EQ(s.Get("kessan_publish_batch_items_bucket", {{"le", "2"}}), 1);
  EXPECT_EQ(s.Get("kessan_publish_batch_items_bucket", {{"le", "5"}}), 2);
  // One publish at a time: a commit each.
  EXPECT_EQ(s.Get("kessan_journal_commit_seconds_count"), 2);
  EXPECT_GT(s.Get("kessan_journal_commit_seconds_sum"), 0);
  // A refused batch is neither a commit nor a batch.
  EXPECT_FALSE(feed_->Publish(Batch({Item(MakeFact("NOPE", "revenue", Quarter(2002, 1)))})).ok());
  s = MustScrape();
  EXPECT_EQ(s.Get("kessan_publish_batch_items_count"), 2);
  EXPECT_EQ(s.Get("kessan_journal_commit_seconds_count"), 2);
}

TEST_F(FeedRecordingTest, SlowConsumersAreDisconnectedOrConflatedAndTheirQueuesShown) {
  MustPublish({Item(Iij())});
  std::shared_ptr<Subscription> conflating = LiveSubscription(v1::SLOW_CONSUMER_POLICY_CONFLATE);
  std::shared_ptr<Subscription> disconnecting = LiveSubscription(v1::SLOW_CONSUMER_POLICY_DISCONNECT);
  ASSERT_NE(conflating, nullptr);
  ASSERT_NE(disconnecting, nullptr);
  // Four revisions of one item fill both queues (4 events); neither
  // consumer takes any.
  for (int i = 1; i <= 4; ++i)
    MustPublish({Item(MakeFact("IIJ", "revenue", Quarter(2002, 4), i * 1'000'000))});
  Scrape s = MustScrape();
  const std::string conflating_id = std::to_string(conflating->id());
  EXPECT_EQ(s.Get("kessan_subscription_queued_events", {{"subscription", conflating_id}}), 4);
  EXPECT_EQ(s.Get("kessan_subscription_lag_events", {{"subscription", conflating_id}}), 5);
  EXPECT_EQ(s.Get("kessan_subscription_queued_events_max"), 4);
  EXPECT_EQ(s.Get("kessan_slow_consumer_disconnects_total"), 0);
  EXPECT_EQ(s.Get("kessan_conflations_total"), 0);
  // The fifth overflows: the conflating queue keeps the latest of the four
  // (three skipped) then takes it; the other is closed.
  MustPublish({Item(MakeFact("IIJ", "revenue", Quarter(2002, 4), 5'000'000))});
  s = MustScrape();
  EXPECT_EQ(s.Get("kessan_slow_consumer_disconnects_total"), 1);
  EXPECT_EQ(s.Get("kessan_conflations_total"), 1);
  EXPECT_EQ(s.Get("kessan_conflated_events_total"), 3);
  EXPECT_EQ(s.Get("kessan_subscription_queued_events", {{"subscription", conflating_id}}), 2);
  EXPECT_EQ(s.Get("kessan_subscription_lag_events", {{"subscription", conflating_id}}), 6);
  EXPECT_EQ(
      s.Get("kessan_subscription_queued_events", {{"subscription", std::to_string(disconnecting->id())}}), 0);
  EXPECT_NE(conflating->id(), disconnecting->id());
  // The consumer takes what is queued: no lag left.
  std::vector<EventPtr> taken = conflating->Take(100, 1 << 20);
  EXPECT_FALSE(taken.empty());
  s = MustScrape();
  EXPECT_EQ(s.Get("kessan_subscription_queued_events", {{"subscription", conflating_id}}), 0);
  EXPECT_EQ(s.Get("kessan_subscription_lag_events", {{"subscription", conflating_id}}), 0);
  feed_->Unsubscribe(conflating.get());
  feed_->Unsubscribe(disconnecting.get());
  EXPECT_FALSE(MustScrape().Has("kessan_subscription_queued_events", {{"subscription", conflating_id}}));
}

}  // namespace
}  // namespace kessan
