// The journal's SQLite file: its schema versions, the checks of a file
// before it is used, and SQLite errors as statuses. Shared by SqliteJournal
// and VerifyJournal.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct sqlite3;
struct sqlite3_stmt;

namespace kessan {

// 3: rows with checksums (journal_rows.h). 2: rows without, checksummed when
// opened. 1: one row per event, converted when opened.
inline constexpr int kSchemaVersion = 3;
inline constexpr int kRowsWithoutChecksumsSchema = 2;
inline constexpr int kRowPerEventSchema = 1;

// CheckJournalHeader: false when `path` is missing or empty (a new
// journal), true when it starts with a sound SQLite header and is whole
// pages long. DATA_LOSS naming the file when it is not: overwritten,
// zeroed or cut short.
absl::StatusOr<bool> CheckJournalHeader(const std::string& path);

// SqliteError: the error of `db`'s last call, `what` naming the call.
// DATA_LOSS naming the file when SQLite found it damaged (SQLITE_CORRUPT,
// SQLITE_NOTADB), INTERNAL otherwise.
absl::Status SqliteError(sqlite3* db, absl::string_view what);

// Exec: runs `sql`; errors as SqliteError.
absl::Status Exec(sqlite3* db, const char* sql);

// QueryInt: the first column of the first row of `sql`, 0 without a row.
absl::StatusOr<int64_t> QueryInt(sqlite3* db, const char* sql);

// SchemaVersion: the schema version of a journal that has tables, once the
// tables that version has are there. DATA_LOSS naming the file when the
// version or a table is missing; FAILED_PRECONDITION for a version this
// kessand does not read.
absl::StatusOr<int> SchemaVersion(sqlite3* db, const std::string& path);

// A blob column of the current row.
absl::string_view Blob(sqlite3_stmt* stmt, int column);

// DATA_LOSS `status` with the journal's path in front ("journal PATH: ..."),
// unless it names the file already; other statuses as they are.
absl::Status InJournal(const std::string& path, absl::Status status);
template <typename T>
absl::StatusOr<T> InJournal(const std::string& path, absl::StatusOr<T> result) {
  if (result.ok()) return result;
  return InJournal(path, result.status());
}

}  // namespace kessan
