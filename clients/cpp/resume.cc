#include "kessan/resume.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kessan {
namespace {

bool IsEmpty(const v1::Filter& filter) {
  return filter.issuers_size() == 0 && filter.concepts_size() == 0 && filter.segments_size() == 0 &&
         filter.event_kinds_size() == 0;
}

}  // namespace

bool IsRetryableSubscribeEnd(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return true;
    case absl::StatusCode::kResourceExhausted:
      // The slow-consumer disconnect names the resume point; other
      // RESOURCE_EXHAUSTED (a message above the receive limit) would only
      // fail again.
      return absl::StrContains(status.message(), "from_sequence=");
    default:
      return false;
  }
}

ResumeTracker::ResumeTracker(v1::SubscribeRequest request)
    : request_(std::move(request)),
      every_event_(IsEmpty(request_.filter())),
      incarnation_(request_.incarnation()) {
  if (request_.start() == v1::START_MODE_FROM_SEQUENCE) {
    SetPosition(request_.from_sequence());
  }
}

void ResumeTracker::SetPosition(uint64_t sequence) {
  position_known_ = true;
  position_ = sequence;
}

absl::StatusOr<ResumeTracker::Verdict> ResumeTracker::Accept(const v1::FeedEvent& event) {
  switch (event.body_case()) {
    case v1::FeedEvent::kResync:
      snapshot_pending_ = true;  // Its snapshot follows.
      return Verdict::kDeliver;
    case v1::FeedEvent::kSnapshotBegin:
      if (!event.snapshot_begin().incarnation().empty()) {
        incarnation_ = event.snapshot_begin().incarnation();
      }
      in_snapshot_ = true;
      snapshot_pending_ = true;
      return Verdict::kDeliver;
    case v1::FeedEvent::kSnapshotEnd:
      in_snapshot_ = false;
      snapshot_pending_ = false;
      jump_allowed_ = false;
      SetPosition(event.snapshot_end().sequence());
      return Verdict::kDeliver;
    case v1::FeedEvent::kConflated:
      jump_allowed_ = true;
      return Verdict::kDeliver;
    case v1::FeedEvent::kHeartbeat:
      if (!event.heartbeat().incarnation().empty()) {
        incarnation_ = event.heartbeat().incarnation();
      }
      jump_allowed_ = false;
      return Verdict::kDeliver;
    default:
      break;
  }
  if (event.sequence() == 0 || in_snapshot_) return Verdict::kDeliver;
  if (!position_known_) {
    SetPosition(event.sequence());
    return Verdict::kDeliver;
  }
  if (event.sequence() <= position_) {
    ++duplicates_;
    return Verdict::kDuplicate;
  }
  if (every_event_ && !jump_allowed_ && event.sequence() != position_ + 1) {
    return absl::DataLossError(absl::StrCat("gap in the feed: sequence ", event.sequence(), " follows ",
                                            position_, " without a Resync or Conflated mark"));
  }
  position_ = event.sequence();
  return Verdict::kDeliver;
}

void ResumeTracker::StreamEnded() {
  if (in_snapshot_) snapshot_pending_ = true;
  in_snapshot_ = false;
  jump_allowed_ = false;
}

v1::SubscribeRequest ResumeTracker::NextRequest() const {
  v1::SubscribeRequest next = request_;
  if (snapshot_pending_) {
    next.set_start(v1::START_MODE_SNAPSHOT_THEN_LIVE);
    next.clear_from_sequence();
  } else if (position_known_) {
    next.set_start(v1::START_MODE_FROM_SEQUENCE);
    next.set_from_sequence(position_);
    next.set_incarnation(incarnation_);
  }
  return next;
}

}  // namespace kessan
