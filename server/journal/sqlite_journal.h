// SqliteJournal: the embedded Journal, one SQLite file in WAL mode.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "journal/journal.h"
#include "journal/journal_rows.h"

struct sqlite3;
struct sqlite3_stmt;

namespace kessan {

// SqliteJournal keeps the journal in one SQLite database file (WAL,
// synchronous=FULL, so a committed append survives a crash or power loss;
// see OpenOptions::sync_commits for a cache).
// One connection writes; each read runs on a read connection of its own
// (idle ones are kept for the next read), so a long read (a view over the
// whole journal) holds up neither the writer nor the other readers.
class SqliteJournal final : public Journal {
 public:
  struct OpenOptions {
    // Open a journal that lost acknowledged events (see Open) as a new
    // incarnation instead of refusing it.
    bool accept_loss = false;
    // false: synchronous=NORMAL, no sync per commit (a commit survives a
    // crash of the process, not a power loss): for a cache of a journal kept
    // durably elsewhere.
    bool sync_commits = true;
  };
  // Opens or creates the journal at `path`; a journal of an earlier schema
  // is converted. Damage found (the file's header, its tables, a missing
  // row) is DATA_LOSS naming the file; the events' checksums are checked as
  // they are read, and so all of them by a replay of the whole journal.
  // "<path>-acked" records the last sequence acknowledged, written after
  // each commit (not synced: it can only lag). A journal that ends below it
  // lost acknowledged events (a WAL truncated or lost after a crash): DATA_LOSS
  // saying so, unless `accept_loss`, which gives it a new incarnation.
  static absl::StatusOr<std::unique_ptr<SqliteJournal>> Open(const std::string& path, OpenOptions options);
  static absl::StatusOr<std::unique_ptr<SqliteJournal>> Open(const std::string& path) {
    return Open(path, OpenOptions());
  }
  ~SqliteJournal() override;

  using Journal::Append;
  absl::Status Append(const std::vector<EventPtr>& events, const std::vector<BatchRecord>& batches) override;
  std::string incarnation() const override { return incarnation_; }
  uint64_t last_sequence() const override;
  uint64_t first_sequence() const override;
  absl::StatusOr<size_t> Read(uint64_t after, uint64_t up_to, size_t max_count,
                              const std::function<void(EventPtr)>& fn) override;
  absl::StatusOr<size_t> ReadToSend(uint64_t after, uint64_t up_to, size_t max_count,
                                    const std::function<void(EventPtr)>& fn) override;
  absl::Status ReadView(View view, absl::Time as_of, uint64_t up_to,
                        const std::function<void(EventPtr)>& fn) override;
  absl::StatusOr<std::optional<BatchLocation>> FindBatch(const std::string& publisher_id,
                                                         const std::string& batch_key) override;
  absl::StatusOr<size_t> Prune(uint64_t horizon, std::vector<uint64_t> keep) override;

  // Waits, at most `timeout`, until the checkpointer has no copy due or
  // under way; true if so. Lets a test bound the WAL without timing it.
  bool AwaitCheckpointer(absl::Duration timeout);

 private:
  SqliteJournal() = default;
  // Open, `path` absolute; its errors without the path.
  static absl::StatusOr<std::unique_ptr<SqliteJournal>> OpenAt(const std::string& path,
                                                               const OpenOptions& options);
  // Records `last` in the acked file.
  void WriteAcked(uint64_t last) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  // A read connection with its prepared statement of ReadEvents.
  struct Reader {
    ~Reader();
    sqlite3* db = nullptr;
    sqlite3_stmt* select = nullptr;
  };
  class ReadLease;
  // An idle read connection, or a new one.
  absl::StatusOr<ReadLease> AcquireReader();
  static absl::StatusOr<std::unique_ptr<Reader>> OpenReader(const std::string& path);

  // ReadView, its errors without the path.
  absl::Status ReadViewAt(View view, absl::Time as_of, uint64_t up_to,
                          const std::function<void(EventPtr)>& fn);
  // Read and ReadToSend: `share_rows` gives the events of a row one buffer.
  absl::StatusOr<size_t> ReadEvents(uint64_t after, uint64_t up_to, size_t max_count, bool share_rows,
                                    const std::function<void(EventPtr)>& fn);

  // Called by SQLite after each commit with the WAL's size in frames.
  static int OnWalCommit(void* log, sqlite3* db, const char* name, int frames);
  // Copies the WAL into the database file off the publish path.
  void CheckpointLoop();

  mutable absl::Mutex write_mu_;
  sqlite3* writer_ ABSL_GUARDED_BY(write_mu_) = nullptr;
  sqlite3_stmt* insert_ ABSL_GUARDED_BY(write_mu_) = nullptr;
  sqlite3_stmt* insert_batch_ ABSL_GUARDED_BY(write_mu_) = nullptr;
  // Append's row, kept between appends so that its buffers keep their size.
  RowBuilder row_ ABSL_GUARDED_BY(write_mu_);
  // Written under write_mu_; read without it, so readers never wait for a
  // commit's fsync.
  std::atomic<uint64_t> last_sequence_{0};
  std::atomic<uint64_t> first_sequence_{1};

  // The checkpointer: its own connection and thread, woken by OnWalCommit.
  // Its bounds in WAL frames (pages), set once by Open.
  int background_checkpoint_frames_ = 0;
  int inline_checkpoint_frames_ = 0;
  int commit_checkpoint_frames_ = 0;
  sqlite3* checkpointer_ = nullptr;
  std::thread checkpoint_thread_;
  absl::Mutex checkpoint_mu_;
  enum class CheckpointPhase { kIdle, kDue, kCopying, kCopied };
  CheckpointPhase checkpoint_phase_ ABSL_GUARDED_BY(checkpoint_mu_) = CheckpointPhase::kIdle;
  bool stopping_ ABSL_GUARDED_BY(checkpoint_mu_) = false;

  std::string path_;
  std::string incarnation_;
  int acked_fd_ ABSL_GUARDED_BY(write_mu_) = -1;
  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<Reader>> idle_readers_ ABSL_GUARDED_BY(readers_mu_);
};

}  // namespace kessan
