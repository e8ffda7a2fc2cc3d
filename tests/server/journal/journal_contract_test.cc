// The Journal contract (server/journal/journal.h), one suite run against
// every implementation: SqliteJournal in a temporary file, and NatsJournal
// on a real single-node nats-server with JetStream (testing/nats_cluster.h)
// with its cache in a temporary file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "journal/journal.h"
#include "journal/nats_journal.h"
#include "journal/sqlite_journal.h"
#include "testing/nats_cluster.h"
#include "testing/test_util.h"
#include "util/status_macros.h"

namespace kessan {
namespace {

using ::kessan::test::EqualsProto;
using ::kessan::test::FactEvent;
using ::kessan::test::FactEvents;
using ::kessan::test::NatsCluster;
using ::kessan::test::Sequences;
using ::kessan::test::TempDir;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// One nats-server for the test process (each test has a stream of its
// own), killed at exit or with this process.
NatsCluster* SharedNats() {
  static absl::StatusOr<std::unique_ptr<NatsCluster>> nats = NatsCluster::Start(1);
  if (!nats.ok()) {
    ADD_FAILURE() << "nats-server: " << nats.status();
    return nullptr;
  }
  return nats->get();
}

// A journal implementation under test: opens (again) the journal of a test,
// whose files are in `dir`.
struct Backend {
  std::string name;
  std::function<absl::StatusOr<std::unique_ptr<Journal>>(const TempDir& dir, const std::string& stream)> open;
};

Backend Sqlite() {
  return {"Sqlite", [](const TempDir& dir, const std::string&) -> absl::StatusOr<std::unique_ptr<Journal>> {
            ASSIGN_OR_RETURN(std::unique_ptr<SqliteJournal> log, SqliteJournal::Open(dir.File("journal.db")));
            return std::unique_ptr<Journal>(std::move(log));
          }};
}

Backend Nats() {
  return {"Nats",
          [](const TempDir& dir, const std::string& stream) -> absl::StatusOr<std::unique_ptr<Journal>> {
            NatsCluster* nats = SharedNats();
            if (nats == nullptr) return absl::UnavailableError("no nats-server");
            NatsJournalOptions options;
            options.url = nats->url();
            options.stream = stream;
            options.cache_path = dir.File("cache.db");
            ASSIGN_OR_RETURN(std::unique_ptr<NatsJournal> log, NatsJournal::Open(options));
            RETURN_IF_ERROR(log->CatchUp(absl::Seconds(20)));
            return std::unique_ptr<Journal>(std::move(log));
          }};
}

class JournalContractTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override {
    log_.reset();
    if (HasFailure() && GetParam().name == "Nats" && SharedNats() != nullptr) {
      std::cerr << SharedNats()->Logs();
    }
  }

  void Open() {
    log_.reset();
    absl::StatusOr<std::unique_ptr<Journal>> log = GetParam().open(dir_, stream_);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }

  std::vector<EventPtr> Read(uint64_t after, uint64_t up_to, size_t max_count = 100000) {
    std::vector<EventPtr> events;
    absl::StatusOr<size_t> n = log_->Read(after, up_to, max_count, [&](EventPtr e) { events.push_back(e); });
    EXPECT_TRUE(n.ok()) << n.status();
    if (n.ok()) {
      EXPECT_EQ(*n, events.size());
    }
    return events;
  }

  std::vector<uint64_t> View(View v, absl::Time as_of, uint64_t up_to) {
    std::vector<EventPtr> events;
    absl::Status s = log_->ReadView(v, as_of, up_to, [&](EventPtr e) { events.push_back(e); });
    EXPECT_TRUE(s.ok()) << s;
    return Sequences(events);
  }

  // Each test its own stream on the shared server.
  static std::string NextStream() {
    static std::atomic<int> n{0};
    return absl::StrCat("CONTRACT_", ::testing::UnitTest::GetInstance()->random_seed(), "_", n.fetch_add(1));
  }

  TempDir dir_;
  const std::string stream_ = NextStream();
  std::unique_ptr<Journal> log_;
};

TEST_P(JournalContractTest, AnEmptyJournal) {
  EXPECT_EQ(log_->last_sequence(), 0u);
  EXPECT_EQ(log_->first_sequence(), 1u);
  EXPECT_THAT(Read(0, 100), IsEmpty());
}

TEST_P(JournalContractTest, AppendThenReadGivesTheEventsBackGapFree) {
  std::vector<EventPtr> written = FactEvents(1, 3);
  ASSERT_TRUE(log_->Append(written).ok());
  ASSERT_TRUE(log_->Append(FactEvents(4, 2)).ok());
  ASSERT_TRUE(log_->Append({}).ok());
  EXPECT_EQ(log_->last_sequence(), 5u);
  std::vector<EventPtr> read = Read(0, 5);
  ASSERT_THAT(Sequences(read), ElementsAre(1, 2, 3, 4, 5));
  for (size_t i = 0; i < written.size(); ++i) {
    EXPECT_THAT(read[i]->event(), EqualsProto(written[i]->event()));
    EXPECT_EQ(read[i]->frame(), written[i]->frame());
    EXPECT_EQ(read[i]->attrs().item_key, written[i]->attrs().item_key);
  }
}

TEST_P(JournalContractTest, ReadRangesAndMaxCount) {
  ASSERT_TRUE(log_->Append(FactEvents(1, 10)).ok());
  EXPECT_THAT(Sequences(Read(2, 5)), ElementsAre(3, 4, 5));
  EXPECT_THAT(Sequences(Read(2, 5, 2)), ElementsAre(3, 4));
  EXPECT_THAT(Sequences(Read(9, 100)), ElementsAre(10));
  EXPECT_THAT(Read(5, 5), IsEmpty());
  EXPECT_THAT(Read(7, 3), IsEmpty());
  EXPECT_THAT(Read(0, 10, 0), IsEmpty());
  std::vector<EventPtr> sent;
  ASSERT_TRUE(log_->ReadToSend(2, 8, 3, [&](EventPtr e) { sent.push_back(e); }).ok());
  EXPECT_THAT(Sequences(sent), ElementsAre(3, 4, 5));
}

// Items a (1, 3, 6), b (2, 5), c (4, 7, 8); event s has time base + s seconds.
std::vector<EventPtr> RevisedEvents() {
  const char* items[] = {"a", "b", "a", "c", "b", "a", "c", "c"};
  std::vector<EventPtr> events;
  for (uint64_t s = 1; s <= 8; ++s) events.push_back(FactEvent(s, "IIJ", items[s - 1]));
  return events;
}

TEST_P(JournalContractTest, ViewsFirstReportedLatestAndAsOf) {
  ASSERT_TRUE(log_->Append(RevisedEvents()).ok());
  EXPECT_THAT(View(View::kFirstReported, absl::InfiniteFuture(), 8), ElementsAre(1, 2, 4));
  EXPECT_THAT(View(View::kLatest, absl::InfiniteFuture(), 8), ElementsAre(5, 6, 8));
  EXPECT_THAT(View(View::kLatest, absl::InfiniteFuture(), 6), ElementsAre(4, 5, 6));
  EXPECT_THAT(View(View::kAsOf, absl::FromUnixSeconds(1054166400 + 4), 8), ElementsAre(2, 3, 4));
  EXPECT_THAT(View(View::kAsOf, absl::FromUnixSeconds(1054166400), 8), IsEmpty());
}

TEST_P(JournalContractTest, BatchesAreFoundByKey) {
  ASSERT_TRUE(log_->Append(FactEvents(1, 2), {{"pub", "b1", 7, 1, 2}}).ok());
  ASSERT_TRUE(log_->Append(FactEvents(3, 3), {{"pub", "b2", 8, 3, 1}, {"other", "b2", 9, 4, 2}}).ok());
  auto find = [&](const std::string& publisher, const std::string& key) {
    absl::StatusOr<std::optional<BatchLocation>> found = log_->FindBatch(publisher, key);
    EXPECT_TRUE(found.ok()) << found.status();
    return found.ok() ? *found : std::nullopt;
  };
  std::optional<BatchLocation> b1 = find("pub", "b1");
  ASSERT_TRUE(b1.has_value());
  EXPECT_EQ(b1->first_sequence, 1u);
  EXPECT_EQ(b1->count, 2u);
  EXPECT_EQ(b1->fingerprint, 7u);
  std::optional<BatchLocation> other = find("other", "b2");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->first_sequence, 4u);
  EXPECT_EQ(other->fingerprint, 9u);
  EXPECT_FALSE(find("pub", "b3").has_value());
  EXPECT_FALSE(find("other", "b1").has_value());
}

TEST_P(JournalContractTest, AFailedAppendChangesNothing) {
  ASSERT_TRUE(log_->Append(FactEvents(1, 2), {{"pub", "ok", 1, 1, 2}}).ok());
  // A gap before the batch, inside it, or a repeated sequence.
  EXPECT_FALSE(log_->Append(FactEvents(4, 1), {{"pub", "bad1", 1, 4, 1}}).ok());
  EXPECT_FALSE(log_->Append({FactEvent(3), FactEvent(5)}, {{"pub", "bad2", 1, 3, 2}}).ok());
  EXPECT_FALSE(log_->Append(FactEvents(2, 2), {{"pub", "bad3", 1, 2, 2}}).ok());
  auto check = [&] {
    EXPECT_EQ(log_->last_sequence(), 2u);
    EXPECT_THAT(Sequences(Read(0, 10)), ElementsAre(1, 2));
    for (const char* key : {"bad1", "bad2", "bad3"}) {
      absl::StatusOr<std::optional<BatchLocation>> found = log_->FindBatch("pub", key);
      ASSERT_TRUE(found.ok());
      EXPECT_FALSE(found->has_value()) << key;
    }
  };
  check();
  Open();
  check();
  ASSERT_TRUE(log_->Append(FactEvents(3, 1)).ok());
  EXPECT_THAT(Sequences(Read(0, 10)), ElementsAre(1, 2, 3));
}

TEST_P(JournalContractTest, ReopenKeepsEverything) {
  std::vector<EventPtr> written = RevisedEvents();
  ASSERT_TRUE(log_->Append(written, {{"pub", "b1", 5, 1, 8}}).ok());
  Open();
  EXPECT_EQ(log_->last_sequence(), 8u);
  std::vector<EventPtr> read = Read(0, 8);
  ASSERT_EQ(read.size(), 8u);
  for (size_t i = 0; i < read.size(); ++i) EXPECT_EQ(read[i]->body(), written[i]->body());
  EXPECT_THAT(View(View::kLatest, absl::InfiniteFuture(), 8), ElementsAre(5, 6, 8));
  absl::StatusOr<std::optional<BatchLocation>> found = log_->FindBatch("pub", "b1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->count, 8u);
  // Appending goes on where it ended.
  EXPECT_FALSE(log_->Append(FactEvents(8, 1)).ok());
  ASSERT_TRUE(log_->Append(FactEvents(9, 1)).ok());
  Open();
  EXPECT_EQ(log_->last_sequence(), 9u);
}

TEST_P(JournalContractTest, PruneKeepsWhatItIsToldAndEverythingFromTheHorizon) {
  ASSERT_TRUE(log_->Append(RevisedEvents()).ok());
  absl::StatusOr<size_t> pruned = log_->Prune(7, {6, 5});
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 4u);
  EXPECT_EQ(log_->first_sequence(), 7u);
  EXPECT_THAT(Sequences(Read(0, 8)), ElementsAre(5, 6, 7, 8));
  ASSERT_TRUE(log_->Append(FactEvents(9, 1)).ok());
  EXPECT_THAT(Sequences(Read(0, 9)), ElementsAre(5, 6, 7, 8, 9));
}

// 4,000 events of ~1 KiB: one append of ~4 MiB, more than a NATS message.
TEST_P(JournalContractTest, AFourMebibyteBatchRoundTrips) {
  std::vector<EventPtr> written;
  for (uint64_t s = 1; s <= 4000; ++s) {
    v1::FeedEvent event = FactEvent(s)->event();
    event.mutable_fact()->mutable_provenance()->set_note(std::string(1000, 'a' + s % 26));
    written.push_back(EncodeEvent(std::move(event)));
  }
  size_t bytes = 0;
  for (const EventPtr& e : written) bytes += e->frame_size();
  ASSERT_GT(bytes, size_t{4} << 20);
  ASSERT_TRUE(log_->Append(written, {{"pub", "big", 1, 1, 4000}}).ok());
  auto check = [&] {
    EXPECT_EQ(log_->last_sequence(), 4000u);
    std::vector<EventPtr> read = Read(0, 4000);
    ASSERT_EQ(read.size(), 4000u);
    for (size_t i = 0; i < read.size(); ++i) ASSERT_EQ(read[i]->frame(), written[i]->frame());
  };
  check();
  Open();
  check();
  ASSERT_TRUE(log_->Append(FactEvents(4001, 1)).ok());
}

INSTANTIATE_TEST_SUITE_P(Journals, JournalContractTest, ::testing::Values(Sqlite(), Nats()),
                         [](const ::testing::TestParamInfo<Backend>& info) { return info.param.name; });

}  // namespace
}  // namespace kessan
