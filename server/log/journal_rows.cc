#include "log/journal_rows.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kessan {
namespace {

// SubscribeResponse.events: field 1, length-delimited.
constexpr char kFrameTag = (1 << 3) | 2;

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(absl::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    uint8_t byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

}  // namespace

void RowBuilder::Add(uint64_t sequence, int64_t time_ns, absl::string_view item_key,
                     absl::string_view frame) {
  if (count_ == 0) first_ = sequence;
  last_ = sequence;
  ++count_;
  PutVarint(sequence - first_, &keys_);
  const uint64_t time = static_cast<uint64_t>(time_ns);
  for (int i = 0; i < 8; ++i) keys_.push_back(static_cast<char>(time >> (8 * i)));
  PutVarint(item_key.size(), &keys_);
  keys_.append(item_key.data(), item_key.size());
  events_.append(frame.data(), frame.size());
}

void RowBuilder::Clear() {
  first_ = last_ = 0;
  count_ = 0;
  keys_.clear();
  events_.clear();
}

absl::Status RowReader::Damaged(absl::string_view what) const {
  return absl::DataLossError(
      absl::StrCat("journal row from sequence ", first_, " is damaged: ", what));
}

absl::StatusOr<bool> RowReader::NextKey(JournalRecord* out) {
  if (keys_.empty()) {
    if (!started_) return Damaged("it holds no events");
    if (previous_ != last_) {
      return Damaged(absl::StrCat("it ends at sequence ", previous_, ", not ", last_));
    }
    return false;
  }
  uint64_t delta = 0, key_size = 0;
  if (!GetVarint(&keys_, &delta) || keys_.size() < 8) return Damaged("a key entry is cut short");
  const uint64_t sequence = first_ + delta;
  if (started_ ? sequence <= previous_ : delta != 0) {
    return Damaged(absl::StrCat("sequence ", sequence, " is out of order"));
  }
  if (sequence > last_) {
    return Damaged(absl::StrCat("sequence ", sequence, " is past its last, ", last_));
  }
  out->sequence = sequence;
  uint64_t time = 0;
  for (int i = 0; i < 8; ++i) time |= uint64_t{static_cast<uint8_t>(keys_[i])} << (8 * i);
  out->time_ns = static_cast<int64_t>(time);
  keys_.remove_prefix(8);
  if (!GetVarint(&keys_, &key_size) || keys_.size() < key_size) {
    return Damaged("a key entry is cut short");
  }
  out->item_key = keys_.substr(0, key_size);
  keys_.remove_prefix(key_size);
  out->frame = out->body = absl::string_view();
  previous_ = sequence;
  started_ = true;
  return true;
}

absl::StatusOr<bool> RowReader::Next(JournalRecord* out) {
  absl::StatusOr<bool> more = NextKey(out);
  if (!more.ok() || !*more) {
    if (more.ok() && !events_.empty()) return Damaged("it holds more frames than keys");
    return more;
  }
  absl::string_view at = events_;
  uint64_t body_size = 0;
  if (at.empty() || at.front() != kFrameTag) {
    return Damaged(absl::StrCat("no frame for sequence ", out->sequence));
  }
  at.remove_prefix(1);
  if (!GetVarint(&at, &body_size) || at.size() < body_size) {
    return Damaged(absl::StrCat("the frame of sequence ", out->sequence, " is cut short"));
  }
  const size_t frame_size = events_.size() - at.size() + body_size;
  out->frame = events_.substr(0, frame_size);
  out->body = at.substr(0, body_size);
  events_.remove_prefix(frame_size);
  return true;
}

}  // namespace kessan
