#include "event/encoded_event.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/wire_format_lite.h"

namespace kessan {
namespace {

// Field 1 (SubscribeResponse.events), wire type 2 (length-delimited).
constexpr char kEventsTag = (1 << 3) | 2;

// The frame's header (tag and length) into `out`; returns its size.
size_t FrameHeader(size_t body_size, char* out) {
  size_t n = 0;
  out[n++] = kEventsTag;
  uint64_t v = body_size;
  while (v >= 0x80) {
    out[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out[n++] = static_cast<char>(v);
  return n;
}

// A buffer for a frame whose body is `body_size` bytes, its header written;
// `body` points where the body goes.
Bytes NewFrame(size_t body_size, size_t* header_size, char** body) {
  char header[11];
  *header_size = FrameHeader(body_size, header);
  char* at;
  Bytes frame = Bytes::Allocate(*header_size + body_size, &at);
  std::memcpy(at, header, *header_size);
  *body = at + *header_size;
  return frame;
}

// One allocation: the header and `body` in a new refcounted buffer.
std::shared_ptr<EncodedEvent> Frame(uint64_t sequence, absl::string_view body) {
  size_t header_size;
  char* at;
  Bytes frame = NewFrame(body.size(), &header_size, &at);
  if (!body.empty()) std::memcpy(at, body.data(), body.size());
  return std::make_shared<EncodedEvent>(sequence, std::move(frame), header_size);
}

// `event` serialized straight into a new frame's buffer.
std::shared_ptr<EncodedEvent> SerializeToFrame(const v1::FeedEvent& event) {
  size_t header_size;
  char* at;
  Bytes frame = NewFrame(event.ByteSizeLong(), &header_size, &at);
  event.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(at));
  return std::make_shared<EncodedEvent>(event.sequence(), std::move(frame), header_size);
}

using google::protobuf::internal::WireFormatLite;

// A few scalars and small messages written field by field into a fixed
// buffer (proto3: zero scalars left out): an event's head and stamps.
class WireWriter {
 public:
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      *p_++ = static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    *p_++ = static_cast<char>(v);
  }
  void Tag(int field, WireFormatLite::WireType type) { Varint(WireFormatLite::MakeTag(field, type)); }
  // int32 and enum values are sign-extended, as protobuf writes them.
  void Int(int field, int64_t v) {
    if (v == 0) return;
    Tag(field, WireFormatLite::WIRETYPE_VARINT);
    Varint(static_cast<uint64_t>(v));
  }
  void UInt(int field, uint64_t v) {
    if (v == 0) return;
    Tag(field, WireFormatLite::WIRETYPE_VARINT);
    Varint(v);
  }
  // A message field: its length is written by End, moving the message's
  // bytes on by one when it needs a second byte (messages under 16 KiB).
  char* Begin(int field) {
    Tag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
    return p_++;
  }
  void End(char* length) {
    const size_t size = static_cast<size_t>(p_ - (length + 1));
    if (size < 0x80) {
      *length = static_cast<char>(size);
      return;
    }
    std::memmove(length + 2, length + 1, size);
    length[0] = static_cast<char>((size & 0x7f) | 0x80);
    length[1] = static_cast<char>(size >> 7);
    ++p_;
  }
  void Timestamp(int field, const google::protobuf::Timestamp& t) {
    char* length = Begin(field);
    Int(google::protobuf::Timestamp::kSecondsFieldNumber, t.seconds());
    Int(google::protobuf::Timestamp::kNanosFieldNumber, t.nanos());
    End(length);
  }
  absl::string_view view() const { return absl::string_view(buf_, static_cast<size_t>(p_ - buf_)); }

 private:
  char buf_[64];
  char* p_ = buf_;
};

// A message field of `m` at `out`: tag, length, bytes. Returns the end.
// `m`'s size must be cached (MessageFieldSize).
uint8_t* PutMessage(int field, const google::protobuf::MessageLite& m, uint8_t* out) {
  out = WireFormatLite::WriteTagToArray(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, out);
  out = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      static_cast<uint32_t>(m.GetCachedSize()), out);
  return m.SerializeWithCachedSizesToArray(out);
}

size_t MessageFieldSize(int field, const google::protobuf::MessageLite& m) {
  const size_t size = m.ByteSizeLong();
  return WireFormatLite::TagSize(field, WireFormatLite::TYPE_MESSAGE) +
         google::protobuf::io::CodedOutputStream::VarintSize32(static_cast<uint32_t>(size)) + size;
}

// The fields of a fact or guidance written from the message: those
// validation changed (key, value or bound, translations; null when not) and
// the stamps (revision, supersedes_sequence, known_at). Every other field is
// copied as it came.
struct Rewritten {
  const v1::FactKey* key = nullptr;
  const v1::Value* value = nullptr;
  const google::protobuf::RepeatedPtrField<v1::Value>* translations = nullptr;
  int32_t revision = 0;
  uint64_t supersedes_sequence = 0;
  const google::protobuf::Timestamp* known_at = nullptr;
  int revision_field = 0;  // then supersedes_sequence, known_at

  // A field with another wire type than its declared one is an unknown
  // field to protobuf: copied, not owned.
  bool Owns(uint32_t tag) const {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const bool varint = WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT;
    if (field == revision_field || field == revision_field + 1) return varint;
    const bool message = WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    return message && ((key != nullptr && field == 1) || (value != nullptr && field == 2) ||
                       field == revision_field + 2 ||
                       (translations != nullptr && field == v1::Fact::kTranslationsFieldNumber));
  }
};

// The top-level fields of `body` that `r` does not own, as spans of it, in
// order (adjacent ones as one); false when `body` does not walk.
bool CopiedFields(absl::string_view body, const Rewritten& r,
                  absl::InlinedVector<absl::string_view, 8>* out) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(body.data()),
                                            static_cast<int>(body.size()));
  for (int begin = 0;; begin = in.CurrentPosition()) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return in.ConsumedEntireMessage() && begin == static_cast<int>(body.size());
    if (!WireFormatLite::SkipField(&in, tag)) return false;
    if (r.Owns(tag)) continue;
    const absl::string_view field = body.substr(begin, in.CurrentPosition() - begin);
    if (!out->empty() && out->back().data() + out->back().size() == field.data()) {
      out->back() = absl::string_view(out->back().data(), out->back().size() + field.size());
    } else {
      out->push_back(field);
    }
  }
}

}  // namespace

namespace {

// Reads a serialized message given in pieces, as if they were one.
class PieceReader {
 public:
  explicit PieceReader(absl::Span<const absl::string_view> pieces) : pieces_(pieces) { Settle(); }

  bool done() const { return piece_ == pieces_.size(); }
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && !done(); shift += 7) {
      const auto byte = static_cast<uint8_t>(pieces_[piece_][at_]);
      Advance(1);
      *v |= uint64_t{byte & 0x7fu} << shift;
      if (byte < 0x80) return true;
    }
    return false;
  }
  bool Skip(uint64_t n) {
    while (n > 0) {
      if (done()) return false;
      const size_t step = static_cast<size_t>(std::min<uint64_t>(n, pieces_[piece_].size() - at_));
      Advance(step);
      n -= step;
    }
    return true;
  }
  // The next `n` bytes: a view into one piece, or a copy onto `arena`.
  bool Take(size_t n, google::protobuf::Arena* arena, absl::string_view* out) {
    if (n == 0 || (!done() && pieces_[piece_].size() - at_ >= n)) {
      *out = done() ? absl::string_view() : pieces_[piece_].substr(at_, n);
      return Skip(n);
    }
    if (arena == nullptr) return false;
    char* copy = google::protobuf::Arena::CreateArray<char>(arena, n);
    for (size_t copied = 0; copied < n;) {
      if (done()) return false;
      const size_t step = std::min(n - copied, pieces_[piece_].size() - at_);
      std::memcpy(copy + copied, pieces_[piece_].data() + at_, step);
      Advance(step);
      copied += step;
    }
    *out = absl::string_view(copy, n);
    return true;
  }

 private:
  void Advance(size_t n) {
    at_ += n;
    Settle();
  }
  // Moves past the pieces that are used up (and empty ones).
  void Settle() {
    while (piece_ < pieces_.size() && at_ == pieces_[piece_].size()) {
      ++piece_;
      at_ = 0;
    }
  }

  absl::Span<const absl::string_view> pieces_;
  size_t piece_ = 0;
  size_t at_ = 0;
};

// The item's one field, when its header and bytes fill the item.
ItemBody OneField(absl::string_view item) {
  google::protobuf::io::CodedInputStream one(reinterpret_cast<const uint8_t*>(item.data()),
                                             static_cast<int>(item.size()));
  const uint32_t tag = one.ReadTag();
  uint32_t size = 0;
  if (WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED ||
      !one.ReadVarint32(&size) || one.CurrentPosition() + size != item.size()) {
    return {};
  }
  return ItemBody{static_cast<int>(WireFormatLite::GetTagFieldNumber(tag)),
                  item.substr(one.CurrentPosition())};
}

}  // namespace

std::vector<ItemBody> PublishItemBodies(absl::Span<const absl::string_view> pieces,
                                        google::protobuf::Arena* arena) {
  std::vector<ItemBody> items;
  PieceReader in(pieces);
  uint64_t tag = 0;
  while (!in.done()) {
    if (!in.Varint(&tag) || tag > UINT32_MAX) return {};
    const int field = WireFormatLite::GetTagFieldNumber(static_cast<uint32_t>(tag));
    uint64_t value = 0;
    switch (WireFormatLite::GetTagWireType(static_cast<uint32_t>(tag))) {
      case WireFormatLite::WIRETYPE_VARINT:
        if (!in.Varint(&value)) return {};
        break;
      case WireFormatLite::WIRETYPE_FIXED64:
        if (!in.Skip(8)) return {};
        break;
      case WireFormatLite::WIRETYPE_FIXED32:
        if (!in.Skip(4)) return {};
        break;
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
        if (!in.Varint(&value) || value > INT32_MAX) return {};
        if (field != v1::PublishRequest::kItemsFieldNumber) {
          if (!in.Skip(value)) return {};
          break;
        }
        absl::string_view item;
        if (!in.Take(static_cast<size_t>(value), arena, &item)) return {};
        items.push_back(OneField(item));
        break;
      }
      default:  // groups: not in a PublishRequest
        return {};
    }
    if (field == 0) return {};
  }
  return items;
}

std::vector<ItemBody> PublishItemBodies(absl::string_view request) {
  return PublishItemBodies(absl::MakeConstSpan(&request, 1), nullptr);
}

bool CanSplice(const v1::FeedEvent& event, const ItemBody& body) {
  switch (event.body_case()) {
    case v1::FeedEvent::kFact:
      return body.field == v1::PublishItem::kFactFieldNumber;
    case v1::FeedEvent::kGuidance:
      return body.field == v1::PublishItem::kGuidanceFieldNumber;
    default:
      return false;
  }
}

EventPtr EncodeSpliced(const v1::FeedEvent& event, absl::string_view body, uint8_t normalised,
                       EventAttrs attrs) {
  static_assert(v1::Fact::kKeyFieldNumber == 1 && v1::Guidance::kKeyFieldNumber == 1 &&
                v1::Fact::kValueFieldNumber == 2 && v1::Guidance::kBoundFieldNumber == 2);
  const bool fact = event.body_case() == v1::FeedEvent::kFact;
  Rewritten r;
  if (fact) {
    const v1::Fact& f = event.fact();
    r = Rewritten{(normalised & kKeyNormalised) && f.has_key() ? &f.key() : nullptr,
                  (normalised & kValueNormalised) && f.has_value() ? &f.value() : nullptr,
                  (normalised & kTranslationsNormalised) ? &f.translations() : nullptr,
                  f.revision(),
                  f.supersedes_sequence(),
                  f.has_known_at() ? &f.known_at() : nullptr,
                  v1::Fact::kRevisionFieldNumber};
  } else {
    const v1::Guidance& g = event.guidance();
    r = Rewritten{(normalised & kKeyNormalised) && g.has_key() ? &g.key() : nullptr,
                  (normalised & kValueNormalised) && g.has_bound() ? &g.bound() : nullptr,
                  nullptr,
                  g.revision(),
                  g.supersedes_sequence(),
                  g.has_known_at() ? &g.known_at() : nullptr,
                  v1::Guidance::kRevisionFieldNumber};
  }
  absl::InlinedVector<absl::string_view, 8> copied;
  if (!CopiedFields(body, r, &copied)) {
    // Not reached for bytes the request was parsed from: serialized instead.
    std::shared_ptr<EncodedEvent> encoded = SerializeToFrame(event);
    encoded->attrs_ = std::move(attrs);
    encoded->attrs_known_ = true;
    return encoded;
  }
  // The body: key, value, translations from the message, the copied fields,
  // then the stamps (the field order, when the copied ones came in it).
  size_t body_size = 0;
  if (r.key != nullptr) body_size += MessageFieldSize(1, *r.key);
  if (r.value != nullptr) body_size += MessageFieldSize(2, *r.value);
  if (r.translations != nullptr) {
    for (const v1::Value& t : *r.translations) {
      body_size += MessageFieldSize(v1::Fact::kTranslationsFieldNumber, t);
    }
  }
  for (absl::string_view c : copied) body_size += c.size();
  WireWriter stamps;
  stamps.Int(r.revision_field, r.revision);
  stamps.UInt(r.revision_field + 1, r.supersedes_sequence);
  if (r.known_at != nullptr) stamps.Timestamp(r.revision_field + 2, *r.known_at);
  body_size += stamps.view().size();
  WireWriter head;
  head.UInt(v1::FeedEvent::kSequenceFieldNumber, event.sequence());
  if (event.has_time()) head.Timestamp(v1::FeedEvent::kTimeFieldNumber, event.time());
  head.Tag(fact ? v1::FeedEvent::kFactFieldNumber : v1::FeedEvent::kGuidanceFieldNumber,
           WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  head.Varint(body_size);
  size_t header_size;
  char* frame_at;
  Bytes frame = NewFrame(head.view().size() + body_size, &header_size, &frame_at);
  auto* at = reinterpret_cast<uint8_t*>(frame_at);
  auto put = [&at](absl::string_view part) {
    if (!part.empty()) std::memcpy(at, part.data(), part.size());
    at += part.size();
  };
  put(head.view());
  if (r.key != nullptr) at = PutMessage(1, *r.key, at);
  if (r.value != nullptr) at = PutMessage(2, *r.value, at);
  if (r.translations != nullptr) {
    for (const v1::Value& t : *r.translations) at = PutMessage(v1::Fact::kTranslationsFieldNumber, t, at);
  }
  for (absl::string_view c : copied) put(c);
  put(stamps.view());
  auto encoded = std::make_shared<EncodedEvent>(event.sequence(), std::move(frame), header_size);
  encoded->attrs_ = std::move(attrs);
  encoded->attrs_known_ = true;
#ifndef NDEBUG
  // Where assertions are on, the rule above is checked.
  v1::FeedEvent parsed;
  const absl::string_view b = encoded->body();
  if (!parsed.ParseFromArray(b.data(), static_cast<int>(b.size())) ||
      !google::protobuf::util::MessageDifferencer::Equals(parsed, event)) {
    std::fprintf(stderr, "EncodeSpliced: the bytes of sequence %llu do not parse to the event\n",
                 static_cast<unsigned long long>(event.sequence()));
    std::abort();
  }
#endif
  return encoded;
}

void EncodedEvent::Decode() const {
  absl::call_once(decoded_, [this] {
    absl::string_view b = body();
    if (event_.ParseFromArray(b.data(), static_cast<int>(b.size())) && !attrs_known_) {
      attrs_ = AttrsOf(event_);
    }
  });
}

const v1::FeedEvent& EncodedEvent::event() const {
  Decode();
  return event_;
}

const EventAttrs& EncodedEvent::attrs() const {
  if (!attrs_known_) Decode();
  return attrs_;
}

EventPtr EncodeEvent(v1::FeedEvent event) {
  std::shared_ptr<EncodedEvent> encoded = SerializeToFrame(event);
  absl::call_once(encoded->decoded_, [&] {
    encoded->attrs_ = AttrsOf(event);
    encoded->event_ = std::move(event);
  });
  return encoded;
}

EventPtr EncodeSerialized(const v1::FeedEvent& event, EventAttrs attrs) {
  std::shared_ptr<EncodedEvent> encoded = SerializeToFrame(event);
  encoded->attrs_ = std::move(attrs);
  encoded->attrs_known_ = true;
  return encoded;
}

absl::StatusOr<EventPtr> DecodeEvent(absl::string_view body) {
  v1::FeedEvent event;
  if (!event.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return absl::DataLossError("journal record is not a kessan.v1.FeedEvent");
  }
  std::shared_ptr<EncodedEvent> decoded = Frame(event.sequence(), body);
  absl::call_once(decoded->decoded_, [&] {
    decoded->attrs_ = AttrsOf(event);
    decoded->event_ = std::move(event);
  });
  return decoded;
}

namespace {

// The top level of a journaled event's bytes: its fields well formed, its
// sequence field `sequence`. A walk over the top-level fields: a few tens of
// nanoseconds, where a parse would halve the replay rate.
absl::Status CheckJournalBody(uint64_t sequence, absl::string_view body) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(body.data()),
                                            static_cast<int>(body.size()));
  bool has_sequence = false;
  while (uint32_t tag = in.ReadTag()) {
    if (tag ==
        WireFormatLite::MakeTag(v1::FeedEvent::kSequenceFieldNumber, WireFormatLite::WIRETYPE_VARINT)) {
      uint64_t value = 0;
      if (!in.ReadVarint64(&value)) break;
      if (value != sequence) {
        return absl::DataLossError(
            absl::StrCat("journal row of sequence ", sequence, " holds the event of sequence ", value));
      }
      has_sequence = true;
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      break;
    }
  }
  if (!in.ConsumedEntireMessage() || in.CurrentPosition() != static_cast<int>(body.size()) || !has_sequence) {
    return DamagedJournalRow(sequence);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EventPtr> JournalEvent(uint64_t sequence, absl::string_view body) {
  absl::Status checked = CheckJournalBody(sequence, body);
  if (!checked.ok()) return checked;
  return Frame(sequence, body);
}

absl::StatusOr<EventPtr> JournalEventIn(uint64_t sequence, const Bytes& frames, size_t begin, size_t end,
                                        size_t body_offset) {
  const absl::string_view frame = frames.view().substr(begin, end - begin);
  absl::Status checked = CheckJournalBody(sequence, frame.substr(body_offset));
  if (!checked.ok()) return checked;
  return std::make_shared<EncodedEvent>(sequence, frames.Sub(begin, end), body_offset);
}

absl::Status DamagedJournalRow(uint64_t sequence) {
  return absl::DataLossError(
      absl::StrCat("journal row of sequence ", sequence, " is not a kessan.v1.FeedEvent"));
}

absl::Status CheckParsed(const EncodedEvent& e) {
  // Every journaled event has a body; none means its bytes do not parse.
  return e.attrs().kind == v1::EVENT_KIND_UNSPECIFIED ? DamagedJournalRow(e.sequence()) : absl::OkStatus();
}

}  // namespace kessan
