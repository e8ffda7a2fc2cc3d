#include "event/encoded_event.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
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

}  // namespace

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
