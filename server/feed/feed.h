// Feed: the core of kessand, without gRPC. Publish validates, journals,
// applies and fans out; Subscribe and Snapshot read the state.
#pragma once

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "feed/fanout.h"
#include "feed/job_pool.h"
#include "feed/subscription.h"
#include "feed/wake_pool.h"
#include "journal/journal.h"
#include "kessan/v1/feed.pb.h"
#include "metrics/feed_metrics.h"
#include "state/state.h"

namespace kessan {

// Feed is thread-safe. Publishes are ordered (one group stages while the ones
// before it are journaled: one at a time, or as many as the journal takes in
// flight, Journal::max_appends_in_flight); snapshots and new subscriptions run concurrently
// with each other. A subscription made with a snapshot sees every later
// event exactly once, after the snapshot. No journal read holds the feed's
// mutex: a past view is read after it is released, and subscriptions read
// their snapshot or backlog on the JobPool.
class Feed {
 public:
  using Clock = std::function<absl::Time()>;

  struct Options {
    Clock clock = &absl::Now;
    // Keep at least this many latest events complete for resume; older
    // superseded revisions are pruned. 0 keeps everything.
    uint64_t retain_events = 0;
    // Bound of each subscriber's live queue.
    size_t max_queued_events = 65536;
    // Heartbeat interval when a subscriber asks for 0, and the bounds.
    absl::Duration default_heartbeat = absl::Seconds(5);
    absl::Duration min_heartbeat = absl::Milliseconds(100);
    absl::Duration max_heartbeat = absl::Seconds(60);
    // How often heartbeats are checked; zero disables the ticker thread.
    absl::Duration tick = absl::Milliseconds(50);
    // Threads that help wake the subscribers of a small commit (WakePool):
    // one fewer than the cores.
    int wake_helpers = static_cast<int>(std::max(2u, std::thread::hardware_concurrency())) - 1;
    // Threads that read the journal for subscriptions (JobPool).
    int reader_threads = 2;
    // Where publishes and subscriptions record; unowned, outlives the
    // feed. Null: nothing recorded.
    metrics::FeedMetrics* metrics = nullptr;
  };

  // Rebuilds the state from `log`. On a journal shared by replicas, the feed
  // follows it: what the others append is applied and fanned out in
  // sequence order, and a group another replica's append got ahead of is
  // caught up, validated again on the new state and journaled again.
  static absl::StatusOr<std::unique_ptr<Feed>> Open(std::unique_ptr<Journal> log, Options options);
  static absl::StatusOr<std::unique_ptr<Feed>> Open(std::unique_ptr<Journal> log, Clock clock = &absl::Now);
  ~Feed();

  // Validates and journals the batch, all or nothing, and returns the
  // sequences and committed events once they are durable. `retry_scope`
  // (the authenticated publisher) qualifies publisher_id + batch_key, so
  // one principal can neither replay nor block another's batches; empty
  // when authentication is off.
  absl::StatusOr<v1::PublishResponse> Publish(const v1::PublishRequest& request,
                                              absl::string_view retry_scope = {});
  // The same, validating the items of `*request` in place and moving their
  // bodies out: no copy when it is on a protobuf arena. `bodies`, when
  // given, are the items' bytes in the serialized request `*request` was
  // parsed from (PublishItemBodies; they must outlive the call): facts and
  // guidance are then encoded from them (EncodeSpliced), not serialized again.
  absl::StatusOr<v1::PublishResponse> Publish(v1::PublishRequest* request, absl::string_view retry_scope = {},
                                              const std::vector<ItemBody>* bodies = nullptr);

  absl::StatusOr<v1::GetSnapshotResponse> Snapshot(const v1::Filter& filter);
  // The state at a point in time: latest, first reported, or as of a time.
  absl::StatusOr<v1::GetSnapshotResponse> Snapshot(const v1::GetSnapshotRequest& request);

  // Starts a subscription; the caller must Unsubscribe it when done.
  absl::StatusOr<std::shared_ptr<Subscription>> Subscribe(const v1::SubscribeRequest& request);
  void Unsubscribe(const Subscription* subscription);

  // Ends every subscription with UNAVAILABLE; later calls still work.
  void CloseSubscriptions();

  uint64_t last_sequence() const;
  // The journal's incarnation, carried by snapshots and heartbeats.
  const std::string& incarnation() const { return incarnation_; }
  size_t subscriber_count() const { return fanout_.size(); }
  // Each live subscription's queue and progress (for metrics; takes each
  // subscription's lock in turn).
  std::vector<metrics::SubscriptionStat> SubscriptionStats() const { return fanout_.Stats(); }
  // Commit groups staged again because another replica appended first.
  uint64_t restaged_groups() const { return restaged_.load(std::memory_order_relaxed); }

  // Sends the heartbeats that are due; the ticker thread calls it.
  void Tick();

  // A commit group between staging and the journal (feed.cc).
  struct StagedGroup;

 private:
  Feed(std::unique_ptr<Journal> log, Options options)
      : log_(std::move(log)),
        incarnation_(log_->incarnation()),
        max_in_flight_(std::max<uint64_t>(1, log_->max_appends_in_flight())),
        options_(std::move(options)),
        wake_pool_(options_.wake_helpers),
        readers_(options_.reader_threads) {}

  // A point-in-time view: the latest revisions (the state, in memory), or
  // a past view read from the journal (PastView) once mu_ is released.
  struct ViewSpec {
    bool latest = true;
    View view = View::kLatest;
    absl::Time as_of;
  };
  static absl::StatusOr<ViewSpec> ParseView(const v1::PointInTime& when);
  // The revisions of a past view, up to `up_to`, that match `filter`.
  static absl::StatusOr<std::vector<EventPtr>> PastView(Journal& log, const ViewSpec& spec, uint64_t up_to,
                                                        const EventFilter& filter);
  // Subscribe's part under mu_: the subscription, in the fan-out.
  absl::StatusOr<std::shared_ptr<Subscription>> SubscribeLocked(const v1::SubscribeRequest& request,
                                                                const ViewSpec& spec)
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // One Publish call waiting in the commit queue.
  struct PendingPublish;
  // Validates and stamps each batch of `group` against the state, the
  // groups staged before it and the batches before it in the group, and
  // encodes its events. Holds mu_, not the journal.
  void StageGroup(StagedGroup& group) ABSL_LOCKS_EXCLUDED(mu_);
  // In staging order: begins journaling the group in one transaction
  // (group commit: one fsync for every publisher that queued meanwhile), or
  // voids it if the group it was staged on failed. Later groups stage and
  // begin meanwhile.
  void BeginGroup(StagedGroup& group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(begin_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // In staging order: waits until the group is journaled, then applies and
  // fans it out, and sets each batch's result. A group staged on one the
  // journal refused fails too.
  // Returns the subscriptions to wake: the caller wakes them once it has
  // handed the commit turn on, so the next group need not wait for the
  // streams' first writes.
  // With `restage` set, a shared journal's ABORTED (or a group voided by
  // another replica's append) sets *restage and leaves the results unset.
  [[nodiscard]] std::vector<std::shared_ptr<Subscription>> CommitGroup(StagedGroup& group, bool* restage)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Applies and fans out a batch another replica appended, once every
  // sequence before it is applied here.
  void ApplyFollowed(const std::vector<EventPtr>& events) ABSL_LOCKS_EXCLUDED(mu_);
  // After another replica's append got ahead of `group`: voids what was
  // staged and stages `group` again from the requests as they came.
  void Restage(StagedGroup& group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(begin_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // StageGroup's part under mu_.
  void StageGroupLocked(StagedGroup& group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The response to a batch applied before, with its events or without.
  absl::StatusOr<v1::PublishResponse> Replay(const BatchLocation& batch, bool with_events);
  void MaybePruneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<Journal> log_;
  const std::string incarnation_;
  // Groups being journaled at once.
  const uint64_t max_in_flight_;
  const Options options_;
  FanOut fanout_;
  WakePool wake_pool_;
  // After log_: stopped before the journal is closed.
  JobPool readers_;

  // Held while a group is checked against epoch_ and begun, and while epoch_
  // is bumped after a failed append: no group staged before the bump begins
  // after it.
  absl::Mutex begin_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_);
  // Groups staged and not yet applied, oldest first; the last sequence
  // staged; bumped when the journal refuses a group, voiding those after it.
  std::deque<StagedGroup*> staged_ ABSL_GUARDED_BY(mu_);
  uint64_t staged_last_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  // Set by the destructor: ApplyFollowed stops waiting.
  bool closing_ ABSL_GUARDED_BY(mu_) = false;

  // The commit queue: the caller at its front, when no group is staging,
  // stages the next group; groups commit in ticket order.
  absl::Mutex queue_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::deque<PendingPublish*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stager_active_ ABSL_GUARDED_BY(queue_mu_) = false;
  uint64_t next_ticket_ ABSL_GUARDED_BY(queue_mu_) = 0;
  uint64_t commit_turn_ ABSL_GUARDED_BY(queue_mu_) = 0;
  // Groups begun (journaling under way), in ticket order.
  uint64_t begin_turn_ ABSL_GUARDED_BY(queue_mu_) = 0;
  // Set when a group is void, refused or failed, so that it and the groups
  // after it are staged again: until one begins valid at its commit turn,
  // each group begins only once every group before it is applied, so none
  // lands ahead of one still to be staged again.
  bool drain_ ABSL_GUARDED_BY(queue_mu_) = false;

  std::atomic<uint64_t> restaged_{0};
  std::atomic<uint64_t> next_subscription_id_{1};
  absl::Notification stop_;
  std::thread ticker_;
};

}  // namespace kessan
