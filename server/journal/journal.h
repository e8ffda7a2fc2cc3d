// Journal: the durable journal of feed events.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "event/encoded_event.h"

namespace kessan {

// A publish batch's idempotence key, journaled with its events.
struct BatchRecord {
  std::string publisher_id;
  std::string batch_key;
  // A digest of the batch's items: a key reused for other items is an error.
  uint64_t fingerprint = 0;
  // Where the batch's events are in the append.
  uint64_t first_sequence = 0;
  uint64_t count = 0;
};

// Where an earlier batch with the same key landed.
struct BatchLocation {
  uint64_t first_sequence = 0;
  uint64_t count = 0;
  uint64_t fingerprint = 0;
};

// An append begun by Journal::BeginAppend.
class PendingAppend {
 public:
  virtual ~PendingAppend() = default;
  // Waits until the append is durable or has failed; returns what Append
  // would have. Called once.
  virtual absl::Status Wait() = 0;
  // Whether it finished when it was begun (Wait will not block).
  virtual bool finished() const { return false; }
};

// A PendingAppend that has finished with `status`.
inline std::unique_ptr<PendingAppend> DoneAppend(absl::Status status) {
  class Done final : public PendingAppend {
   public:
    explicit Done(absl::Status status) : status_(std::move(status)) {}
    absl::Status Wait() override { return status_; }
    bool finished() const override { return true; }

   private:
    absl::Status status_;
  };
  return std::make_unique<Done>(std::move(status));
}

// Which revision of each item ReadView yields.
enum class View { kFirstReported, kLatest, kAsOf };

// Journal stores events in sequence order. Sequences start at 1 and have
// no gaps, except below first_sequence() where retention has pruned
// superseded revisions. Implementations are thread-safe: one appender at a
// time (calls to Append are serialized by the caller) and any number of
// concurrent readers.
class Journal {
 public:
  virtual ~Journal() = default;

  // Appends `events`, whose sequences must be last_sequence()+1, +2, ... in
  // order, all or nothing, with the idempotence keys of the publish batches
  // they hold, in one transaction. Returns OK only once they are durable.
  // ABORTED, from a journal shared by replicas (NatsJournal) only: another
  // replica appended first, so these sequences are taken or stale; nothing
  // was appended. The caller catches up with the journal (applies the events
  // it did not append) and appends again with the next sequences.
  // UNAVAILABLE from a shared journal is in doubt: the batch may have been
  // stored without its acknowledgement, and then appears when catching up.
  virtual absl::Status Append(const std::vector<EventPtr>& events,
                              const std::vector<BatchRecord>& batches) = 0;
  absl::Status Append(const std::vector<EventPtr>& events) { return Append(events, {}); }

  // Append in two steps, so that up to max_appends_in_flight() appends are
  // under way at once: `events` continue the events of the appends begun
  // before and not yet waited for. Calls to BeginAppend are serialized by
  // the caller, and each handle's Wait is called in the order begun. When an
  // append fails, every append begun after it fails too: ABORTED when it was
  // ABORTED (nothing of them was appended), UNAVAILABLE when it was in doubt
  // (they are in doubt too). From then on BeginAppend fails with ABORTED
  // until the caller, having voided what it staged on the failed appends,
  // calls ResumeAppends. The default appends at once.
  virtual std::unique_ptr<PendingAppend> BeginAppend(const std::vector<EventPtr>& events,
                                                     const std::vector<BatchRecord>& batches) {
    return DoneAppend(Append(events, batches));
  }
  virtual size_t max_appends_in_flight() const { return 1; }
  virtual void ResumeAppends() {}

  // What the sequences are numbers of: another journal, or this one after
  // it lost acknowledged events, has another incarnation. Fixed while open.
  virtual std::string incarnation() const = 0;

  // The highest sequence appended; 0 for an empty log.
  virtual uint64_t last_sequence() const = 0;

  // The lowest sequence from which the log holds every event up to
  // last_sequence(): 1 until retention prunes, then the prune horizon.
  virtual uint64_t first_sequence() const = 0;

  // Calls `fn` with the events held whose sequence is in (after, up_to], in
  // order, at most `max_count` of them. Returns the number read. From
  // first_sequence() on there are no gaps. DATA_LOSS naming the event when
  // one it would read is damaged: then `fn` is called for none of them.
  virtual absl::StatusOr<size_t> Read(uint64_t after, uint64_t up_to, size_t max_count,
                                      const std::function<void(EventPtr)>& fn) = 0;

  // Read, for events that are sent and then dropped (a subscription's
  // backlog): their frames may share one buffer per journal row, so a
  // response of consecutive events is one slice, and each event held keeps
  // its row's buffer alive.
  virtual absl::StatusOr<size_t> ReadToSend(uint64_t after, uint64_t up_to, size_t max_count,
                                            const std::function<void(EventPtr)>& fn) {
    return Read(after, up_to, max_count, fn);
  }

  // Calls `fn`, in sequence order, with one revision per item among the
  // events up to `up_to`: the first one, the latest one, or the latest one
  // committed at or before `as_of`. DATA_LOSS, as Read, on damage.
  virtual absl::Status ReadView(View view, absl::Time as_of, uint64_t up_to,
                                const std::function<void(EventPtr)>& fn) = 0;

  // The batch journaled with this key, if any.
  virtual absl::StatusOr<std::optional<BatchLocation>> FindBatch(const std::string& publisher_id,
                                                                 const std::string& batch_key) = 0;

  // A journal shared by replicas (NatsJournal) reports the batches the
  // others append; a journal of one writer has none. Called in sequence
  // order with each such batch's events once they are readable here, on a
  // thread of the journal; it must not call Append or CatchUp.
  using AppendListener = std::function<void(const std::vector<EventPtr>&)>;
  virtual void SetAppendListener(AppendListener listener) {}
  // Whether other writers append to this journal (see Append's ABORTED).
  virtual bool shared() const { return false; }
  // Waits, at most `timeout`, until every batch appended anywhere before the
  // call is readable here and its listener call has returned.
  virtual absl::Status CatchUp(absl::Duration timeout) { return absl::OkStatus(); }

  // Deletes the events below `horizon` but those of `keep`: the caller
  // passes the latest revision of every item, so only superseded revisions
  // go. Returns how many.
  virtual absl::StatusOr<size_t> Prune(uint64_t horizon, std::vector<uint64_t> keep) = 0;
};

}  // namespace kessan
