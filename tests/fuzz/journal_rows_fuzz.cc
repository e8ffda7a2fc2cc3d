// libFuzzer target: reading a journal row (journal/journal_rows.h), as kessand
// reads a row of a damaged or hand-edited journal file. The input is a
// header (4 bytes: the keys blob's size; 2 bytes: last - first sequence)
// then the keys blob and the events blob. Whatever the bytes, reading ends
// in records or DATA_LOSS; records read must be well formed, and a row
// rebuilt from them must read back the same, its checksums sound, and fail
// them once one is flipped.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "event/encoded_event.h"
#include "journal/journal_rows.h"

namespace {

constexpr uint64_t kFirst = 1000;

struct Record {
  uint64_t sequence;
  int64_t time_ns;
  std::string key, frame, body;
  bool operator==(const Record& o) const {
    return sequence == o.sequence && time_ns == o.time_ns && key == o.key && frame == o.frame &&
           body == o.body;
  }
};

// The records of a row; false when it is damaged. Each record must pass
// its checksum (there is nothing to pass without `crcs`).
bool ReadAll(uint64_t last, const std::string& keys, const std::string& events,
             std::optional<absl::string_view> crcs, std::vector<Record>* out) {
  kessan::RowReader reader(kFirst, last, keys, events, crcs);
  kessan::JournalRecord r;
  while (true) {
    absl::StatusOr<bool> more = reader.Next(&r);
    if (!more.ok()) {
      if (more.status().code() != absl::StatusCode::kDataLoss) std::abort();
      return false;
    }
    if (!*more) return true;
    if (!reader.Verify(r).ok()) std::abort();
    if (r.sequence < kFirst || r.sequence > last) std::abort();
    if (!out->empty() && r.sequence <= out->back().sequence) std::abort();
    // The body is the frame's tail, after a tag and a length.
    if (r.frame.empty() || r.frame[0] != 0x0a || r.body.size() >= r.frame.size() ||
        r.frame.substr(r.frame.size() - r.body.size()) != r.body) {
      std::abort();
    }
    absl::StatusOr<kessan::EventPtr> event = kessan::JournalEvent(r.sequence, r.body);
    if (event.ok() && (*event)->body() != r.body) std::abort();
    out->push_back(
        Record{r.sequence, r.time_ns, std::string(r.item_key), std::string(r.frame), std::string(r.body)});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  const std::string input(reinterpret_cast<const char*>(data), size);
  uint32_t keys_size = 0;
  for (int i = 0; i < 4; ++i) keys_size |= uint32_t{static_cast<uint8_t>(input[i])} << (8 * i);
  const uint64_t last =
      kFirst + (static_cast<uint8_t>(input[4]) | uint64_t{static_cast<uint8_t>(input[5])} << 8);
  const std::string rest = input.substr(6);
  if (keys_size > rest.size()) keys_size = static_cast<uint32_t>(rest.size());
  const std::string keys = rest.substr(0, keys_size), events = rest.substr(keys_size);

  std::vector<Record> records;
  const bool whole = ReadAll(last, keys, events, std::nullopt, &records);

  // The keys alone give the same sequences, as far as they go.
  kessan::RowReader key_reader(kFirst, last, keys, "", std::nullopt);
  kessan::JournalRecord r;
  for (const Record& want : records) {
    absl::StatusOr<bool> more = key_reader.NextKey(&r);
    if (!more.ok() || !*more || r.sequence != want.sequence || r.time_ns != want.time_ns ||
        r.item_key != want.key) {
      std::abort();
    }
  }
  if (!whole) return 0;

  kessan::RowBuilder row;
  for (const Record& rec : records) row.Add(rec.sequence, rec.time_ns, rec.key, rec.frame);
  if (row.first_sequence() != kFirst || row.last_sequence() != last) std::abort();
  std::vector<Record> again;
  const std::string crcs = row.crcs();
  if (!ReadAll(last, row.keys(), row.events(), crcs, &again) || again != records) std::abort();
  if (row.events() != events) std::abort();  // frames are copied as they are
  // The events' checksums of the row as it was read agree.
  absl::StatusOr<std::string> read_crcs = kessan::ChecksumRow(kFirst, last, keys, events);
  if (!read_crcs.ok() || read_crcs->substr(4) != crcs.substr(4)) std::abort();
  // A flipped bit in the first event's checksum fails that event alone.
  std::string flipped = crcs;
  flipped[4 + (data[0] & 3)] ^= static_cast<char>(1 << (data[1] & 7));
  kessan::RowReader checked(kFirst, last, row.keys(), row.events(), flipped);
  for (size_t i = 0; i < records.size(); ++i) {
    absl::StatusOr<bool> more = checked.Next(&r);
    if (!more.ok() || !*more) std::abort();
    if (checked.Verify(r).ok() != (i != 0)) std::abort();
  }
  return 0;
}
