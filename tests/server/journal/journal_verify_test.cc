// Tests of server/journal/journal_verify.cc: the offline check of a journal.
#include "journal/journal_verify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "journal/sqlite_journal.h"
#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::FactEvents;
using ::kessan::test::FlipBitOfFigure;
using ::kessan::test::StatusIs;
using ::kessan::test::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Exec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

// Rows 1-3, 4-8, 9-12 (of a closed journal).
class JournalVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<SqliteJournal>> log = SqliteJournal::Open(path_);
    ASSERT_TRUE(log.ok()) << log.status();
    ASSERT_TRUE((*log)->Append(FactEvents(1, 3)).ok());
    ASSERT_TRUE((*log)->Append(FactEvents(4, 5)).ok());
    ASSERT_TRUE((*log)->Append(FactEvents(9, 4)).ok());
  }

  absl::StatusOr<JournalFileCheck> Verify() {
    lines_.clear();
    return VerifyJournalFile(path_, [this](const std::string& line) { lines_.push_back(line); });
  }

  TempDir dir_;
  const std::string path_ = dir_.File("journal.db");
  std::vector<std::string> lines_;
};

TEST_F(JournalVerifyTest, ASoundJournalHasNothingToReport) {
  absl::StatusOr<JournalFileCheck> check = Verify();
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->schema_version, 3);
  EXPECT_EQ(check->rows, 3u);
  EXPECT_EQ(check->events, 12u);
  EXPECT_EQ(check->damaged, 0u);
  EXPECT_THAT(lines_, IsEmpty());
}

// Every damaged event is reported, not only the first, and the file is not
// touched.
TEST_F(JournalVerifyTest, EachDamagedEventIsOneLine) {
  ASSERT_TRUE(FlipBitOfFigure(path_, 2));
  ASSERT_TRUE(FlipBitOfFigure(path_, 6));
  ASSERT_TRUE(FlipBitOfFigure(path_, 7));
  const std::string before = Bytes(path_);
  absl::StatusOr<JournalFileCheck> check = Verify();
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_THAT(lines_,
              ElementsAre("event 2 is damaged (checksum mismatch)", "event 6 is damaged (checksum mismatch)",
                          "event 7 is damaged (checksum mismatch)"));
  EXPECT_EQ(check->events, 12u);
  EXPECT_EQ(check->damaged, 3u);
  EXPECT_EQ(Bytes(path_), before);
}

TEST_F(JournalVerifyTest, AMissingRowAndBrokenRowsAreReported) {
  Exec(path_, "DELETE FROM commits WHERE first_sequence = 4");
  Exec(path_,
       "UPDATE commits SET events = substr(events, 1, length(events) - 2)"
       " WHERE first_sequence = 9");
  absl::StatusOr<JournalFileCheck> check = Verify();
  ASSERT_TRUE(check.ok()) << check.status();
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(lines_[0], "events 4 to 8 are missing");
  EXPECT_THAT(lines_[1], HasSubstr("row from sequence 9 is damaged"));
  EXPECT_EQ(check->damaged, 2u);
}

// An older journal is checked as far as it can be, and not converted.
TEST_F(JournalVerifyTest, ASchemaTwoJournalIsCheckedReadOnly) {
  Exec(path_,
       "CREATE TABLE old AS SELECT first_sequence, last_sequence, keys, events"
       " FROM commits; DROP TABLE commits; ALTER TABLE old RENAME TO commits;"
       " UPDATE meta SET value = 2 WHERE key = 'schema_version'");
  absl::StatusOr<JournalFileCheck> check = Verify();
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->schema_version, 2);
  EXPECT_EQ(check->events, 12u);
  EXPECT_THAT(lines_, IsEmpty());
  Exec(path_, "UPDATE commits SET events = x'0a' WHERE first_sequence = 1");
  check = Verify();
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_THAT(lines_, ElementsAre(HasSubstr("row from sequence 1 is damaged")));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 2);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(JournalVerifyTest, AFileThatCannotBeReadIsAnError) {
  std::string bytes = Bytes(path_);
  std::fill(bytes.begin(), bytes.begin() + 100, 'x');
  std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_THAT(
      Verify().status(),
      StatusIs(absl::StatusCode::kDataLoss,
               absl::StrCat("journal ", path_, " is damaged: file is not a database (header overwritten?)")));
  EXPECT_THAT(VerifyJournalFile(dir_.File("none.db"), [](const std::string&) {}).status(),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace kessan
