// NatsJournal: the Journal of a cluster, a NATS JetStream stream that every
// replica appends to and tails, with a local SQLite cache of it.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "journal/journal.h"
#include "journal/sqlite_journal.h"

struct __natsOptions;
struct __natsConnection;
struct __natsSubscription;
struct __natsMsg;
struct __jsCtx;
struct jsStreamInfo;
struct jsPubAck;
struct jsPubAckErr;

namespace kessan {

struct NatsJournalOptions {
  // Comma-separated server URLs: nats://h1:4222,nats://h2:4222.
  std::string url;
  // The JetStream stream; its subject is "<stream>.events". Created when
  // missing; an existing one must be compatible (see Open).
  std::string stream = "KESSAN";
  // Replicas of a stream this journal creates; 0: min(3, servers known).
  int replicas = 0;
  // The local cache (an SQLite journal file) and, beside it,
  // "<cache_path>.stream-seq": the last stream sequence it reflects.
  std::string cache_path;
  // How long a chunk's publish or a JetStream API request is retried while
  // it times out or finds no responder (a server or the stream's leader gone,
  // another being elected) before it fails with UNAVAILABLE.
  absl::Duration retry_timeout = absl::Seconds(30);
  // Connecting at Open, and each attempt of a JetStream request.
  absl::Duration request_timeout = absl::Seconds(5);
  // The stream's duplicate window (Nats-Msg-Id), for a stream created here.
  absl::Duration duplicates_window = absl::Minutes(2);
};

// NatsJournal keeps the journal in a JetStream stream, the record of truth
// shared by every replica, and serves reads from a local SqliteJournal
// (the cache) that a tail thread keeps up with the stream.
//
// Stream messages: one Append is one batch, published as n >= 1 messages
// (chunks) of at most the server's max_payload less headroom, so a batch of
// any size fits. Headers: Kessan-Batch (the batch's first event sequence),
// Kessan-Chunk ("i/n"). The chunks' bodies, concatenated, are the batch
// payload: varint version (1), varint first sequence, varint event count,
// varint record count and each BatchRecord (varint-length publisher_id and
// batch_key, fixed64 fingerprint, varint first_sequence and count), then
// one journal row of the events (journal_rows.h): varint keys size, keys,
// frames.
//
// Rules every replica applies the same way, so all agree on every sequence:
// - A batch is applied only when chunks 0..n-1 are consecutive stream
//   messages. A chunk 0 (or any message) that follows an incomplete batch
//   discards it: that batch is never applied, by anyone.
// - A complete batch is applied only if its first sequence is the applied
//   last_sequence()+1; otherwise it is skipped (never happens to batches
//   published by this class, see Append).
// Each chunk's Nats-Msg-Id names the stream, the batch's first sequence,
// a hash of its payload, the expected last stream sequence of chunk 0 and
// "i/n": a retry of a chunk is deduplicated, no two batches share an id.
// Append publishes chunk 0 with Nats-Expected-Last-Sequence = the last
// stream sequence this journal has processed (tailed or appended) and each
// later chunk with that of the chunk before: it lands only right after the
// stream state its sequences were computed from (optimistic concurrency).
// BeginAppend publishes without waiting for the acknowledgements, up to
// kMaxAppendsInFlight appends at once: an append begun while others are in
// flight expects the stream sequence and the Nats-Msg-Id of the last chunk
// before it (Nats-Expected-Last-Msg-Id), so it lands only right after them.
// Acknowledgements are taken in the order begun; a chunk without a good one
// is published again, synchronously, with the same id and expectations.
// While appends are in flight the tail holds back any message past them.
//
// Thread-safe per the Journal contract. Reads, views, FindBatch and Prune
// go to the cache (Prune prunes only the cache: the stream keeps all).
class NatsJournal final : public Journal {
 public:
  // Connects (UNAVAILABLE naming the URL when no server answers), finds or
  // creates the stream (FAILED_PRECONDITION naming it when its config would
  // lose or not hold the journal: other subjects, non-limits retention,
  // message/byte/age limits, sealed, a mirror), opens the cache and starts
  // tailing after the last stream sequence the cache reflects. A cache that
  // cannot be opened or does not match the stream (another stream, or ahead
  // of it, or its side file missing or stale) is dropped and rebuilt from
  // the stream. Open
  // does not wait for the tail: call CatchUp.
  static absl::StatusOr<std::unique_ptr<NatsJournal>> Open(NatsJournalOptions options);
  ~NatsJournal() override;

  // Publishes the batch as above and applies it to the cache; OK only once
  // JetStream acknowledged every chunk (stored on a quorum of replicas).
  // ABORTED (nothing of the batch is applied anywhere) when another replica
  // appended first: the stream moved on since this journal last processed
  // it, or the tail already applied events at these sequences. The caller
  // catches up and appends again with the next sequences.
  using Journal::Append;
  absl::Status Append(const std::vector<EventPtr>& events, const std::vector<BatchRecord>& batches) override;
  // Append without waiting, per the Journal contract; each Wait returns
  // what Append would have.
  std::unique_ptr<PendingAppend> BeginAppend(const std::vector<EventPtr>& events,
                                             const std::vector<BatchRecord>& batches) override;
  static constexpr size_t kMaxAppendsInFlight = 4;
  size_t max_appends_in_flight() const override { return kMaxAppendsInFlight; }
  void ResumeAppends() override;
  // "nats-<stream>-<its creation time>": the same on every replica, and
  // another for a stream deleted and made again.
  std::string incarnation() const override;
  uint64_t last_sequence() const override;
  uint64_t first_sequence() const override;
  absl::StatusOr<size_t> Read(uint64_t after, uint64_t up_to, size_t max_count,
                              const std::function<void(EventPtr)>& fn) override;
  absl::StatusOr<size_t> ReadToSend(uint64_t after, uint64_t up_to, size_t max_count,
                                    const std::function<void(EventPtr)>& fn) override;
  absl::Status ReadView(View view, absl::Time as_of, uint64_t up_to,
                        const std::function<void(EventPtr)>& fn) override;
  absl::StatusOr<std::optional<BatchLocation>> FindBatch(const std::string& publisher_id,
                                                         const std::string& batch_key) override;
  absl::StatusOr<size_t> Prune(uint64_t horizon, std::vector<uint64_t> keep) override;

  // Waits, at most `timeout`, until the tail has processed the stream up to
  // its last sequence at the time of the call, and the listener calls for
  // it have returned. DEADLINE_EXCEEDED if not in time; the tail's error
  // if it stopped.
  absl::Status CatchUp(absl::Duration timeout) override;

  // Called on the tail thread after each batch the tail applies (appended
  // by another replica, or before this journal opened), with its events,
  // in stream order. Not for this journal's own Appends. It must not call
  // Append or CatchUp.
  void SetAppendListener(AppendListener listener) override;
  bool shared() const override { return true; }

  // The last stream sequence processed (applied, skipped or appended).
  uint64_t stream_sequence() const;
  // Batches the tail applied since Open.
  uint64_t tail_applied_batches() const { return tail_applied_.load(); }
  // Whether Open dropped the cache and rebuilt it from the stream.
  bool rebuilt_cache() const { return rebuilt_cache_; }
  // The stream's subject: "<stream>.events".
  const std::string& subject() const { return subject_; }

 private:
  NatsJournal() = default;

  // A batch whose first chunks the tail has seen.
  struct Pending {
    uint64_t first_sequence = 0;
    int chunks = 0;
    int next = 0;
    uint64_t from_stream_seq = 0;  // of chunk 0
    std::string payload;
  };
  // Complete batches the tail has yet to apply, in one cache transaction.
  struct Group {
    std::vector<EventPtr> events;
    std::vector<BatchRecord> records;
    std::vector<size_t> batch_ends;  // each batch's end in events
    size_t bytes = 0;
    uint64_t from_stream_seq = 0;
  };

  // An append from BeginAppend until its Wait (nats_journal.cc).
  struct InFlight;
  class Handle;

  absl::Status Connect();
  // Handle::Wait: waits for the acknowledgements, then, once every append
  // begun before has finished, publishes again what lacks a good one and
  // applies the batch to the cache.
  absl::Status Finish(const std::shared_ptr<InFlight>& append);
  // The acknowledgement of an asynchronous publish (libnats' thread).
  static void OnAck(__jsCtx* js, __natsMsg* msg, ::jsPubAck* ack, ::jsPubAckErr* error, void* closure);
  // Finds or creates the stream; sets created_ns_ and the chunk size.
  absl::Status EnsureStream();
  // Opens the cache, dropping it unless its side file matches the stream.
  absl::Status OpenCache(uint64_t stream_first, uint64_t stream_last);
  // Records the stream sequence below the pending batch, if any: a
  // restart reads that batch's chunks again.
  absl::Status WriteSideFile() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StartTail();
  void TailLoop();
  // Processes one stream message: a complete batch joins group_.
  void ProcessLocked(__natsMsg* msg, uint64_t stream_seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies group_ to the cache and writes the side file; returns what it
  // applied.
  Group FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Chunk `index` of `append`, its headers set.
  absl::StatusOr<__natsMsg*> ChunkMessage(const InFlight& append, int index);
  // Publishes chunk `index` of `append`, retried as above; its stream
  // sequence.
  absl::StatusOr<uint64_t> PublishChunk(const InFlight& append, int index);
  // The stream's info (retried as above); the caller destroys it.
  absl::StatusOr<::jsStreamInfo*> StreamInfo();
  // The stream's last sequence.
  absl::StatusOr<uint64_t> StreamLastSequence();
  // Calls `call` until it succeeds, fails for good, or `until` (default:
  // retry_timeout from now) passes; at least once.
  int Retrying(const std::function<int(int* js_error)>& call, int* js_error,
               std::optional<absl::Time> until = std::nullopt);

  NatsJournalOptions options_;
  std::string subject_;
  std::string side_path_;
  int64_t created_ns_ = 0;
  size_t chunk_bytes_ = 0;
  bool rebuilt_cache_ = false;

  __natsOptions* nats_options_ = nullptr;
  __natsConnection* conn_ = nullptr;
  __jsCtx* js_ = nullptr;
  __natsSubscription* sub_ = nullptr;
  std::thread tail_thread_;
  std::atomic<bool> stopping_{false};

  // Set at Open, then only its thread-safe methods are used.
  std::unique_ptr<SqliteJournal> cache_;

  // The apply lock: the cache's writes, the stream position and the batch
  // being reassembled. Append holds it from first publish to apply.
  mutable absl::Mutex mu_ ABSL_ACQUIRED_BEFORE(listener_mu_);
  uint64_t stream_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<Pending> pending_ ABSL_GUARDED_BY(mu_);
  Group group_ ABSL_GUARDED_BY(mu_);
  // The stream and event sequences the side file holds, as last written
  // or read (UINT64_MAX: not known).
  std::pair<uint64_t, uint64_t> side_written_ ABSL_GUARDED_BY(mu_) = {UINT64_MAX, 0};
  // The side file, open once written, and its record's length.
  int side_fd_ ABSL_GUARDED_BY(mu_) = -1;
  size_t side_size_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status tail_status_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> tail_applied_{0};
  // Appends begun and not finished, oldest first, and their events.
  std::deque<std::shared_ptr<InFlight>> in_flight_ ABSL_GUARDED_BY(mu_);
  uint64_t in_flight_events_ ABSL_GUARDED_BY(mu_) = 0;
  // Set when an append fails; BeginAppend refuses until ResumeAppends.
  bool appends_failed_ ABSL_GUARDED_BY(mu_) = false;

  // Chunks published asynchronously and not acknowledged yet.
  absl::Mutex ack_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::map<__natsMsg*, std::pair<std::shared_ptr<InFlight>, int>> unacked_ ABSL_GUARDED_BY(ack_mu_);

  // Held by the tail while a listener call runs (taken under mu_, so
  // CatchUp can wait for a call on a batch it has seen applied).
  absl::Mutex listener_mu_;
  AppendListener listener_ ABSL_GUARDED_BY(listener_mu_);
};

}  // namespace kessan
