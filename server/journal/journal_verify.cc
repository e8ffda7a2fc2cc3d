#include "journal/journal_verify.h"

#include <sqlite3.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "event/encoded_event.h"
#include "journal/journal_rows.h"
#include "journal/sqlite_file.h"
#include "util/status_macros.h"

namespace kessan {
namespace {

// Walks a journal's rows (or schema 1 events) once, in sequence order.
class Walk {
 public:
  Walk(sqlite3* db, const std::function<void(const std::string&)>& report, JournalFileCheck* check)
      : db_(db), report_(report), check_(*check) {}

  // Reports damage; an error only when SQLite cannot read on.
  absl::Status Rows(uint64_t first_sequence) {
    const bool checksummed = check_.schema_version >= kSchemaVersion;
    const char* sql = checksummed ? "SELECT first_sequence, last_sequence, keys, events, crcs"
                                    " FROM commits ORDER BY first_sequence"
                                  : "SELECT first_sequence, last_sequence, keys, events"
                                    " FROM commits ORDER BY first_sequence";
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      return SqliteError(db_, "prepare rows");
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      ++check_.rows;
      const uint64_t first = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
      const uint64_t last = static_cast<uint64_t>(sqlite3_column_int64(stmt, 1));
      Range(first_sequence, first, last);
      RowReader row(first, last, Blob(stmt, 2), Blob(stmt, 3),
                    checksummed ? std::optional<absl::string_view>(Blob(stmt, 4)) : std::nullopt);
      JournalRecord record;
      while (true) {
        absl::StatusOr<bool> more = row.Next(&record);
        if (!more.ok()) {
          Damage(more.status());  // the rest of the row cannot be told apart
          break;
        }
        if (!*more) break;
        ++check_.events;
        if (absl::Status sound = row.Verify(record); !sound.ok()) {
          Damage(sound);
          continue;
        }
        Event(record.sequence, record.body);
      }
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? absl::OkStatus() : SqliteError(db_, "read rows");
  }

  absl::Status RowPerEvent(uint64_t first_sequence) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT sequence, body FROM events ORDER BY sequence", -1, &stmt, nullptr) !=
        SQLITE_OK) {
      return SqliteError(db_, "prepare events");
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      ++check_.rows;
      ++check_.events;
      const uint64_t sequence = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
      Range(first_sequence, sequence, sequence);
      Event(sequence, Blob(stmt, 1));
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? absl::OkStatus() : SqliteError(db_, "read events");
  }

  // Reports the line of a damage (`status`, a DATA_LOSS).
  void Damage(const absl::Status& status) {
    absl::string_view line = status.message();
    absl::ConsumePrefix(&line, "journal ");
    ++check_.damaged;
    report_(std::string(line));
  }

 private:
  // Checks a row's range against the rows before it: below the journal's
  // first sequence, retention leaves gaps.
  void Range(uint64_t first_sequence, uint64_t from, uint64_t to) {
    if (to < from || from <= held_to_) {
      Damage(absl::DataLossError(absl::StrCat("row from sequence ", from, " to ", to,
                                              " overlaps the rows before (to ", held_to_, ")")));
    } else if (const uint64_t due = std::max(first_sequence, held_to_ + 1);
               to >= first_sequence && from > due) {
      Damage(absl::DataLossError(absl::StrCat("events ", due, " to ", from - 1, " are missing")));
    }
    held_to_ = std::max(held_to_, to);
  }

  // Parses an event whole: it must be a FeedEvent of its own sequence.
  void Event(uint64_t sequence, absl::string_view body) {
    absl::StatusOr<EventPtr> event = JournalEvent(sequence, body);
    absl::Status parsed = event.ok() ? CheckParsed(**event) : event.status();
    if (!parsed.ok()) Damage(parsed);
  }

  sqlite3* const db_;
  const std::function<void(const std::string&)>& report_;
  JournalFileCheck& check_;
  uint64_t held_to_ = 0;
};

}  // namespace

absl::StatusOr<JournalFileCheck> VerifyJournalFile(const std::string& path,
                                                   const std::function<void(const std::string&)>& report) {
  ASSIGN_OR_RETURN(const bool existing, CheckJournalHeader(path));
  if (!existing) return absl::NotFoundError(absl::StrCat("journal ", path, ": no journal there"));
  sqlite3* db = nullptr;
  // Read-only: a check changes nothing (and converts nothing).
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    absl::Status status = SqliteError(db, absl::StrCat("open ", path));
    sqlite3_close(db);
    return status;
  }
  sqlite3_busy_timeout(db, 5000);
  JournalFileCheck check;
  absl::Status status = [&]() -> absl::Status {
    // One read transaction: the rows as of one moment, a running kessand or not.
    RETURN_IF_ERROR(Exec(db, "BEGIN"));
    ASSIGN_OR_RETURN(check.schema_version, SchemaVersion(db, path));
    ASSIGN_OR_RETURN(const int64_t first,
                     QueryInt(db, "SELECT value FROM meta WHERE key = 'first_sequence'"));
    Walk walk(db, report, &check);
    absl::Status read = check.schema_version == kRowPerEventSchema
                            ? walk.RowPerEvent(static_cast<uint64_t>(std::max<int64_t>(first, 1)))
                            : walk.Rows(static_cast<uint64_t>(std::max<int64_t>(first, 1)));
    // Damage SQLite finds part way is one more line; the rows before it count.
    if (read.code() == absl::StatusCode::kDataLoss) {
      walk.Damage(read);
      read = absl::OkStatus();
    }
    Exec(db, "COMMIT").IgnoreError();
    return read;
  }();
  sqlite3_close(db);
  RETURN_IF_ERROR(status);
  return check;
}

}  // namespace kessan
