#include "journal/sqlite_file.h"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "util/status_macros.h"

namespace kessan {
namespace {

constexpr size_t kHeaderSize = 100;
constexpr char kMagic[] = "SQLite format 3";  // and its NUL: 16 bytes

absl::Status Damaged(const std::string& path, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("journal ", path, " is damaged: ", what));
}

bool IsDamage(int rc) { return (rc & 0xFF) == SQLITE_CORRUPT || (rc & 0xFF) == SQLITE_NOTADB; }

}  // namespace

absl::StatusOr<bool> CheckJournalHeader(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size == 0) return false;  // new, or an error SQLite reports when it opens it
  std::ifstream in(path, std::ios::binary);
  std::string header(kHeaderSize, '\0');
  in.read(header.data(), static_cast<std::streamsize>(kHeaderSize));
  if (size < kHeaderSize) {
    return Damaged(path, absl::StrCat("it is ", size, " bytes, less than an SQLite header (", kHeaderSize,
                                      "; truncated?)"));
  }
  if (!in) return true;  // unreadable: SQLite names the error when it opens it
  if (header.compare(0, sizeof(kMagic), kMagic, sizeof(kMagic)) != 0) {
    if (std::all_of(header.begin(), header.end(), [](char c) { return c == 0; })) {
      return Damaged(path, "its header is zeros (overwritten?)");
    }
    return Damaged(path, "file is not a database (header overwritten?)");
  }
  // Big-endian at offset 16; 1 stands for 65536.
  uint32_t page_size = static_cast<uint8_t>(header[16]) << 8 | static_cast<uint8_t>(header[17]);
  if (page_size == 1) page_size = 65536;
  if (page_size < 512 || (page_size & (page_size - 1)) != 0) {
    return Damaged(path,
                   absl::StrCat("its header gives a page size of ", page_size, " (header overwritten?)"));
  }
  if (size % page_size != 0) {
    return Damaged(path, absl::StrCat("it is ", size, " bytes, not a whole number of its ", page_size,
                                      "-byte pages (truncated?)"));
  }
  return true;
}

absl::Status SqliteError(sqlite3* db, absl::string_view what) {
  if (db == nullptr) return absl::InternalError(absl::StrCat("sqlite: ", what, ": out of memory"));
  if (IsDamage(sqlite3_extended_errcode(db))) {
    const char* file = sqlite3_db_filename(db, "main");
    return Damaged(file ? file : "", absl::StrCat(sqlite3_errmsg(db), " (", what, ")"));
  }
  return absl::InternalError(absl::StrCat("sqlite: ", what, ": ", sqlite3_errmsg(db)));
}

absl::Status Exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return SqliteError(db, sql);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> QueryInt(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) return SqliteError(db, sql);
  const int rc = sqlite3_step(stmt);
  const int64_t value = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqliteError(db, sql);
  return value;
}

absl::StatusOr<int> SchemaVersion(sqlite3* db, const std::string& path) {
  auto has_table = [db](absl::string_view name) -> absl::StatusOr<bool> {
    const std::string sql =
        absl::StrCat("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '", name, "'");
    ASSIGN_OR_RETURN(const int64_t n, QueryInt(db, sql.c_str()));
    return n > 0;
  };
  ASSIGN_OR_RETURN(const bool has_meta, has_table("meta"));
  if (!has_meta) return Damaged(path, "it has tables but no table 'meta'");
  ASSIGN_OR_RETURN(const int64_t version,
                   QueryInt(db, "SELECT value FROM meta WHERE key = 'schema_version'"));
  if (version <= 0) return Damaged(path, "its schema version is missing");
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": journal schema version ", version, ", this kessand reads ", kSchemaVersion));
  }
  for (const char* table : {version == kRowPerEventSchema ? "events" : "commits", "batches"}) {
    ASSIGN_OR_RETURN(const bool has, has_table(table));
    if (!has) return Damaged(path, absl::StrCat("it has no table '", table, "'"));
  }
  return static_cast<int>(version);
}

absl::string_view Blob(sqlite3_stmt* stmt, int column) {
  const void* data = sqlite3_column_blob(stmt, column);
  return absl::string_view(static_cast<const char*>(data),
                           static_cast<size_t>(sqlite3_column_bytes(stmt, column)));
}

absl::Status InJournal(const std::string& path, absl::Status status) {
  if (status.code() != absl::StatusCode::kDataLoss) return status;
  absl::string_view message = status.message();
  if (absl::StartsWith(message, absl::StrCat("journal ", path))) return status;
  absl::ConsumePrefix(&message, "journal ");
  return absl::DataLossError(absl::StrCat("journal ", path, ": ", message));
}

}  // namespace kessan
