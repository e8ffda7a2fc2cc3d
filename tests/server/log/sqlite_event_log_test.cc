// Tests of server/log/sqlite_event_log.cc: the SQLite journal, in a
// temporary directory.
#include "log/sqlite_event_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include <sqlite3.h>

#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::EqualsProto;
using ::kessan::test::FactEvent;
using ::kessan::test::FactEvents;
using ::kessan::test::Sequences;
using ::kessan::test::StatusIs;
using ::kessan::test::TempDir;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class SqliteEventLogTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    log_.reset();
    absl::StatusOr<std::unique_ptr<SqliteEventLog>> log = SqliteEventLog::Open(path_);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }

  // The events in (after, up_to], at most max_count.
  std::vector<EventPtr> Read(uint64_t after, uint64_t up_to, size_t max_count = 1000) {
    std::vector<EventPtr> events;
    absl::StatusOr<size_t> n =
        log_->Read(after, up_to, max_count, [&](EventPtr e) { events.push_back(e); });
    EXPECT_TRUE(n.ok()) << n.status();
    if (n.ok()) EXPECT_EQ(*n, events.size());
    return events;
  }

  TempDir dir_;
  const std::string path_ = dir_.File("journal.db");
  std::unique_ptr<SqliteEventLog> log_;
};

TEST_F(SqliteEventLogTest, EmptyLog) {
  EXPECT_EQ(log_->last_sequence(), 0u);
  EXPECT_THAT(Read(0, 100), IsEmpty());
}

TEST_F(SqliteEventLogTest, AppendReadRoundTrip) {
  std::vector<EventPtr> written = FactEvents(1, 3);
  ASSERT_TRUE(log_->Append(written).ok());
  EXPECT_EQ(log_->last_sequence(), 3u);

  std::vector<EventPtr> read = Read(0, 3);
  ASSERT_EQ(read.size(), 3u);
  for (size_t i = 0; i < read.size(); ++i) {
    EXPECT_THAT(read[i]->event(), EqualsProto(written[i]->event()));
    EXPECT_EQ(read[i]->body(), written[i]->body());
    EXPECT_EQ(read[i]->frame(), written[i]->frame());
    EXPECT_EQ(read[i]->attrs().item_key, written[i]->attrs().item_key);
    EXPECT_EQ(read[i]->attrs().kind, v1::EVENT_KIND_FACT);
  }
}

TEST_F(SqliteEventLogTest, AppendsAccumulate) {
  ASSERT_TRUE(log_->Append(FactEvents(1, 2)).ok());
  ASSERT_TRUE(log_->Append(FactEvents(3, 2)).ok());
  ASSERT_TRUE(log_->Append({}).ok());
  EXPECT_EQ(log_->last_sequence(), 4u);
  EXPECT_THAT(Sequences(Read(0, 4)), ElementsAre(1, 2, 3, 4));
}

TEST_F(SqliteEventLogTest, OutOfOrderAppendIsRefusedAndWritesNothing) {
  // The first event is due at 1.
  EXPECT_FALSE(log_->Append(FactEvents(2, 1)).ok());
  // A gap inside the batch refuses the whole batch, its good head included.
  EXPECT_FALSE(log_->Append({FactEvent(1), FactEvent(3)}).ok());
  EXPECT_FALSE(log_->Append({FactEvent(1), FactEvent(1)}).ok());
  EXPECT_EQ(log_->last_sequence(), 0u);
  EXPECT_THAT(Read(0, 10), IsEmpty());

  ASSERT_TRUE(log_->Append(FactEvents(1, 2)).ok());
  // A repeated sequence.
  EXPECT_FALSE(log_->Append(FactEvents(2, 2)).ok());
  EXPECT_EQ(log_->last_sequence(), 2u);
  EXPECT_THAT(Sequences(Read(0, 10)), ElementsAre(1, 2));

  // Nothing written survives a reopen either.
  Open();
  EXPECT_EQ(log_->last_sequence(), 2u);
  EXPECT_THAT(Sequences(Read(0, 10)), ElementsAre(1, 2));
}

// A commit group's size, read back as written.
TEST_F(SqliteEventLogTest, ALargeGroupRoundTrips) {
  std::vector<EventPtr> written = FactEvents(1, 75);
  ASSERT_TRUE(log_->Append(written).ok());
  EXPECT_EQ(log_->last_sequence(), 75u);
  std::vector<EventPtr> read = Read(0, 100);
  ASSERT_EQ(read.size(), written.size());
  for (size_t i = 0; i < read.size(); ++i) {
    EXPECT_EQ(read[i]->sequence(), i + 1);
    EXPECT_EQ(read[i]->body(), written[i]->body());
    EXPECT_EQ(read[i]->attrs().item_key, written[i]->attrs().item_key);
  }
}

// A row refused in the middle of a group rolls the whole append back.
TEST_F(SqliteEventLogTest, ARefusedRowInALargeGroupWritesNothing) {
  sqlite3* intruder = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &intruder), SQLITE_OK);
  auto exec = [&](const char* sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(intruder, sql, nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
  };
  auto rows = [&] {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(intruder, "SELECT COUNT(*) FROM events", -1, &stmt, nullptr),
              SQLITE_OK);
    sqlite3_step(stmt);
    int n = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
  };
  // Sequence 40 taken behind the log's back: the 40th insert fails.
  exec("INSERT INTO events VALUES(40, 0, 1, 'x', x'00')");
  EXPECT_THAT(log_->Append(FactEvents(1, 75)), StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(log_->last_sequence(), 0u);
  EXPECT_EQ(rows(), 1);
  exec("DELETE FROM events");
  ASSERT_TRUE(log_->Append(FactEvents(1, 75)).ok());
  EXPECT_EQ(rows(), 75);
  sqlite3_close(intruder);
}

TEST_F(SqliteEventLogTest, ReadRanges) {
  ASSERT_TRUE(log_->Append(FactEvents(1, 10)).ok());
  EXPECT_THAT(Sequences(Read(2, 5)), ElementsAre(3, 4, 5));
  EXPECT_THAT(Sequences(Read(2, 5, 2)), ElementsAre(3, 4));
  EXPECT_THAT(Sequences(Read(0, 10, 1)), ElementsAre(1));
  EXPECT_THAT(Sequences(Read(9, 100)), ElementsAre(10));
  EXPECT_THAT(Read(5, 5), IsEmpty());
  EXPECT_THAT(Read(7, 3), IsEmpty());
  EXPECT_THAT(Read(10, 20), IsEmpty());
  EXPECT_THAT(Read(0, 10, 0), IsEmpty());
}

// Readers page through the journal max_count events at a time, each page
// starting after the last sequence of the one before.
TEST_F(SqliteEventLogTest, ReadAcrossChunkBoundaries) {
  ASSERT_TRUE(log_->Append(FactEvents(1, 10)).ok());
  std::vector<uint64_t> all;
  std::vector<size_t> chunk_sizes;
  uint64_t after = 0;
  for (;;) {
    std::vector<EventPtr> chunk = Read(after, 10, 3);
    if (chunk.empty()) break;
    chunk_sizes.push_back(chunk.size());
    for (const EventPtr& e : chunk) all.push_back(e->sequence());
    after = chunk.back()->sequence();
  }
  EXPECT_THAT(chunk_sizes, ElementsAre(3, 3, 3, 1));
  EXPECT_THAT(all, ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
}

TEST_F(SqliteEventLogTest, ReopenKeepsLastSequenceAndEvents) {
  std::vector<EventPtr> written = FactEvents(1, 5);
  ASSERT_TRUE(log_->Append(written).ok());
  Open();
  EXPECT_EQ(log_->last_sequence(), 5u);
  std::vector<EventPtr> read = Read(0, 5);
  ASSERT_EQ(read.size(), 5u);
  for (size_t i = 0; i < read.size(); ++i) {
    EXPECT_THAT(read[i]->event(), EqualsProto(written[i]->event()));
  }
  // Appending continues where the journal ended.
  EXPECT_FALSE(log_->Append(FactEvents(1, 1)).ok());
  ASSERT_TRUE(log_->Append(FactEvents(6, 1)).ok());
  Open();
  EXPECT_EQ(log_->last_sequence(), 6u);
}

TEST_F(SqliteEventLogTest, ReadSeesAppendsMadeAfterAnEarlierRead) {
  ASSERT_TRUE(log_->Append(FactEvents(1, 1)).ok());
  EXPECT_THAT(Sequences(Read(0, 10)), ElementsAre(1));
  ASSERT_TRUE(log_->Append(FactEvents(2, 1)).ok());
  EXPECT_THAT(Sequences(Read(0, 10)), ElementsAre(1, 2));
}

// Items a (1, 3, 6), b (2, 5), c (4, 7, 8); event s has time base + s seconds.
std::vector<EventPtr> RevisedEvents() {
  const char* items[] = {"a", "b", "a", "c", "b", "a", "c", "c"};
  std::vector<EventPtr> events;
  for (uint64_t s = 1; s <= 8; ++s) events.push_back(FactEvent(s, "IIJ", items[s - 1]));
  return events;
}

TEST_F(SqliteEventLogTest, ViewsPickOneRevisionPerItem) {
  ASSERT_TRUE(log_->Append(RevisedEvents()).ok());
  auto view = [&](View v, absl::Time as_of, uint64_t up_to) {
    std::vector<EventPtr> events;
    absl::Status s = log_->ReadView(v, as_of, up_to, [&](EventPtr e) { events.push_back(e); });
    EXPECT_TRUE(s.ok()) << s;
    return Sequences(events);
  };
  EXPECT_THAT(view(View::kFirstReported, absl::InfiniteFuture(), 8), ElementsAre(1, 2, 4));
  EXPECT_THAT(view(View::kLatest, absl::InfiniteFuture(), 8), ElementsAre(5, 6, 8));
  EXPECT_THAT(view(View::kLatest, absl::InfiniteFuture(), 6), ElementsAre(4, 5, 6));
  EXPECT_THAT(view(View::kAsOf, absl::FromUnixSeconds(1054166400 + 4), 8), ElementsAre(2, 3, 4));
  EXPECT_THAT(view(View::kAsOf, absl::FromUnixSeconds(1054166400), 8), IsEmpty());
}

TEST_F(SqliteEventLogTest, PruneKeepsWhatItIsToldAndEverythingFromTheHorizon) {
  ASSERT_TRUE(log_->Append(RevisedEvents()).ok());
  absl::StatusOr<size_t> pruned = log_->Prune(7, {6, 5});
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 4u);
  EXPECT_EQ(log_->first_sequence(), 7u);
  EXPECT_THAT(Sequences(Read(0, 8)), ElementsAre(5, 6, 7, 8));
  // A later prune drops what is no longer kept; reopening keeps the horizon.
  pruned = log_->Prune(9, {6, 8});
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 2u);
  Open();
  EXPECT_EQ(log_->first_sequence(), 9u);
  EXPECT_THAT(Sequences(Read(0, 8)), ElementsAre(6, 8));
}

TEST_F(SqliteEventLogTest, ANewJournalHasLargePages) {
  // Another connection reads what Open chose for a new file.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 65536);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST(SqliteEventLogOpenTest, MissingDirectoryIsAnError) {
  TempDir dir;
  EXPECT_FALSE(SqliteEventLog::Open(dir.File("no/such/dir/journal.db")).ok());
}

TEST(SqliteEventLogOpenTest, AFileThatIsNotAJournalIsAnError) {
  TempDir dir;
  std::string path = dir.WriteFile("journal.db", std::string(4096, 'x'));
  EXPECT_FALSE(SqliteEventLog::Open(path).ok());
}

}  // namespace
}  // namespace kessan
