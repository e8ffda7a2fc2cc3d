// Subscription: one subscriber's ordered source of events.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "event/encoded_event.h"
#include "event/filter.h"
#include "event/wire_run.h"
#include "feed/job_pool.h"
#include "journal/journal.h"
#include "metrics/feed_metrics.h"

namespace kessan {

// Waker is told that a subscription has events to take. Wake() may be called
// from any thread, and must not block.
class Waker {
 public:
  virtual ~Waker() = default;
  virtual void Wake() = 0;
};

// Subscription yields, in order: its initial events (a snapshot, given or
// read by load_initial), then the journal's events in (backlog_after,
// backlog_up_to] that match its filter (a resume), then live events pushed
// by the fan-out. Journal reads run on the JobPool, a chunk ahead of the
// consumer, never in Take: Take returns nothing while a read is due, and the
// read wakes the consumer when it is done. The live queue is
// bounded. On overflow, policy kDisconnect closes the subscription with
// RESOURCE_EXHAUSTED naming the sequence to resume from and drops what it
// held; kConflate keeps the latest queued revision per item and marks the
// skip with a Conflated event. Heartbeats go out when the stream is idle.
//
// Thread-safety: Push, Close and SetWaker may be called from any thread;
// Take and Finished from the one consumer at a time. Made with make_shared:
// a read holds a weak reference to it.
class Subscription : public std::enable_shared_from_this<Subscription> {
 public:
  struct Options {
    EventFilter filter;
    std::vector<EventPtr> initial;
    // When set, the initial events are what it returns (a snapshot read
    // from the journal), read on `readers`; an error ends the subscription.
    std::function<absl::StatusOr<std::vector<EventPtr>>()> load_initial;
    Journal* log = nullptr;  // for the backlog; unowned, outlives this
    // Where journal reads run; null: on the thread of Start or Take.
    JobPool* readers = nullptr;
    uint64_t backlog_after = 0;
    uint64_t backlog_up_to = 0;
    size_t max_queued = 65536;
    enum class Policy { kDisconnect, kConflate } policy = Policy::kDisconnect;
    // Zero: no heartbeats.
    absl::Duration heartbeat_interval = absl::ZeroDuration();
    absl::Time now = absl::UnixEpoch();
    // The journal's, for heartbeats.
    std::string incarnation;
    // For metrics: an id unique in the process, and where overflows are
    // counted (unowned; null: not counted).
    uint64_t id = 0;
    metrics::FeedMetrics* metrics = nullptr;
  };
  explicit Subscription(Options options);

  // Starts the journal reads the subscription needs, if any.
  void Start();

  const EventFilter& filter() const { return filter_; }

  // Queues a live event; returns true when the consumer should be woken.
  bool Push(EventPtr event);
  // Queues the events of `events` that match the filter, under one lock.
  // `run`, when given, holds their frames back to back; it is kept for the
  // response only when at least half of them match, so a narrow filter
  // does not hold whole groups for a few events.
  bool PushMatching(const std::vector<EventPtr>& events, const std::function<WireRunPtr()>& run = nullptr);
  // Ends the subscription with `status` once the queue is drained (OK) or at
  // once (an error).
  void Close(absl::Status status);
  void SetWaker(std::shared_ptr<Waker> waker);
  // Wakes the consumer, if one is set.
  void Wake();
  // Queues a heartbeat when the stream has sent nothing for its interval;
  // returns true when the consumer should be woken.
  bool MaybeHeartbeat(absl::Time now, uint64_t last_sequence);

  // Takes up to `max_events` events totalling about `max_bytes`. Empty when
  // nothing is ready; then Finished() says whether more may come. Never
  // reads the journal. `runs`,
  // if given, receives the kept runs that may hold taken events (for
  // AppendWire).
  std::vector<EventPtr> Take(size_t max_events, size_t max_bytes, std::vector<WireRunPtr>* runs = nullptr);
  // When the subscription is over: its final status. Nullopt while live.
  std::optional<absl::Status> Finished();

  // True while its snapshot or backlog is not all taken (and it has not
  // ended with an error).
  bool reading();
  // Waits, at most `timeout`, until no journal read of it is out; true when
  // none is. For a consumer without a Waker.
  bool AwaitReads(absl::Duration timeout);

  // The highest journaled sequence taken by the consumer.
  uint64_t last_taken() const { return last_taken_.load(std::memory_order_relaxed); }
  uint64_t conflated_count();
  uint64_t dropped_count();
  uint64_t id() const { return id_; }
  // Live events queued, not yet taken.
  uint64_t queued();

 private:
  const EventFilter filter_;
  Journal* const log_;
  JobPool* const readers_;
  const size_t max_queued_;
  const Options::Policy policy_;
  const absl::Duration heartbeat_interval_;
  const std::string incarnation_;
  const uint64_t id_;
  metrics::FeedMetrics* const metrics_;
  std::atomic<uint64_t> last_taken_{0};

  absl::Mutex mu_;
  // The snapshot: pending while load_initial has not returned; the
  // function is taken out when its read is posted.
  std::function<absl::StatusOr<std::vector<EventPtr>>()> load_initial_ ABSL_GUARDED_BY(mu_);
  bool initial_pending_ ABSL_GUARDED_BY(mu_);
  // The snapshot's events, then the backlog's, not yet taken: one queue, as
  // the backlog is read only once the snapshot is in it (an empty std::deque
  // costs ~600 bytes, which counts for every idle subscriber).
  std::deque<EventPtr> pending_ ABSL_GUARDED_BY(mu_);
  // The backlog: read up to backlog_after_ (what matched is in pending_),
  // whether a read is out, and the error that ended the reads.
  uint64_t backlog_after_ ABSL_GUARDED_BY(mu_);
  const uint64_t backlog_up_to_;
  bool backlog_reading_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status backlog_error_ ABSL_GUARDED_BY(mu_);
  std::deque<EventPtr> queue_ ABSL_GUARDED_BY(mu_);
  // Runs holding queued events, oldest first; at most kMaxRuns. Vectors
  // here and in control_, which allocate nothing while empty.
  std::vector<WireRunPtr> runs_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> close_ ABSL_GUARDED_BY(mu_);
  bool waiting_ ABSL_GUARDED_BY(mu_);  // the consumer found nothing last time
  std::shared_ptr<Waker> waker_ ABSL_GUARDED_BY(mu_);
  // Control events (heartbeats, conflation marks) go before queue_.
  std::vector<EventPtr> control_ ABSL_GUARDED_BY(mu_);
  absl::Time last_activity_ ABSL_GUARDED_BY(mu_);
  bool sent_since_check_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t conflated_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;

  bool PushLocked(EventPtr event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True while the snapshot or the backlog has events still to come.
  bool ReadingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The journal reads due now: marks them out and returns them, for
  // RunReads once mu_ is released.
  struct Reads {
    std::function<absl::StatusOr<std::vector<EventPtr>>()> initial;
    bool backlog = false;
  };
  Reads DueReadsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `reads` on the pool (or here, without one).
  void RunReads(Reads reads) ABSL_LOCKS_EXCLUDED(mu_);
  void LoadInitial(const std::function<absl::StatusOr<std::vector<EventPtr>>()>& load)
      ABSL_LOCKS_EXCLUDED(mu_);
  void ReadBacklog() ABSL_LOCKS_EXCLUDED(mu_);
  // Keeps the latest queued revision per item; returns how many it dropped.
  size_t ConflateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
};

}  // namespace kessan
