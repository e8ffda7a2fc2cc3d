#include "kessan/resume.h"

#include <gtest/gtest.h>

#include "fake_feed_service.h"

namespace kessan {
namespace {

using fakes::FactEvent;
using Verdict = ResumeTracker::Verdict;

v1::SubscribeRequest From(uint64_t sequence) {
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_FROM_SEQUENCE);
  request.set_from_sequence(sequence);
  request.set_heartbeat_interval_ms(1000);
  return request;
}

v1::FeedEvent Control(const char* which, uint64_t sequence = 0) {
  v1::FeedEvent event;
  const std::string kind = which;
  if (kind == "begin") event.mutable_snapshot_begin()->set_sequence(sequence);
  if (kind == "end") event.mutable_snapshot_end()->set_sequence(sequence);
  if (kind == "heartbeat") event.mutable_heartbeat()->set_last_sequence(sequence);
  if (kind == "conflated") event.mutable_conflated()->set_skipped_count(1);
  if (kind == "resync") event.mutable_resync()->set_requested_sequence(sequence);
  return event;
}

Verdict Accept(ResumeTracker& tracker, const v1::FeedEvent& event) {
  absl::StatusOr<Verdict> verdict = tracker.Accept(event);
  EXPECT_TRUE(verdict.ok()) << verdict.status();
  return verdict.value_or(Verdict::kDuplicate);
}

TEST(ResumeTrackerTest, FromSequenceStartsAtThatSequence) {
  ResumeTracker tracker(From(5));
  EXPECT_TRUE(tracker.position_known());
  EXPECT_EQ(tracker.position(), 5u);
  EXPECT_EQ(Accept(tracker, FactEvent(6, "IIJ", "r")), Verdict::kDeliver);
  EXPECT_EQ(Accept(tracker, FactEvent(7, "IIJ", "r")), Verdict::kDeliver);
  v1::SubscribeRequest next = tracker.NextRequest();
  EXPECT_EQ(next.start(), v1::START_MODE_FROM_SEQUENCE);
  EXPECT_EQ(next.from_sequence(), 7u);
  EXPECT_EQ(next.heartbeat_interval_ms(), 1000u);
}

TEST(ResumeTrackerTest, AResumeGivesBackTheIncarnationItWasTold) {
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_SNAPSHOT_THEN_LIVE);
  ResumeTracker tracker(request);
  v1::FeedEvent begin = Control("begin", 4);
  begin.mutable_snapshot_begin()->set_incarnation("sqlite-00000000000000aa");
  Accept(tracker, begin);
  Accept(tracker, Control("end", 4));
  EXPECT_EQ(Accept(tracker, FactEvent(5, "IIJ", "r")), Verdict::kDeliver);
  v1::SubscribeRequest next = tracker.NextRequest();
  EXPECT_EQ(next.start(), v1::START_MODE_FROM_SEQUENCE);
  EXPECT_EQ(next.from_sequence(), 5u);
  EXPECT_EQ(next.incarnation(), "sqlite-00000000000000aa");
  v1::FeedEvent beat = Control("heartbeat", 5);
  beat.mutable_heartbeat()->set_incarnation("nats-KESSAN-00000000000000bb");
  Accept(tracker, beat);
  EXPECT_EQ(tracker.NextRequest().incarnation(), "nats-KESSAN-00000000000000bb");
}

TEST(ResumeTrackerTest, DuplicatesAreNotDelivered) {
  ResumeTracker tracker(From(5));
  EXPECT_EQ(Accept(tracker, FactEvent(6, "IIJ", "r")), Verdict::kDeliver);
  EXPECT_EQ(Accept(tracker, FactEvent(6, "IIJ", "r")), Verdict::kDuplicate);
  EXPECT_EQ(Accept(tracker, FactEvent(3, "IIJ", "r")), Verdict::kDuplicate);
  EXPECT_EQ(tracker.duplicates(), 2u);
  EXPECT_EQ(tracker.position(), 6u);
}

TEST(ResumeTrackerTest, AJumpWithoutAMarkIsAGapWhenEveryEventMatches) {
  ResumeTracker tracker(From(5));
  EXPECT_EQ(Accept(tracker, FactEvent(6, "IIJ", "r")), Verdict::kDeliver);
  absl::StatusOr<Verdict> gap = tracker.Accept(FactEvent(8, "IIJ", "r"));
  EXPECT_EQ(gap.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(tracker.position(), 6u);  // Not moved past the gap.
}

TEST(ResumeTrackerTest, WithAFilterSkippedSequencesAreOtherEvents) {
  v1::SubscribeRequest request = From(5);
  request.mutable_filter()->add_concepts("revenue");
  ResumeTracker tracker(request);
  EXPECT_EQ(Accept(tracker, FactEvent(9, "IIJ", "revenue")), Verdict::kDeliver);
  EXPECT_EQ(Accept(tracker, FactEvent(20, "IIJ", "revenue")), Verdict::kDeliver);
  EXPECT_EQ(Accept(tracker, FactEvent(9, "IIJ", "revenue")), Verdict::kDuplicate);
}

TEST(ResumeTrackerTest, ConflatedMarkAllowsJumpsUntilTheNextHeartbeat) {
  ResumeTracker tracker(From(5));
  EXPECT_EQ(Accept(tracker, Control("conflated")), Verdict::kDeliver);
  EXPECT_EQ(Accept(tracker, FactEvent(9, "IIJ", "r")), Verdict::kDeliver);
  EXPECT_EQ(Accept(tracker, FactEvent(12, "IIJ", "r")), Verdict::kDeliver);
  EXPECT_EQ(Accept(tracker, FactEvent(12, "IIJ", "r")), Verdict::kDuplicate);
  EXPECT_EQ(Accept(tracker, Control("heartbeat", 12)), Verdict::kDeliver);
  EXPECT_EQ(tracker.Accept(FactEvent(14, "IIJ", "r")).status().code(), absl::StatusCode::kDataLoss);
}

TEST(ResumeTrackerTest, SnapshotItemsAreNotCheckedAndItsEndSetsThePosition) {
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_SNAPSHOT_THEN_LIVE);
  ResumeTracker tracker(request);
  EXPECT_FALSE(tracker.position_known());
  // Nothing learnt yet: the same request again.
  EXPECT_EQ(tracker.NextRequest().SerializeAsString(), request.SerializeAsString());
  EXPECT_EQ(Accept(tracker, Control("begin", 10)), Verdict::kDeliver);
  for (uint64_t s : {3, 9, 1}) {
    EXPECT_EQ(Accept(tracker, FactEvent(s, "IIJ", "r")), Verdict::kDeliver);
  }
  EXPECT_EQ(Accept(tracker, Control("end", 10)), Verdict::kDeliver);
  EXPECT_EQ(tracker.position(), 10u);
  EXPECT_EQ(Accept(tracker, FactEvent(11, "IIJ", "r")), Verdict::kDeliver);
  EXPECT_EQ(Accept(tracker, FactEvent(10, "IIJ", "r")), Verdict::kDuplicate);
  v1::SubscribeRequest next = tracker.NextRequest();
  EXPECT_EQ(next.start(), v1::START_MODE_FROM_SEQUENCE);
  EXPECT_EQ(next.from_sequence(), 11u);
}

TEST(ResumeTrackerTest, AStreamEndedInsideASnapshotStartsItOver) {
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_SNAPSHOT_THEN_LIVE);
  request.mutable_point_in_time()->set_view(v1::REVISION_VIEW_FIRST_REPORTED);
  ResumeTracker tracker(request);
  Accept(tracker, Control("begin", 10));
  Accept(tracker, FactEvent(3, "IIJ", "r"));
  tracker.StreamEnded();
  EXPECT_TRUE(tracker.snapshot_pending());
  EXPECT_FALSE(tracker.in_snapshot());
  v1::SubscribeRequest next = tracker.NextRequest();
  EXPECT_EQ(next.start(), v1::START_MODE_SNAPSHOT_THEN_LIVE);
  EXPECT_EQ(next.point_in_time().view(), v1::REVISION_VIEW_FIRST_REPORTED);
}

TEST(ResumeTrackerTest, ResyncIsFollowedByASnapshotThenLiveEvents) {
  ResumeTracker tracker(From(3));
  EXPECT_EQ(Accept(tracker, Control("resync", 3)), Verdict::kDeliver);
  // Cut off between the Resync and its snapshot: ask for a snapshot, not
  // for sequence 3 again.
  EXPECT_EQ(tracker.NextRequest().start(), v1::START_MODE_SNAPSHOT_THEN_LIVE);
  Accept(tracker, Control("begin", 50));
  Accept(tracker, FactEvent(44, "IIJ", "r"));
  Accept(tracker, FactEvent(2, "IIJ", "r"));
  Accept(tracker, Control("end", 50));
  EXPECT_FALSE(tracker.snapshot_pending());
  EXPECT_EQ(Accept(tracker, FactEvent(51, "IIJ", "r")), Verdict::kDeliver);
  EXPECT_EQ(tracker.NextRequest().start(), v1::START_MODE_FROM_SEQUENCE);
  EXPECT_EQ(tracker.NextRequest().from_sequence(), 51u);
}

TEST(ResumeTrackerTest, LiveOnlyLearnsItsPositionFromTheFirstEvent) {
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_LIVE_ONLY);
  ResumeTracker tracker(request);
  EXPECT_EQ(Accept(tracker, FactEvent(40, "IIJ", "r")), Verdict::kDeliver);
  EXPECT_EQ(tracker.NextRequest().from_sequence(), 40u);
  ResumeTracker set(request);
  set.SetPosition(12);
  EXPECT_EQ(set.NextRequest().start(), v1::START_MODE_FROM_SEQUENCE);
  EXPECT_EQ(set.NextRequest().from_sequence(), 12u);
}

TEST(IsRetryableSubscribeEndTest, TransientEndsAreRetriedRefusalsAreNot) {
  EXPECT_TRUE(IsRetryableSubscribeEnd(absl::UnavailableError("down")));
  EXPECT_TRUE(IsRetryableSubscribeEnd(absl::DeadlineExceededError("stall")));
  EXPECT_TRUE(IsRetryableSubscribeEnd(absl::AbortedError("x")));
  EXPECT_TRUE(IsRetryableSubscribeEnd(absl::InternalError("rst")));
  EXPECT_TRUE(IsRetryableSubscribeEnd(
      absl::ResourceExhaustedError("slow consumer: resume with start=START_MODE_FROM_SEQUENCE "
                                   "from_sequence=42")));
  EXPECT_FALSE(IsRetryableSubscribeEnd(absl::ResourceExhaustedError("Received message larger than max")));
  EXPECT_FALSE(IsRetryableSubscribeEnd(absl::InvalidArgumentError("x")));
  EXPECT_FALSE(IsRetryableSubscribeEnd(absl::OutOfRangeError("x")));
  EXPECT_FALSE(IsRetryableSubscribeEnd(absl::PermissionDeniedError("x")));
  EXPECT_FALSE(IsRetryableSubscribeEnd(absl::UnauthenticatedError("x")));
  EXPECT_FALSE(IsRetryableSubscribeEnd(absl::DataLossError("x")));
  EXPECT_FALSE(IsRetryableSubscribeEnd(absl::OkStatus()));
}

}  // namespace
}  // namespace kessan
