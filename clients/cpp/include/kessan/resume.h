// kessan/resume.h: resuming a subscription after its stream ended: the
// options, what the caller is told, and the bookkeeping that keeps the
// events it sees free of duplicates and silent gaps.

#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kessan/backoff.h"
#include "kessan/v1/feed.pb.h"

namespace kessan {

// ResumeNotice
//
// What a resuming subscription tells its caller besides the events.
struct ResumeNotice {
  enum class Kind {
    // The stream ended with `status`, a retryable end; the next attempt
    // starts after `delay`.
    kDisconnected,
    // A new stream delivered its first response after a reconnect.
    kResumed,
    // The server no longer holds the events after `resume_from` (a
    // retention limit): `resync` says why; a full snapshot follows. The
    // Resync event itself is delivered to the event callback too.
    kResync,
  };
  Kind kind = Kind::kDisconnected;
  // kDisconnected: why the stream ended.
  absl::Status status;
  // Attempts since the subscription last made progress (1: the first retry).
  int attempt = 0;
  // kDisconnected: the pause before the next attempt.
  absl::Duration delay = absl::ZeroDuration();
  // The last journaled sequence delivered (or snapshot point passed): the
  // next stream resumes after it. 0 with `restart_snapshot`.
  uint64_t resume_from = 0;
  // The stream ended inside a snapshot (after SnapshotBegin, before
  // SnapshotEnd): the snapshot starts over with a new SnapshotBegin, so the
  // caller drops the items it got since the last SnapshotBegin.
  bool restart_snapshot = false;
  // kResync: the server's Resync.
  v1::Resync resync;
  // kDisconnected: the server the next attempt goes to (another one after
  // a failover); kResumed, kResync: the server of the stream.
  std::string server;
};

// ResumeOptions
//
// How Client::SubscribeResuming() reconnects.
struct ResumeOptions {
  // Delays between attempts, and how many attempts without progress are
  // allowed (with several servers, an attempt is a round over all of them) (an attempt makes progress when
  // its stream delivers an event to the caller, a heartbeat included; dropped duplicates do not count).
  BackoffOptions backoff;
  // The heartbeat interval asked for when the request leaves it 0. A stream
  // silent for `stall_heartbeats` intervals is cancelled as stalled
  // (DEADLINE_EXCEEDED) and resumed.
  absl::Duration heartbeat_interval = absl::Seconds(5);
  int stall_heartbeats = 3;
  // How long a reconnect waits for the connection before it counts as a
  // failed attempt.
  absl::Duration connect_timeout = absl::Seconds(5);
  // Called for each notice, on the subscribing thread. May be empty.
  std::function<void(const ResumeNotice&)> on_notice;
  // For tests: the source of jitter (uniform in [0, 1)) and the sleep
  // between attempts. Empty: a seeded generator and absl::SleepFor.
  Backoff::Random random;
  std::function<void(absl::Duration)> sleep;
};

// IsRetryableSubscribeEnd()
//
// Whether a stream that ended with `status` is worth resuming: UNAVAILABLE
// (connection lost, server shutting down), DEADLINE_EXCEEDED (a stalled
// stream), ABORTED, INTERNAL and UNKNOWN (a broken transport), and
// RESOURCE_EXHAUSTED when it is the slow-consumer disconnect (its message
// names "from_sequence="). Refusals (INVALID_ARGUMENT, OUT_OF_RANGE,
// PERMISSION_DENIED, UNAUTHENTICATED, ...) are not.
bool IsRetryableSubscribeEnd(const absl::Status& status);

// ResumeTracker
//
// The position of a resuming subscription and the rules its events must
// keep. Feed it every event in stream order with Accept(); ask
// NextRequest() for the request that resumes after a stream ended.
//
// The rules, checked on journaled events (sequence > 0) outside a
// snapshot, once the position is known:
//   - a sequence at or below the position is a duplicate: not delivered;
//   - with an empty filter (every event matches) the next sequence must be
//     the position + 1, except between a Conflated mark and the next
//     Heartbeat (the conflated queue has drained by then): any other jump
//     is a gap, DATA_LOSS.
// A snapshot (after SnapshotBegin, up to SnapshotEnd) is not checked: its
// items carry the sequences of their revisions, in no order; SnapshotEnd
// sets the position (a Resync is always followed by one).
// With a filter, skipped sequences are events that did not match.
//
// Not thread-safe.
class ResumeTracker {
 public:
  enum class Verdict { kDeliver, kDuplicate };

  // `request` is the subscription as the caller asked for it; its
  // heartbeat interval should be set (the server's default is unknown to
  // the client). LIVE_ONLY has no position until SetPosition().
  explicit ResumeTracker(v1::SubscribeRequest request);

  // Checks `event`: kDeliver or kDuplicate, or DATA_LOSS for a gap.
  absl::StatusOr<Verdict> Accept(const v1::FeedEvent& event);

  // Sets the position: every matching event up to `sequence` is known.
  void SetPosition(uint64_t sequence);

  // The request of the next attempt: the caller's request while nothing
  // was learnt, FROM_SEQUENCE the position once it is known (with the
  // journal's incarnation, so another journal's server resyncs instead of
  // sending events under numbers already seen), and a new snapshot when the
  // stream ended inside one.
  v1::SubscribeRequest NextRequest() const;

  // Call when a stream ended: leaves the snapshot state.
  void StreamEnded();

  bool position_known() const { return position_known_; }
  uint64_t position() const { return position_; }
  bool in_snapshot() const { return in_snapshot_; }
  // The next attempt starts a snapshot over (see NextRequest()).
  bool snapshot_pending() const { return snapshot_pending_; }
  // Duplicates dropped so far.
  uint64_t duplicates() const { return duplicates_; }
  // The journal's incarnation, from the last SnapshotBegin or Heartbeat
  // (or the caller's request); empty before one.
  const std::string& incarnation() const { return incarnation_; }

 private:
  const v1::SubscribeRequest request_;
  const bool every_event_;  // The filter is empty.
  bool position_known_ = false;
  uint64_t position_ = 0;
  bool in_snapshot_ = false;
  // The snapshot was started by a Resync (or the stream ended in one):
  // the next attempt asks for a snapshot.
  bool snapshot_pending_ = false;
  bool jump_allowed_ = false;
  uint64_t duplicates_ = 0;
  std::string incarnation_;
};

}  // namespace kessan
