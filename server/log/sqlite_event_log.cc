#include "log/sqlite_event_log.h"

#include <sqlite3.h>

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace kessan {
namespace {

constexpr int kSchemaVersion = 1;
// WAL pages (4 KiB) after which the checkpointer thread copies the WAL into
// the database, and after which a commit does it itself (the checkpointer
// is behind; bounds the WAL's size).
constexpr int kBackgroundCheckpointPages = 1000;
constexpr int kInlineCheckpointPages = 64 * 1024;
// At most this many frames are left for the commit that completes it.
constexpr int kCommitCheckpointFrames = 128;

absl::Status SqliteError(sqlite3* db, absl::string_view what) {
  return absl::InternalError(
      absl::StrCat("sqlite: ", what, ": ", db ? absl::string_view(sqlite3_errmsg(db)) : absl::string_view("out of memory")));
}

absl::Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    absl::Status status = absl::InternalError(absl::StrCat("sqlite: ", sql, ": ",
                                                           error ? error : "error"));
    sqlite3_free(error);
    return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<sqlite3*> OpenConnection(const std::string& path, bool create) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    absl::Status status = SqliteError(db, absl::StrCat("open ", path));
    sqlite3_close(db);
    return status;
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteEventLog>> SqliteEventLog::Open(
    const std::string& path) {
  std::unique_ptr<SqliteEventLog> log(new SqliteEventLog());
  absl::MutexLock w(&log->write_mu_);
  absl::MutexLock r(&log->read_mu_);
  ASSIGN_OR_RETURN(log->writer_, OpenConnection(path, /*create=*/true));
  sqlite3* db = log->writer_;
  // 64 KiB pages (a new journal only; an existing one keeps its size): a
  // commit writes a few large WAL frames instead of dozens of 4 KiB ones,
  // ~10% less server CPU per published event (tests/bench/README.md).
  RETURN_IF_ERROR(Exec(db, "PRAGMA page_size=65536"));
  RETURN_IF_ERROR(Exec(db, "PRAGMA journal_mode=WAL"));
  // FULL: the WAL is synced at every commit, so an acknowledged append
  // survives power loss, not only a process crash.
  RETURN_IF_ERROR(Exec(db, "PRAGMA synchronous=FULL"));
  RETURN_IF_ERROR(Exec(db,
                       "CREATE TABLE IF NOT EXISTS meta("
                       " key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
                       "CREATE TABLE IF NOT EXISTS events("
                       " sequence INTEGER PRIMARY KEY,"
                       " time_ns INTEGER NOT NULL,"
                       " kind INTEGER NOT NULL,"
                       " item_key TEXT NOT NULL,"
                       " body BLOB NOT NULL);"
                       // No index by item: maintaining one dirtied a page per item
                       // at every commit and halved the publish rate. Views scan.
                       "DROP INDEX IF EXISTS events_by_item;"
                       "CREATE TABLE IF NOT EXISTS batches("
                       " publisher_id TEXT NOT NULL,"
                       " batch_key TEXT NOT NULL,"
                       " first_sequence INTEGER NOT NULL,"
                       " count INTEGER NOT NULL,"
                       " fingerprint INTEGER NOT NULL,"
                       " PRIMARY KEY(publisher_id, batch_key));"));
  RETURN_IF_ERROR(Exec(db, absl::StrCat("INSERT OR IGNORE INTO meta VALUES"
                                        "('schema_version', ", kSchemaVersion,
                                        "), ('first_sequence', 1)")
                               .c_str()));
  {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1,
                           &stmt, nullptr) != SQLITE_OK) {
      return SqliteError(db, "read schema version");
    }
    int version = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    if (version != kSchemaVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": journal schema version ", version, ", this kessand reads ",
                       kSchemaVersion));
    }
  }
  {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db,
                           "SELECT COALESCE(MAX(sequence), 0),"
                           " (SELECT value FROM meta WHERE key='first_sequence'),"
                           " (SELECT COUNT(*) FROM events WHERE sequence >="
                           "   (SELECT value FROM meta WHERE key='first_sequence'))"
                           " FROM events",
                           -1, &stmt, nullptr) != SQLITE_OK) {
      return SqliteError(db, "read last sequence");
    }
    sqlite3_step(stmt);
    log->last_sequence_ = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
    log->first_sequence_ = static_cast<uint64_t>(sqlite3_column_int64(stmt, 1));
    uint64_t count = static_cast<uint64_t>(sqlite3_column_int64(stmt, 2));
    sqlite3_finalize(stmt);
    uint64_t last = log->last_sequence_, first = log->first_sequence_;
    uint64_t expected = last >= first ? last - first + 1 : 0;
    if (count != expected) {
      return absl::DataLossError(absl::StrCat(
          path, ": journal holds ", count, " events from sequence ", first,
          " but its last sequence is ", last));
    }
  }
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO events(sequence, time_ns, kind, item_key, body)"
                         " VALUES(?, ?, ?, ?, ?)",
                         -1, &log->insert_, nullptr) != SQLITE_OK) {
    return SqliteError(db, "prepare insert");
  }
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO batches(publisher_id, batch_key, first_sequence,"
                         " count, fingerprint) VALUES(?, ?, ?, ?, ?)",
                         -1, &log->insert_batch_, nullptr) != SQLITE_OK) {
    return SqliteError(db, "prepare insert batch");
  }
  ASSIGN_OR_RETURN(log->checkpointer_, OpenConnection(path, /*create=*/false));
  // Replaces SQLite's automatic checkpoint, which runs inside the commit.
  sqlite3_wal_hook(db, &SqliteEventLog::OnWalCommit, log.get());
  log->checkpoint_thread_ = std::thread([l = log.get()] { l->CheckpointLoop(); });
  ASSIGN_OR_RETURN(log->reader_, OpenConnection(path, /*create=*/false));
  if (sqlite3_prepare_v2(log->reader_,
                         "SELECT sequence, body FROM events WHERE sequence > ? AND sequence <= ?"
                         " ORDER BY sequence LIMIT ?",
                         -1, &log->select_, nullptr) != SQLITE_OK) {
    return SqliteError(log->reader_, "prepare select");
  }
  return log;
}

int SqliteEventLog::OnWalCommit(void* arg, sqlite3* db, const char* name, int pages) {
  auto* log = static_cast<SqliteEventLog*>(arg);
  if (pages < kBackgroundCheckpointPages) return SQLITE_OK;
  absl::MutexLock lock(&log->checkpoint_mu_);
  // The checkpointer cannot finish while commits keep coming; once it has
  // copied the bulk, the commit copies the few frames written since, so the
  // checkpoint completes and the next transaction starts the WAL over.
  if (log->checkpoint_phase_ == CheckpointPhase::kCopied || pages >= kInlineCheckpointPages) {
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    log->checkpoint_phase_ = CheckpointPhase::kIdle;
  } else if (log->checkpoint_phase_ == CheckpointPhase::kIdle) {
    log->checkpoint_phase_ = CheckpointPhase::kDue;
  }
  return SQLITE_OK;
}

void SqliteEventLog::CheckpointLoop() {
  while (true) {
    {
      absl::MutexLock lock(&checkpoint_mu_);
      checkpoint_mu_.Await(absl::Condition(
          +[](SqliteEventLog* l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(l->checkpoint_mu_) {
            return l->checkpoint_phase_ == CheckpointPhase::kDue || l->stopping_;
          },
          this));
      if (stopping_) return;
      checkpoint_phase_ = CheckpointPhase::kCopying;
    }
    // PASSIVE: never waits for, nor blocks, the writer or the readers.
    // Passes repeat until what is left for the commit to copy is small.
    int log_frames = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(checkpointer_, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                       &log_frames, &copied);
    absl::MutexLock lock(&checkpoint_mu_);
    if (checkpoint_phase_ == CheckpointPhase::kCopying) {
      checkpoint_phase_ = rc == SQLITE_OK && log_frames - copied > kCommitCheckpointFrames
                              ? CheckpointPhase::kDue
                              : CheckpointPhase::kCopied;
    }
  }
}

SqliteEventLog::~SqliteEventLog() {
  if (checkpoint_thread_.joinable()) {
    {
      absl::MutexLock lock(&checkpoint_mu_);
      stopping_ = true;
    }
    checkpoint_thread_.join();
  }
  sqlite3_close(checkpointer_);
  {
    absl::MutexLock r(&read_mu_);
    sqlite3_finalize(select_);
    sqlite3_close(reader_);
  }
  absl::MutexLock w(&write_mu_);
  sqlite3_finalize(insert_batch_);
  sqlite3_finalize(insert_);
  sqlite3_close(writer_);
}

absl::Status SqliteEventLog::Append(const std::vector<EventPtr>& events,
                                    const std::vector<BatchRecord>& batches) {
  absl::MutexLock lock(&write_mu_);
  uint64_t expected = last_sequence_ + 1;
  for (const EventPtr& e : events) {
    if (e->sequence() != expected++) {
      return absl::InternalError(absl::StrCat("append out of order: sequence ",
                                              e->sequence(), " where ", expected - 1,
                                              " was due"));
    }
  }
  RETURN_IF_ERROR(Exec(writer_, "BEGIN IMMEDIATE"));
  for (const EventPtr& e : events) {
    absl::string_view body = e->body();
    sqlite3_reset(insert_);
    sqlite3_bind_int64(insert_, 1, static_cast<sqlite3_int64>(e->sequence()));
    sqlite3_bind_int64(insert_, 2, e->attrs().time_ns);
    sqlite3_bind_int(insert_, 3, static_cast<int>(e->attrs().kind));
    sqlite3_bind_text(insert_, 4, e->attrs().item_key.data(),
                      static_cast<int>(e->attrs().item_key.size()), SQLITE_STATIC);
    sqlite3_bind_blob(insert_, 5, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
    if (sqlite3_step(insert_) != SQLITE_DONE) {
      absl::Status status = SqliteError(writer_, "insert event");
      sqlite3_reset(insert_);
      Exec(writer_, "ROLLBACK").IgnoreError();
      return status;
    }
  }
  sqlite3_reset(insert_);
  for (const BatchRecord& batch : batches) {
    sqlite3_reset(insert_batch_);
    sqlite3_bind_text(insert_batch_, 1, batch.publisher_id.data(),
                      static_cast<int>(batch.publisher_id.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert_batch_, 2, batch.batch_key.data(),
                      static_cast<int>(batch.batch_key.size()), SQLITE_STATIC);
    sqlite3_bind_int64(insert_batch_, 3, static_cast<sqlite3_int64>(batch.first_sequence));
    sqlite3_bind_int64(insert_batch_, 4, static_cast<sqlite3_int64>(batch.count));
    sqlite3_bind_int64(insert_batch_, 5, static_cast<sqlite3_int64>(batch.fingerprint));
    int rc = sqlite3_step(insert_batch_);
    sqlite3_reset(insert_batch_);
    if (rc != SQLITE_DONE) {
      absl::Status status = SqliteError(writer_, "insert batch");
      Exec(writer_, "ROLLBACK").IgnoreError();
      return status;
    }
  }
  if (absl::Status status = Exec(writer_, "COMMIT"); !status.ok()) {
    Exec(writer_, "ROLLBACK").IgnoreError();
    return status;
  }
  last_sequence_ += events.size();
  return absl::OkStatus();
}

uint64_t SqliteEventLog::last_sequence() const {
  return last_sequence_.load();
}

uint64_t SqliteEventLog::first_sequence() const {
  return first_sequence_.load();
}

absl::StatusOr<size_t> SqliteEventLog::Read(uint64_t after, uint64_t up_to,
                                            size_t max_count,
                                            const std::function<void(EventPtr)>& fn) {
  std::vector<EventPtr> batch;
  const uint64_t complete_from = first_sequence();
  {
    absl::MutexLock lock(&read_mu_);
    sqlite3_reset(select_);
    sqlite3_bind_int64(select_, 1, static_cast<sqlite3_int64>(after));
    sqlite3_bind_int64(select_, 2, static_cast<sqlite3_int64>(up_to));
    sqlite3_bind_int64(select_, 3, static_cast<sqlite3_int64>(max_count));
    int rc;
    uint64_t expected = after + 1;
    while ((rc = sqlite3_step(select_)) == SQLITE_ROW) {
      uint64_t sequence = static_cast<uint64_t>(sqlite3_column_int64(select_, 0));
      const void* data = sqlite3_column_blob(select_, 1);
      int size = sqlite3_column_bytes(select_, 1);
      if (sequence != expected && sequence > complete_from) {
        sqlite3_reset(select_);
        return absl::DataLossError(absl::StrCat("journal gap: found sequence ", sequence,
                                                " where ", expected, " was due"));
      }
      expected = sequence + 1;
      // Not parsed here: a replay to an unfiltered subscriber sends the bytes.
      absl::StatusOr<EventPtr> event = JournalEvent(
          sequence, absl::string_view(static_cast<const char*>(data), static_cast<size_t>(size)));
      if (!event.ok()) {
        sqlite3_reset(select_);
        return event.status();
      }
      batch.push_back(*std::move(event));
    }
    sqlite3_reset(select_);
    if (rc != SQLITE_DONE) return SqliteError(reader_, "read events");
  }
  for (EventPtr& e : batch) fn(std::move(e));
  return batch.size();
}

absl::Status SqliteEventLog::ReadView(View view, absl::Time as_of, uint64_t up_to,
                                      const std::function<void(EventPtr)>& fn) {
  std::vector<EventPtr> events;
  {
    absl::MutexLock lock(&read_mu_);
    // One pass over the keys and times, in sequence order, picks each item's
    // revision; then only those rows' bodies are read.
    sqlite3_stmt* scan = nullptr;
    if (sqlite3_prepare_v2(reader_,
                           "SELECT sequence, item_key, time_ns FROM events WHERE sequence <= ?1"
                           " ORDER BY sequence",
                           -1, &scan, nullptr) != SQLITE_OK) {
      return SqliteError(reader_, "prepare view");
    }
    sqlite3_bind_int64(scan, 1, static_cast<sqlite3_int64>(up_to));
    const int64_t as_of_ns = absl::ToUnixNanos(as_of);
    absl::flat_hash_map<std::string, uint64_t> chosen;
    int rc;
    while ((rc = sqlite3_step(scan)) == SQLITE_ROW) {
      if (view == View::kAsOf && sqlite3_column_int64(scan, 2) > as_of_ns) continue;
      uint64_t sequence = static_cast<uint64_t>(sqlite3_column_int64(scan, 0));
      absl::string_view key(reinterpret_cast<const char*>(sqlite3_column_text(scan, 1)),
                            static_cast<size_t>(sqlite3_column_bytes(scan, 1)));
      auto [it, added] = chosen.try_emplace(key, sequence);
      if (!added && view != View::kFirstReported) it->second = sequence;
    }
    sqlite3_finalize(scan);
    if (rc != SQLITE_DONE) return SqliteError(reader_, "read view");

    std::vector<uint64_t> sequences;
    sequences.reserve(chosen.size());
    for (const auto& [key, sequence] : chosen) sequences.push_back(sequence);
    std::sort(sequences.begin(), sequences.end());
    sqlite3_stmt* row = nullptr;
    if (sqlite3_prepare_v2(reader_, "SELECT body FROM events WHERE sequence = ?1", -1, &row,
                           nullptr) != SQLITE_OK) {
      return SqliteError(reader_, "prepare view row");
    }
    for (uint64_t sequence : sequences) {
      sqlite3_reset(row);
      sqlite3_bind_int64(row, 1, static_cast<sqlite3_int64>(sequence));
      if (sqlite3_step(row) != SQLITE_ROW) {
        sqlite3_finalize(row);
        return SqliteError(reader_, absl::StrCat("read view row ", sequence));
      }
      absl::StatusOr<EventPtr> event = DecodeEvent(absl::string_view(
          static_cast<const char*>(sqlite3_column_blob(row, 0)), sqlite3_column_bytes(row, 0)));
      if (!event.ok()) {
        sqlite3_finalize(row);
        return event.status();
      }
      events.push_back(*std::move(event));
    }
    sqlite3_finalize(row);
  }
  for (EventPtr& e : events) fn(std::move(e));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<BatchLocation>> SqliteEventLog::FindBatch(
    const std::string& publisher_id, const std::string& batch_key) {
  absl::MutexLock lock(&read_mu_);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(reader_,
                         "SELECT first_sequence, count, fingerprint FROM batches"
                         " WHERE publisher_id = ? AND batch_key = ?",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    return SqliteError(reader_, "prepare find batch");
  }
  sqlite3_bind_text(stmt, 1, publisher_id.data(), static_cast<int>(publisher_id.size()),
                    SQLITE_STATIC);
  sqlite3_bind_text(stmt, 2, batch_key.data(), static_cast<int>(batch_key.size()),
                    SQLITE_STATIC);
  std::optional<BatchLocation> found;
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    found = BatchLocation{static_cast<uint64_t>(sqlite3_column_int64(stmt, 0)),
                          static_cast<uint64_t>(sqlite3_column_int64(stmt, 1)),
                          static_cast<uint64_t>(sqlite3_column_int64(stmt, 2))};
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqliteError(reader_, "find batch");
  return found;
}

absl::StatusOr<size_t> SqliteEventLog::Prune(uint64_t horizon, std::vector<uint64_t> keep) {
  absl::MutexLock lock(&write_mu_);
  horizon = std::min<uint64_t>(horizon, last_sequence_ + 1);
  if (horizon <= first_sequence_) return 0;
  std::sort(keep.begin(), keep.end());
  RETURN_IF_ERROR(Exec(writer_, "BEGIN IMMEDIATE"));
  // Deletes the rowid ranges between the kept sequences below the horizon.
  sqlite3_stmt* erase = nullptr;
  absl::Status status;
  if (sqlite3_prepare_v2(writer_, "DELETE FROM events WHERE sequence > ?1 AND sequence < ?2", -1,
                         &erase, nullptr) != SQLITE_OK) {
    status = SqliteError(writer_, "prepare prune");
  }
  size_t deleted = 0;
  uint64_t after = 0;
  keep.push_back(horizon);
  for (uint64_t k : keep) {
    if (!status.ok()) break;
    if (k > horizon) break;
    if (k > after + 1) {
      sqlite3_reset(erase);
      sqlite3_bind_int64(erase, 1, static_cast<sqlite3_int64>(after));
      sqlite3_bind_int64(erase, 2, static_cast<sqlite3_int64>(k));
      if (sqlite3_step(erase) != SQLITE_DONE) {
        status = SqliteError(writer_, "prune");
      } else {
        deleted += static_cast<size_t>(sqlite3_changes(writer_));
      }
    }
    after = std::max(after, k);
  }
  sqlite3_finalize(erase);
  if (status.ok()) {
    status = Exec(writer_, absl::StrCat("UPDATE meta SET value = ", horizon,
                                        " WHERE key = 'first_sequence'")
                               .c_str());
  }
  if (status.ok()) status = Exec(writer_, "COMMIT");
  if (!status.ok()) {
    Exec(writer_, "ROLLBACK").IgnoreError();
    return status;
  }
  first_sequence_ = horizon;
  return deleted;
}

}  // namespace kessan
