// Feed: the core of kessand, without gRPC. Publish validates, journals,
// applies and fans out; Subscribe and Snapshot read the state.
#pragma once

#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "feed/fanout.h"
#include "feed/subscription.h"
#include "kessan/v1/feed.pb.h"
#include "log/event_log.h"
#include "state/state.h"

namespace kessan {

// Feed is thread-safe. Publishes are serialized (one writer); snapshots and
// new subscriptions run concurrently with each other. A subscription made
// with a snapshot sees every later event exactly once, after the snapshot.
class Feed {
 public:
  using Clock = std::function<absl::Time()>;

  // Rebuilds the state from `log`.
  static absl::StatusOr<std::unique_ptr<Feed>> Open(std::unique_ptr<EventLog> log,
                                                    Clock clock = &absl::Now);

  // Validates and journals the batch, all or nothing, and returns the
  // sequences and committed events once they are durable.
  absl::StatusOr<v1::PublishResponse> Publish(const v1::PublishRequest& request);

  absl::StatusOr<v1::GetSnapshotResponse> Snapshot(const v1::Filter& filter);

  // Starts a subscription; the caller must Unsubscribe it when done.
  absl::StatusOr<std::shared_ptr<Subscription>> Subscribe(
      const v1::SubscribeRequest& request);
  void Unsubscribe(const Subscription* subscription);

  // Ends every subscription with UNAVAILABLE; later calls still work.
  void CloseSubscriptions();

  uint64_t last_sequence() const;
  size_t subscriber_count() const { return fanout_.size(); }

 private:
  Feed(std::unique_ptr<EventLog> log, Clock clock)
      : log_(std::move(log)), clock_(std::move(clock)) {}

  const std::unique_ptr<EventLog> log_;
  const Clock clock_;
  FanOut fanout_;

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kessan
