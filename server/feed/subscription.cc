#include "feed/subscription.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kessan {
namespace {
constexpr size_t kBacklogChunk = 512;
}  // namespace

Subscription::Subscription(Options options)
    : filter_(std::move(options.filter)),
      log_(options.log),
      max_queued_(options.max_queued),
      initial_(std::make_move_iterator(options.initial.begin()),
               std::make_move_iterator(options.initial.end())),
      backlog_after_(options.backlog_after),
      backlog_up_to_(options.backlog_up_to) {}

bool Subscription::Push(EventPtr event) {
  absl::MutexLock lock(&mu_);
  if (close_.has_value()) return false;
  if (queue_.size() >= max_queued_) {
    queue_.clear();
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

void Subscription::Close(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (close_.has_value()) return;
  if (!status.ok()) queue_.clear();
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

std::vector<EventPtr> Subscription::Take(size_t max_events, size_t max_bytes) {
  std::vector<EventPtr> out;
  size_t bytes = 0;
  auto room = [&] { return out.size() < max_events && bytes < max_bytes; };
  auto add = [&](EventPtr e) {
    bytes += e->frame.size();
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
    absl::StatusOr<size_t> n = log_->Read(
        backlog_after_, backlog_up_to_, chunk, [&](EventPtr e) {
          read_to = e->sequence();
          if (filter_.Matches(e->attrs)) add(std::move(e));
        });
    if (!n.ok()) {
      backlog_error_ = n.status();
    } else if (*n == 0) {
      backlog_error_ = absl::DataLossError(absl::StrCat(
          "journal ends before sequence ", backlog_up_to_));
    }
    backlog_after_ = read_to;
  }
  if (!out.empty() || backlog_after_ < backlog_up_to_) {
    if (!backlog_error_.ok()) Close(backlog_error_);
    return out;
  }
  absl::MutexLock lock(&mu_);
  while (room() && !queue_.empty()) {
    add(std::move(queue_.front()));
    queue_.pop_front();
  }
  waiting_ = out.empty();
  return out;
}

std::optional<absl::Status> Subscription::Finished() {
  absl::MutexLock lock(&mu_);
  if (!close_.has_value()) return std::nullopt;
  if (close_->ok() && (!queue_.empty() || !initial_.empty())) return std::nullopt;
  return close_;
}

}  // namespace kessan
