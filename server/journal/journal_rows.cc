#include "journal/journal_rows.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"

namespace kessan {
namespace {

using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;

// SubscribeResponse.events: field 1, length-delimited.
constexpr char kFrameTag = (1 << 3) | 2;

void AppendVarint(uint64_t v, std::string* out) {
  uint8_t buffer[10];  // the longest varint64
  const uint8_t* end = CodedOutputStream::WriteVarint64ToArray(v, buffer);
  out->append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(end - buffer));
}

CodedInputStream Over(absl::string_view bytes) {
  return CodedInputStream(reinterpret_cast<const uint8_t*>(bytes.data()),
                          static_cast<int>(bytes.size()));
}

}  // namespace

void RowBuilder::Add(uint64_t sequence, int64_t time_ns, absl::string_view item_key,
                     absl::string_view frame) {
  if (count_ == 0) first_ = sequence;
  last_ = sequence;
  ++count_;
  AppendVarint(sequence - first_, &keys_);
  uint8_t time[8];
  CodedOutputStream::WriteLittleEndian64ToArray(static_cast<uint64_t>(time_ns), time);
  keys_.append(reinterpret_cast<const char*>(time), sizeof(time));
  AppendVarint(item_key.size(), &keys_);
  keys_.append(item_key.data(), item_key.size());
  events_.append(frame.data(), frame.size());
}

void RowBuilder::Clear() {
  first_ = last_ = 0;
  count_ = 0;
  keys_.clear();
  events_.clear();
}

RowReader::RowReader(uint64_t first_sequence, uint64_t last_sequence, absl::string_view keys,
                     absl::string_view events)
    : first_(first_sequence),
      last_(last_sequence),
      keys_(keys),
      events_(events),
      keys_in_(Over(keys)),
      events_in_(Over(events)) {}

absl::Status RowReader::Damaged(absl::string_view what) const {
  return absl::DataLossError(
      absl::StrCat("journal row from sequence ", first_, " is damaged: ", what));
}

absl::StatusOr<bool> RowReader::NextKey(JournalRecord* out) {
  if (keys_in_.CurrentPosition() == static_cast<int>(keys_.size())) {
    if (!started_) return Damaged("it holds no events");
    if (previous_ != last_) {
      return Damaged(absl::StrCat("it ends at sequence ", previous_, ", not ", last_));
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
