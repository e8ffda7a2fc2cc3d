// FeedMetrics: what the feed records as it publishes and fans out, and the
// per-subscription figures computed when scraped.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "metrics/instruments.h"
#include "metrics/registry.h"

namespace kessan::metrics {

// The feed's instruments, made once; the feed records into them (see
// metrics/instruments.h: lock-free, no allocation).
struct FeedMetrics {
  explicit FeedMetrics(Registry& registry);

  // Items per Publish batch journaled (one observation per batch).
  Histogram& publish_batch_items;
  // Events journaled.
  Counter& published_events;
  // One journal append of a commit group, fsync (or quorum) included.
  Histogram& journal_commit_seconds;
  // Subscriptions closed because their queue overflowed.
  Counter& slow_consumer_disconnects;
  // Times a conflating subscription's full queue was conflated, and the
  // events those conflations skipped.
  Counter& conflations;
  Counter& conflated_events;
};

// One live subscription, as scraped.
struct SubscriptionStat {
  uint64_t id = 0;          // unique in the process, in subscription order
  uint64_t queued = 0;      // live events queued, not yet taken
  uint64_t last_taken = 0;  // highest sequence the consumer took
};

// How many subscriptions get their own series. Cardinality rule: the
// kMaxSubscriptionSeries subscriptions with the most events queued (ties:
// the most behind, then the oldest) get a series each, labelled with their
// id; every subscription counts in the _max families.
inline constexpr size_t kMaxSubscriptionSeries = 10;

// What the feed tells when scraped.
struct FeedReadings {
  std::function<uint64_t()> last_sequence;
  std::function<uint64_t()> subscribers;
  std::function<std::vector<SubscriptionStat>()> subscriptions;
};
// Adds kessan_last_sequence, kessan_subscribers and the subscription
// families below, read from `feed` when scraped.
void AddFeedReadings(Registry& registry, FeedReadings feed);

// Appends kessan_subscription_queued_events{subscription},
// kessan_subscription_lag_events{subscription} (the journal's last
// sequence minus the last the consumer took), and their _max aggregates.
void AppendSubscriptionFamilies(std::vector<SubscriptionStat> stats, uint64_t last_sequence,
                                std::vector<prometheus::MetricFamily>* out);

}  // namespace kessan::metrics
