#include "feed/subscription.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace kessan {
namespace {
// Events read from the journal at a time, and kept read ahead of the
// consumer: a read starts when fewer are left.
constexpr size_t kBacklogChunk = 512;
// A stalled consumer keeps at most this many groups' runs; older queued
// events go out as their own frames.
constexpr size_t kMaxRuns = 8;
}  // namespace

Subscription::Subscription(Options options)
    : filter_(std::move(options.filter)),
      log_(options.log),
      readers_(options.readers),
      max_queued_(options.max_queued),
      policy_(options.policy),
      heartbeat_interval_(options.heartbeat_interval),
      incarnation_(options.incarnation),
      id_(options.id),
      metrics_(options.metrics),
      load_initial_(std::move(options.load_initial)),
      initial_pending_(load_initial_ != nullptr),
      pending_(std::make_move_iterator(options.initial.begin()),
               std::make_move_iterator(options.initial.end())),
      backlog_after_(options.backlog_after),
      backlog_up_to_(options.backlog_up_to),
      // A consumer busy with a snapshot or backlog takes live events when
      // done; only an idle one needs waking.
      waiting_(pending_.empty() && !initial_pending_ && backlog_after_ >= backlog_up_to_),
      last_activity_(options.now) {}

void Subscription::Start() {
  Reads reads;
  {
    absl::MutexLock lock(&mu_);
    reads = DueReadsLocked();
  }
  RunReads(reads);
}

bool Subscription::ReadingLocked() const {
  // An error of the backlog's reads counts until Take has ended with it.
  return initial_pending_ || !pending_.empty() || backlog_after_ < backlog_up_to_ || backlog_reading_ ||
         !backlog_error_.ok();
}

bool Subscription::reading() {
  absl::MutexLock lock(&mu_);
  return ReadingLocked() && !(close_.has_value() && !close_->ok());
}

bool Subscription::AwaitReads(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(
                                  +[](Subscription* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
                                    return !s->initial_pending_ && !s->backlog_reading_;
                                  },
                                  this),
                              timeout);
}

Subscription::Reads Subscription::DueReadsLocked() {
  Reads reads;
  if (close_.has_value() && !close_->ok()) return reads;
  if (load_initial_ != nullptr) {
    reads.initial = std::move(load_initial_);
    load_initial_ = nullptr;
  } else if (!initial_pending_ && !backlog_reading_ && backlog_error_.ok() &&
             backlog_after_ < backlog_up_to_ && pending_.size() < kBacklogChunk) {
    backlog_reading_ = true;
    reads.backlog = true;
  }
  return reads;
}

void Subscription::RunReads(Reads reads) {
  if (!reads.initial && !reads.backlog) return;
  std::weak_ptr<Subscription> self = weak_from_this();
  if (readers_ == nullptr || self.expired()) {
    // No pool, or not shared (a test's own object): read here.
    if (reads.initial) LoadInitial(reads.initial);
    if (reads.backlog) ReadBacklog();
    return;
  }
  readers_->Post([self, reads = std::move(reads)] {
    std::shared_ptr<Subscription> s = self.lock();
    if (s == nullptr) return;  // gone meanwhile
    if (reads.initial) s->LoadInitial(reads.initial);
    if (reads.backlog) s->ReadBacklog();
  });
}

void Subscription::LoadInitial(const std::function<absl::StatusOr<std::vector<EventPtr>>()>& load) {
  absl::StatusOr<std::vector<EventPtr>> initial = load();
  bool wake;
  Reads next;
  {
    absl::MutexLock lock(&mu_);
    initial_pending_ = false;
    if (!initial.ok()) {
      if (!close_.has_value()) {
        queue_.clear();
        runs_.clear();
        close_ = initial.status();
      }
    } else {
      for (EventPtr& e : *initial) pending_.push_back(std::move(e));
    }
    wake = waiting_;
    waiting_ = false;
    // Without a pool the consumer's next Take reads on.
    if (readers_ != nullptr && !weak_from_this().expired()) next = DueReadsLocked();
  }
  if (wake) Wake();
  RunReads(std::move(next));
}

void Subscription::ReadBacklog() {
  uint64_t after;
  {
    absl::MutexLock lock(&mu_);
    after = backlog_after_;
  }
  std::vector<EventPtr> matched;
  uint64_t read_to = after;
  absl::Status damaged;
  absl::StatusOr<size_t> n = log_->ReadToSend(after, backlog_up_to_, kBacklogChunk, [&](EventPtr e) {
    if (!damaged.ok()) return;
    // A filter parses the event; an unfiltered resume sends the bytes.
    if (!filter_.matches_all() && !(damaged = CheckParsed(*e)).ok()) return;
    read_to = e->sequence();
    if (filter_.matches_all() || filter_.Matches(e->attrs())) matched.push_back(std::move(e));
  });
  bool wake;
  Reads next;
  {
    absl::MutexLock lock(&mu_);
    backlog_reading_ = false;
    for (EventPtr& e : matched) pending_.push_back(std::move(e));
    backlog_after_ = read_to;
    if (!damaged.ok()) {
      backlog_error_ = damaged;
    } else if (!n.ok()) {
      backlog_error_ = n.status();
    } else if (*n == 0) {
      backlog_error_ = absl::DataLossError(absl::StrCat("journal ends before sequence ", backlog_up_to_));
    }
    if (!backlog_error_.ok()) backlog_after_ = backlog_up_to_;  // no more reads
    wake = waiting_;
    waiting_ = false;
    // Without a pool the consumer's next Take reads on.
    if (readers_ != nullptr && !weak_from_this().expired()) next = DueReadsLocked();
  }
  if (wake) Wake();
  RunReads(std::move(next));
}

bool Subscription::Push(EventPtr event) {
  absl::MutexLock lock(&mu_);
  return PushLocked(std::move(event));
}

bool Subscription::PushMatching(const std::vector<EventPtr>& events, const std::function<WireRunPtr()>& run) {
  absl::MutexLock lock(&mu_);
  bool wake = false;
  size_t matched = 0;
  for (const EventPtr& event : events) {
    if (filter_.Matches(event->attrs())) {
      wake = PushLocked(event) || wake;
      ++matched;
    }
  }
  if (run && matched > 0 && 2 * matched >= events.size() && !close_.has_value()) {
    if (runs_.size() == kMaxRuns) runs_.erase(runs_.begin());
    runs_.push_back(run());
  }
  return wake;
}

bool Subscription::PushLocked(EventPtr event) {
  if (close_.has_value()) return false;
  if (queue_.size() >= max_queued_ && (policy_ != Options::Policy::kConflate || ConflateLocked() == 0)) {
    dropped_ += queue_.size() + 1;
    if (metrics_ != nullptr) metrics_->slow_consumer_disconnects.Increment();
    queue_.clear();
    control_.clear();
    runs_.clear();
    close_ = absl::ResourceExhaustedError(absl::StrCat(
        "slow consumer: more than ", max_queued_,
        " events queued; resume with start=START_MODE_FROM_SEQUENCE from_sequence=", last_taken()));
    return true;
  }
  queue_.push_back(std::move(event));
  bool wake = waiting_;
  waiting_ = false;
  return wake;
}

size_t Subscription::ConflateLocked() {
  absl::flat_hash_set<absl::string_view> seen;
  std::deque<EventPtr> kept;
  for (auto it = queue_.rbegin(); it != queue_.rend(); ++it) {
    if (seen.insert((*it)->attrs().item_key).second) kept.push_front(*it);
  }
  size_t skipped = queue_.size() - kept.size();
  if (skipped == 0) return 0;
  queue_.swap(kept);
  conflated_ += skipped;
  if (metrics_ != nullptr) {
    metrics_->conflations.Increment();
    metrics_->conflated_events.Increment(skipped);
  }
  v1::FeedEvent mark;
  mark.mutable_conflated()->set_skipped_count(skipped);
  mark.mutable_conflated()->set_conflated_count(conflated_);
  control_.push_back(EncodeEvent(std::move(mark)));
  return skipped;
}

bool Subscription::MaybeHeartbeat(absl::Time now, uint64_t last_sequence) {
  absl::MutexLock lock(&mu_);
  if (sent_since_check_) {
    sent_since_check_ = false;
    last_activity_ = now;
    return false;
  }
  if (heartbeat_interval_ <= absl::ZeroDuration() || close_.has_value() || !waiting_ || ReadingLocked() ||
      now - last_activity_ < heartbeat_interval_) {
    return false;
  }
  v1::FeedEvent beat;
  v1::Heartbeat& h = *beat.mutable_heartbeat();
  h.set_last_sequence(last_sequence);
  h.set_delivered_sequence(last_taken());
  h.set_conflated_count(conflated_);
  h.set_dropped_count(dropped_);
  h.set_incarnation(incarnation_);
  control_.push_back(EncodeEvent(std::move(beat)));
  last_activity_ = now;
  waiting_ = false;
  return true;
}

uint64_t Subscription::conflated_count() {
  absl::MutexLock lock(&mu_);
  return conflated_;
}

uint64_t Subscription::queued() {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

uint64_t Subscription::dropped_count() {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

void Subscription::Close(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (close_.has_value()) return;
  if (!status.ok()) {
    queue_.clear();
    runs_.clear();
  }
  close_ = std::move(status);
}

void Subscription::SetWaker(std::shared_ptr<Waker> waker) {
  absl::MutexLock lock(&mu_);
  waker_ = std::move(waker);
}

void Subscription::Wake() {
  std::shared_ptr<Waker> waker;
  {
    absl::MutexLock lock(&mu_);
    waker = waker_;
  }
  if (waker) waker->Wake();
}

std::vector<EventPtr> Subscription::Take(size_t max_events, size_t max_bytes, std::vector<WireRunPtr>* runs) {
  std::vector<EventPtr> out;
  size_t bytes = 0;
  auto room = [&] { return out.size() < max_events && bytes < max_bytes; };
  auto add = [&](EventPtr e) {
    bytes += e->frame_size();
    if (e->sequence() > 0) last_taken_.store(e->sequence(), std::memory_order_relaxed);
    out.push_back(std::move(e));
  };
  while (true) {
    Reads reads;
    {
      absl::MutexLock lock(&mu_);
      // An error ends the subscription at once, snapshot and backlog included.
      if (close_.has_value() && !close_->ok()) return out;
      if (!ReadingLocked()) break;
      while (room() && !pending_.empty()) {
        add(std::move(pending_.front()));
        pending_.pop_front();
      }
      if (!backlog_error_.ok() && pending_.empty() && !backlog_reading_) {
        // What was read before the error went out first.
        queue_.clear();
        runs_.clear();
        close_ = backlog_error_;
      }
      reads = DueReadsLocked();
      if (!out.empty()) sent_since_check_ = true;
      waiting_ = out.empty();
    }
    const bool due = reads.initial || reads.backlog;
    const bool here = readers_ == nullptr || weak_from_this().expired();
    RunReads(std::move(reads));
    // Read on this thread: take what the read gave, if there is room.
    if (!due || !here || !room()) return out;
  }
  absl::MutexLock lock(&mu_);
  // Sized once for what is queued, not grown by doubling while it is taken.
  out.reserve(std::min(max_events, out.size() + control_.size() + queue_.size()));
  size_t controls = 0;
  while (room() && controls < control_.size()) add(std::move(control_[controls++]));
  control_.erase(control_.begin(), control_.begin() + controls);
  const size_t live_from = out.size();
  while (room() && !queue_.empty()) {
    add(std::move(queue_.front()));
    queue_.pop_front();
  }
  if (out.size() > live_from && !runs_.empty()) {
    const uint64_t first = out[live_from]->sequence();
    const uint64_t last = out.back()->sequence();
    if (runs != nullptr) {
      for (const WireRunPtr& run : runs_) {
        if (run->last_sequence() >= first && run->first_sequence() <= last) runs->push_back(run);
      }
    }
    // Runs ending before what is still queued are done with.
    size_t done = 0;
    while (done < runs_.size() &&
           (queue_.empty() || runs_[done]->last_sequence() < queue_.front()->sequence())) {
      ++done;
    }
    runs_.erase(runs_.begin(), runs_.begin() + done);
  }
  waiting_ = out.empty();
  if (!out.empty()) sent_since_check_ = true;
  return out;
}

std::optional<absl::Status> Subscription::Finished() {
  absl::MutexLock lock(&mu_);
  if (!close_.has_value()) return std::nullopt;
  if (close_->ok() && (!queue_.empty() || ReadingLocked())) return std::nullopt;
  return close_;
}

}  // namespace kessan
