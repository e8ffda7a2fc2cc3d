#include "journal/journal_rows.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "util/crc32c.h"
#include "util/status_macros.h"

namespace kessan {
namespace {

using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;

// SubscribeResponse.events: field 1, length-delimited.
constexpr char kFrameTag = (1 << 3) | 2;

void AppendFixed32(uint32_t v, std::string* out) {
  uint8_t buffer[4];
  CodedOutputStream::WriteLittleEndian32ToArray(v, buffer);
  out->append(reinterpret_cast<const char*>(buffer), sizeof(buffer));
}

uint32_t Fixed32At(absl::string_view bytes, size_t at) {
  uint32_t v = 0;
  CodedInputStream::ReadLittleEndian32FromArray(reinterpret_cast<const uint8_t*>(bytes.data() + at), &v);
  return v;
}

uint32_t ExtendFixed64(uint32_t crc, uint64_t v) {
  uint8_t buffer[8];
  CodedOutputStream::WriteLittleEndian64ToArray(v, buffer);
  return crc32c::Extend(crc, buffer, sizeof(buffer));
}

CodedInputStream Over(absl::string_view bytes) {
  return CodedInputStream(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
}

}  // namespace

uint32_t KeysChecksum(uint64_t first_sequence, uint64_t last_sequence, absl::string_view keys) {
  const uint32_t crc = ExtendFixed64(ExtendFixed64(0, first_sequence), last_sequence);
  return crc32c::Extend(crc, keys.data(), keys.size());
}

uint32_t EventChecksum(uint64_t sequence, absl::string_view frame) {
  return crc32c::Extend(ExtendFixed64(0, sequence), frame.data(), frame.size());
}

absl::StatusOr<std::string> ChecksumRow(uint64_t first_sequence, uint64_t last_sequence,
                                        absl::string_view keys, absl::string_view events) {
  std::string crcs;
  AppendFixed32(KeysChecksum(first_sequence, last_sequence, keys), &crcs);
  RowReader row(first_sequence, last_sequence, keys, events, std::nullopt);
  JournalRecord record;
  while (true) {
    absl::StatusOr<bool> more = row.Next(&record);
    if (!more.ok()) return more.status();
    if (!*more) return crcs;
    AppendFixed32(EventChecksum(record.sequence, record.frame), &crcs);
  }
}

void RowBuilder::Add(uint64_t sequence, int64_t time_ns, absl::string_view item_key,
                     absl::string_view frame) {
  if (count_ == 0) first_ = sequence;
  last_ = sequence;
  ++count_;
  // The key entry's head (delta, time, key length) in one append, then the key.
  uint8_t head[10 + 8 + 10];  // two varint64s and a fixed64 at most
  uint8_t* end = CodedOutputStream::WriteVarint64ToArray(sequence - first_, head);
  end = CodedOutputStream::WriteLittleEndian64ToArray(static_cast<uint64_t>(time_ns), end);
  end = CodedOutputStream::WriteVarint64ToArray(item_key.size(), end);
  keys_.append(reinterpret_cast<const char*>(head), static_cast<size_t>(end - head));
  keys_.append(item_key.data(), item_key.size());
  events_.append(frame.data(), frame.size());
  event_crcs_.push_back(EventChecksum(sequence, frame));
}

std::string RowBuilder::crcs() const {
  std::string crcs(4 * (1 + event_crcs_.size()), '\0');
  auto* out = reinterpret_cast<uint8_t*>(crcs.data());
  out = CodedOutputStream::WriteLittleEndian32ToArray(KeysChecksum(first_, last_, keys_), out);
  for (uint32_t crc : event_crcs_) out = CodedOutputStream::WriteLittleEndian32ToArray(crc, out);
  return crcs;
}

void RowBuilder::Clear() {
  first_ = last_ = 0;
  count_ = 0;
  keys_.clear();
  events_.clear();
  event_crcs_.clear();
}

RowReader::RowReader(uint64_t first_sequence, uint64_t last_sequence, absl::string_view keys,
                     absl::string_view events, std::optional<absl::string_view> crcs)
    : first_(first_sequence),
      last_(last_sequence),
      keys_(keys),
      events_(events),
      crcs_(crcs),
      keys_in_(Over(keys)),
      events_in_(Over(events)) {}

absl::Status RowReader::Damaged(absl::string_view what) const {
  return absl::DataLossError(absl::StrCat("journal row from sequence ", first_, " is damaged: ", what));
}

absl::Status RowReader::CheckKeys() const {
  if (crcs_->size() < 4 || crcs_->size() % 4 != 0) {
    return Damaged(absl::StrCat("its checksums are ", crcs_->size(), " bytes"));
  }
  if (Fixed32At(*crcs_, 0) != KeysChecksum(first_, last_, keys_)) {
    return absl::DataLossError(
        absl::StrCat("events ", first_, " to ", last_, " are damaged (checksum mismatch of their keys)"));
  }
  return absl::OkStatus();
}

absl::Status RowReader::Verify(const JournalRecord& record) const {
  if (!crcs_.has_value()) return absl::OkStatus();
  const size_t at = 4 * count_;  // after the keys' checksum
  if (count_ == 0 || at + 4 > crcs_->size()) {
    return absl::DataLossError(
        absl::StrCat("event ", record.sequence, " is damaged (its checksum is missing)"));
  }
  if (Fixed32At(*crcs_, at) != EventChecksum(record.sequence, record.frame)) {
    return absl::DataLossError(absl::StrCat("event ", record.sequence, " is damaged (checksum mismatch)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> RowReader::NextKey(JournalRecord* out) {
  // The keys are checked whole before the first of them is used.
  if (!started_ && crcs_.has_value()) RETURN_IF_ERROR(CheckKeys());
  if (keys_in_.CurrentPosition() == static_cast<int>(keys_.size())) {
    if (!started_) return Damaged("it holds no events");
    if (previous_ != last_) {
      return Damaged(absl::StrCat("it ends at sequence ", previous_, ", not ", last_));
    }
    if (crcs_.has_value() && crcs_->size() != 4 * (count_ + 1)) {
      return Damaged(
          absl::StrCat("it holds ", crcs_->size() / 4 - 1, " event checksums for ", count_, " events"));
    }
    return false;
  }
  uint64_t delta = 0, time = 0, key_size = 0;
  if (!keys_in_.ReadVarint64(&delta) || !keys_in_.ReadLittleEndian64(&time)) {
    return Damaged("a key entry is cut short");
  }
  const uint64_t sequence = first_ + delta;
  if (started_ ? sequence <= previous_ : delta != 0) {
    return Damaged(absl::StrCat("sequence ", sequence, " is out of order"));
  }
  if (sequence > last_) {
    return Damaged(absl::StrCat("sequence ", sequence, " is past its last, ", last_));
  }
  if (!keys_in_.ReadVarint64(&key_size) || key_size > keys_.size() ||
      !keys_in_.Skip(static_cast<int>(key_size))) {
    return Damaged("a key entry is cut short");
  }
  out->sequence = sequence;
  out->time_ns = static_cast<int64_t>(time);
  out->item_key = keys_.substr(keys_in_.CurrentPosition() - key_size, key_size);
  out->frame = out->body = absl::string_view();
  previous_ = sequence;
  started_ = true;
  ++count_;
  return true;
}

absl::StatusOr<bool> RowReader::Next(JournalRecord* out) {
  absl::StatusOr<bool> more = NextKey(out);
  if (!more.ok() || !*more) {
    if (more.ok() && events_in_.CurrentPosition() != static_cast<int>(events_.size())) {
      return Damaged("it holds more frames than keys");
    }
    return more;
  }
  const int frame_at = events_in_.CurrentPosition();
  // The tag byte itself, as kessand writes it (ReadTag would take an
  // over-long encoding too).
  if (static_cast<size_t>(frame_at) >= events_.size() || events_[frame_at] != kFrameTag ||
      !events_in_.Skip(1)) {
    return Damaged(absl::StrCat("no frame for sequence ", out->sequence));
  }
  uint64_t body_size = 0;
  if (!events_in_.ReadVarint64(&body_size) || body_size > events_.size() ||
      !events_in_.Skip(static_cast<int>(body_size))) {
    return Damaged(absl::StrCat("the frame of sequence ", out->sequence, " is cut short"));
  }
  const size_t frame_end = static_cast<size_t>(events_in_.CurrentPosition());
  out->frame = events_.substr(frame_at, frame_end - frame_at);
  out->body = events_.substr(frame_end - body_size, body_size);
  return true;
}

}  // namespace kessan
