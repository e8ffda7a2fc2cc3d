// Tests of server/event/wire_run.cc: a group's frames back to back, and the
// byte ranges of a response built from runs and single frames.
#include "event/wire_run.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::FactEvent;
using ::kessan::test::FactEvents;
using ::kessan::test::Frames;
using ::kessan::test::RangeBytes;
using ::testing::SizeIs;

// The events of `all` at `at`, in order.
std::vector<EventPtr> Pick(const std::vector<EventPtr>& all, std::vector<size_t> at) {
  std::vector<EventPtr> out;
  for (size_t i : at) out.push_back(all[i]);
  return out;
}

// The byte ranges of a response of `events`.
std::vector<absl::string_view> Wire(const std::vector<EventPtr>& events,
                                    const std::vector<WireRunPtr>& runs) {
  std::vector<absl::string_view> ranges;
  PlanWire(events, runs, &ranges);
  return ranges;
}

TEST(WireRunTest, HoldsTheFramesBackToBackAndLocatesEach) {
  std::vector<EventPtr> events = FactEvents(5, 4);
  WireRun run(events);
  EXPECT_EQ(run.first_sequence(), 5u);
  EXPECT_EQ(run.last_sequence(), 8u);
  const std::string bytes(run.bytes().view());
  EXPECT_EQ(bytes, Frames(events));
  for (const EventPtr& e : events) {
    size_t begin = 0;
    size_t end = 0;
    ASSERT_TRUE(run.Locate(*e, &begin, &end)) << e->sequence();
    EXPECT_EQ(bytes.substr(begin, end - begin), std::string(e->frame()));
  }
}

TEST(WireRunTest, AnotherEventWithARunsSequenceIsNotLocated) {
  WireRun run(FactEvents(5, 4));
  size_t begin = 0;
  size_t end = 0;
  EXPECT_FALSE(run.Locate(*FactEvent(6), &begin, &end));  // same sequence, other event
  EXPECT_FALSE(run.Locate(*FactEvent(9), &begin, &end));
  EXPECT_FALSE(run.Locate(*FactEvent(4), &begin, &end));
}

TEST(PlanWireTest, ConsecutiveEventsOfARunAreOneSlice) {
  std::vector<EventPtr> events = FactEvents(1, 6);
  std::vector<WireRunPtr> runs = {std::make_shared<const WireRun>(events)};
  std::vector<absl::string_view> slices = Wire(events, runs);
  EXPECT_THAT(slices, SizeIs(1));
  EXPECT_EQ(RangeBytes(slices), Frames(events));
}

TEST(PlanWireTest, AGapOrAnEventOutsideTheRunsSplitsTheSlices) {
  std::vector<EventPtr> group = FactEvents(1, 6);
  std::vector<WireRunPtr> runs = {std::make_shared<const WireRun>(group)};
  // 1, 2, then 4 (3 conflated away): two stretches of the run.
  std::vector<EventPtr> gap = Pick(group, {0, 1, 3});
  std::vector<absl::string_view> slices = Wire(gap, runs);
  EXPECT_THAT(slices, SizeIs(2));
  EXPECT_EQ(RangeBytes(slices), Frames(gap));

  // A heartbeat-like control event first, then the run: its own frame, then one slice.
  v1::FeedEvent beat;
  beat.mutable_heartbeat()->set_last_sequence(6);
  std::vector<EventPtr> mixed = {EncodeEvent(beat), group[4], group[5]};
  slices = Wire(mixed, runs);
  EXPECT_THAT(slices, SizeIs(2));
  EXPECT_EQ(RangeBytes(slices), Frames(mixed));
}

TEST(PlanWireTest, EventsAcrossTwoRunsAreOneSliceEach) {
  std::vector<EventPtr> first = FactEvents(1, 3);
  std::vector<EventPtr> second = FactEvents(4, 3);
  std::vector<WireRunPtr> runs = {std::make_shared<const WireRun>(first),
                                  std::make_shared<const WireRun>(second)};
  std::vector<EventPtr> all = first;
  all.insert(all.end(), second.begin(), second.end());
  std::vector<absl::string_view> slices = Wire(all, runs);
  EXPECT_THAT(slices, SizeIs(2));
  EXPECT_EQ(RangeBytes(slices), Frames(all));
}

TEST(PlanWireTest, WithoutRunsEachEventIsItsOwnFrame) {
  std::vector<EventPtr> events = FactEvents(1, 4);
  std::vector<absl::string_view> slices = Wire(events, {});
  EXPECT_THAT(slices, SizeIs(4));
  EXPECT_EQ(RangeBytes(slices), Frames(events));
}

// Events whose frames lie back to back in one buffer, as a replay reads them.
std::vector<EventPtr> EventsInOneBuffer(uint64_t first, uint64_t last) {
  std::vector<EventPtr> models = FactEvents(first, last);
  const std::string bytes = Frames(models);
  const Bytes buffer = Bytes::CopyOf(bytes);
  std::vector<EventPtr> out;
  size_t at = 0;
  for (const EventPtr& m : models) {
    absl::StatusOr<EventPtr> e =
        JournalEventIn(m->sequence(), buffer, at, at + m->frame_size(), m->frame_size() - m->body().size());
    EXPECT_TRUE(e.ok()) << e.status();
    if (e.ok()) out.push_back(*std::move(e));
    at += m->frame_size();
  }
  return out;
}

TEST(PlanWireTest, AdjacentFramesOfOneBufferAreOneSlice) {
  std::vector<EventPtr> events = EventsInOneBuffer(1, 5);
  ASSERT_THAT(events, SizeIs(5));
  std::vector<absl::string_view> slices = Wire(events, {});
  EXPECT_THAT(slices, SizeIs(1));
  EXPECT_EQ(RangeBytes(slices), Frames(events));
  // Out of order or with a gap, the frames are not adjacent: split there.
  std::vector<EventPtr> gapped = Pick(events, {0, 1, 3, 4});
  slices = Wire(gapped, {});
  EXPECT_THAT(slices, SizeIs(2));
  EXPECT_EQ(RangeBytes(slices), Frames(gapped));
  std::vector<EventPtr> reversed = Pick(events, {1, 0});
  slices = Wire(reversed, {});
  EXPECT_THAT(slices, SizeIs(2));
  EXPECT_EQ(RangeBytes(slices), Frames(reversed));
  // Two buffers: one slice each.
  std::vector<EventPtr> two = EventsInOneBuffer(6, 8);
  std::vector<EventPtr> both = events;
  both.insert(both.end(), two.begin(), two.end());
  slices = Wire(both, {});
  EXPECT_THAT(slices, SizeIs(2));
  EXPECT_EQ(RangeBytes(slices), Frames(both));
}

}  // namespace
}  // namespace kessan
