// Tests of server/feed/subscription.cc: initial events, backlog, live queue,
// overflow, closing and waking.
#include "feed/subscription.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <numeric>
#include <string>

#include "journal/sqlite_journal.h"
#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::CountingWaker;
using ::kessan::test::Drain;
using ::kessan::test::FactEvent;
using ::kessan::test::FactEvents;
using ::kessan::test::Sequences;
using ::kessan::test::StatusIs;
using ::kessan::test::TempDir;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::SizeIs;

constexpr size_t kManyBytes = size_t{1} << 30;

// A control event (sequence 0), as a snapshot boundary.
EventPtr Control() {
  v1::FeedEvent e;
  e.mutable_snapshot_begin()->set_sequence(0);
  return EncodeEvent(std::move(e));
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out(last - first + 1);
  std::iota(out.begin(), out.end(), first);
  return out;
}

// The backlog comes from a SqliteJournal in a temporary directory.
class SubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<SqliteJournal>> log = SqliteJournal::Open(dir_.File("journal.db"));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }

  // A journal holding events 1..count.
  void FillLog(size_t count) { ASSERT_TRUE(log_->Append(FactEvents(1, count)).ok()); }

  std::unique_ptr<Subscription> Make(std::vector<EventPtr> initial = {}, uint64_t backlog_after = 0,
                                     uint64_t backlog_up_to = 0, size_t max_queued = 100,
                                     v1::Filter filter = {}) {
    Subscription::Options options;
    options.filter = EventFilter(filter);
    options.initial = std::move(initial);
    options.log = log_.get();
    options.backlog_after = backlog_after;
    options.backlog_up_to = backlog_up_to;
    options.max_queued = max_queued;
    return std::make_unique<Subscription>(std::move(options));
  }

  TempDir dir_;
  std::unique_ptr<SqliteJournal> log_;
};

TEST_F(SubscriptionTest, InitialThenBacklogThenLiveInOrder) {
  FillLog(5);
  auto s = Make({Control(), FactEvent(1), FactEvent(2), Control()}, /*backlog_after=*/2,
                /*backlog_up_to=*/5);
  // Live events pushed before the consumer starts queue behind the backlog.
  s->Push(FactEvent(6));
  s->Push(FactEvent(7));
  EXPECT_THAT(Sequences(Drain(*s)), ElementsAre(0, 1, 2, 0, 3, 4, 5, 6, 7));
  s->Push(FactEvent(8));
  EXPECT_THAT(Sequences(Drain(*s)), ElementsAre(8));
  EXPECT_EQ(s->Finished(), std::nullopt);
}

TEST_F(SubscriptionTest, TakeHonoursMaxEvents) {
  FillLog(4);
  auto s = Make({FactEvent(1), FactEvent(2)}, 2, 4);
  s->Push(FactEvent(5));
  EXPECT_THAT(Sequences(s->Take(3, kManyBytes)), ElementsAre(1, 2, 3));
  EXPECT_THAT(Sequences(s->Take(3, kManyBytes)), ElementsAre(4));
  EXPECT_THAT(Sequences(s->Take(3, kManyBytes)), ElementsAre(5));
  EXPECT_THAT(s->Take(3, kManyBytes), IsEmpty());
}

TEST_F(SubscriptionTest, TakeStopsAtMaxBytes) {
  auto s = Make();
  for (uint64_t seq = 1; seq <= 3; ++seq) s->Push(FactEvent(seq));
  // One event's frame exceeds one byte: each Take returns one event.
  EXPECT_THAT(s->Take(100, 1), SizeIs(1));
  EXPECT_THAT(s->Take(100, 1), SizeIs(1));
  EXPECT_THAT(s->Take(100, kManyBytes), SizeIs(1));
}

// The backlog is read from the journal in chunks of 512 events; the reads
// chain without gaps or repeats.
TEST_F(SubscriptionTest, BacklogAcrossChunkBoundaries) {
  FillLog(1300);
  auto s = Make({}, /*backlog_after=*/100, /*backlog_up_to=*/1300);
  EXPECT_THAT(Sequences(Drain(*s, /*max_events=*/10000)), ElementsAreArray(Range(101, 1300)));
}

// The snapshot and the backlog share one queue: a snapshot larger than a
// read's chunk goes out whole, then the backlog, in small takes.
TEST_F(SubscriptionTest, ALargeSnapshotThenItsBacklogInSmallTakes) {
  FillLog(2000);
  std::vector<EventPtr> initial;
  for (uint64_t seq = 1; seq <= 1000; ++seq) initial.push_back(FactEvent(seq));
  auto s = Make(std::move(initial), /*backlog_after=*/1000, /*backlog_up_to=*/2000);
  s->Push(FactEvent(2001));
  std::vector<uint64_t> all;
  for (std::vector<EventPtr> taken; !(taken = s->Take(100, kManyBytes)).empty();) {
    EXPECT_LE(taken.size(), 100u);
    for (const EventPtr& e : taken) all.push_back(e->sequence());
  }
  EXPECT_THAT(all, ElementsAreArray(Range(1, 2001)));
  EXPECT_FALSE(s->reading());
}

TEST_F(SubscriptionTest, BacklogInSmallTakes) {
  FillLog(600);
  auto s = Make({}, 0, 600);
  std::vector<uint64_t> all;
  for (std::vector<EventPtr> taken; !(taken = s->Take(256, kManyBytes)).empty();) {
    EXPECT_LE(taken.size(), 256u);
    for (const EventPtr& e : taken) all.push_back(e->sequence());
  }
  EXPECT_THAT(all, ElementsAreArray(Range(1, 600)));
}

// A backlog read stops at the byte bound too, not only between reads; what
// it read past the bound comes in the next Take, without a gap.
TEST_F(SubscriptionTest, ABacklogTakeStopsAtMaxBytes) {
  FillLog(600);
  auto s = Make({}, 0, 600);
  constexpr size_t kMaxBytes = 4096;
  std::vector<uint64_t> all;
  for (std::vector<EventPtr> taken; !(taken = s->Take(1000, kMaxBytes)).empty();) {
    size_t before_last = 0;
    for (size_t i = 0; i + 1 < taken.size(); ++i) before_last += taken[i]->frame_size();
    EXPECT_LT(before_last, kMaxBytes);  // only the last event crosses the bound
    for (const EventPtr& e : taken) all.push_back(e->sequence());
  }
  EXPECT_THAT(all, ElementsAreArray(Range(1, 600)));
}

TEST_F(SubscriptionTest, BacklogIsFiltered) {
  ASSERT_TRUE(
      log_->Append({FactEvent(1, "IIJ"), FactEvent(2, "SONY"), FactEvent(3, "IIJ"), FactEvent(4, "SONY")})
          .ok());
  v1::Filter sony;
  sony.add_issuers("SONY");
  auto s = Make({}, 0, 4, 100, sony);
  EXPECT_THAT(Sequences(Drain(*s)), ElementsAre(2, 4));
}

TEST_F(SubscriptionTest, BacklogBeyondTheJournalEndsWithDataLoss) {
  FillLog(3);
  auto s = Make({}, 0, /*backlog_up_to=*/10);
  EXPECT_THAT(Sequences(Drain(*s)), ElementsAre(1, 2, 3));
  EXPECT_THAT(s->Finished(),
              Optional(StatusIs(absl::StatusCode::kDataLoss, HasSubstr("journal ends before sequence 10"))));
}

TEST_F(SubscriptionTest, AFilteredBacklogEndsAtADamagedRowWithDataLoss) {
  // Row 3: a sound top level (sequence 3, a fact) around a damaged fact.
  absl::StatusOr<EventPtr> damaged = JournalEvent(3, std::string("\x08\x03\x62\x03\x08\xff\xff"));
  ASSERT_TRUE(damaged.ok()) << damaged.status();
  ASSERT_TRUE(log_->Append({FactEvent(1, "IIJ"), FactEvent(2, "IIJ"), *damaged, FactEvent(4, "IIJ")}).ok());
  v1::Filter iij;
  iij.add_issuers("IIJ");
  auto s = Make({}, 0, 4, 100, iij);
  EXPECT_THAT(Sequences(Drain(*s)), ElementsAre(1, 2));
  EXPECT_THAT(s->Finished(), Optional(StatusIs(absl::StatusCode::kDataLoss,
                                               "journal row of sequence 3 is not a kessan.v1.FeedEvent")));
}

// A run maker that counts its calls, as FanOut's makes one per group.
struct RunMaker {
  explicit RunMaker(std::vector<EventPtr> group) : events(std::move(group)) {}
  std::function<WireRunPtr()> Fn() {
    return [this] {
      ++calls;
      if (!run) run = std::make_shared<const WireRun>(events);
      return run;
    };
  }
  std::vector<EventPtr> events;
  WireRunPtr run;
  int calls = 0;
};

TEST_F(SubscriptionTest, KeepsTheRunOfAGroupItTakesWhole) {
  auto s = Make();
  RunMaker group(FactEvents(1, 4));
  s->PushMatching(group.events, group.Fn());
  EXPECT_EQ(group.calls, 1);
  std::vector<WireRunPtr> runs;
  EXPECT_THAT(Sequences(s->Take(10, kManyBytes, &runs)), ElementsAre(1, 2, 3, 4));
  ASSERT_THAT(runs, SizeIs(1));
  EXPECT_EQ(runs[0], group.run);
  // Taken whole: the next take no longer names it.
  RunMaker next(FactEvents(5, 2));
  s->PushMatching(next.events, next.Fn());
  runs.clear();
  EXPECT_THAT(Sequences(s->Take(10, kManyBytes, &runs)), ElementsAre(5, 6));
  ASSERT_THAT(runs, SizeIs(1));
  EXPECT_EQ(runs[0], next.run);
}

TEST_F(SubscriptionTest, ARunTakenInPartsServesEachPart) {
  auto s = Make();
  RunMaker group(FactEvents(1, 6));
  s->PushMatching(group.events, group.Fn());
  std::vector<WireRunPtr> runs;
  EXPECT_THAT(Sequences(s->Take(4, kManyBytes, &runs)), ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(runs, ElementsAre(group.run));
  runs.clear();
  EXPECT_THAT(Sequences(s->Take(4, kManyBytes, &runs)), ElementsAre(5, 6));
  EXPECT_THAT(runs, ElementsAre(group.run));
}

TEST_F(SubscriptionTest, ANarrowFilterDoesNotHoldTheGroupsRun) {
  v1::Filter sony;
  sony.add_issuers("SONY");
  auto s = Make({}, 0, 0, 100, sony);
  RunMaker group({FactEvent(1, "IIJ"), FactEvent(2, "SONY"), FactEvent(3, "IIJ")});
  s->PushMatching(group.events, group.Fn());
  EXPECT_EQ(group.calls, 0);
  std::vector<WireRunPtr> runs;
  EXPECT_THAT(Sequences(s->Take(10, kManyBytes, &runs)), ElementsAre(2));
  EXPECT_THAT(runs, IsEmpty());
}

TEST_F(SubscriptionTest, AStalledConsumerHoldsAFewRunsAndStillGetsEveryFrame) {
  auto s = Make({}, 0, 0, /*max_queued=*/1000);
  std::vector<RunMaker> groups;
  groups.reserve(20);
  for (uint64_t g = 0; g < 20; ++g) groups.emplace_back(FactEvents(1 + 3 * g, 3));
  for (RunMaker& group : groups) s->PushMatching(group.events, group.Fn());
  std::vector<WireRunPtr> runs;
  std::vector<EventPtr> taken = s->Take(100, kManyBytes, &runs);
  EXPECT_THAT(Sequences(taken), ElementsAreArray(Range(1, 60)));
  ASSERT_THAT(runs, SizeIs(8));
  EXPECT_EQ(runs.front(), groups[12].run);
  EXPECT_EQ(runs.back(), groups[19].run);
  // The first 12 groups' events go as their own frames, the last 8 as one
  // range per run; the bytes are the same.
  std::vector<absl::string_view> ranges;
  PlanWire(taken, runs, &ranges);
  EXPECT_THAT(ranges, SizeIs(36 + 8));
  EXPECT_EQ(test::RangeBytes(ranges), test::Frames(taken));
}

TEST_F(SubscriptionTest, OverflowDropsTheRunsWithTheQueue) {
  auto s = Make({}, 0, 0, /*max_queued=*/4);
  RunMaker group(FactEvents(1, 3));
  s->PushMatching(group.events, group.Fn());
  RunMaker more(FactEvents(4, 3));
  s->PushMatching(more.events, more.Fn());  // overflows: closed
  EXPECT_EQ(group.run.use_count(), 1);      // only the maker holds it now
  std::vector<WireRunPtr> runs;
  EXPECT_THAT(s->Take(10, kManyBytes, &runs), IsEmpty());
  EXPECT_THAT(runs, IsEmpty());
}

TEST_F(SubscriptionTest, PushWakesOnlyAWaitingConsumer) {
  auto s = Make();
  EXPECT_THAT(s->Take(10, kManyBytes), IsEmpty());  // the consumer now waits
  EXPECT_TRUE(s->Push(FactEvent(1)));
  EXPECT_FALSE(s->Push(FactEvent(2)));  // already woken
  EXPECT_THAT(Sequences(s->Take(10, kManyBytes)), ElementsAre(1, 2));
  EXPECT_FALSE(s->Push(FactEvent(3)));  // busy with what it took
  EXPECT_THAT(Sequences(s->Take(10, kManyBytes)), ElementsAre(3));
  EXPECT_THAT(s->Take(10, kManyBytes), IsEmpty());
  EXPECT_TRUE(s->Push(FactEvent(4)));
}

TEST_F(SubscriptionTest, OverflowClosesWithResourceExhaustedNamingTheResumePoint) {
  auto s = Make({}, 0, 0, /*max_queued=*/2);
  s->Push(FactEvent(1));
  EXPECT_THAT(Sequences(s->Take(10, kManyBytes)), ElementsAre(1));
  s->Push(FactEvent(2));
  s->Push(FactEvent(3));
  EXPECT_TRUE(s->Push(FactEvent(4)));  // overflow: wake the consumer to end it
  EXPECT_FALSE(s->Push(FactEvent(5)));
  EXPECT_THAT(s->Finished(),
              Optional(StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("from_sequence=1"))));
  EXPECT_THAT(s->Take(10, kManyBytes), IsEmpty());  // what it held is dropped
  EXPECT_EQ(s->last_taken(), 1u);
}

TEST_F(SubscriptionTest, CloseOkDrainsFirst) {
  auto s = Make({FactEvent(1)});
  s->Push(FactEvent(2));
  s->Push(FactEvent(3));
  s->Close(absl::OkStatus());
  EXPECT_FALSE(s->Push(FactEvent(4)));  // closed: not queued
  EXPECT_EQ(s->Finished(), std::nullopt);
  EXPECT_THAT(Sequences(s->Take(1, kManyBytes)), ElementsAre(1));
  EXPECT_EQ(s->Finished(), std::nullopt);
  EXPECT_THAT(Sequences(Drain(*s)), ElementsAre(2, 3));
  EXPECT_THAT(s->Finished(), Optional(StatusIs(absl::StatusCode::kOk)));
}

TEST_F(SubscriptionTest, CloseWithErrorDropsTheQueue) {
  auto s = Make();
  s->Push(FactEvent(1));
  s->Close(absl::UnavailableError("shutting down"));
  s->Close(absl::OkStatus());  // the first close wins
  EXPECT_THAT(s->Finished(), Optional(StatusIs(absl::StatusCode::kUnavailable)));
  EXPECT_THAT(s->Take(10, kManyBytes), IsEmpty());
}

// subscription.h: Close ends the subscription "at once (an error)" and the
// subscription "drops what it held". A snapshot or backlog not yet taken
// must not be streamed after the error either.
TEST_F(SubscriptionTest, CloseWithErrorEndsAtOnceDuringSnapshotAndBacklog) {
  FillLog(5);
  auto snapshot = Make({Control(), FactEvent(1), Control()});
  snapshot->Close(absl::UnavailableError("shutting down"));
  EXPECT_THAT(Sequences(snapshot->Take(10, kManyBytes)), IsEmpty());
  EXPECT_THAT(snapshot->Finished(), Optional(StatusIs(absl::StatusCode::kUnavailable)));

  auto backlog = Make({}, 0, 5);
  backlog->Close(absl::UnavailableError("shutting down"));
  EXPECT_THAT(Sequences(backlog->Take(10, kManyBytes)), IsEmpty());
  EXPECT_THAT(backlog->Finished(), Optional(StatusIs(absl::StatusCode::kUnavailable)));
}

TEST_F(SubscriptionTest, LastTakenIgnoresControlEvents) {
  auto s = Make({Control(), FactEvent(4), Control()});
  Drain(*s);
  EXPECT_EQ(s->last_taken(), 4u);
}

TEST_F(SubscriptionTest, WakeCallsTheWakerSet) {
  auto s = Make();
  auto waker = std::make_shared<CountingWaker>();
  s->Wake();  // no waker yet: nothing happens
  s->SetWaker(waker);
  s->Wake();
  s->Wake();
  EXPECT_THAT(waker->wakes(), Eq(2));
  s->SetWaker(nullptr);
  s->Wake();
  EXPECT_THAT(waker->wakes(), Eq(2));
}

}  // namespace
}  // namespace kessan
