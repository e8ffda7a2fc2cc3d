#include "metrics/feed_metrics.h"

#include <algorithm>
#include <string>

namespace kessan::metrics {

FeedMetrics::FeedMetrics(Registry& registry)
    : publish_batch_items(registry.AddHistogram("kessan_publish_batch_items",
                                                "Items per Publish batch journaled.",
                                                {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000})),
      published_events(registry.AddCounter("kessan_published_events_total", "Events journaled by Publish.")),
      journal_commit_seconds(registry.AddHistogram(
          "kessan_journal_commit_seconds",
          "One journal append of a commit group, fsync (or JetStream quorum) included, in seconds.",
          ExponentialBounds(0.0001, 2, 16))),
      slow_consumer_disconnects(
          registry.AddCounter("kessan_slow_consumer_disconnects_total",
                              "Subscriptions ended with RESOURCE_EXHAUSTED because their queue overflowed.")),
      conflations(registry.AddCounter("kessan_conflations_total",
                                      "Times a conflating subscription's full queue was conflated.")),
      conflated_events(registry.AddCounter("kessan_conflated_events_total",
                                           "Queued events that conflation replaced by a later revision.")) {}

void AddFeedReadings(Registry& registry, FeedReadings feed) {
  registry.AddGauge("kessan_last_sequence", "The highest sequence in the journal.",
                    [read = feed.last_sequence] { return static_cast<double>(read()); });
  registry.AddGauge("kessan_subscribers", "Live subscriptions (Subscribe streams).",
                    [read = feed.subscribers] { return static_cast<double>(read()); });
  registry.AddCollector([feed](std::vector<prometheus::MetricFamily>* out) {
    AppendSubscriptionFamilies(feed.subscriptions(), feed.last_sequence(), out);
  });
}

void AppendSubscriptionFamilies(std::vector<SubscriptionStat> stats, uint64_t last_sequence,
                                std::vector<prometheus::MetricFamily>* out) {
  auto lag = [&](const SubscriptionStat& s) {
    return last_sequence > s.last_taken ? last_sequence - s.last_taken : 0;
  };
  prometheus::MetricFamily queued{"kessan_subscription_queued_events",
                                  "Live events queued for a subscription, for the " +
                                      std::to_string(kMaxSubscriptionSeries) +
                                      " subscriptions with the most queued.",
                                  prometheus::MetricType::Gauge,
                                  {}};
  prometheus::MetricFamily behind{
      "kessan_subscription_lag_events",
      "The journal's last sequence minus the last one a subscription's consumer took, "
      "for the same subscriptions.",
      prometheus::MetricType::Gauge,
      {}};
  uint64_t max_queued = 0, max_lag = 0;
  for (const SubscriptionStat& s : stats) {
    max_queued = std::max(max_queued, s.queued);
    max_lag = std::max(max_lag, lag(s));
  }
  const size_t shown = std::min(stats.size(), kMaxSubscriptionSeries);
  std::partial_sort(stats.begin(), stats.begin() + shown, stats.end(),
                    [&](const SubscriptionStat& a, const SubscriptionStat& b) {
                      if (a.queued != b.queued) return a.queued > b.queued;
                      if (lag(a) != lag(b)) return lag(a) > lag(b);
                      return a.id < b.id;
                    });
  for (size_t i = 0; i < shown; ++i) {
    const Labels labels = {{"subscription", std::to_string(stats[i].id)}};
    queued.metric.push_back(Sample(static_cast<double>(stats[i].queued), labels));
    behind.metric.push_back(Sample(static_cast<double>(lag(stats[i])), labels));
  }
  out->push_back(std::move(queued));
  out->push_back(std::move(behind));
  out->push_back({"kessan_subscription_queued_events_max",
                  "The most live events queued for any subscription.",
                  prometheus::MetricType::Gauge,
                  {Sample(static_cast<double>(max_queued))}});
  out->push_back({"kessan_subscription_lag_events_max",
                  "The largest lag of any subscription, in events.",
                  prometheus::MetricType::Gauge,
                  {Sample(static_cast<double>(max_lag))}});
}

}  // namespace kessan::metrics
