#include "journal/sqlite_journal.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "journal/journal_rows.h"
#include "journal/sqlite_file.h"
#include "spdlog/spdlog.h"
#include "util/log.h"
#include "util/status_macros.h"

namespace kessan {
namespace {

// WAL bytes after which the checkpointer thread copies the WAL into the
// database, and after which a commit does it itself (the checkpointer is
// behind; bounds the WAL's size). Small, because the copy is written back
// when the checkpoint completes and the commits' fsyncs wait for it: the
// larger the bound, the longer a full-rate publisher's tail latency
// (tests/bench/README.md, "Checkpoint bounds in bytes").
constexpr int64_t kBackgroundCheckpointBytes = int64_t{4} << 20;
constexpr int64_t kInlineCheckpointBytes = int64_t{256} << 20;
// At most this much is left for the commit that completes it.
constexpr int64_t kCommitCheckpointBytes = int64_t{512} << 10;

// A byte bound in WAL frames of `page_size` bytes, at least one.
int FramesOf(int64_t bytes, int page_size) {
  return static_cast<int>(std::max<int64_t>(1, bytes / std::max(page_size, 512)));
}

// The acked file: this magic, then the last acknowledged sequence, fixed64.
constexpr char kAckedMagic[8] = {'K', 'S', 'N', 'A', 'C', 'K', 'D', '1'};

// The acked file's sequence; 0 when there is none. Unreadable or not one:
// a warning, and 0 (it guards, it is not the record).
uint64_t ReadAcked(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  unsigned char buf[16];
  const ssize_t n = pread(fd, buf, sizeof(buf), 0);
  close(fd);
  if (n != static_cast<ssize_t>(sizeof(buf)) || memcmp(buf, kAckedMagic, 8) != 0) {
    Log().warn("journal: {} is not an acked-sequence file; ignored", path);
    return 0;
  }
  uint64_t v = 0;
  for (int i = 15; i >= 8; --i) v = (v << 8) | buf[i];
  return v;
}

// A new incarnation number: random, positive.
int64_t NewIncarnation() {
  std::random_device random;
  const uint64_t v = (uint64_t{random()} << 32) ^ random();
  return static_cast<int64_t>(v >> 1) | 1;
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
  if (create) chmod(path.c_str(), 0600);  // the journal is kessand's alone (plugins run as another user)
  return db;
}

// The commits table (journal_rows.h): the keys and checksums before the
// events, so a view reads them without the events' pages.
constexpr char kCreateCommits[] =
    "CREATE TABLE IF NOT EXISTS commits("
    " first_sequence INTEGER PRIMARY KEY,"
    " last_sequence INTEGER NOT NULL,"
    " crcs BLOB NOT NULL,"
    " keys BLOB NOT NULL,"
    " events BLOB NOT NULL)";
constexpr char kInsertRow[] =
    "INSERT INTO commits(first_sequence, last_sequence, crcs, keys, events)"
    " VALUES(?, ?, ?, ?, ?)";

// Binds a row's columns to kInsertRow, with its checksums in `crcs`, which
// must outlive the step.
void BindRow(sqlite3_stmt* insert, uint64_t first, uint64_t last, absl::string_view crcs,
             absl::string_view keys, absl::string_view events) {
  sqlite3_reset(insert);
  sqlite3_bind_int64(insert, 1, static_cast<sqlite3_int64>(first));
  sqlite3_bind_int64(insert, 2, static_cast<sqlite3_int64>(last));
  sqlite3_bind_blob(insert, 3, crcs.data(), static_cast<int>(crcs.size()), SQLITE_STATIC);
  sqlite3_bind_blob(insert, 4, keys.data(), static_cast<int>(keys.size()), SQLITE_STATIC);
  sqlite3_bind_blob(insert, 5, events.data(), static_cast<int>(events.size()), SQLITE_STATIC);
}

absl::Status InsertRow(sqlite3* db, sqlite3_stmt* insert, const RowBuilder& row) {
  const std::string crcs = row.crcs();
  BindRow(insert, row.first_sequence(), row.last_sequence(), crcs, row.keys(), row.events());
  int rc = sqlite3_step(insert);
  sqlite3_reset(insert);
  if (rc != SQLITE_DONE) {
    return SqliteError(db, absl::StrCat("insert events ", row.first_sequence(), "..", row.last_sequence()));
  }
  return absl::OkStatus();
}

// Adds a record to `row`, writing the row first when it is full.
absl::Status AddToRow(sqlite3* db, sqlite3_stmt* insert, RowBuilder& row, uint64_t sequence, int64_t time_ns,
                      absl::string_view item_key, absl::string_view frame) {
  if (row.Full()) {
    RETURN_IF_ERROR(InsertRow(db, insert, row));
    row.Clear();
  }
  row.Add(sequence, time_ns, item_key, frame);
  return absl::OkStatus();
}

absl::Status FlushRow(sqlite3* db, sqlite3_stmt* insert, RowBuilder& row) {
  if (row.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(InsertRow(db, insert, row));
  row.Clear();
  return absl::OkStatus();
}

// Rewrites a schema 1 journal (one row per event in `events`) as rows of
// runs, in one transaction: all of it or none.
absl::Status MigrateRowPerEvent(sqlite3* db) {
  RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  sqlite3_stmt* scan = nullptr;
  sqlite3_stmt* insert = nullptr;
  absl::Status status;
  if (sqlite3_prepare_v2(db,
                         "SELECT sequence, time_ns, item_key, body FROM events"
                         " ORDER BY sequence",
                         -1, &scan, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db, kInsertRow, -1, &insert, nullptr) != SQLITE_OK) {
    status = SqliteError(db, "prepare conversion");
  }
  RowBuilder row;
  int rc = SQLITE_DONE;
  while (status.ok() && (rc = sqlite3_step(scan)) == SQLITE_ROW) {
    const uint64_t sequence = static_cast<uint64_t>(sqlite3_column_int64(scan, 0));
    absl::StatusOr<EventPtr> event = JournalEvent(sequence, Blob(scan, 3));
    if (!event.ok()) {
      status = event.status();
      break;
    }
    status =
        AddToRow(db, insert, row, sequence, sqlite3_column_int64(scan, 1), Blob(scan, 2), (*event)->frame());
  }
  if (status.ok() && rc != SQLITE_DONE) status = SqliteError(db, "read schema 1 events");
  if (status.ok()) status = FlushRow(db, insert, row);
  sqlite3_finalize(scan);
  sqlite3_finalize(insert);
  if (status.ok()) status = Exec(db, "DROP TABLE events");
  if (status.ok()) {
    status = Exec(
        db,
        absl::StrCat("UPDATE meta SET value = ", kSchemaVersion, " WHERE key = 'schema_version'").c_str());
  }
  if (status.ok()) status = Exec(db, "COMMIT");
  if (!status.ok()) Exec(db, "ROLLBACK").IgnoreError();
  return status;
}

// Rewrites a schema 2 journal's rows with their checksums, in one
// transaction: all of it or none. A row that does not read through, or an
// event whose top level does not parse, is DATA_LOSS and stops it: damage
// found now is not checksummed as sound.
absl::Status MigrateAddChecksums(sqlite3* db) {
  RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  absl::Status status = Exec(db, "ALTER TABLE commits RENAME TO commits_v2");
  if (status.ok()) status = Exec(db, kCreateCommits);
  sqlite3_stmt* scan = nullptr;
  sqlite3_stmt* insert = nullptr;
  if (status.ok() && (sqlite3_prepare_v2(db,
                                         "SELECT first_sequence, last_sequence, keys, events"
                                         " FROM commits_v2 ORDER BY first_sequence",
                                         -1, &scan, nullptr) != SQLITE_OK ||
                      sqlite3_prepare_v2(db, kInsertRow, -1, &insert, nullptr) != SQLITE_OK)) {
    status = SqliteError(db, "prepare checksums");
  }
  int rc = SQLITE_DONE;
  while (status.ok() && (rc = sqlite3_step(scan)) == SQLITE_ROW) {
    const uint64_t first = static_cast<uint64_t>(sqlite3_column_int64(scan, 0));
    const uint64_t last = static_cast<uint64_t>(sqlite3_column_int64(scan, 1));
    const absl::string_view keys = Blob(scan, 2), events = Blob(scan, 3);
    RowReader row(first, last, keys, events, std::nullopt);
    JournalRecord record;
    while (status.ok()) {
      absl::StatusOr<bool> more = row.Next(&record);
      if (!more.ok()) status = more.status();
      if (!more.ok() || !*more) break;
      status = JournalEvent(record.sequence, record.body).status();
    }
    if (!status.ok()) break;
    absl::StatusOr<std::string> crcs = ChecksumRow(first, last, keys, events);
    if (!crcs.ok()) {
      status = crcs.status();
      break;
    }
    BindRow(insert, first, last, *crcs, keys, events);
    if (sqlite3_step(insert) != SQLITE_DONE) {
      status = SqliteError(db, absl::StrCat("checksum row ", first));
    }
    sqlite3_reset(insert);
  }
  if (status.ok() && rc != SQLITE_DONE) status = SqliteError(db, "read schema 2 rows");
  sqlite3_finalize(scan);
  sqlite3_finalize(insert);
  if (status.ok()) status = Exec(db, "DROP TABLE commits_v2");
  if (status.ok()) {
    status = Exec(
        db,
        absl::StrCat("UPDATE meta SET value = ", kSchemaVersion, " WHERE key = 'schema_version'").c_str());
  }
  if (status.ok()) status = Exec(db, "COMMIT");
  if (!status.ok()) Exec(db, "ROLLBACK").IgnoreError();
  return status;
}

// Creates the tables of a new journal, in one transaction.
absl::Status CreateSchema(sqlite3* db) {
  RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  absl::Status status =
      Exec(db, absl::StrCat("CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
                            "INSERT INTO meta VALUES('schema_version', ",
                            kSchemaVersion, "), ('first_sequence', 1);", kCreateCommits, ";",
                            "CREATE TABLE batches("
                            " publisher_id TEXT NOT NULL,"
                            " batch_key TEXT NOT NULL,"
                            " first_sequence INTEGER NOT NULL,"
                            " count INTEGER NOT NULL,"
                            " fingerprint INTEGER NOT NULL,"
                            " PRIMARY KEY(publisher_id, batch_key));")
                   .c_str());
  if (status.ok()) status = Exec(db, "COMMIT");
  if (!status.ok()) Exec(db, "ROLLBACK").IgnoreError();
  return status;
}

// DATA_LOSS unless the rows hold every sequence from `first` to `last`
// (below `first`, retention leaves gaps) and no two overlap.
absl::Status CheckRowRanges(sqlite3* db, uint64_t first, uint64_t last) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT first_sequence, last_sequence FROM commits"
                         " ORDER BY first_sequence",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    return SqliteError(db, "prepare row ranges");
  }
  absl::Status status;
  uint64_t held_to = 0;  // the last sequence of the rows so far
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const uint64_t from = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
    const uint64_t to = static_cast<uint64_t>(sqlite3_column_int64(stmt, 1));
    if (to < from || from <= held_to) {
      status =
          absl::DataLossError(absl::StrCat("journal row from sequence ", from, " overlaps the one before"));
      break;
    }
    const uint64_t due = std::max(first, held_to + 1);
    if (to >= first && from > due) {
      status = absl::DataLossError(absl::StrCat("journal holds no events from sequence ", due, " to ",
                                                from - 1, "; its last sequence is ", last));
      break;
    }
    held_to = to;
  }
  sqlite3_finalize(stmt);
  if (status.ok() && rc != SQLITE_DONE) status = SqliteError(db, "read row ranges");
  return status;
}
}  // namespace

absl::StatusOr<std::unique_ptr<SqliteJournal>> SqliteJournal::Open(const std::string& path,
                                                                   OpenOptions options) {
  // Errors name the file as a user would find it.
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  const std::string full = ec ? path : absolute.lexically_normal().string();
  absl::StatusOr<std::unique_ptr<SqliteJournal>> log = OpenAt(full, options);
  if (!log.ok()) return InJournal(full, log.status());
  return log;
}

absl::StatusOr<std::unique_ptr<SqliteJournal>> SqliteJournal::OpenAt(const std::string& path,
                                                                     const OpenOptions& options) {
  // A damaged header is found before SQLite reads (or writes) the file.
  ASSIGN_OR_RETURN(const bool existing, CheckJournalHeader(path));
  std::unique_ptr<SqliteJournal> log(new SqliteJournal());
  absl::MutexLock w(&log->write_mu_);
  log->path_ = path;
  ASSIGN_OR_RETURN(log->writer_, OpenConnection(path, /*create=*/true));
  sqlite3* db = log->writer_;
  // 64 KiB pages (a new journal only; an existing one keeps its size): a
  // commit writes a few large WAL frames instead of dozens of 4 KiB ones, for
  // less server CPU per published event (tests/bench/README.md, "64 KiB SQLite
  // pages").
  if (!existing) RETURN_IF_ERROR(Exec(db, "PRAGMA page_size=65536"));
  RETURN_IF_ERROR(Exec(db, "PRAGMA journal_mode=WAL"));
  // FULL: the WAL is synced at every commit, so an acknowledged append
  // survives power loss, not only a process crash.
  RETURN_IF_ERROR(Exec(db, options.sync_commits ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  // Debian builds SQLite with secure_delete on, which zeroes every b-tree page
  // it makes (a whole 64 KiB memset per commit, on top of the pager's own) and
  // every page it frees. Retention frees space; it does not promise erasure.
  RETURN_IF_ERROR(Exec(db, "PRAGMA secure_delete=OFF"));
  // No table at all: a new journal (or one whose creation did not commit).
  // Tables missing from an existing one are damage, never created anew.
  ASSIGN_OR_RETURN(const int64_t tables,
                   QueryInt(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"));
  if (tables == 0) {
    // A new journal is one page at most; more pages and no table is damage
    // (a schema page that reads as empty), not a journal to create anew.
    ASSIGN_OR_RETURN(const int64_t pages, QueryInt(db, "PRAGMA page_count"));
    if (pages > 1) {
      return absl::DataLossError(
          absl::StrCat("journal ", path, " is damaged: it has ", pages, " pages but no table"));
    }
    RETURN_IF_ERROR(CreateSchema(db));
  }
  ASSIGN_OR_RETURN(const int version, SchemaVersion(db, path));
  // An existing journal keeps the page size it was made with.
  ASSIGN_OR_RETURN(const int64_t page_size, QueryInt(db, "PRAGMA page_size"));
  log->background_checkpoint_frames_ = FramesOf(kBackgroundCheckpointBytes, static_cast<int>(page_size));
  log->inline_checkpoint_frames_ = FramesOf(kInlineCheckpointBytes, static_cast<int>(page_size));
  log->commit_checkpoint_frames_ = FramesOf(kCommitCheckpointBytes, static_cast<int>(page_size));
  if (version == kRowPerEventSchema) {
    RETURN_IF_ERROR(Exec(db, kCreateCommits));
    RETURN_IF_ERROR(MigrateRowPerEvent(db));
    Log().info("journal {}: converted to schema version {}", path, kSchemaVersion);
  } else if (version == kRowsWithoutChecksumsSchema) {
    RETURN_IF_ERROR(MigrateAddChecksums(db));
    Log().info("journal {}: checksummed, schema version {}", path, kSchemaVersion);
  }
  {
    ASSIGN_OR_RETURN(const int64_t first,
                     QueryInt(db, "SELECT value FROM meta WHERE key = 'first_sequence'"));
    ASSIGN_OR_RETURN(const int64_t last, QueryInt(db, "SELECT COALESCE(MAX(last_sequence), 0) FROM commits"));
    if (first < 1 || last < 0) {
      return absl::DataLossError(absl::StrCat("journal ", path, " is damaged: its first sequence is ", first,
                                              " and its last ", last));
    }
    log->first_sequence_ = static_cast<uint64_t>(first);
    log->last_sequence_ = static_cast<uint64_t>(last);
    RETURN_IF_ERROR(CheckRowRanges(db, log->first_sequence_, log->last_sequence_));
  }
  {
    // Made with the journal (or at the first open of an older one).
    ASSIGN_OR_RETURN(int64_t incarnation, QueryInt(db,
                                                   "SELECT COALESCE((SELECT value FROM meta"
                                                   " WHERE key = 'incarnation'), 0)"));
    const std::string acked_path = path + "-acked";
    const uint64_t acked = ReadAcked(acked_path);
    const uint64_t last = log->last_sequence_;
    if (acked > last) {
      if (!options.accept_loss) {
        return absl::DataLossError(
            absl::StrCat("journal ", path, " ends at sequence ", last, " but sequence ", acked,
                         " was acknowledged (", acked_path,
                         "): committed events were lost, e.g. with its "
                         "-wal file. Restore the journal, or start with --accept_journal_loss to go on "
                         "from sequence ",
                         last, " as a new incarnation (subscribers resync)"));
      }
      Log().warn(
          "journal {}: events {} to {} were acknowledged and are lost; going on from "
          "sequence {} as a new incarnation (--accept_journal_loss)",
          path, last + 1, acked, last);
      incarnation = 0;
    }
    if (incarnation == 0) {
      incarnation = NewIncarnation();
      RETURN_IF_ERROR(Exec(
          db, absl::StrCat("INSERT OR REPLACE INTO meta VALUES('incarnation', ", incarnation, ")").c_str()));
    }
    log->incarnation_ = absl::StrCat("sqlite-", absl::Hex(incarnation, absl::kZeroPad16));
    log->acked_fd_ = open(acked_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (log->acked_fd_ < 0) {
      return absl::FailedPreconditionError(absl::StrCat("cannot open ", acked_path, ": ", strerror(errno)));
    }
    log->WriteAcked(last);
  }
  if (sqlite3_prepare_v2(db, kInsertRow, -1, &log->insert_, nullptr) != SQLITE_OK) {
    return SqliteError(db, "prepare insert");
  }
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO batches(publisher_id, batch_key, first_sequence,"
                         " count, fingerprint) VALUES(?, ?, ?, ?, ?)",
                         -1, &log->insert_batch_, nullptr) != SQLITE_OK) {
    return SqliteError(db, "prepare insert batch");
  }
  ASSIGN_OR_RETURN(log->checkpointer_, OpenConnection(path, /*create=*/false));
  // A connection opens the WAL at its first read; until then a checkpoint
  // through it copies nothing (and reports -1 frames), which left all the
  // copying to the commits.
  RETURN_IF_ERROR(Exec(log->checkpointer_, "SELECT COUNT(*) FROM meta"));
  // Replaces SQLite's automatic checkpoint, which runs inside the commit.
  sqlite3_wal_hook(db, &SqliteJournal::OnWalCommit, log.get());
  log->checkpoint_thread_ = std::thread([l = log.get()] { l->CheckpointLoop(); });
  ASSIGN_OR_RETURN(std::unique_ptr<Reader> reader, OpenReader(path));
  {
    absl::MutexLock r(&log->readers_mu_);
    log->idle_readers_.push_back(std::move(reader));
  }
  return log;
}

// Idle read connections kept for the next reads; more are opened when
// more reads run at once, and closed when they end.
constexpr size_t kMaxIdleReaders = 4;

SqliteJournal::Reader::~Reader() {
  sqlite3_finalize(select);
  sqlite3_close(db);
}

// A read connection taken from the idle ones, given back when done.
class SqliteJournal::ReadLease {
 public:
  ReadLease(SqliteJournal* journal, std::unique_ptr<Reader> reader)
      : journal_(journal), reader_(std::move(reader)) {}
  ReadLease(ReadLease&& other) = default;
  ~ReadLease() {
    if (reader_ == nullptr) return;
    absl::MutexLock lock(&journal_->readers_mu_);
    if (journal_->idle_readers_.size() < kMaxIdleReaders) {
      journal_->idle_readers_.push_back(std::move(reader_));
    }
  }
  Reader* operator->() const { return reader_.get(); }

 private:
  SqliteJournal* journal_;
  std::unique_ptr<Reader> reader_;
};

absl::StatusOr<std::unique_ptr<SqliteJournal::Reader>> SqliteJournal::OpenReader(const std::string& path) {
  auto reader = std::make_unique<Reader>();
  ASSIGN_OR_RETURN(reader->db, OpenConnection(path, /*create=*/false));
  // From the row holding the event after ?1 (or the first row) to ?2.
  if (sqlite3_prepare_v2(reader->db,
                         "SELECT first_sequence, last_sequence, keys, events, crcs FROM commits"
                         " WHERE first_sequence >= COALESCE((SELECT first_sequence FROM commits"
                         "   WHERE first_sequence <= ?1 + 1 ORDER BY first_sequence DESC LIMIT 1),"
                         "   0)"
                         " AND first_sequence <= ?2 ORDER BY first_sequence",
                         -1, &reader->select, nullptr) != SQLITE_OK) {
    return SqliteError(reader->db, "prepare select");
  }
  return reader;
}

absl::StatusOr<SqliteJournal::ReadLease> SqliteJournal::AcquireReader() {
  {
    absl::MutexLock lock(&readers_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Reader> reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReadLease(this, std::move(reader));
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Reader> reader, OpenReader(path_));
  return ReadLease(this, std::move(reader));
}

int SqliteJournal::OnWalCommit(void* arg, sqlite3* db, const char* name, int frames) {
  auto* log = static_cast<SqliteJournal*>(arg);
  if (frames < log->background_checkpoint_frames_) return SQLITE_OK;
  absl::MutexLock lock(&log->checkpoint_mu_);
  // The checkpointer cannot finish while commits keep coming; once it has
  // copied the bulk, the commit copies the few frames written since, so the
  // checkpoint completes and the next transaction starts the WAL over.
  if (log->checkpoint_phase_ == CheckpointPhase::kCopied || frames >= log->inline_checkpoint_frames_) {
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    log->checkpoint_phase_ = CheckpointPhase::kIdle;
  } else if (log->checkpoint_phase_ == CheckpointPhase::kIdle) {
    log->checkpoint_phase_ = CheckpointPhase::kDue;
  }
  return SQLITE_OK;
}

void SqliteJournal::CheckpointLoop() {
  while (true) {
    {
      absl::MutexLock lock(&checkpoint_mu_);
      checkpoint_mu_.Await(absl::Condition(
          +[](SqliteJournal* l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(l->checkpoint_mu_) {
            return l->checkpoint_phase_ == CheckpointPhase::kDue || l->stopping_;
          },
          this));
      if (stopping_) return;
      checkpoint_phase_ = CheckpointPhase::kCopying;
    }
    // PASSIVE: never waits for, nor blocks, the writer or the readers.
    // Passes repeat until what is left for the commit to copy is small.
    int log_frames = 0, copied = 0;
    int rc =
        sqlite3_wal_checkpoint_v2(checkpointer_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
    absl::MutexLock lock(&checkpoint_mu_);
    if (checkpoint_phase_ == CheckpointPhase::kCopying) {
      checkpoint_phase_ = rc == SQLITE_OK && log_frames - copied > commit_checkpoint_frames_
                              ? CheckpointPhase::kDue
                              : CheckpointPhase::kCopied;
    }
  }
}

bool SqliteJournal::AwaitCheckpointer(absl::Duration timeout) {
  absl::MutexLock lock(&checkpoint_mu_);
  return checkpoint_mu_.AwaitWithTimeout(
      absl::Condition(
          +[](SqliteJournal* l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(l->checkpoint_mu_) {
            return l->checkpoint_phase_ != CheckpointPhase::kDue &&
                   l->checkpoint_phase_ != CheckpointPhase::kCopying;
          },
          this),
      timeout);
}

SqliteJournal::~SqliteJournal() {
  if (checkpoint_thread_.joinable()) {
    {
      absl::MutexLock lock(&checkpoint_mu_);
      stopping_ = true;
    }
    checkpoint_thread_.join();
  }
  sqlite3_close(checkpointer_);
  {
    absl::MutexLock r(&readers_mu_);
    idle_readers_.clear();
  }
  absl::MutexLock w(&write_mu_);
  if (acked_fd_ >= 0) close(acked_fd_);
  sqlite3_finalize(insert_batch_);
  sqlite3_finalize(insert_);
  sqlite3_close(writer_);
}

absl::Status SqliteJournal::Append(const std::vector<EventPtr>& events,
                                   const std::vector<BatchRecord>& batches) {
  absl::MutexLock lock(&write_mu_);
  uint64_t expected = last_sequence_ + 1;
  for (const EventPtr& e : events) {
    if (e->sequence() != expected++) {
      return absl::InternalError(
          absl::StrCat("append out of order: sequence ", e->sequence(), " where ", expected - 1, " was due"));
    }
  }
  RETURN_IF_ERROR(Exec(writer_, "BEGIN IMMEDIATE"));
  RowBuilder& row = row_;
  row.Clear();
  absl::Status rows;
  for (const EventPtr& e : events) {
    rows =
        AddToRow(writer_, insert_, row, e->sequence(), e->attrs().time_ns, e->attrs().item_key, e->frame());
    if (!rows.ok()) break;
  }
  if (rows.ok()) rows = FlushRow(writer_, insert_, row);
  if (!rows.ok()) {
    Exec(writer_, "ROLLBACK").IgnoreError();
    return rows;
  }
  for (const BatchRecord& batch : batches) {
    sqlite3_reset(insert_batch_);
    sqlite3_bind_text(insert_batch_, 1, batch.publisher_id.data(),
                      static_cast<int>(batch.publisher_id.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert_batch_, 2, batch.batch_key.data(), static_cast<int>(batch.batch_key.size()),
                      SQLITE_STATIC);
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
  WriteAcked(last_sequence_);
  return absl::OkStatus();
}

void SqliteJournal::WriteAcked(uint64_t last) {
  unsigned char buf[16];
  memcpy(buf, kAckedMagic, 8);
  for (int i = 0; i < 8; ++i) buf[8 + i] = static_cast<unsigned char>(last >> (8 * i));
  if (pwrite(acked_fd_, buf, sizeof(buf), 0) != static_cast<ssize_t>(sizeof(buf))) {
    Log().warn("journal {}: cannot record sequence {} in its -acked file: {}", path_, last, strerror(errno));
  }
}

uint64_t SqliteJournal::last_sequence() const { return last_sequence_.load(); }

uint64_t SqliteJournal::first_sequence() const { return first_sequence_.load(); }

absl::StatusOr<size_t> SqliteJournal::Read(uint64_t after, uint64_t up_to, size_t max_count,
                                           const std::function<void(EventPtr)>& fn) {
  return InJournal(path_, ReadEvents(after, up_to, max_count, /*share_rows=*/false, fn));
}

absl::StatusOr<size_t> SqliteJournal::ReadToSend(uint64_t after, uint64_t up_to, size_t max_count,
                                                 const std::function<void(EventPtr)>& fn) {
  return InJournal(path_, ReadEvents(after, up_to, max_count, /*share_rows=*/true, fn));
}

absl::StatusOr<size_t> SqliteJournal::ReadEvents(uint64_t after, uint64_t up_to, size_t max_count,
                                                 bool share_rows, const std::function<void(EventPtr)>& fn) {
  std::vector<EventPtr> batch;
  const uint64_t complete_from = first_sequence();
  if (max_count == 0 || up_to <= after) return 0;
  // With share_rows, the frames a row gives are copied once, into one buffer.
  struct Span {
    uint64_t sequence;
    size_t begin, end, body_offset;  // in the row's events blob
  };
  std::vector<Span> spans;
  {
    ASSIGN_OR_RETURN(ReadLease reader, AcquireReader());
    sqlite3_stmt* const select = reader->select;
    sqlite3_reset(select);
    sqlite3_bind_int64(select, 1, static_cast<sqlite3_int64>(after));
    sqlite3_bind_int64(select, 2, static_cast<sqlite3_int64>(up_to));
    absl::Status status;
    int rc = SQLITE_DONE;
    uint64_t expected = after + 1;
    bool done = false;  // past up_to, or max_count read
    while (!done && status.ok() && (rc = sqlite3_step(select)) == SQLITE_ROW) {
      const absl::string_view events = Blob(select, 3);
      RowReader row(static_cast<uint64_t>(sqlite3_column_int64(select, 0)),
                    static_cast<uint64_t>(sqlite3_column_int64(select, 1)), Blob(select, 2), events,
                    Blob(select, 4));
      JournalRecord record;
      spans.clear();
      while (status.ok()) {
        absl::StatusOr<bool> more = row.Next(&record);
        if (!more.ok()) status = more.status();
        if (!more.ok() || !*more) break;
        if (record.sequence <= after) continue;
        if (record.sequence > up_to) {
          done = true;
          break;
        }
        if (record.sequence != expected && record.sequence > complete_from) {
          status = absl::DataLossError(
              absl::StrCat("journal gap: found sequence ", record.sequence, " where ", expected, " was due"));
          break;
        }
        expected = record.sequence + 1;
        // A damaged event fails the whole read: none of its bytes are handed out.
        status = row.Verify(record);
        if (!status.ok()) break;
        if (share_rows) {
          const size_t begin = static_cast<size_t>(record.frame.data() - events.data());
          spans.push_back({record.sequence, begin, begin + record.frame.size(),
                           static_cast<size_t>(record.body.data() - record.frame.data())});
        } else {
          // Not parsed here: a replay to an unfiltered subscriber sends the bytes.
          absl::StatusOr<EventPtr> event = JournalEvent(record.sequence, record.body);
          if (!event.ok()) {
            status = event.status();
            break;
          }
          batch.push_back(*std::move(event));
        }
        if (batch.size() + spans.size() == max_count) {
          done = true;
          break;
        }
      }
      if (status.ok() && !spans.empty()) {
        const size_t base = spans.front().begin;
        const Bytes frames = Bytes::CopyOf(absl::string_view(events.data() + base, spans.back().end - base));
        for (const Span& span : spans) {
          absl::StatusOr<EventPtr> event =
              JournalEventIn(span.sequence, frames, span.begin - base, span.end - base, span.body_offset);
          if (!event.ok()) {
            status = event.status();
            break;
          }
          batch.push_back(*std::move(event));
        }
      }
    }
    sqlite3_reset(select);
    RETURN_IF_ERROR(status);
    if (!done && rc != SQLITE_DONE) return SqliteError(reader->db, "read events");
  }
  for (EventPtr& e : batch) fn(std::move(e));
  return batch.size();
}

absl::Status SqliteJournal::ReadView(View view, absl::Time as_of, uint64_t up_to,
                                     const std::function<void(EventPtr)>& fn) {
  return InJournal(path_, ReadViewAt(view, as_of, up_to, fn));
}

absl::Status SqliteJournal::ReadViewAt(View view, absl::Time as_of, uint64_t up_to,
                                       const std::function<void(EventPtr)>& fn) {
  std::vector<EventPtr> events;
  {
    ASSIGN_OR_RETURN(ReadLease reader, AcquireReader());
    sqlite3* const db = reader->db;
    // One pass over the rows' keys, in sequence order, picks each item's
    // revision; then only the rows holding those are read whole.
    sqlite3_stmt* scan = nullptr;
    if (sqlite3_prepare_v2(db,
                           "SELECT first_sequence, last_sequence, keys, crcs FROM commits"
                           " WHERE first_sequence <= ?1 ORDER BY first_sequence",
                           -1, &scan, nullptr) != SQLITE_OK) {
      return SqliteError(db, "prepare view");
    }
    sqlite3_bind_int64(scan, 1, static_cast<sqlite3_int64>(up_to));
    const int64_t as_of_ns = absl::ToUnixNanos(as_of);
    absl::flat_hash_map<std::string, uint64_t> chosen;
    std::vector<uint64_t> row_starts;
    absl::Status status;
    int rc;
    while (status.ok() && (rc = sqlite3_step(scan)) == SQLITE_ROW) {
      RowReader row(static_cast<uint64_t>(sqlite3_column_int64(scan, 0)),
                    static_cast<uint64_t>(sqlite3_column_int64(scan, 1)), Blob(scan, 2), {}, Blob(scan, 3));
      row_starts.push_back(static_cast<uint64_t>(sqlite3_column_int64(scan, 0)));
      JournalRecord record;
      while (true) {
        absl::StatusOr<bool> more = row.NextKey(&record);
        if (!more.ok()) status = more.status();
        if (!more.ok() || !*more) break;
        if (record.sequence > up_to) break;
        if (view == View::kAsOf && record.time_ns > as_of_ns) continue;
        auto [it, added] = chosen.try_emplace(record.item_key, record.sequence);
        if (!added && view != View::kFirstReported) it->second = record.sequence;
      }
    }
    sqlite3_finalize(scan);
    RETURN_IF_ERROR(status);
    if (rc != SQLITE_DONE) return SqliteError(db, "read view");

    std::vector<uint64_t> sequences;
    sequences.reserve(chosen.size());
    for (const auto& [key, sequence] : chosen) sequences.push_back(sequence);
    std::sort(sequences.begin(), sequences.end());
    sqlite3_stmt* read_row = nullptr;
    if (sqlite3_prepare_v2(db,
                           "SELECT last_sequence, keys, events, crcs FROM commits"
                           " WHERE first_sequence = ?1",
                           -1, &read_row, nullptr) != SQLITE_OK) {
      return SqliteError(db, "prepare view row");
    }
    size_t next = 0;
    while (status.ok() && next < sequences.size()) {
      // The row holding sequences[next]: the last one starting at or before it.
      const uint64_t start = *(std::upper_bound(row_starts.begin(), row_starts.end(), sequences[next]) - 1);
      sqlite3_reset(read_row);
      sqlite3_bind_int64(read_row, 1, static_cast<sqlite3_int64>(start));
      if (sqlite3_step(read_row) != SQLITE_ROW) {
        status = SqliteError(db, absl::StrCat("read view row ", start));
        break;
      }
      RowReader row(start, static_cast<uint64_t>(sqlite3_column_int64(read_row, 0)), Blob(read_row, 1),
                    Blob(read_row, 2), Blob(read_row, 3));
      JournalRecord record;
      const size_t before = next;
      while (status.ok() && next < sequences.size()) {
        absl::StatusOr<bool> more = row.Next(&record);
        if (!more.ok()) status = more.status();
        if (!more.ok() || !*more) break;
        if (record.sequence != sequences[next]) continue;
        ++next;
        status = row.Verify(record);
        if (!status.ok()) break;
        absl::StatusOr<EventPtr> event = DecodeEvent(record.body);
        if (!event.ok()) {
          status = event.status();
          break;
        }
        events.push_back(*std::move(event));
      }
      if (status.ok() && next == before) {
        status = absl::DataLossError(
            absl::StrCat("journal row from sequence ", start, " no longer holds sequence ", sequences[next]));
      }
    }
    sqlite3_finalize(read_row);
    RETURN_IF_ERROR(status);
  }
  for (EventPtr& e : events) fn(std::move(e));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<BatchLocation>> SqliteJournal::FindBatch(const std::string& publisher_id,
                                                                      const std::string& batch_key) {
  ASSIGN_OR_RETURN(ReadLease reader, AcquireReader());
  sqlite3* const db = reader->db;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT first_sequence, count, fingerprint FROM batches"
                         " WHERE publisher_id = ? AND batch_key = ?",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    return SqliteError(db, "prepare find batch");
  }
  sqlite3_bind_text(stmt, 1, publisher_id.data(), static_cast<int>(publisher_id.size()), SQLITE_STATIC);
  sqlite3_bind_text(stmt, 2, batch_key.data(), static_cast<int>(batch_key.size()), SQLITE_STATIC);
  std::optional<BatchLocation> found;
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    found = BatchLocation{static_cast<uint64_t>(sqlite3_column_int64(stmt, 0)),
                          static_cast<uint64_t>(sqlite3_column_int64(stmt, 1)),
                          static_cast<uint64_t>(sqlite3_column_int64(stmt, 2))};
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqliteError(db, "find batch");
  return found;
}

absl::StatusOr<size_t> SqliteJournal::Prune(uint64_t horizon, std::vector<uint64_t> keep) {
  absl::MutexLock lock(&write_mu_);
  horizon = std::min<uint64_t>(horizon, last_sequence_ + 1);
  if (horizon <= first_sequence_) return 0;
  const absl::flat_hash_set<uint64_t> kept(keep.begin(), keep.end());
  RETURN_IF_ERROR(Exec(writer_, "BEGIN IMMEDIATE"));
  // A pass over the keys of the rows starting below the horizon finds those
  // with events to delete; only those rows are read whole, deleted and
  // written again without them. Rows holding only kept revisions stay as
  // they are. A row may reach past the horizon: gaps are allowed below it.
  struct Span {
    uint64_t first, last;
  };
  std::vector<Span> touched;
  size_t deleted = 0;
  absl::Status status;
  sqlite3_stmt* scan = nullptr;
  sqlite3_stmt* read_row = nullptr;
  sqlite3_stmt* erase = nullptr;
  if (sqlite3_prepare_v2(writer_,
                         "SELECT first_sequence, last_sequence, keys, crcs FROM commits"
                         " WHERE first_sequence < ?1 ORDER BY first_sequence",
                         -1, &scan, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(writer_, "SELECT keys, events, crcs FROM commits WHERE first_sequence = ?1", -1,
                         &read_row, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(writer_, "DELETE FROM commits WHERE first_sequence = ?1", -1, &erase, nullptr) !=
          SQLITE_OK) {
    status = SqliteError(writer_, "prepare prune");
  } else {
    sqlite3_bind_int64(scan, 1, static_cast<sqlite3_int64>(horizon));
    int rc;
    while (status.ok() && (rc = sqlite3_step(scan)) == SQLITE_ROW) {
      const Span span{static_cast<uint64_t>(sqlite3_column_int64(scan, 0)),
                      static_cast<uint64_t>(sqlite3_column_int64(scan, 1))};
      RowReader row(span.first, span.last, Blob(scan, 2), {}, Blob(scan, 3));
      JournalRecord r;
      bool touch = false;
      while (true) {
        absl::StatusOr<bool> more = row.NextKey(&r);
        if (!more.ok()) status = more.status();
        if (!more.ok() || !*more) break;
        if (r.sequence < horizon && !kept.contains(r.sequence)) {
          ++deleted;
          touch = true;
        }
      }
      if (touch) touched.push_back(span);
    }
    if (status.ok() && rc != SQLITE_DONE) status = SqliteError(writer_, "read for prune");
  }
  sqlite3_finalize(scan);
  RowBuilder rebuilt;
  for (size_t t = 0; status.ok() && t < touched.size(); ++t) {
    const Span span = touched[t];
    sqlite3_reset(read_row);
    sqlite3_bind_int64(read_row, 1, static_cast<sqlite3_int64>(span.first));
    if (sqlite3_step(read_row) != SQLITE_ROW) {
      status = SqliteError(writer_, absl::StrCat("read for prune, row ", span.first));
      break;
    }
    // The survivors are copied: the row's blobs go with its deletion.
    const absl::string_view k = Blob(read_row, 0), e = Blob(read_row, 1), c = Blob(read_row, 2);
    const std::string keys(k.data(), k.size()), events(e.data(), e.size()), crcs(c.data(), c.size());
    sqlite3_reset(read_row);
    sqlite3_reset(erase);
    sqlite3_bind_int64(erase, 1, static_cast<sqlite3_int64>(span.first));
    if (sqlite3_step(erase) != SQLITE_DONE) {
      status = SqliteError(writer_, "prune");
      break;
    }
    RowReader row(span.first, span.last, keys, events, crcs);
    JournalRecord r;
    while (status.ok()) {
      absl::StatusOr<bool> more = row.Next(&r);
      if (!more.ok()) status = more.status();
      if (!more.ok() || !*more) break;
      if (r.sequence < horizon && !kept.contains(r.sequence)) continue;
      // Kept events are checksummed again: damage must not pass as sound.
      status = row.Verify(r);
      if (!status.ok()) break;
      status = AddToRow(writer_, insert_, rebuilt, r.sequence, r.time_ns, r.item_key, r.frame);
    }
    // Within the old row's span, so rows stay disjoint.
    if (status.ok()) status = FlushRow(writer_, insert_, rebuilt);
  }
  sqlite3_finalize(read_row);
  sqlite3_finalize(erase);
  if (status.ok()) {
    status = Exec(writer_,
                  absl::StrCat("UPDATE meta SET value = ", horizon, " WHERE key = 'first_sequence'").c_str());
  }
  if (status.ok()) status = Exec(writer_, "COMMIT");
  if (!status.ok()) {
    Exec(writer_, "ROLLBACK").IgnoreError();
    return InJournal(path_, status);
  }
  first_sequence_ = horizon;
  return deleted;
}

}  // namespace kessan
