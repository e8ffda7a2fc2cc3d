// The journal's row format: one row holds a run of events in sequence order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/io/coded_stream.h"

namespace kessan {

// A row of the journal's `commits` table holds up to kMaxRowEvents events
// (and about kMaxRowBytes of them) in three blobs:
// - `events`: their frames back to back, each as EncodedEvent::frame()
//   (SubscribeResponse.events tag, length, FeedEvent bytes);
// - `keys`: per event, in the same order, varint(sequence - first_sequence),
//   fixed64 commit time in ns, varint(key length), item key: what views and
//   retention need without parsing the events;
// - `crcs`: CRC32C checksums, fixed32 each: KeysChecksum of the row, then
//   per event EventChecksum. Both cover sequences, so a row or a frame moved
//   to other sequences fails them too.
// One row per run of events, not per event: SQLite's cost per insert hardly
// depends on the row's size and is the larger part of a durable publish
// (tests/bench/README.md, "One journal row per run of events").
inline constexpr size_t kMaxRowEvents = 1024;
inline constexpr size_t kMaxRowBytes = 256 * 1024;

// CRC32C of fixed64 first, fixed64 last and the keys blob.
uint32_t KeysChecksum(uint64_t first_sequence, uint64_t last_sequence, absl::string_view keys);
// CRC32C of fixed64 sequence and the event's frame.
uint32_t EventChecksum(uint64_t sequence, absl::string_view frame);

// The crcs blob of a row of a journal written without one (schema 2), read
// through first: DATA_LOSS when it is damaged.
absl::StatusOr<std::string> ChecksumRow(uint64_t first_sequence, uint64_t last_sequence,
                                        absl::string_view keys, absl::string_view events);

// One event of a row.
struct JournalRecord {
  uint64_t sequence = 0;
  int64_t time_ns = 0;
  absl::string_view item_key;
  absl::string_view frame;
  // The FeedEvent bytes inside frame.
  absl::string_view body;
};

// Builds one row; the caller starts another once Full().
class RowBuilder {
 public:
  // Records must come in increasing sequence order.
  void Add(uint64_t sequence, int64_t time_ns, absl::string_view item_key, absl::string_view frame);
  bool empty() const { return count_ == 0; }
  bool Full() const { return count_ >= kMaxRowEvents || events_.size() >= kMaxRowBytes; }
  uint64_t first_sequence() const { return first_; }
  uint64_t last_sequence() const { return last_; }
  size_t count() const { return count_; }
  const std::string& keys() const { return keys_; }
  const std::string& events() const { return events_; }
  // The crcs blob of the row so far.
  std::string crcs() const;
  void Clear();

 private:
  uint64_t first_ = 0;
  uint64_t last_ = 0;
  size_t count_ = 0;
  std::string keys_;
  std::string events_;
  std::vector<uint32_t> event_crcs_;  // EventChecksum of each event, in order
};

// Walks a row's records in order, checking its structure: each key entry
// has a frame, sequences increase from first_sequence to last_sequence.
// With `crcs` (nullopt only for a row of a journal that had none), the keys
// are checked against their checksum before the first record, and Verify
// checks an event's frame. Does not parse the FeedEvents (JournalEvent
// checks their top level).
class RowReader {
 public:
  RowReader(uint64_t first_sequence, uint64_t last_sequence, absl::string_view keys, absl::string_view events,
            std::optional<absl::string_view> crcs);

  // The next record into `out`: true; false at the end of the row. DATA_LOSS
  // naming the row when it is damaged.
  absl::StatusOr<bool> Next(JournalRecord* out);
  // Only the keys: `out->frame` and `out->body` are left empty.
  absl::StatusOr<bool> NextKey(JournalRecord* out);
  // DATA_LOSS naming the event when `record`, the last one Next gave, fails
  // its checksum. The reader stays usable: Next goes on to the next event.
  absl::Status Verify(const JournalRecord& record) const;

 private:
  absl::Status Damaged(absl::string_view what) const;
  absl::Status CheckKeys() const;

  const uint64_t first_;
  const uint64_t last_;
  const absl::string_view keys_;
  const absl::string_view events_;
  const std::optional<absl::string_view> crcs_;
  google::protobuf::io::CodedInputStream keys_in_;
  google::protobuf::io::CodedInputStream events_in_;
  uint64_t previous_ = 0;
  bool started_ = false;
  size_t count_ = 0;  // records read
};

}  // namespace kessan
