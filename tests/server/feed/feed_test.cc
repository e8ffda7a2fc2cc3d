// Tests of server/feed/feed.cc: Feed::Open over a SqliteJournal in a
// temporary directory, with an injected clock.
#include "feed/feed.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/time_util.h"
#include "journal/journal_rows.h"
#include "journal/sqlite_journal.h"
#include "model/calendar.h"
#include "testing/test_util.h"

namespace kessan {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::kessan::test::Batch;
using ::kessan::test::CountingWaker;
using ::kessan::test::Describe;
using ::kessan::test::Drain;
using ::kessan::test::EqualsProto;
using ::kessan::test::FactEvent;
using ::kessan::test::FakeClock;
using ::kessan::test::FullYear;
using ::kessan::test::Iij;
using ::kessan::test::Item;
using ::kessan::test::MakeCapitalAction;
using ::kessan::test::MakeFact;
using ::kessan::test::MakeGuidance;
using ::kessan::test::MakeIssuer;
using ::kessan::test::MakeSegment;
using ::kessan::test::Quarter;
using ::kessan::test::Sequences;
using ::kessan::test::StatusIs;
using ::kessan::test::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;

v1::PublishItem Revenue(const char* issuer, int64_t yen = 13'000'000'000) {
  return Item(MakeFact(issuer, "revenue", Quarter(2002, 4), yen));
}
v1::PublishItem OperatingIncome(const char* issuer) {
  return Item(MakeFact(issuer, "operating_income", Quarter(2002, 4), 500'000'000));
}

v1::Filter FilterOf(std::vector<std::string> issuers, std::vector<std::string> concepts = {},
                    std::vector<v1::EventKind> kinds = {}) {
  v1::Filter filter;
  for (auto& issuer : issuers) filter.add_issuers(issuer);
  for (auto& concept_id : concepts) filter.add_concepts(concept_id);
  for (v1::EventKind kind : kinds) filter.add_event_kinds(kind);
  return filter;
}

v1::SubscribeRequest FromSequence(uint64_t from_sequence) {
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_FROM_SEQUENCE);
  request.set_from_sequence(from_sequence);
  return request;
}

// Passes everything to a journal, but can hold Append calls and fail the
// next one: a slow or refusing disk.
class GatedLog final : public Journal {
 public:
  explicit GatedLog(std::unique_ptr<Journal> log) : log_(std::move(log)) {}

  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    held_ = false;
  }
  void FailNext(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_next_ = std::move(status);
  }
  // True once an Append call is held.
  bool AwaitHeldAppend() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(
                                    +[](int* n) { return *n > 0; }, &held_appends_),
                                absl::Seconds(30));
  }

  absl::Status Append(const std::vector<EventPtr>& events, const std::vector<BatchRecord>& batches) override {
    {
      absl::MutexLock lock(&mu_);
      ++held_appends_;
      mu_.Await(absl::Condition(
          +[](bool* held) { return !*held; }, &held_));
      --held_appends_;
      if (!fail_next_.ok()) {
        absl::Status status = std::move(fail_next_);
        fail_next_ = absl::OkStatus();
        return status;
      }
    }
    return log_->Append(events, batches);
  }
  std::string incarnation() const override { return log_->incarnation(); }
  uint64_t last_sequence() const override { return log_->last_sequence(); }
  uint64_t first_sequence() const override { return log_->first_sequence(); }
  absl::StatusOr<size_t> Read(uint64_t after, uint64_t up_to, size_t max_count,
                              const std::function<void(EventPtr)>& fn) override {
    WaitForReads();
    return log_->Read(after, up_to, max_count, fn);
  }
  absl::Status ReadView(View view, absl::Time as_of, uint64_t up_to,
                        const std::function<void(EventPtr)>& fn) override {
    WaitForReads();
    return log_->ReadView(view, as_of, up_to, fn);
  }

  // Holds Read and ReadView calls (a long scan) until ReleaseReads.
  void HoldReads() {
    absl::MutexLock lock(&mu_);
    reads_held_ = true;
  }
  void ReleaseReads() {
    absl::MutexLock lock(&mu_);
    reads_held_ = false;
  }
  // True once a Read or ReadView call is held; the thread it is held on.
  bool AwaitHeldRead(std::thread::id* on = nullptr) {
    absl::MutexLock lock(&mu_);
    bool held = mu_.AwaitWithTimeout(absl::Condition(
                                         +[](int* n) { return *n > 0; }, &held_reads_),
                                     absl::Seconds(30));
    if (on != nullptr) *on = held_read_thread_;
    return held;
  }
  absl::StatusOr<std::optional<BatchLocation>> FindBatch(const std::string& publisher_id,
                                                         const std::string& batch_key) override {
    return log_->FindBatch(publisher_id, batch_key);
  }
  absl::StatusOr<size_t> Prune(uint64_t horizon, std::vector<uint64_t> keep) override {
    return log_->Prune(horizon, std::move(keep));
  }

 private:
  const std::unique_ptr<Journal> log_;
  absl::Mutex mu_;
  void WaitForReads() {
    absl::MutexLock lock(&mu_);
    if (!reads_held_) return;
    ++held_reads_;
    held_read_thread_ = std::this_thread::get_id();
    mu_.Await(absl::Condition(
        +[](bool* held) { return !*held; }, &reads_held_));
    --held_reads_;
  }

  bool held_ ABSL_GUARDED_BY(mu_) = false;
  int held_appends_ ABSL_GUARDED_BY(mu_) = 0;
  bool reads_held_ ABSL_GUARDED_BY(mu_) = false;
  int held_reads_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread::id held_read_thread_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_next_ ABSL_GUARDED_BY(mu_);
};

class FeedTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  // Opens (or reopens) the feed on the journal in dir_.
  void Open() {
    feed_.reset();
    absl::StatusOr<std::unique_ptr<SqliteJournal>> log = SqliteJournal::Open(dir_.File("journal.db"));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = log->get();
    auto gated = std::make_unique<GatedLog>(*std::move(log));
    gate_ = gated.get();
    // Each commit group reads the clock once, when it is staged.
    absl::StatusOr<std::unique_ptr<Feed>> feed = Feed::Open(std::move(gated), [this] {
      clock_reads_.fetch_add(1);
      return clock_.Now();
    });
    ASSERT_TRUE(feed.ok()) << feed.status();
    feed_ = *std::move(feed);
  }

  v1::PublishResponse MustPublish(std::vector<v1::PublishItem> items) {
    absl::StatusOr<v1::PublishResponse> response = feed_->Publish(Batch(std::move(items)));
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *std::move(response) : v1::PublishResponse();
  }

  // Sequences 1-2: IIJ and its segment.
  void PublishIij() { MustPublish({Item(Iij()), Item(MakeSegment("IIJ", "systems_integration"))}); }

  // Sequences 1-7: IIJ (1), its segment (2), SONY (3), IIJ revenue (4, then
  // 6 as revision 2), IIJ operating income (5), SONY revenue (7).
  void PublishSample() {
    PublishIij();
    MustPublish({Item(MakeIssuer("SONY", 3)), Revenue("IIJ", 12'000'000'000), OperatingIncome("IIJ")});
    MustPublish({Revenue("11J"), Revenue("SONY")});
  }

  v1::GetSnapshotResponse MustSnapshot(const v1::Filter& filter = {}) {
    absl::StatusOr<v1::GetSnapshotResponse> snapshot = feed_->Snapshot(filter);
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    return snapshot.ok() ? *std::move(snapshot) : v1::GetSnapshotResponse();
  }

  std::shared_ptr<Subscription> MustSubscribe(const v1::SubscribeRequest& request) {
    absl::StatusOr<std::shared_ptr<Subscription>> s = feed_->Subscribe(request);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1054166400)};  // 2003-05-29
  SqliteJournal* log_ = nullptr;                        // owned by feed_
  GatedLog* gate_ = nullptr;                            // owned by feed_
  std::atomic<int> clock_reads_{0};
  std::unique_ptr<Feed> feed_;
};

TEST_F(FeedTest, PublishReturnsContiguousSequences) {
  v1::PublishResponse first = MustPublish({Item(Iij()), Item(MakeSegment("IIJ", "systems_integration"))});
  EXPECT_THAT(first.sequences(), ElementsAre(1, 2));
  v1::PublishResponse second =
      MustPublish({Revenue("IIJ"), OperatingIncome("IIJ"), Item(MakeCapitalAction("IIJ"))});
  EXPECT_THAT(second.sequences(), ElementsAre(3, 4, 5));
  EXPECT_THAT(Sequences(second.events()), ElementsAre(3, 4, 5));
  EXPECT_EQ(feed_->last_sequence(), 5u);
  EXPECT_EQ(log_->last_sequence(), 5u);
}

TEST_F(FeedTest, OmitEventsAnswersWithSequencesOnly) {
  PublishIij();
  v1::PublishRequest request = Batch({Revenue("IIJ"), OperatingIncome("IIJ")});
  request.set_omit_events(true);
  request.set_publisher_id("desk");
  request.set_batch_key("k1");
  absl::StatusOr<v1::PublishResponse> response = feed_->Publish(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(response->sequences(), ElementsAre(3, 4));
  EXPECT_EQ(response->events_size(), 0);
  // A retry asking for the events gets them from the journal.
  request.set_omit_events(false);
  response = feed_->Publish(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_TRUE(response->duplicate());
  EXPECT_THAT(Sequences(response->events()), ElementsAre(3, 4));
}

TEST_F(FeedTest, RetryScopesSeparatePublishers) {
  PublishIij();
  v1::PublishRequest request = Batch({Revenue("IIJ")});
  request.set_publisher_id("desk");
  request.set_batch_key("k1");
  ASSERT_TRUE(feed_->Publish(request, "alice").ok());
  absl::StatusOr<v1::PublishResponse> bob = feed_->Publish(request, "bob");
  ASSERT_TRUE(bob.ok()) << bob.status();
  EXPECT_FALSE(bob->duplicate());
  EXPECT_THAT(bob->sequences(), ElementsAre(4));
  absl::StatusOr<v1::PublishResponse> alice = feed_->Publish(request, "alice");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_TRUE(alice->duplicate());
  EXPECT_THAT(alice->sequences(), ElementsAre(3));
}

TEST_F(FeedTest, PublishStampsServerFieldsWithTheInjectedClock) {
  PublishIij();
  v1::PublishResponse response = MustPublish({Revenue("11J")});
  ASSERT_EQ(response.events_size(), 1);
  const v1::FeedEvent& e = response.events(0);
  EXPECT_EQ(TimeUtil::TimestampToSeconds(e.time()), absl::ToUnixSeconds(clock_.Now()));
  EXPECT_THAT(e.fact().known_at(), EqualsProto(e.time()));
  EXPECT_EQ(e.fact().revision(), 1);
  EXPECT_EQ(e.fact().supersedes_sequence(), 0u);
  // The committed event is the normalised item.
  EXPECT_EQ(e.fact().key().issuer(), "IIJ");
  EXPECT_EQ(FormatDate(e.fact().key().period().start_date()), "2003-01-01");
  EXPECT_EQ(e.fact().value().precision().qualifier(), v1::QUALIFIER_EQUAL);
}

TEST_F(FeedTest, RevisionSupersedesTheEarlierSequence) {
  PublishIij();
  EXPECT_THAT(MustPublish({Revenue("IIJ", 1)}).sequences(), ElementsAre(3));
  clock_.Advance(absl::Hours(1));
  v1::PublishResponse revised = MustPublish({OperatingIncome("IIJ"), Revenue("11J", 2)});
  const v1::Fact& fact = revised.events(1).fact();
  EXPECT_EQ(fact.revision(), 2);
  EXPECT_EQ(fact.supersedes_sequence(), 3u);
  EXPECT_EQ(TimeUtil::TimestampToSeconds(fact.known_at()), absl::ToUnixSeconds(clock_.Now()));
  // The first report of another key is revision 1.
  EXPECT_EQ(revised.events(0).fact().revision(), 1);
}

// One batch revises an item once: the same key twice (here once under the
// OCR alias) is refused whole, and nothing is journaled.
TEST_F(FeedTest, TheSameKeyTwiceInOneBatchIsRefused) {
  PublishIij();
  MustPublish({Revenue("IIJ", 1)});  // 3
  v1::GetSnapshotResponse before = MustSnapshot();
  EXPECT_THAT(feed_->Publish(Batch({Revenue("IIJ", 2), OperatingIncome("IIJ"), Revenue("11J", 3)})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("items[2]: has the same key fact:IIJ/revenue/FY2002Q4 as items[0]")));
  EXPECT_EQ(feed_->last_sequence(), 3u);
  EXPECT_EQ(log_->last_sequence(), 3u);
  EXPECT_THAT(MustSnapshot(), EqualsProto(before));
  // In two batches they are two revisions.
  EXPECT_THAT(MustPublish({Revenue("IIJ", 2)}).sequences(), ElementsAre(4));
  v1::PublishResponse response = MustPublish({Revenue("11J", 3)});
  EXPECT_EQ(response.events(0).fact().revision(), 3);
  EXPECT_EQ(response.events(0).fact().supersedes_sequence(), 4u);
}

TEST_F(FeedTest, CapitalActionsAndGuidanceAreRevisedToo) {
  PublishIij();
  v1::PublishItem guidance = Item(MakeGuidance("IIJ", "revenue_growth", FullYear(2003)));
  MustPublish({Item(MakeCapitalAction("IIJ")), guidance});  // 3, 4
  v1::PublishResponse response = MustPublish({guidance, Item(MakeCapitalAction("IIJ"))});
  EXPECT_EQ(response.events(0).guidance().revision(), 2);
  EXPECT_EQ(response.events(0).guidance().supersedes_sequence(), 4u);
  EXPECT_EQ(response.events(1).capital_action().revision(), 2);
  EXPECT_EQ(response.events(1).capital_action().supersedes_sequence(), 3u);
}

TEST_F(FeedTest, AnInvalidBatchChangesNothing) {
  PublishIij();
  auto live = MustSubscribe(FromSequence(2));
  v1::GetSnapshotResponse before = MustSnapshot();
  v1::PublishItem bad = Revenue("IIJ");
  bad.mutable_fact()->mutable_key()->mutable_period()->set_number(5);
  EXPECT_THAT(feed_->Publish(Batch({Revenue("IIJ"), bad})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("items[1].fact.key.period")));
  EXPECT_EQ(feed_->last_sequence(), 2u);
  EXPECT_EQ(log_->last_sequence(), 2u);
  EXPECT_THAT(MustSnapshot(), EqualsProto(before));
  EXPECT_THAT(Drain(*live), IsEmpty());
  // The next good batch takes the next sequence.
  EXPECT_THAT(MustPublish({Revenue("IIJ")}).sequences(), ElementsAre(3));
}

// A small commit's wakes are shared with the wake helpers (more than seven
// subscribers); each subscriber is woken once, before Publish answers.
TEST_F(FeedTest, ASmallCommitWakesEverySubscriberBeforeItAnswers) {
  PublishIij();
  std::vector<std::shared_ptr<Subscription>> live;
  std::vector<std::shared_ptr<CountingWaker>> wakers;
  for (int i = 0; i < 40; ++i) {
    live.push_back(MustSubscribe(FromSequence(2)));
    wakers.push_back(std::make_shared<CountingWaker>());
    live.back()->SetWaker(wakers.back());
  }
  MustPublish({Revenue("IIJ")});  // 3
  for (size_t i = 0; i < live.size(); ++i) {
    EXPECT_EQ(wakers[i]->wakes(), 1) << "subscriber " << i;
    EXPECT_THAT(Sequences(Drain(*live[i])), ElementsAre(3)) << "subscriber " << i;
  }
}

// A batch the journal refuses changes nothing either. The refusal is forced
// by a second writer that takes the next sequence behind the feed's back.
TEST_F(FeedTest, ABatchTheJournalRefusesChangesNothing) {
  PublishIij();
  auto live = MustSubscribe(FromSequence(2));
  v1::GetSnapshotResponse before = MustSnapshot();
  {
    absl::StatusOr<std::unique_ptr<SqliteJournal>> intruder = SqliteJournal::Open(dir_.File("journal.db"));
    ASSERT_TRUE(intruder.ok()) << intruder.status();
    ASSERT_TRUE((*intruder)->Append({FactEvent(3)}).ok());
  }
  EXPECT_FALSE(feed_->Publish(Batch({Revenue("IIJ")})).ok());
  EXPECT_EQ(feed_->last_sequence(), 2u);
  EXPECT_THAT(MustSnapshot(), EqualsProto(before));
  EXPECT_THAT(Drain(*live), IsEmpty());
}

// Waits until `reads` exceeds `above`: a commit group has been staged.
bool AwaitStaged(const std::atomic<int>& reads, int above) {
  for (int i = 0; i < 3000 && reads.load() <= above; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return reads.load() > above;
}

// While one group waits for the journal, the next is staged on top of it:
// a revision stamps on the event not journaled yet, and neither is seen
// before it is durable.
TEST_F(FeedTest, AGroupStagesWhileTheOneBeforeIsJournaled) {
  PublishIij();
  auto live = MustSubscribe(FromSequence(2));
  v1::GetSnapshotResponse before = MustSnapshot();
  gate_->Hold();
  absl::StatusOr<v1::PublishResponse> first, second;
  std::thread a([&] { first = feed_->Publish(Batch({Revenue("IIJ", 12'000'000'000)})); });
  ASSERT_TRUE(gate_->AwaitHeldAppend());
  int reads = clock_reads_.load();
  std::thread b([&] { second = feed_->Publish(Batch({Revenue("IIJ", 13'000'000'000)})); });
  EXPECT_TRUE(AwaitStaged(clock_reads_, reads));
  EXPECT_EQ(feed_->last_sequence(), 2u);
  EXPECT_THAT(MustSnapshot(), EqualsProto(before));
  EXPECT_THAT(Drain(*live), IsEmpty());
  gate_->Release();
  a.join();
  b.join();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(first->sequences(), ElementsAre(3));
  EXPECT_THAT(second->sequences(), ElementsAre(4));
  EXPECT_EQ(second->events(0).fact().revision(), 2);
  EXPECT_EQ(second->events(0).fact().supersedes_sequence(), 3u);
  EXPECT_THAT(Sequences(Drain(*live)), ElementsAre(3, 4));
  EXPECT_EQ(log_->last_sequence(), 4u);
}

// A group staged on one the journal refuses fails too, retryably, and
// neither changes anything; the next publish takes the next sequence.
TEST_F(FeedTest, AGroupStagedOnARefusedOneFailsAndChangesNothing) {
  PublishIij();
  auto live = MustSubscribe(FromSequence(2));
  v1::GetSnapshotResponse before = MustSnapshot();
  gate_->Hold();
  gate_->FailNext(absl::InternalError("sqlite: disk I/O error"));
  absl::StatusOr<v1::PublishResponse> first, second;
  std::thread a([&] { first = feed_->Publish(Batch({Revenue("IIJ")})); });
  ASSERT_TRUE(gate_->AwaitHeldAppend());
  int reads = clock_reads_.load();
  std::thread b([&] { second = feed_->Publish(Batch({OperatingIncome("IIJ")})); });
  EXPECT_TRUE(AwaitStaged(clock_reads_, reads));
  gate_->Release();
  a.join();
  b.join();
  EXPECT_THAT(first, StatusIs(absl::StatusCode::kInternal, HasSubstr("disk I/O error")));
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("publish it again")));
  EXPECT_EQ(feed_->last_sequence(), 2u);
  EXPECT_EQ(log_->last_sequence(), 2u);
  EXPECT_THAT(MustSnapshot(), EqualsProto(before));
  EXPECT_THAT(Drain(*live), IsEmpty());
  v1::PublishResponse next = MustPublish({OperatingIncome("IIJ")});
  EXPECT_THAT(next.sequences(), ElementsAre(3));
  EXPECT_EQ(next.events(0).fact().revision(), 1);
  EXPECT_THAT(Sequences(Drain(*live)), ElementsAre(3));
}

// A retry of a keyed batch that is still on its way to the journal waits
// for it and is answered as a duplicate, not journaled twice.
TEST_F(FeedTest, ARetryOfABatchBeingJournaledIsADuplicate) {
  PublishIij();
  v1::PublishRequest request = Batch({Revenue("IIJ")});
  request.set_publisher_id("desk-7");
  request.set_batch_key("fy2002-q4");
  gate_->Hold();
  absl::StatusOr<v1::PublishResponse> first, retry;
  std::thread a([&] { first = feed_->Publish(request); });
  ASSERT_TRUE(gate_->AwaitHeldAppend());
  int reads = clock_reads_.load();
  std::thread b([&] { retry = feed_->Publish(request); });
  EXPECT_TRUE(AwaitStaged(clock_reads_, reads));
  gate_->Release();
  a.join();
  b.join();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_FALSE(first->duplicate());
  EXPECT_TRUE(retry->duplicate());
  EXPECT_THAT(retry->sequences(), ElementsAre(3));
  EXPECT_THAT(retry->events(), ElementsAre(EqualsProto(first->events(0))));
  EXPECT_EQ(log_->last_sequence(), 3u);
}

// Publishers racing through the pipeline: every batch lands once, in one
// contiguous run, and each item's revisions chain without a gap.
TEST_F(FeedTest, ConcurrentPublishersChainRevisions) {
  PublishIij();
  constexpr int kThreads = 4;
  constexpr int kBatches = 40;
  std::vector<std::vector<v1::PublishResponse>> responses(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBatches; ++i) {
        v1::PublishRequest request;
        for (int j = 0; j <= i % 3; ++j) {
          *request.add_items() = Item(MakeFact("IIJ", absl::StrCat("concept_", (t + i + j) % 6),
                                               Quarter(2002, 4), 1'000'000 * (i + j + 1)));
        }
        absl::StatusOr<v1::PublishResponse> r = feed_->Publish(request);
        ASSERT_TRUE(r.ok()) << r.status();
        responses[t].push_back(*std::move(r));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::map<uint64_t, v1::FeedEvent> by_sequence;
  for (const auto& mine : responses) {
    for (const v1::PublishResponse& r : mine) {
      ASSERT_GT(r.sequences_size(), 0);
      for (int k = 0; k < r.sequences_size(); ++k) {
        EXPECT_EQ(r.sequences(k), r.sequences(0) + k);  // a batch is one run
        EXPECT_TRUE(by_sequence.emplace(r.sequences(k), r.events(k)).second);
      }
    }
  }
  const uint64_t last = feed_->last_sequence();
  ASSERT_EQ(by_sequence.size(), last - 2);
  EXPECT_EQ(by_sequence.begin()->first, 3u);
  EXPECT_EQ(log_->last_sequence(), last);
  std::map<std::string, std::pair<int32_t, uint64_t>> chain;  // item -> revision, sequence
  for (const auto& [sequence, e] : by_sequence) {
    auto& [revision, previous] = chain[AttrsOf(e).item_key];
    EXPECT_EQ(e.fact().revision(), revision + 1) << "sequence " << sequence;
    EXPECT_EQ(e.fact().supersedes_sequence(), previous) << "sequence " << sequence;
    revision = e.fact().revision();
    previous = sequence;
  }
}

// The RPC path: a request on a protobuf arena, validated in place and its
// bodies moved into the events, journals what the copying path does.
TEST_F(FeedTest, ARequestOnAnArenaPublishesLikeACopiedOne) {
  PublishIij();
  v1::PublishResponse copied = MustPublish({Revenue("IIJ", 12'000'000'000)});
  google::protobuf::Arena arena;
  auto* request = google::protobuf::Arena::CreateMessage<v1::PublishRequest>(&arena);
  *request = Batch({Revenue("11J"), OperatingIncome("IIJ")});
  absl::StatusOr<v1::PublishResponse> moved = feed_->Publish(request);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_THAT(moved->sequences(), ElementsAre(4, 5));
  ASSERT_EQ(moved->events_size(), 2);
  EXPECT_EQ(moved->events(0).fact().key().issuer(), "IIJ");  // the alias resolved
  EXPECT_EQ(moved->events(0).fact().revision(), 2);
  EXPECT_EQ(moved->events(0).fact().supersedes_sequence(), copied.sequences(0));
  EXPECT_EQ(moved->events(0).fact().value().money().units(), 13'000'000'000);
  EXPECT_EQ(moved->events(1).fact().key().issuer(), "IIJ");
  v1::GetSnapshotResponse snapshot = MustSnapshot(FilterOf({"IIJ"}, {"revenue"}));
  ASSERT_EQ(snapshot.events_size(), 1);
  EXPECT_THAT(snapshot.events(0), EqualsProto(moved->events(0)));
}

// The RPC path with the request's bytes: facts and guidance are encoded from
// the bytes they came in (EncodeSpliced), with what validation filled and
// the stamped fields after them. The events journaled parse to those of the
// copying path, item by item: aliases resolved, dates and qualifiers filled,
// revisions chained, unknown fields kept.
TEST_F(FeedTest, ARequestWithItsBytesJournalsWhatTheCopyingPathDoes) {
  TempDir other_dir;
  absl::StatusOr<std::unique_ptr<SqliteJournal>> other_log =
      SqliteJournal::Open(other_dir.File("journal.db"));
  ASSERT_TRUE(other_log.ok()) << other_log.status();
  absl::StatusOr<std::unique_ptr<Feed>> copying =
      Feed::Open(*std::move(other_log), [this] { return clock_.Now(); });
  ASSERT_TRUE(copying.ok()) << copying.status();

  v1::Fact dated = MakeFact("IIJ", "operating_income", Quarter(2002, 4), 500'000'000);
  *dated.mutable_key()->mutable_period()->mutable_start_date() = test::MakeDate(2003, 1, 1);
  *dated.mutable_key()->mutable_comparison_period() = Quarter(2001, 4);
  dated.mutable_key()->set_segment("systems_integration");
  dated.mutable_value()->mutable_precision()->set_qualifier(v1::QUALIFIER_AT_LEAST);
  v1::Fact translated = MakeFact("11J", "net_income", FullYear(2002), 1'000'000'000);
  *translated.add_translations() = translated.value();
  v1::Fact with_unknown = MakeFact("IIJ", "ordinary_income", FullYear(2002));
  with_unknown.GetReflection()->MutableUnknownFields(&with_unknown)->AddVarint(99, 7);
  const std::vector<std::vector<v1::PublishItem>> batches = {
      {Item(Iij()), Item(MakeSegment("IIJ", "systems_integration")), Item(MakeIssuer("SONY", 3))},
      {Revenue("11J", 12'000'000'000), Item(dated), Item(translated), Item(with_unknown),
       Item(MakeGuidance("11J", "revenue", FullYear(2003))), Item(MakeCapitalAction("IIJ"))},
      {Revenue("IIJ"), Revenue("SONY"), Item(MakeGuidance("IIJ", "revenue", FullYear(2003)))},
  };
  int spliced = 0;
  for (const auto& items : batches) {
    const v1::PublishRequest batch = Batch(items);
    absl::StatusOr<v1::PublishResponse> copied = (*copying)->Publish(batch);
    ASSERT_TRUE(copied.ok()) << copied.status();
    const std::string wire = batch.SerializeAsString();
    google::protobuf::Arena arena;
    auto* request = google::protobuf::Arena::CreateMessage<v1::PublishRequest>(&arena);
    ASSERT_TRUE(request->ParseFromString(wire));
    const std::vector<ItemBody> bodies = PublishItemBodies(wire);
    absl::StatusOr<v1::PublishResponse> from_bytes = feed_->Publish(request, "", &bodies);
    ASSERT_TRUE(from_bytes.ok()) << from_bytes.status();
    ASSERT_EQ(from_bytes->events_size(), copied->events_size());
    for (int i = 0; i < copied->events_size(); ++i) {
      EXPECT_THAT(from_bytes->events(i), EqualsProto(copied->events(i)));
      const uint64_t sequence = copied->events(i).sequence();
      absl::StatusOr<size_t> read = log_->Read(sequence - 1, sequence, 1, [&](EventPtr e) {
        EXPECT_THAT(e->event(), EqualsProto(copied->events(i)));
        // Spliced, a fact's unknown field stays before the stamped fields; a
        // serialization puts it last.
        if (e->body() != e->event().SerializeAsString()) ++spliced;
      });
      ASSERT_TRUE(read.ok()) << read.status();
      EXPECT_EQ(*read, 1u);
    }
  }
  const v1::GetSnapshotResponse snapshot = MustSnapshot();
  absl::StatusOr<v1::GetSnapshotResponse> copied_snapshot = (*copying)->Snapshot(v1::Filter());
  ASSERT_TRUE(copied_snapshot.ok()) << copied_snapshot.status();
  ASSERT_EQ(snapshot.events_size(), copied_snapshot->events_size());
  for (int i = 0; i < snapshot.events_size(); ++i) {
    EXPECT_THAT(snapshot.events(i), EqualsProto(copied_snapshot->events(i)));
  }
  // The fact with an unknown field; the others came in field order.
  EXPECT_EQ(spliced, 1);
}

TEST_F(FeedTest, SnapshotHoldsLatestRevisionsWithItsSequence) {
  PublishSample();
  v1::GetSnapshotResponse all = MustSnapshot();
  EXPECT_EQ(all.sequence(), 7u);
  EXPECT_THAT(Describe(all.events()),
              ElementsAre("1 issuer:IIJ", "2 segment:IIJ/systems_integration", "3 issuer:SONY",
                          "5 fact:IIJ/operating_income/FY2002Q4 r1", "6 fact:IIJ/revenue/FY2002Q4 r2",
                          "7 fact:SONY/revenue/FY2002Q4 r1"));
}

TEST_F(FeedTest, SnapshotFilters) {
  PublishSample();
  // By issuer alias.
  EXPECT_THAT(Sequences(MustSnapshot(FilterOf({"11J"})).events()), ElementsAre(1, 2, 5, 6));
  // By concept: items without a concept do not match.
  EXPECT_THAT(Sequences(MustSnapshot(FilterOf({}, {"revenue"})).events()), ElementsAre(6, 7));
  // By event kind.
  EXPECT_THAT(Sequences(MustSnapshot(FilterOf({}, {}, {v1::EVENT_KIND_ISSUER})).events()), ElementsAre(1, 3));
  // All at once.
  v1::GetSnapshotResponse one = MustSnapshot(FilterOf({"SONY"}, {"revenue"}, {v1::EVENT_KIND_FACT}));
  EXPECT_EQ(one.sequence(), 7u);
  EXPECT_THAT(Sequences(one.events()), ElementsAre(7));
}

TEST_F(FeedTest, SnapshotAndSubscribeRefuseAnInvalidFilter) {
  PublishIij();
  EXPECT_THAT(feed_->Snapshot(FilterOf({"SONY"})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filter.issuers[0]")));
  v1::SubscribeRequest request;
  *request.mutable_filter() = FilterOf({}, {}, {v1::EVENT_KIND_UNSPECIFIED});
  EXPECT_THAT(feed_->Subscribe(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filter.event_kinds[0]")));
  EXPECT_EQ(feed_->subscriber_count(), 0u);
}

TEST_F(FeedTest, SubscribeSnapshotThenLive) {
  PublishSample();
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_SNAPSHOT_THEN_LIVE);
  *request.mutable_filter() = FilterOf({}, {"revenue"});
  auto s = MustSubscribe(request);
  EXPECT_THAT(Describe(Drain(*s)), ElementsAre("begin@7", "6 fact:IIJ/revenue/FY2002Q4 r2",
                                               "7 fact:SONY/revenue/FY2002Q4 r1", "end@7:2"));

  MustPublish({OperatingIncome("IIJ"), Revenue("SONY")});  // 8, 9
  EXPECT_THAT(Describe(Drain(*s)), ElementsAre("9 fact:SONY/revenue/FY2002Q4 r2"));
}

TEST_F(FeedTest, SubscribeUnspecifiedStartIsSnapshotThenLive) {
  PublishIij();
  auto s = MustSubscribe(v1::SubscribeRequest());
  EXPECT_THAT(Describe(Drain(*s)),
              ElementsAre("begin@2", "1 issuer:IIJ", "2 segment:IIJ/systems_integration", "end@2:2"));
}

TEST_F(FeedTest, SubscribeSnapshotOfAnEmptyFeed) {
  auto s = MustSubscribe(v1::SubscribeRequest());
  EXPECT_THAT(Describe(Drain(*s)), ElementsAre("begin@0", "end@0:0"));
  PublishIij();
  EXPECT_THAT(Sequences(Drain(*s)), ElementsAre(1, 2));
}

TEST_F(FeedTest, SnapshotsAndHeartbeatsCarryTheJournalsIncarnation) {
  PublishIij();
  const std::string incarnation = log_->incarnation();
  ASSERT_FALSE(incarnation.empty());
  EXPECT_EQ(feed_->incarnation(), incarnation);
  EXPECT_EQ(MustSnapshot().incarnation(), incarnation);
  auto s = MustSubscribe(v1::SubscribeRequest());
  std::vector<EventPtr> snapshot = Drain(*s);
  ASSERT_FALSE(snapshot.empty());
  ASSERT_TRUE(snapshot.front()->event().has_snapshot_begin());
  EXPECT_EQ(snapshot.front()->event().snapshot_begin().incarnation(), incarnation);
  // Idle past the default interval (5 s): a heartbeat. (The first check
  // after a send only notes it.)
  std::vector<EventPtr> beat;
  for (int i = 0; i < 2 && beat.empty(); ++i) {
    clock_.Advance(absl::Seconds(6));
    feed_->Tick();
    beat = Drain(*s);
  }
  ASSERT_EQ(beat.size(), 1u);
  ASSERT_TRUE(beat[0]->event().has_heartbeat());
  EXPECT_EQ(beat[0]->event().heartbeat().incarnation(), incarnation);
  EXPECT_EQ(beat[0]->event().heartbeat().last_sequence(), 2u);
}

// Sequences of another incarnation are not this journal's: the resume
// starts over with a Resync and a snapshot, never events after "3".
TEST_F(FeedTest, AResumeFromAnotherIncarnationResyncs) {
  PublishSample();
  v1::SubscribeRequest same = FromSequence(5);
  same.set_incarnation(log_->incarnation());
  EXPECT_THAT(Sequences(Drain(*MustSubscribe(same))), ElementsAre(6, 7));

  v1::SubscribeRequest other = FromSequence(3);
  other.set_incarnation("sqlite-0000000000000001");
  std::vector<EventPtr> events = Drain(*MustSubscribe(other));
  ASSERT_GE(events.size(), 3u);
  ASSERT_TRUE(events[0]->event().has_resync());
  EXPECT_EQ(events[0]->event().resync().requested_sequence(), 3u);
  EXPECT_THAT(events[0]->event().resync().reason(),
              HasSubstr("is of journal incarnation 'sqlite-0000000000000001'"));
  events.erase(events.begin());
  EXPECT_THAT(Describe(events),
              ElementsAre("begin@7", "1 issuer:IIJ", "2 segment:IIJ/systems_integration", "3 issuer:SONY",
                          "5 fact:IIJ/operating_income/FY2002Q4 r1", "6 fact:IIJ/revenue/FY2002Q4 r2",
                          "7 fact:SONY/revenue/FY2002Q4 r1", "end@7:6"));
  // Beyond the head with another incarnation: a resync too, not OUT_OF_RANGE.
  v1::SubscribeRequest ahead = FromSequence(40);
  ahead.set_incarnation("sqlite-0000000000000001");
  events = Drain(*MustSubscribe(ahead));
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(events[0]->event().has_resync());
}

TEST_F(FeedTest, SubscribeFromSequenceReplaysThenGoesLive) {
  PublishSample();
  for (uint64_t k : {0, 3, 6, 7}) {
    auto s = MustSubscribe(FromSequence(k));
    std::vector<uint64_t> expected;
    for (uint64_t seq = k + 1; seq <= 7; ++seq) expected.push_back(seq);
    EXPECT_EQ(Sequences(Drain(*s)), expected) << "from_sequence " << k;
  }
  auto s = MustSubscribe(FromSequence(4));
  MustPublish({Revenue("SONY")});  // 8, published before the backlog is read
  EXPECT_THAT(Sequences(Drain(*s)), ElementsAre(5, 6, 7, 8));
  MustPublish({OperatingIncome("IIJ")});
  EXPECT_THAT(Sequences(Drain(*s)), ElementsAre(9));
}

v1::SubscribeRequest FirstReported() {
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_SNAPSHOT_THEN_LIVE);
  request.mutable_point_in_time()->set_view(v1::REVISION_VIEW_FIRST_REPORTED);
  return request;
}

// Found by get_snapshot_request_fuzz: an as-of after 2262 overflowed the
// conversion to nanoseconds and read as a time before everything.
TEST_F(FeedTest, AsOfAnyTimeAfterTheLastRevisionIsTheLatestView) {
  PublishSample();  // 1..7
  const v1::GetSnapshotResponse latest = MustSnapshot();
  ASSERT_GT(latest.events_size(), 0);
  for (int64_t seconds :
       {int64_t{4102444800} /* 2100 */, int64_t{30850761216} /* 2947 */, TimeUtil::kTimestampMaxSeconds}) {
    v1::GetSnapshotRequest request;
    request.mutable_point_in_time()->set_view(v1::REVISION_VIEW_AS_OF);
    request.mutable_point_in_time()->mutable_as_of()->set_seconds(seconds);
    absl::StatusOr<v1::GetSnapshotResponse> as_of = feed_->Snapshot(request);
    ASSERT_TRUE(as_of.ok()) << seconds << ": " << as_of.status();
    EXPECT_EQ(Sequences(as_of->events()), Sequences(latest.events())) << seconds;
  }
}

TEST_F(FeedTest, AnAsOfOutsideATimestampsRangeIsRefused) {
  PublishSample();
  for (auto [seconds, nanos] : {std::pair<int64_t, int32_t>{TimeUtil::kTimestampMaxSeconds + 1, 0},
                                {TimeUtil::kTimestampMinSeconds - 1, 0},
                                {int64_t{1} << 62, 0},
                                {1054166400, -1},
                                {1054166400, 1000000000}}) {
    v1::GetSnapshotRequest request;
    request.mutable_point_in_time()->set_view(v1::REVISION_VIEW_AS_OF);
    request.mutable_point_in_time()->mutable_as_of()->set_seconds(seconds);
    request.mutable_point_in_time()->mutable_as_of()->set_nanos(nanos);
    EXPECT_THAT(feed_->Snapshot(request),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("point_in_time.as_of")))
        << seconds << " " << nanos;
    v1::SubscribeRequest subscribe;
    *subscribe.mutable_point_in_time() = request.point_in_time();
    EXPECT_THAT(feed_->Subscribe(subscribe), StatusIs(absl::StatusCode::kInvalidArgument))
        << seconds << " " << nanos;
  }
}

TEST_F(FeedTest, APastViewIsReadOffTheFeedMutexAndBeforeLiveEvents) {
  PublishSample();  // 1..7
  gate_->HoldReads();
  // Returns at once: the snapshot is read on the feed's reader threads.
  auto s = MustSubscribe(FirstReported());
  std::thread::id read_on;
  ASSERT_TRUE(gate_->AwaitHeldRead(&read_on));
  EXPECT_NE(read_on, std::this_thread::get_id());
  auto waker = std::make_shared<CountingWaker>();
  s->SetWaker(waker);
  // A publisher is not held up by the read...
  absl::Notification published;
  std::thread publisher([&] {
    MustPublish({OperatingIncome("SONY")});  // 8
    published.Notify();
  });
  EXPECT_TRUE(published.WaitForNotificationWithTimeout(absl::Seconds(30)))
      << "a publish waited for a journal read";
  // ...nor is the consumer: nothing to take while the read is out.
  EXPECT_THAT(s->Take(100, size_t{1} << 30), IsEmpty());
  EXPECT_TRUE(s->reading());
  gate_->ReleaseReads();
  publisher.join();
  ASSERT_TRUE(s->AwaitReads(absl::Seconds(30)));
  EXPECT_TRUE(waker->AwaitWakes(1, absl::Seconds(30)));
  // The snapshot as of sequence 7 (when it was asked for), then event 8 once.
  std::vector<EventPtr> got = Drain(*s);
  std::vector<std::string> described = Describe(got);
  ASSERT_GE(got.size(), 3u);
  EXPECT_EQ(described.front(), "begin@7");
  EXPECT_THAT(described[got.size() - 2], ::testing::StartsWith("end@7:"));
  EXPECT_EQ(got.back()->sequence(), 8u);
  for (size_t i = 1; i + 2 < got.size(); ++i) EXPECT_LE(got[i]->sequence(), 7u);
  EXPECT_THAT(Drain(*s), IsEmpty());
}

TEST_F(FeedTest, AResumeIsReadOnTheReaderThreadsNotInTake) {
  PublishSample();  // 1..7
  gate_->HoldReads();
  auto s = MustSubscribe(FromSequence(2));
  auto waker = std::make_shared<CountingWaker>();
  s->SetWaker(waker);
  std::thread::id read_on;
  ASSERT_TRUE(gate_->AwaitHeldRead(&read_on));
  EXPECT_NE(read_on, std::this_thread::get_id());
  EXPECT_THAT(s->Take(100, size_t{1} << 30), IsEmpty());  // does not wait
  MustPublish({OperatingIncome("SONY")});                 // 8, live, after the backlog
  gate_->ReleaseReads();
  ASSERT_TRUE(s->AwaitReads(absl::Seconds(30)));
  EXPECT_TRUE(waker->AwaitWakes(1, absl::Seconds(30)));
  EXPECT_THAT(Sequences(Drain(*s)), ElementsAre(3, 4, 5, 6, 7, 8));
}

TEST_F(FeedTest, ASnapshotOfAPastViewDoesNotHoldUpPublishers) {
  PublishSample();  // 1..7
  gate_->HoldReads();
  v1::GetSnapshotRequest request;
  request.mutable_point_in_time()->set_view(v1::REVISION_VIEW_FIRST_REPORTED);
  absl::StatusOr<v1::GetSnapshotResponse> snapshot;
  std::thread reader([&] { snapshot = feed_->Snapshot(request); });
  ASSERT_TRUE(gate_->AwaitHeldRead());
  absl::Notification published;
  std::thread publisher([&] {
    MustPublish({OperatingIncome("SONY")});  // 8
    published.Notify();
  });
  EXPECT_TRUE(published.WaitForNotificationWithTimeout(absl::Seconds(30)))
      << "a publish waited for a snapshot's journal read";
  gate_->ReleaseReads();
  publisher.join();
  reader.join();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->sequence(), 7u);
  for (const v1::FeedEvent& e : snapshot->events()) EXPECT_LE(e.sequence(), 7u);
}

TEST_F(FeedTest, SubscribeFromSequenceAppliesTheFilter) {
  PublishSample();
  v1::SubscribeRequest request = FromSequence(0);
  *request.mutable_filter() = FilterOf({"SONY"});
  auto s = MustSubscribe(request);
  EXPECT_THAT(Sequences(Drain(*s)), ElementsAre(3, 7));
}

TEST_F(FeedTest, SubscribeFromBeyondTheHeadIsOutOfRange) {
  PublishSample();
  EXPECT_THAT(feed_->Subscribe(FromSequence(8)),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("from_sequence")));
  EXPECT_EQ(feed_->subscriber_count(), 0u);
}

TEST_F(FeedTest, SubscribeLiveOnly) {
  PublishSample();
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_LIVE_ONLY);
  auto s = MustSubscribe(request);
  EXPECT_THAT(Drain(*s), IsEmpty());
  MustPublish({Revenue("SONY")});
  EXPECT_THAT(Sequences(Drain(*s)), ElementsAre(8));
}

TEST_F(FeedTest, SubscribeUnknownStartModeIsInvalid) {
  v1::SubscribeRequest request;
  request.set_start(static_cast<v1::StartMode>(42));
  EXPECT_THAT(feed_->Subscribe(request), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(FeedTest, UnsubscribeAndCloseSubscriptions) {
  auto a = MustSubscribe(v1::SubscribeRequest());
  auto b = MustSubscribe(v1::SubscribeRequest());
  EXPECT_EQ(feed_->subscriber_count(), 2u);
  feed_->Unsubscribe(a.get());
  EXPECT_EQ(feed_->subscriber_count(), 1u);
  Drain(*b);
  feed_->CloseSubscriptions();
  EXPECT_EQ(feed_->subscriber_count(), 0u);
  EXPECT_THAT(b->Finished(), Optional(StatusIs(absl::StatusCode::kUnavailable)));
  // The feed still works.
  PublishIij();
  EXPECT_EQ(feed_->last_sequence(), 2u);
}

TEST_F(FeedTest, ReopenRebuildsTheSameState) {
  PublishSample();
  v1::GetSnapshotResponse before = MustSnapshot();
  Open();
  EXPECT_EQ(feed_->last_sequence(), 7u);
  EXPECT_THAT(MustSnapshot(), EqualsProto(before));
  // Aliases and revisions survive too.
  EXPECT_THAT(Sequences(MustSnapshot(FilterOf({"11J"})).events()), ElementsAre(1, 2, 5, 6));
  v1::PublishResponse response = MustPublish({Revenue("11J")});
  EXPECT_THAT(response.sequences(), ElementsAre(8));
  EXPECT_EQ(response.events(0).fact().revision(), 3);
  EXPECT_EQ(response.events(0).fact().supersedes_sequence(), 6u);
}

// Overwrites the body of one journaled event in its row, checksums and
// all, as bytes written wrong (not damaged on disk, which the checksums
// catch) would be, through a connection of its own while no feed is open.
void DamageRow(const std::string& path, uint64_t sequence, const std::string& body) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT first_sequence, last_sequence, keys, events FROM commits"
                               " WHERE first_sequence <= ? ORDER BY first_sequence DESC LIMIT 1",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  sqlite3_bind_int64(stmt, 1, static_cast<sqlite3_int64>(sequence));
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const uint64_t first = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
  const std::string keys(static_cast<const char*>(sqlite3_column_blob(stmt, 2)),
                         static_cast<size_t>(sqlite3_column_bytes(stmt, 2)));
  const std::string events(static_cast<const char*>(sqlite3_column_blob(stmt, 3)),
                           static_cast<size_t>(sqlite3_column_bytes(stmt, 3)));
  RowReader reader(first, static_cast<uint64_t>(sqlite3_column_int64(stmt, 1)), keys, events, std::nullopt);
  sqlite3_finalize(stmt);
  // The frame of the new body: SubscribeResponse.events' tag and its length.
  uint8_t length[10];
  const uint8_t* length_end =
      google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(body.size(), length);
  std::string frame =
      "\x0a" + std::string(reinterpret_cast<const char*>(length), static_cast<size_t>(length_end - length)) +
      body;
  RowBuilder row;
  JournalRecord r;
  bool found = false;
  while (*reader.Next(&r)) {
    found = found || r.sequence == sequence;
    row.Add(r.sequence, r.time_ns, r.item_key, r.sequence == sequence ? frame : r.frame);
  }
  ASSERT_TRUE(found);
  ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE commits SET events = ?, crcs = ? WHERE first_sequence = ?", -1,
                               &stmt, nullptr),
            SQLITE_OK);
  sqlite3_bind_blob(stmt, 1, row.events().data(), static_cast<int>(row.events().size()), SQLITE_TRANSIENT);
  sqlite3_bind_blob(stmt, 2, row.crcs().data(), static_cast<int>(row.crcs().size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt, 3, static_cast<sqlite3_int64>(first));
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

absl::Status OpenFeed(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SqliteJournal>> log = SqliteJournal::Open(path);
  if (!log.ok()) return log.status();
  return Feed::Open(*std::move(log)).status();
}

TEST_F(FeedTest, ADamagedJournalRowRefusesToOpen) {
  PublishSample();
  feed_.reset();
  const std::string path = dir_.File("journal.db");
  // The last row cut short: its top level no longer parses.
  std::string body(FactEvent(7)->body());
  DamageRow(path, 7, std::string("\x08\x07") + "\x62\x40" + "short");
  EXPECT_THAT(OpenFeed(path),
              StatusIs(absl::StatusCode::kDataLoss,
                       absl::StrCat("journal ", path, ": row of sequence 7 is not a kessan.v1.FeedEvent")));
  // A sound top level around a damaged fact: found when the state is rebuilt.
  DamageRow(path, 7, std::string("\x08\x07\x62\x03\x08\xff\xff"));
  EXPECT_THAT(OpenFeed(path), StatusIs(absl::StatusCode::kDataLoss,
                                       "journal row of sequence 7 is not a kessan.v1.FeedEvent"));
  // Another event's bytes in the row.
  DamageRow(path, 4, body);
  EXPECT_THAT(OpenFeed(path),
              StatusIs(absl::StatusCode::kDataLoss,
                       absl::StrCat("journal ", path, ": row of sequence 4 holds the event of sequence 7")));
}

// A stored figure flipped on disk beneath a running feed (its state and
// live events do not see it): a resume or a past view through it ends with
// DATA_LOSS naming the event, never its bytes; the next start refuses.
TEST_F(FeedTest, AFigureDamagedOnDiskIsNeverServed) {
  PublishSample();
  const std::string path = dir_.File("journal.db");
  ASSERT_TRUE(test::FlipBitOfFigure(path, 4));  // IIJ revenue
  const std::string damaged = absl::StrCat("journal ", path, ": event 4 is damaged (checksum mismatch)");

  auto resumed = MustSubscribe(FromSequence(2));
  std::vector<EventPtr> sent = Drain(*resumed);
  for (const EventPtr& e : sent) EXPECT_LT(e->sequence(), 4u);
  EXPECT_THAT(resumed->Finished(), Optional(StatusIs(absl::StatusCode::kDataLoss, damaged)));
  // Filtered, the backlog is parsed: the same.
  v1::SubscribeRequest filtered = FromSequence(2);
  filtered.mutable_filter()->add_issuers("IIJ");
  auto iij = MustSubscribe(filtered);
  for (const EventPtr& e : Drain(*iij)) EXPECT_LT(e->sequence(), 4u);
  EXPECT_THAT(iij->Finished(), Optional(StatusIs(absl::StatusCode::kDataLoss, damaged)));
  // After it, a resume reads on.
  EXPECT_THAT(Sequences(Drain(*MustSubscribe(FromSequence(4)))), ElementsAre(5, 6, 7));
  auto first = MustSubscribe(FirstReported());
  Drain(*first);
  EXPECT_THAT(first->Finished(), Optional(StatusIs(absl::StatusCode::kDataLoss, damaged)));

  feed_.reset();
  EXPECT_THAT(OpenFeed(path), StatusIs(absl::StatusCode::kDataLoss, damaged));
}

// Replay reads the journal in chunks of 4096 events.
TEST_F(FeedTest, ReopenReplaysAcrossReadChunks) {
  PublishIij();
  for (int batch = 0; batch < 5; ++batch) {
    std::vector<v1::PublishItem> items;
    for (int i = 0; i < 1000; ++i) {
      items.push_back(Item(MakeFact("IIJ", absl::StrCat("concept_", batch * 1000 + i), Quarter(2002, 4))));
    }
    MustPublish(std::move(items));
  }
  MustPublish({Revenue("IIJ")});
  v1::GetSnapshotResponse before = MustSnapshot();
  ASSERT_EQ(before.events_size(), 5003);
  Open();
  EXPECT_EQ(feed_->last_sequence(), 5003u);
  EXPECT_THAT(MustSnapshot(), EqualsProto(before));
}

// Whatever the interleaving of a subscribe with concurrent publishes, the
// snapshot plus the live events that follow it are the feed's final state,
// and the live events are exactly the sequences after the snapshot.
TEST_F(FeedTest, SnapshotThenLiveSeesEveryLaterEventOnce) {
  PublishIij();
  constexpr int kBatches = 60;
  std::thread publisher([&] {
    for (int i = 0; i < kBatches; ++i) {
      v1::PublishItem item =
          Item(MakeFact("IIJ", absl::StrCat("concept_", i % 5), Quarter(2002, 4), 1'000'000 * (i + 1)));
      ASSERT_TRUE(feed_->Publish(Batch({item})).ok());
    }
  });
  auto s = MustSubscribe(v1::SubscribeRequest());
  publisher.join();
  ASSERT_NE(s, nullptr);

  std::vector<EventPtr> events = Drain(*s);
  ASSERT_GE(events.size(), 2u);
  ASSERT_TRUE(events[0]->event().has_snapshot_begin());
  uint64_t snapshot_sequence = events[0]->event().snapshot_begin().sequence();
  std::map<std::string, uint64_t> state;  // item key -> sequence
  size_t i = 1;
  for (; i < events.size() && !events[i]->event().has_snapshot_end(); ++i) {
    EXPECT_LE(events[i]->sequence(), snapshot_sequence);
    state[events[i]->attrs().item_key] = events[i]->sequence();
  }
  ASSERT_LT(i, events.size()) << "no SnapshotEnd";
  EXPECT_EQ(events[i]->event().snapshot_end().sequence(), snapshot_sequence);
  EXPECT_EQ(events[i]->event().snapshot_end().item_count(), state.size());
  uint64_t expected = snapshot_sequence + 1;
  for (++i; i < events.size(); ++i) {
    EXPECT_EQ(events[i]->sequence(), expected++);
    state[events[i]->attrs().item_key] = events[i]->sequence();
  }
  EXPECT_EQ(expected - 1, feed_->last_sequence());

  std::map<std::string, uint64_t> final_state;
  v1::GetSnapshotResponse snapshot = MustSnapshot();
  for (const v1::FeedEvent& e : snapshot.events()) {
    final_state[AttrsOf(e).item_key] = e.sequence();
  }
  EXPECT_EQ(state, final_state);
}

}  // namespace
}  // namespace kessan
