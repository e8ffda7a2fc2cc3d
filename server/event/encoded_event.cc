#include "event/encoded_event.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/base/attributes.h"
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
  bool key_periods_only = false;  // only the key's periods changed
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

// The fields of a serialized message, one by one: each one's tag and bytes
// (tag included) and, for a length-delimited one, its payload. Groups, which
// kessan's messages do not have, end the walk as malformed bytes do.
class FieldWalker {
 public:
  explicit FieldWalker(absl::string_view bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  // False at the end (then `ended()`) or at bytes that do not walk.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool Next(uint32_t* tag, absl::string_view* field,
                                         absl::string_view* payload) {
    const char* begin = p_;
    uint64_t v = 0;
    if (p_ == end_ || !Varint(&v) || v > UINT32_MAX || WireFormatLite::GetTagFieldNumber(v) == 0)
      return false;
    *tag = static_cast<uint32_t>(v);
    switch (WireFormatLite::GetTagWireType(*tag)) {
      case WireFormatLite::WIRETYPE_VARINT:
        if (!Varint(&v)) return false;
        break;
      case WireFormatLite::WIRETYPE_FIXED64:
        if (!Skip(8)) return false;
        break;
      case WireFormatLite::WIRETYPE_FIXED32:
        if (!Skip(4)) return false;
        break;
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED:
        if (!Varint(&v) || v > static_cast<uint64_t>(end_ - p_)) return false;
        *payload = absl::string_view(p_, static_cast<size_t>(v));
        p_ += v;
        break;
      default:
        return false;
    }
    *field = absl::string_view(begin, static_cast<size_t>(p_ - begin));
    return true;
  }
  bool ended() const { return p_ == end_; }

 private:
  bool Varint(uint64_t* v) {
    if (p_ != end_ && static_cast<uint8_t>(*p_) < 0x80) {
      *v = static_cast<uint8_t>(*p_++);
      return true;
    }
    *v = 0;
    for (int shift = 0; shift < 64 && p_ != end_; shift += 7) {
      const auto byte = static_cast<uint8_t>(*p_++);
      *v |= uint64_t{byte & 0x7fu} << shift;
      if (byte < 0x80) return true;
    }
    return false;
  }
  bool Skip(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }

  const char* p_;
  const char* end_;
};

// `field`, appended to the last of `spans` when it follows it.
bool Extends(absl::string_view* last, absl::string_view field) {
  if (last->data() + last->size() != field.data()) return false;
  *last = absl::string_view(last->data(), last->size() + field.size());
  return true;
}

// The top-level fields of `body` that `r` does not own, as spans of it, in
// order (adjacent ones as one), and the payload of its key field (empty
// when there is none or more than one); false when `body` does not walk.
bool CopiedFields(absl::string_view body, const Rewritten& r, absl::InlinedVector<absl::string_view, 8>* out,
                  absl::string_view* sent_key) {
  const uint32_t key_tag = WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  int keys = 0;
  FieldWalker walk(body);
  uint32_t tag;
  absl::string_view field, payload;
  while (walk.Next(&tag, &field, &payload)) {
    if (tag == key_tag) {
      *sent_key = payload;
      ++keys;
    }
    if (r.Owns(tag)) continue;
    if (out->empty() || !Extends(&out->back(), field)) out->push_back(field);
  }
  if (keys != 1) *sent_key = absl::string_view();
  return walk.ended();
}

// A key as its sent bytes with its periods (fields 3 and 5) written from
// `key`: spans of the sent bytes, and a period where one stood.
struct KeyParts {
  struct Part {
    absl::string_view bytes;
    const v1::FiscalPeriod* period = nullptr;  // then `bytes` is unused
    int field = 0;
  };
  absl::InlinedVector<Part, 6> parts;
  size_t size = 0;  // of the key's payload
};

// False when `sent` does not walk or a period is not exactly once in both
// (then the key is serialized whole).
bool SplitKey(absl::string_view sent, const v1::FactKey& key, KeyParts* out) {
  bool seen[2] = {false, false};  // period, comparison_period
  FieldWalker walk(sent);
  uint32_t tag;
  absl::string_view field, payload;
  while (walk.Next(&tag, &field, &payload)) {
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    const bool period =
        (number == v1::FactKey::kPeriodFieldNumber || number == v1::FactKey::kComparisonPeriodFieldNumber) &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (!period) {
      out->size += field.size();
      if (out->parts.empty() || out->parts.back().period != nullptr ||
          !Extends(&out->parts.back().bytes, field)) {
        out->parts.push_back({field});
      }
      continue;
    }
    const bool comparison = number == v1::FactKey::kComparisonPeriodFieldNumber;
    if (seen[comparison]) return false;
    seen[comparison] = true;
    const v1::FiscalPeriod& p = comparison ? key.comparison_period() : key.period();
    out->size += MessageFieldSize(number, p);
    out->parts.push_back({absl::string_view(), &p, number});
  }
  return walk.ended() && seen[0] == key.has_period() && seen[1] == key.has_comparison_period();
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
  FieldWalker walk(item);
  uint32_t tag;
  absl::string_view field, payload;
  if (!walk.Next(&tag, &field, &payload) || !walk.ended() ||
      WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
    return {};
  }
  return ItemBody{static_cast<int>(WireFormatLite::GetTagFieldNumber(tag)), payload};
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
                       EventAttrs&& attrs) {
  static_assert(v1::Fact::kKeyFieldNumber == 1 && v1::Guidance::kKeyFieldNumber == 1 &&
                v1::Fact::kValueFieldNumber == 2 && v1::Guidance::kBoundFieldNumber == 2);
  const bool fact = event.body_case() == v1::FeedEvent::kFact;
  Rewritten r;
  if (fact) {
    const v1::Fact& f = event.fact();
    r = Rewritten{(normalised & (kKeyNormalised | kPeriodNormalised)) && f.has_key() ? &f.key() : nullptr,
                  !(normalised & kKeyNormalised),
                  (normalised & kValueNormalised) && f.has_value() ? &f.value() : nullptr,
                  (normalised & kTranslationsNormalised) ? &f.translations() : nullptr,
                  f.revision(),
                  f.supersedes_sequence(),
                  f.has_known_at() ? &f.known_at() : nullptr,
                  v1::Fact::kRevisionFieldNumber};
  } else {
    const v1::Guidance& g = event.guidance();
    r = Rewritten{(normalised & (kKeyNormalised | kPeriodNormalised)) && g.has_key() ? &g.key() : nullptr,
                  !(normalised & kKeyNormalised),
                  (normalised & kValueNormalised) && g.has_bound() ? &g.bound() : nullptr,
                  nullptr,
                  g.revision(),
                  g.supersedes_sequence(),
                  g.has_known_at() ? &g.known_at() : nullptr,
                  v1::Guidance::kRevisionFieldNumber};
  }
  absl::InlinedVector<absl::string_view, 8> copied;
  absl::string_view sent_key;
  if (!CopiedFields(body, r, &copied, &sent_key)) {
    // Not reached for bytes the request was parsed from: serialized instead.
    std::shared_ptr<EncodedEvent> encoded = SerializeToFrame(event);
    encoded->attrs_ = std::move(attrs);
    encoded->attrs_known_ = true;
    return encoded;
  }
  // The body: key, value, translations from the message, the copied fields,
  // then the stamps (the field order, when the copied ones came in it).
  KeyParts key_parts;
  const bool key_spliced =
      r.key != nullptr && r.key_periods_only && !sent_key.empty() && SplitKey(sent_key, *r.key, &key_parts);
  size_t body_size = 0;
  if (key_spliced) {
    body_size +=
        WireFormatLite::TagSize(1, WireFormatLite::TYPE_MESSAGE) +
        google::protobuf::io::CodedOutputStream::VarintSize32(static_cast<uint32_t>(key_parts.size)) +
        key_parts.size;
  } else if (r.key != nullptr) {
    body_size += MessageFieldSize(1, *r.key);
  }
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
  if (key_spliced) {
    at = WireFormatLite::WriteTagToArray(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, at);
    at = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(key_parts.size),
                                                                       at);
    for (const KeyParts::Part& part : key_parts.parts) {
      if (part.period != nullptr) {
        at = PutMessage(part.field, *part.period, at);
      } else {
        put(part.bytes);
      }
    }
  } else if (r.key != nullptr) {
    at = PutMessage(1, *r.key, at);
  }
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

EventPtr EncodeSerialized(const v1::FeedEvent& event, EventAttrs&& attrs) {
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
