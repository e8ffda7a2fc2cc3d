// Tests of server/journal/sqlite_journal.cc: the SQLite journal, in a
// temporary directory.
#include "journal/sqlite_journal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "journal/journal_rows.h"
#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::EqualsProto;
using ::kessan::test::FactEvent;
using ::kessan::test::FactEvents;
using ::kessan::test::FlipBitOfFigure;
using ::kessan::test::Sequences;
using ::kessan::test::StatusIs;
using ::kessan::test::TempDir;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class SqliteJournalTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    log_.reset();
    absl::StatusOr<std::unique_ptr<SqliteJournal>> log = SqliteJournal::Open(path_);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }

  // The events in (after, up_to], at most max_count.
  std::vector<EventPtr> Read(uint64_t after, uint64_t up_to, size_t max_count = 1000) {
    std::vector<EventPtr> events;
    absl::StatusOr<size_t> n = log_->Read(after, up_to, max_count, [&](EventPtr e) { events.push_back(e); });
    EXPECT_TRUE(n.ok()) << n.status();
    if (n.ok()) {
      EXPECT_EQ(*n, events.size());
    }
    return events;
  }

  TempDir dir_;
  const std::string path_ = dir_.File("journal.db");
  std::unique_ptr<SqliteJournal> log_;
};

TEST_F(SqliteJournalTest, EmptyLog) {
  EXPECT_EQ(log_->last_sequence(), 0u);
  EXPECT_THAT(Read(0, 100), IsEmpty());
}

TEST_F(SqliteJournalTest, AppendReadRoundTrip) {
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

TEST_F(SqliteJournalTest, AppendsAccumulate) {
  ASSERT_TRUE(log_->Append(FactEvents(1, 2)).ok());
  ASSERT_TRUE(log_->Append(FactEvents(3, 2)).ok());
  ASSERT_TRUE(log_->Append({}).ok());
  EXPECT_EQ(log_->last_sequence(), 4u);
  EXPECT_THAT(Sequences(Read(0, 4)), ElementsAre(1, 2, 3, 4));
}

TEST_F(SqliteJournalTest, OutOfOrderAppendIsRefusedAndWritesNothing) {
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
TEST_F(SqliteJournalTest, ALargeGroupRoundTrips) {
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

// Runs this SQL on the journal through a connection of its own.
void ExecOn(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// The value of a one-value query on the journal.
int64_t QueryOn(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
  int64_t value = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

// A group of more events than a row holds spans rows, read back across them.
TEST_F(SqliteJournalTest, AGroupLargerThanARowSpansRows) {
  const uint64_t n = 2 * kMaxRowEvents + 10;
  ASSERT_TRUE(log_->Append(FactEvents(1, n)).ok());
  EXPECT_EQ(QueryOn(path_, "SELECT COUNT(*) FROM commits"), 3);
  EXPECT_EQ(QueryOn(path_, "SELECT MAX(last_sequence - first_sequence + 1) FROM commits"),
            static_cast<int64_t>(kMaxRowEvents));
  EXPECT_THAT(Sequences(Read(kMaxRowEvents - 2, kMaxRowEvents + 2)),
              ElementsAre(kMaxRowEvents - 1, kMaxRowEvents, kMaxRowEvents + 1, kMaxRowEvents + 2));
  Open();
  std::vector<EventPtr> all = Read(0, n, n);
  ASSERT_EQ(all.size(), n);
  for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(all[i]->sequence(), i + 1);
  EXPECT_EQ(all[n - 1]->body(), FactEvent(n)->body());
}

// A row refused in the middle of a group rolls the whole append back.
TEST_F(SqliteJournalTest, ARefusedRowInALargeGroupWritesNothing) {
  auto rows = [&] { return QueryOn(path_, "SELECT COUNT(*) FROM commits"); };
  // The second row's key taken behind the log's back: its insert fails.
  ExecOn(path_, absl::StrCat("INSERT INTO commits VALUES(", kMaxRowEvents + 1, ", ", kMaxRowEvents + 1,
                             ", x'', x'', x'')"));
  EXPECT_THAT(log_->Append(FactEvents(1, kMaxRowEvents + 75)), StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(log_->last_sequence(), 0u);
  EXPECT_EQ(rows(), 1);
  ExecOn(path_, "DELETE FROM commits");
  ASSERT_TRUE(log_->Append(FactEvents(1, kMaxRowEvents + 75)).ok());
  EXPECT_EQ(rows(), 2);
}

// A journal missing a row between others refuses to open.
TEST_F(SqliteJournalTest, AMissingRowRefusesToOpen) {
  for (uint64_t s = 1; s <= 9; s += 3) ASSERT_TRUE(log_->Append(FactEvents(s, 3)).ok());
  log_.reset();
  ExecOn(path_, "DELETE FROM commits WHERE first_sequence = 4");
  EXPECT_THAT(SqliteJournal::Open(path_).status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(path_), HasSubstr("holds no events from sequence 4 to 6"))));
}

// A journal of schema 1 (one row per event) is converted when opened,
// pruned gaps and all.
TEST(SqliteJournalOpenTest, ASchemaOneJournalIsConvertedOnOpen) {
  TempDir dir;
  const std::string path = dir.File("journal.db");
  ExecOn(path,
         "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
         "CREATE TABLE events(sequence INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL,"
         " kind INTEGER NOT NULL, item_key TEXT NOT NULL, body BLOB NOT NULL);"
         "CREATE TABLE batches(publisher_id TEXT NOT NULL, batch_key TEXT NOT NULL,"
         " first_sequence INTEGER NOT NULL, count INTEGER NOT NULL,"
         " fingerprint INTEGER NOT NULL, PRIMARY KEY(publisher_id, batch_key));"
         "INSERT INTO meta VALUES('schema_version', 1), ('first_sequence', 4);"
         "INSERT INTO batches VALUES('pub', 'b1', 1, 5, 42);");
  // Sequence 1 was pruned (superseded by 3); items a (2), b (3, 5), c (4).
  const char* items[] = {"", "a", "b", "c", "b"};
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO events VALUES(?, ?, 3, ?, ?)", -1, &stmt, nullptr),
              SQLITE_OK);
    for (uint64_t s = 2; s <= 5; ++s) {
      EventPtr e = FactEvent(s, "IIJ", items[s - 1]);
      sqlite3_reset(stmt);
      sqlite3_bind_int64(stmt, 1, static_cast<sqlite3_int64>(s));
      sqlite3_bind_int64(stmt, 2, e->attrs().time_ns);
      sqlite3_bind_text(stmt, 3, e->attrs().item_key.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_blob(stmt, 4, e->body().data(), static_cast<int>(e->body().size()), SQLITE_TRANSIENT);
      ASSERT_EQ(sqlite3_step(stmt), SQLITE_DONE);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }
  {
    absl::StatusOr<std::unique_ptr<SqliteJournal>> log = SqliteJournal::Open(path);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->last_sequence(), 5u);
    EXPECT_EQ((*log)->first_sequence(), 4u);
    std::vector<EventPtr> read;
    ASSERT_TRUE((*log)->Read(0, 5, 10, [&](EventPtr e) { read.push_back(e); }).ok());
    ASSERT_THAT(Sequences(read), ElementsAre(2, 3, 4, 5));
    EXPECT_EQ(read[3]->body(), FactEvent(5, "IIJ", "b")->body());
    std::vector<EventPtr> latest;
    ASSERT_TRUE(
        (*log)
            ->ReadView(View::kLatest, absl::InfiniteFuture(), 5, [&](EventPtr e) { latest.push_back(e); })
            .ok());
    EXPECT_THAT(Sequences(latest), ElementsAre(2, 4, 5));
    absl::StatusOr<std::optional<BatchLocation>> batch = (*log)->FindBatch("pub", "b1");
    ASSERT_TRUE(batch.ok() && batch->has_value());
    EXPECT_EQ((*batch)->fingerprint, 42u);
    ASSERT_TRUE((*log)->Append(FactEvents(6, 1)).ok());
  }
  EXPECT_EQ(QueryOn(path, "SELECT value FROM meta WHERE key = 'schema_version'"), 3);
  EXPECT_EQ(QueryOn(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'events'"), 0);
  absl::StatusOr<std::unique_ptr<SqliteJournal>> reopened = SqliteJournal::Open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->last_sequence(), 6u);
}

// A schema this kessand does not know is refused, the file left as it is.
TEST(SqliteJournalOpenTest, AnUnknownSchemaVersionIsRefused) {
  TempDir dir;
  const std::string path = dir.File("journal.db");
  ExecOn(path,
         "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
         "INSERT INTO meta VALUES('schema_version', 9);");
  EXPECT_THAT(SqliteJournal::Open(path).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("journal schema version 9, this kessand reads 3")));
  EXPECT_EQ(QueryOn(path, "SELECT value FROM meta WHERE key = 'schema_version'"), 9);
}

TEST_F(SqliteJournalTest, ReadRanges) {
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
TEST_F(SqliteJournalTest, ReadAcrossChunkBoundaries) {
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

// ReadToSend gives what Read gives; the events of one row share one buffer.
TEST_F(SqliteJournalTest, ReadToSendMatchesReadAndSharesABufferPerRow) {
  ASSERT_TRUE(log_->Append(FactEvents(1, 6)).ok());
  ASSERT_TRUE(log_->Append(FactEvents(7, 10)).ok());
  auto to_send = [&](uint64_t after, uint64_t up_to, size_t max_count) {
    std::vector<EventPtr> events;
    absl::StatusOr<size_t> n =
        log_->ReadToSend(after, up_to, max_count, [&](EventPtr e) { events.push_back(e); });
    EXPECT_TRUE(n.ok()) << n.status();
    return events;
  };
  for (auto [after, up_to, max_count] : {std::tuple<uint64_t, uint64_t, size_t>{0, 10, 100},
                                         {2, 8, 100},
                                         {2, 8, 3},
                                         {5, 7, 100},
                                         {9, 20, 100},
                                         {0, 10, 0},
                                         {10, 20, 100}}) {
    std::vector<EventPtr> read = Read(after, up_to, max_count);
    std::vector<EventPtr> sent = to_send(after, up_to, max_count);
    ASSERT_EQ(Sequences(sent), Sequences(read)) << after << ".." << up_to << " max " << max_count;
    for (size_t i = 0; i < sent.size(); ++i) {
      EXPECT_EQ(sent[i]->frame(), read[i]->frame());
      EXPECT_EQ(sent[i]->body(), read[i]->body());
      EXPECT_THAT(sent[i]->event(), EqualsProto(read[i]->event()));
    }
  }
  std::vector<EventPtr> sent = to_send(0, 10, 100);
  ASSERT_EQ(sent.size(), 10u);
  for (size_t i = 1; i < sent.size(); ++i) {
    const bool same_row = (i < 6) == (i - 1 < 6);
    EXPECT_EQ(sent[i]->frame_bytes().SharesBufferWith(sent[i - 1]->frame_bytes()), same_row) << i;
    if (same_row) {
      EXPECT_EQ(sent[i]->frame().data(), sent[i - 1]->frame().data() + sent[i - 1]->frame_size());
    }
  }
}

TEST_F(SqliteJournalTest, ReopenKeepsLastSequenceAndEvents) {
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

TEST_F(SqliteJournalTest, ReadSeesAppendsMadeAfterAnEarlierRead) {
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

TEST_F(SqliteJournalTest, ViewsPickOneRevisionPerItem) {
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

TEST_F(SqliteJournalTest, PruneKeepsWhatItIsToldAndEverythingFromTheHorizon) {
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

// Random appends (some spanning rows), prunes and reopens, each followed by
// reads and views checked against a plain model of what the log holds.
TEST_F(SqliteJournalTest, AgreesWithAModelThroughAppendsPrunesAndReopens) {
  std::mt19937 rng(20261130);
  auto pick = [&](uint64_t lo, uint64_t hi) {  // in [lo, hi]
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  std::map<uint64_t, EventPtr> held;  // the model: sequence -> event
  uint64_t first = 1, last = 0;

  // The sequences a view yields: per item, the first or last held one.
  auto model_view = [&](View view, int64_t as_of_ns, uint64_t up_to) {
    std::map<std::string, uint64_t> chosen;
    for (const auto& [s, e] : held) {
      if (s > up_to) break;
      if (view == View::kAsOf && e->attrs().time_ns > as_of_ns) continue;
      auto [it, added] = chosen.try_emplace(e->attrs().item_key, s);
      if (!added && view != View::kFirstReported) it->second = s;
    }
    std::vector<uint64_t> out;
    for (const auto& [key, s] : chosen) out.push_back(s);
    std::sort(out.begin(), out.end());
    return out;
  };
  auto check = [&](const std::string& after_what) {
    SCOPED_TRACE(after_what);
    ASSERT_EQ(log_->last_sequence(), last);
    ASSERT_EQ(log_->first_sequence(), first);
    // Everything, in pages of a random size.
    std::vector<EventPtr> all;
    const size_t page = pick(1, 700);
    for (uint64_t after = 0;;) {
      std::vector<EventPtr> got = Read(after, last, page);
      if (got.empty()) break;
      ASSERT_LE(got.size(), page);
      all.insert(all.end(), got.begin(), got.end());
      after = got.back()->sequence();
    }
    ASSERT_EQ(all.size(), held.size());
    size_t i = 0;
    for (const auto& [s, e] : held) {
      ASSERT_EQ(all[i]->sequence(), s);
      ASSERT_EQ(all[i]->body(), e->body()) << "sequence " << s;
      ++i;
    }
    // A random range.
    const uint64_t after = pick(0, last + 1), up_to = pick(0, last + 2);
    const size_t max_count = pick(0, 3000);
    std::vector<uint64_t> want;
    for (auto it = held.upper_bound(after); it != held.end() && it->first <= up_to && want.size() < max_count;
         ++it) {
      want.push_back(it->first);
    }
    ASSERT_EQ(Sequences(Read(after, up_to, max_count)), want)
        << "Read(" << after << ", " << up_to << ", " << max_count << ")";
    // The three views, up to a random point.
    const uint64_t view_to = pick(0, last);
    const int64_t as_of_ns = (1054166400 + static_cast<int64_t>(pick(0, last + 1))) * 1000000000;
    for (View view : {View::kFirstReported, View::kLatest, View::kAsOf}) {
      std::vector<EventPtr> got;
      ASSERT_TRUE(
          log_->ReadView(view, absl::FromUnixNanos(as_of_ns), view_to, [&](EventPtr e) { got.push_back(e); })
              .ok());
      ASSERT_EQ(Sequences(got), model_view(view, as_of_ns, view_to))
          << "view " << static_cast<int>(view) << " up to " << view_to;
    }
  };

  for (int step = 0; step < 60; ++step) {
    const uint64_t roll = pick(0, 9);
    if (roll < 6) {
      const size_t count = roll == 0 ? kMaxRowEvents + pick(1, 40) : pick(1, 120);
      std::vector<EventPtr> events;
      for (size_t i = 0; i < count; ++i) {
        // 25 items, so revisions supersede one another.
        events.push_back(FactEvent(last + 1 + i, "IIJ", absl::StrCat("c", pick(0, 24))));
      }
      ASSERT_TRUE(log_->Append(events).ok());
      for (const EventPtr& e : events) held[e->sequence()] = e;
      last += count;
      check(absl::StrCat("step ", step, ": append of ", count));
    } else if (roll < 9 && last >= first) {
      // What the feed passes: each item's latest sequence below the horizon.
      const uint64_t horizon = pick(first + 1, last + 1);
      std::map<std::string, uint64_t> latest;
      for (const auto& [s, e] : held) latest[e->attrs().item_key] = s;
      std::vector<uint64_t> keep;
      for (const auto& [key, s] : latest) {
        if (s < horizon) keep.push_back(s);
      }
      size_t deleted = 0;
      for (auto it = held.begin(); it != held.end() && it->first < horizon;) {
        if (std::find(keep.begin(), keep.end(), it->first) == keep.end()) {
          it = held.erase(it);
          ++deleted;
        } else {
          ++it;
        }
      }
      absl::StatusOr<size_t> pruned = log_->Prune(horizon, keep);
      ASSERT_TRUE(pruned.ok()) << pruned.status();
      EXPECT_EQ(*pruned, deleted);
      first = horizon;
      check(absl::StrCat("step ", step, ": prune to ", horizon));
    } else {
      Open();
      check(absl::StrCat("step ", step, ": reopen"));
    }
  }
}

TEST_F(SqliteJournalTest, ANewJournalHasLargePages) {
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

// FactEvent(sequence) with a ~4 KB provenance note: a few make a MiB.
EventPtr LargeFactEvent(uint64_t sequence) {
  v1::FeedEvent event = FactEvent(sequence)->event();
  event.mutable_fact()->mutable_provenance()->set_note(std::string(4000, 'n'));
  return EncodeEvent(std::move(event));
}

// The checkpointer thread copies the WAL into the database by itself: with
// no commit after the one that made it due, the database file still grows.
TEST_F(SqliteJournalTest, TheCheckpointerCopiesTheWalWithoutACommit) {
  std::vector<EventPtr> events;
  for (uint64_t s = 1; s <= 1536; ++s) events.push_back(LargeFactEvent(s));  // ~6 MiB
  ASSERT_TRUE(log_->Append(events).ok());
  ASSERT_TRUE(log_->AwaitCheckpointer(absl::Seconds(60)));
  EXPECT_GE(std::filesystem::file_size(path_), uintmax_t{4} << 20)
      << "the WAL was not copied into the database";
  EXPECT_EQ(Read(0, 1536, 1536).size(), 1536u);
}

// A steady stream of commits keeps the WAL to a few MiB: the checkpointer
// copies it into the database every 4 MiB, the commit after copies the rest
// and the WAL starts over.
TEST_F(SqliteJournalTest, TheWalStartsOverEveryFewMebibytes) {
  uint64_t sequence = 0;
  for (int commit = 0; commit < 48; ++commit) {  // 48 commits of ~512 KiB
    std::vector<EventPtr> events;
    for (int i = 0; i < 128; ++i) events.push_back(LargeFactEvent(++sequence));
    ASSERT_TRUE(log_->Append(events).ok());
    // The checkpointer done with what this commit made due: no timing.
    ASSERT_TRUE(log_->AwaitCheckpointer(absl::Seconds(60)));
  }
  // 4 MiB due, plus the commit that completes the copy.
  EXPECT_LE(std::filesystem::file_size(path_ + "-wal"), uintmax_t{6} << 20);
  EXPECT_EQ(Read(0, sequence, sequence).size(), sequence);
  Open();
  EXPECT_EQ(log_->last_sequence(), sequence);
  EXPECT_EQ(Read(0, sequence, sequence).size(), sequence);
}

TEST(SqliteJournalOpenTest, MissingDirectoryIsAnError) {
  TempDir dir;
  EXPECT_FALSE(SqliteJournal::Open(dir.File("no/such/dir/journal.db")).ok());
}

TEST(SqliteJournalOpenTest, AFileThatIsNotAJournalIsDataLossNamingIt) {
  TempDir dir;
  std::string path = dir.WriteFile("journal.db", std::string(4096, 'x'));
  EXPECT_THAT(
      SqliteJournal::Open(path).status(),
      StatusIs(absl::StatusCode::kDataLoss,
               absl::StrCat("journal ", path, " is damaged: file is not a database (header overwritten?)")));
  EXPECT_EQ(std::filesystem::file_size(path), 4096u);
}

// ------------------------------------------------------------ damage

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Events 1-3 in one row, 4-8 in another; sequence 6 then damaged on disk.
class DamagedJournalTest : public SqliteJournalTest {
 protected:
  void SetUp() override {
    SqliteJournalTest::SetUp();
    ASSERT_TRUE(log_->Append(FactEvents(1, 3)).ok());
    ASSERT_TRUE(log_->Append(FactEvents(4, 5)).ok());
    log_.reset();
    ASSERT_TRUE(FlipBitOfFigure(path_, 6));
    Open();
  }

  absl::Status ReadStatus(uint64_t after, uint64_t up_to, bool to_send = false) {
    auto ignore = [](EventPtr) {};
    return (to_send ? log_->ReadToSend(after, up_to, 100, ignore) : log_->Read(after, up_to, 100, ignore))
        .status();
  }

  const std::string damaged_ = absl::StrCat("journal ", path_, ": event 6 is damaged (checksum mismatch)");
};

// The case: one flipped bit in a stored figure still parses, to
// another figure. It is never served: every read through it is DATA_LOSS
// naming the event, after a restart too; the events around it read.
TEST_F(DamagedJournalTest, AFlippedBitInAFigureIsDataLossNamingTheSequence) {
  for (int restart = 0; restart < 2; ++restart) {
    SCOPED_TRACE(restart == 0 ? "opened once" : "reopened");
    EXPECT_THAT(ReadStatus(0, 8), StatusIs(absl::StatusCode::kDataLoss, damaged_));
    EXPECT_THAT(ReadStatus(0, 8, /*to_send=*/true), StatusIs(absl::StatusCode::kDataLoss, damaged_));
    EXPECT_THAT(ReadStatus(5, 6), StatusIs(absl::StatusCode::kDataLoss, damaged_));
    EXPECT_THAT(log_->ReadView(View::kLatest, absl::InfiniteFuture(), 8, [](EventPtr) {}),
                StatusIs(absl::StatusCode::kDataLoss, damaged_));
    EXPECT_THAT(Sequences(Read(0, 5)), ElementsAre(1, 2, 3, 4, 5));
    EXPECT_THAT(Sequences(Read(6, 8)), ElementsAre(7, 8));
    // A view up to before it does not need it.
    std::vector<EventPtr> view;
    ASSERT_TRUE(
        log_->ReadView(View::kLatest, absl::InfiniteFuture(), 5, [&](EventPtr e) { view.push_back(e); })
            .ok());
    EXPECT_THAT(Sequences(view), ElementsAre(1, 2, 3, 4, 5));
    Open();
  }
}

// Retention rewrites the rows it prunes: a damaged event kept is refused,
// not checksummed anew as sound.
TEST_F(DamagedJournalTest, PruneDoesNotChecksumDamageAsSound) {
  EXPECT_THAT(log_->Prune(8, {6}), StatusIs(absl::StatusCode::kDataLoss, damaged_));
  EXPECT_EQ(log_->first_sequence(), 1u);
  EXPECT_THAT(ReadStatus(0, 8), StatusIs(absl::StatusCode::kDataLoss, damaged_));
}

// Damage to the keys (the index of views and retention) names the row's events.
TEST_F(SqliteJournalTest, DamagedKeysAreDataLossNamingTheirEvents) {
  ASSERT_TRUE(log_->Append(FactEvents(1, 3)).ok());
  log_.reset();
  // One bit of the first event's time: structure still sound.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT keys FROM commits WHERE first_sequence = 1", -1, &stmt, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    std::string keys(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
                     static_cast<size_t>(sqlite3_column_bytes(stmt, 0)));
    sqlite3_finalize(stmt);
    keys[3] ^= 0x10;
    ASSERT_EQ(
        sqlite3_prepare_v2(db, "UPDATE commits SET keys = ? WHERE first_sequence = 1", -1, &stmt, nullptr),
        SQLITE_OK);
    sqlite3_bind_blob(stmt, 1, keys.data(), static_cast<int>(keys.size()), SQLITE_STATIC);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }
  Open();
  const std::string damaged =
      absl::StrCat("journal ", path_, ": events 1 to 3 are damaged (checksum mismatch of their keys)");
  EXPECT_THAT(log_->Read(0, 3, 10, [](EventPtr) {}).status(), StatusIs(absl::StatusCode::kDataLoss, damaged));
  EXPECT_THAT(log_->ReadView(View::kFirstReported, absl::InfiniteFuture(), 3, [](EventPtr) {}),
              StatusIs(absl::StatusCode::kDataLoss, damaged));
}

// A journal whose file is damaged where SQLite keeps its header and schema.
class DamagedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<SqliteJournal>> log = SqliteJournal::Open(path_);
    ASSERT_TRUE(log.ok()) << log.status();
    std::vector<EventPtr> events;
    for (uint64_t s = 1; s <= 64; ++s) events.push_back(LargeFactEvent(s));  // a few pages
    ASSERT_TRUE((*log)->Append(events).ok());
    log->reset();  // the last connection closed: the WAL is copied in
    ASSERT_FALSE(std::filesystem::exists(path_ + "-wal"));
    bytes_ = ReadAll(path_);
    ASSERT_GT(bytes_.size(), 3u * 65536);
  }

  // Open's error with the file as `bytes`; the file must be left as it is.
  absl::Status OpenDamaged(const std::string& bytes) {
    WriteAll(path_, bytes);
    absl::Status status = SqliteJournal::Open(path_).status();
    EXPECT_EQ(ReadAll(path_), bytes) << "Open changed a damaged file";
    return status;
  }

  ::testing::Matcher<absl::Status> Damaged(const std::string& what) {
    return StatusIs(absl::StatusCode::kDataLoss,
                    HasSubstr(absl::StrCat("journal ", path_, " is damaged: ", what)));
  }

  TempDir dir_;
  const std::string path_ = dir_.File("journal.db");
  std::string bytes_;
};

TEST_F(DamagedFileTest, AnOverwrittenOrCutHeaderIsDataLossNamingTheFile) {
  std::string zeros = bytes_;
  std::fill(zeros.begin(), zeros.begin() + 65536, '\0');
  EXPECT_THAT(OpenDamaged(zeros), Damaged("its header is zeros (overwritten?)"));
  std::string garbage = bytes_;
  std::mt19937 rng(21);
  for (size_t i = 0; i < 4096; ++i) garbage[i] = static_cast<char>(rng());
  EXPECT_THAT(OpenDamaged(garbage), Damaged("file is not a database (header overwritten?)"));
  EXPECT_THAT(OpenDamaged(bytes_.substr(0, 50)),
              Damaged("it is 50 bytes, less than an SQLite header (100; truncated?)"));
  EXPECT_THAT(OpenDamaged(bytes_.substr(0, 65536 + 1000)),
              Damaged("it is 66536 bytes, not a whole number of its 65536-byte pages"));
  std::string page_size = bytes_;
  page_size[16] = 0x03;  // 768 (0x0300): not a power of two
  page_size[17] = 0x00;
  EXPECT_THAT(OpenDamaged(page_size), Damaged("its header gives a page size of 768"));
}

// Damage SQLite finds (a page of its own structures) is DATA_LOSS too, not
// INTERNAL.
TEST_F(DamagedFileTest, SqlitesDamageIsDataLossNamingTheFile) {
  // The schema page past its header.
  std::string schema = bytes_;
  std::fill(schema.begin() + 100, schema.begin() + 4096, '\xff');
  EXPECT_THAT(OpenDamaged(schema), Damaged("database disk image is malformed"));
  // Whole pages gone from the end.
  EXPECT_THAT(OpenDamaged(bytes_.substr(0, 2 * 65536)), Damaged("database disk image is malformed"));
}

// An existing journal missing what every journal has is damaged: nothing is
// created in its place.
TEST_F(DamagedFileTest, AMissingTableOrSchemaVersionIsDataLoss) {
  ExecOn(path_, "DROP TABLE commits");
  EXPECT_THAT(SqliteJournal::Open(path_).status(), Damaged("it has no table 'commits'"));
  EXPECT_EQ(QueryOn(path_, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'commits'"), 0);
  WriteAll(path_, bytes_);
  ExecOn(path_, "DELETE FROM meta WHERE key = 'schema_version'");
  EXPECT_THAT(SqliteJournal::Open(path_).status(), Damaged("its schema version is missing"));
  WriteAll(path_, bytes_);
  ExecOn(path_, "DROP TABLE meta");
  EXPECT_THAT(SqliteJournal::Open(path_).status(), Damaged("it has tables but no table 'meta'"));
  // A schema that reads as empty over the pages of the rows: not a new journal.
  WriteAll(path_, bytes_);
  ExecOn(path_, "PRAGMA writable_schema = ON; DELETE FROM sqlite_master;");
  EXPECT_THAT(SqliteJournal::Open(path_).status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(absl::StrCat("journal ", path_, " is damaged: it has ")),
                             HasSubstr(" pages but no table"))));
  EXPECT_EQ(QueryOn(path_, "SELECT COUNT(*) FROM sqlite_master"), 0);
  // The file as it was opens.
  WriteAll(path_, bytes_);
  absl::StatusOr<std::unique_ptr<SqliteJournal>> log = SqliteJournal::Open(path_);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->last_sequence(), 64u);
}

TEST(SqliteJournalOpenTest, AnEmptyFileIsANewJournal) {
  TempDir dir;
  const std::string path = dir.WriteFile("journal.db", "");
  absl::StatusOr<std::unique_ptr<SqliteJournal>> log = SqliteJournal::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->Append(FactEvents(1, 2)).ok());
  EXPECT_EQ(QueryOn(path, "SELECT value FROM meta WHERE key = 'schema_version'"), 3);
}

// The schema 2 tables (rows without checksums), as kessand made them.
constexpr char kSchemaTwo[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO meta VALUES('schema_version', 2), ('first_sequence', 1);"
    "CREATE TABLE commits(first_sequence INTEGER PRIMARY KEY, last_sequence INTEGER NOT NULL,"
    " keys BLOB NOT NULL, events BLOB NOT NULL);"
    "CREATE TABLE batches(publisher_id TEXT NOT NULL, batch_key TEXT NOT NULL,"
    " first_sequence INTEGER NOT NULL, count INTEGER NOT NULL,"
    " fingerprint INTEGER NOT NULL, PRIMARY KEY(publisher_id, batch_key));"
    "INSERT INTO batches VALUES('pub', 'b1', 4, 2, 42);";

// Writes rows of `sizes` events each, from sequence 1, as schema 2 did.
void WriteSchemaTwoRows(const std::string& path, std::vector<uint64_t> sizes) {
  ExecOn(path, kSchemaTwo);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO commits VALUES(?, ?, ?, ?)", -1, &stmt, nullptr), SQLITE_OK);
  uint64_t next = 1;
  for (uint64_t size : sizes) {
    RowBuilder row;
    for (uint64_t i = 0; i < size; ++i, ++next) {
      EventPtr e = FactEvent(next);
      row.Add(next, e->attrs().time_ns, e->attrs().item_key, e->frame());
    }
    sqlite3_reset(stmt);
    sqlite3_bind_int64(stmt, 1, static_cast<sqlite3_int64>(row.first_sequence()));
    sqlite3_bind_int64(stmt, 2, static_cast<sqlite3_int64>(row.last_sequence()));
    sqlite3_bind_blob(stmt, 3, row.keys().data(), static_cast<int>(row.keys().size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(stmt, 4, row.events().data(), static_cast<int>(row.events().size()), SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_DONE);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

// A journal of schema 2 gets its checksums when opened, and then reads,
// appends and finds damage as a new one does.
TEST(SqliteJournalOpenTest, ASchemaTwoJournalIsChecksummedOnOpen) {
  TempDir dir;
  const std::string path = dir.File("journal.db");
  WriteSchemaTwoRows(path, {3, 5});
  {
    absl::StatusOr<std::unique_ptr<SqliteJournal>> log = SqliteJournal::Open(path);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->last_sequence(), 8u);
    std::vector<EventPtr> read;
    ASSERT_TRUE((*log)->Read(0, 8, 10, [&](EventPtr e) { read.push_back(e); }).ok());
    ASSERT_THAT(Sequences(read), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8));
    EXPECT_EQ(read[5]->body(), FactEvent(6)->body());
    absl::StatusOr<std::optional<BatchLocation>> batch = (*log)->FindBatch("pub", "b1");
    ASSERT_TRUE(batch.ok() && batch->has_value());
    EXPECT_EQ((*batch)->fingerprint, 42u);
    ASSERT_TRUE((*log)->Append(FactEvents(9, 1)).ok());
  }
  EXPECT_EQ(QueryOn(path, "SELECT value FROM meta WHERE key = 'schema_version'"), 3);
  EXPECT_EQ(QueryOn(path,
                    "SELECT COUNT(*) FROM commits WHERE length(crcs) = 4 * (1 + "
                    "last_sequence - first_sequence + 1)"),
            3);
  ASSERT_TRUE(FlipBitOfFigure(path, 6));
  absl::StatusOr<std::unique_ptr<SqliteJournal>> log = SqliteJournal::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_THAT((*log)->Read(0, 9, 10, [](EventPtr) {}).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("event 6 is damaged")));
}

// A schema 2 row already damaged is not checksummed as sound: the
// conversion stops, and the file stays as it was.
TEST(SqliteJournalOpenTest, ASchemaTwoJournalWithADamagedRowIsNotConverted) {
  TempDir dir;
  const std::string path = dir.File("journal.db");
  WriteSchemaTwoRows(path, {3, 5});
  ExecOn(path,
         "UPDATE commits SET events = substr(events, 1, length(events) - 3)"
         " WHERE first_sequence = 4");
  EXPECT_THAT(SqliteJournal::Open(path).status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(path), HasSubstr("row from sequence 4 is damaged"))));
  EXPECT_EQ(QueryOn(path, "SELECT value FROM meta WHERE key = 'schema_version'"), 2);
  EXPECT_EQ(QueryOn(path, "SELECT COUNT(*) FROM commits"), 2);
}

TEST_F(SqliteJournalTest, TheIncarnationIsKeptAcrossOpensAndDiffersBetweenJournals) {
  const std::string first = log_->incarnation();
  EXPECT_THAT(first, ::testing::StartsWith("sqlite-"));
  ASSERT_TRUE(log_->Append(FactEvents(1, 2)).ok());
  Open();
  EXPECT_EQ(log_->incarnation(), first);
  absl::StatusOr<std::unique_ptr<SqliteJournal>> other = SqliteJournal::Open(dir_.File("other.db"));
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE((*other)->incarnation(), first);
}

// The journal as it was at sequence 2 comes back (its WAL's later commits
// lost) while its -acked file says 4 was acknowledged.
TEST_F(SqliteJournalTest, AJournalThatLostAcknowledgedEventsIsRefusedUntilAccepted) {
  ASSERT_TRUE(log_->Append(FactEvents(1, 2)).ok());
  log_.reset();  // the last close checkpoints: the file alone holds 1-2
  const std::string before = dir_.File("before.db");
  std::filesystem::copy_file(path_, before);
  Open();
  const std::string incarnation = log_->incarnation();
  ASSERT_TRUE(log_->Append(FactEvents(3, 2)).ok());
  log_.reset();
  std::filesystem::copy_file(before, path_, std::filesystem::copy_options::overwrite_existing);

  absl::StatusOr<std::unique_ptr<SqliteJournal>> refused = SqliteJournal::Open(path_);
  EXPECT_THAT(refused,
              StatusIs(absl::StatusCode::kDataLoss, AllOf(HasSubstr("ends at sequence 2 but sequence 4 was "
                                                                    "acknowledged"),
                                                          HasSubstr("--accept_journal_loss"))));
  // Refused twice: the check changed nothing.
  EXPECT_THAT(SqliteJournal::Open(path_), StatusIs(absl::StatusCode::kDataLoss));

  absl::StatusOr<std::unique_ptr<SqliteJournal>> accepted =
      SqliteJournal::Open(path_, {/*accept_loss=*/true});
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ((*accepted)->last_sequence(), 2u);
  EXPECT_NE((*accepted)->incarnation(), incarnation);
  const std::string renewed = (*accepted)->incarnation();
  ASSERT_TRUE((*accepted)->Append(FactEvents(3, 1)).ok());
  accepted->reset();
  // Accepted once, recorded: the next open is a plain one, same incarnation.
  Open();
  EXPECT_EQ(log_->last_sequence(), 3u);
  EXPECT_EQ(log_->incarnation(), renewed);
}

}  // namespace
}  // namespace kessan
