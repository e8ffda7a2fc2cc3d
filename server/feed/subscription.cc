#include "feed/subscription.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace kessan {
namespace {
constexpr size_t kBacklogChunk = 512;
// A stalled consumer keeps at most this many groups' runs; older queued
// events go out as their own frames.
constexpr size_t kMaxRuns = 8;
}  // namespace

Subscription::Subscription(Options options)
    : filter_(std::move(options.filter)),
      log_(options.log),
      max_queued_(options.max_queued),
      policy_(options.policy),
      heartbeat_interval_(options.heartbeat_interval),
      initial_(std::make_move_iterator(options.initial.begin()),
               std::make_move_iterator(options.initial.end())),
      backlog_after_(options.backlog_after),
      backlog_up_to_(options.backlog_up_to),
      // A consumer busy with a snapshot or backlog takes live events when
      // done; only an idle one needs waking.
      waiting_(initial_.empty() && backlog_after_ >= backlog_up_to_),
      last_activity_(options.now) {}

bool Subscription::Push(EventPtr event) {
  absl::MutexLock lock(&mu_);
  return PushLocked(std::move(event));
}

bool Subscription::PushMatching(const std::vector<EventPtr>& events,
                                const std::function<WireRunPtr()>& run) {
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
    if (runs_.size() == kMaxRuns) runs_.pop_front();
    runs_.push_back(run());
  }
  return wake;
}

bool Subscription::PushLocked(EventPtr event) {
  if (close_.has_value()) return false;
  if (queue_.size() >= max_queued_ &&
      (policy_ != Options::Policy::kConflate || ConflateLocked() == 0)) {
    dropped_ += queue_.size() + 1;
    queue_.clear();
    control_.clear();
    runs_.clear();
    close_ = absl::ResourceExhaustedError(absl::StrCat(
        "slow consumer: more than ", max_queued_,
        " events queued; resume with start=START_MODE_FROM_SEQUENCE from_sequence=",
        last_taken()));
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
  if (heartbeat_interval_ <= absl::ZeroDuration() || close_.has_value() || !waiting_ ||
      now - last_activity_ < heartbeat_interval_) {
    return false;
  }
  v1::FeedEvent beat;
  v1::Heartbeat& h = *beat.mutable_heartbeat();
  h.set_last_sequence(last_sequence);
  h.set_delivered_sequence(last_taken());
  h.set_conflated_count(conflated_);
  h.set_dropped_count(dropped_);
  control_.push_back(EncodeEvent(std::move(beat)));
  last_activity_ = now;
  waiting_ = false;
  return true;
}

uint64_t Subscription::conflated_count() {
  absl::MutexLock lock(&mu_);
  return conflated_;
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

std::vector<EventPtr> Subscription::Take(size_t max_events, size_t max_bytes,
                                         std::vector<WireRunPtr>* runs) {
  std::vector<EventPtr> out;
  {
    // An error ends the subscription at once, snapshot and backlog included.
    absl::MutexLock lock(&mu_);
    if (close_.has_value() && !close_->ok()) return out;
  }
  size_t bytes = 0;
  auto room = [&] { return out.size() < max_events && bytes < max_bytes; };
  auto add = [&](EventPtr e) {
    bytes += e->frame_size();
    if (e->sequence() > 0) last_taken_.store(e->sequence(), std::memory_order_relaxed);
    out.push_back(std::move(e));
  };
  while (room() && !initial_.empty()) {
    add(std::move(initial_.front()));
    initial_.pop_front();
  }
  while (room() && backlog_after_ < backlog_up_to_ && backlog_error_.ok()) {
    uint64_t read_to = backlog_after_;
    size_t chunk = std::min(kBacklogChunk, max_events - out.size());
    if (backlog_frame_bytes_ > 0) {
      chunk = std::min(chunk, (max_bytes - bytes) / backlog_frame_bytes_ + 1);
    }
    absl::Status damaged;
    size_t read_bytes = 0, read_events = 0;
    absl::StatusOr<size_t> n = log_->ReadToSend(
        backlog_after_, backlog_up_to_, chunk, [&](EventPtr e) {
          // Once the response is full, the rest is read again by the next Take.
          if (!damaged.ok() || !room()) return;
          read_bytes += e->frame_size();
          ++read_events;
          // A filter parses the event; an unfiltered resume sends the bytes.
          if (!filter_.matches_all() && !(damaged = CheckParsed(*e)).ok()) return;
          read_to = e->sequence();
          if (filter_.matches_all() || filter_.Matches(e->attrs())) add(std::move(e));
        });
    if (!damaged.ok()) {
      backlog_error_ = damaged;
    } else if (!n.ok()) {
      backlog_error_ = n.status();
    } else if (*n == 0) {
      backlog_error_ = absl::DataLossError(absl::StrCat(
          "journal ends before sequence ", backlog_up_to_));
    }
    backlog_after_ = read_to;
    if (read_events > 0) backlog_frame_bytes_ = std::max<size_t>(1, read_bytes / read_events);
  }
  if (!out.empty() || backlog_after_ < backlog_up_to_) {
    if (!backlog_error_.ok()) Close(backlog_error_);
    absl::MutexLock lock(&mu_);
    sent_since_check_ = sent_since_check_ || !out.empty();
    return out;
  }
  absl::MutexLock lock(&mu_);
  while (room() && !control_.empty()) {
    add(std::move(control_.front()));
    control_.pop_front();
  }
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
    while (!runs_.empty() && (queue_.empty() ||
                              runs_.front()->last_sequence() < queue_.front()->sequence())) {
      runs_.pop_front();
    }
  }
  waiting_ = out.empty();
  if (!out.empty()) sent_since_check_ = true;
  return out;
}

std::optional<absl::Status> Subscription::Finished() {
  absl::MutexLock lock(&mu_);
  if (!close_.has_value()) return std::nullopt;
  if (close_->ok() && (!queue_.empty() || !initial_.empty())) return std::nullopt;
  return close_;
}

}  // namespace kessan
