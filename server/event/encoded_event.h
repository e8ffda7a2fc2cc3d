// EncodedEvent: a journaled event encoded once, shared by every reader.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "event/bytes.h"
#include "google/protobuf/arena.h"
#include "kessan/v1/feed.pb.h"
#include "model/keys.h"
#include "model/validate.h"

namespace kessan {

// EncodedEvent holds an event's wire form as one element of
// SubscribeResponse.events (field tag, length, FeedEvent bytes), so a
// response of several events is the concatenation of their frames. The frame
// is one refcounted Bytes: each subscriber's response takes a reference
// (an atomic increment), never a copy. The decoded event and its filter
// attributes are there from the start for an event encoded from a message;
// a published event keeps its attributes and parses its bytes only if the
// event itself is asked for; one read back from the journal parses on first
// use of either, so a replay that needs neither never parses. Immutable once
// built (the lazy parse is thread-safe); shared between threads by EventPtr.
class EncodedEvent {
 public:
  // Use EncodeEvent or JournalEvent.
  EncodedEvent(uint64_t sequence, Bytes frame, size_t body_offset)
      : sequence_(sequence), frame_(std::move(frame)), body_offset_(body_offset) {}

  uint64_t sequence() const { return sequence_; }
  const v1::FeedEvent& event() const;
  const EventAttrs& attrs() const;
  // The frame, and inside it the FeedEvent's serialized bytes.
  const Bytes& frame_bytes() const { return frame_; }
  size_t frame_size() const { return frame_.size(); }
  absl::string_view frame() const { return frame_.view(); }
  absl::string_view body() const { return frame().substr(body_offset_); }

 private:
  friend std::shared_ptr<const EncodedEvent> EncodeEvent(v1::FeedEvent event);
  friend absl::StatusOr<std::shared_ptr<const EncodedEvent>> DecodeEvent(absl::string_view body);
  friend std::shared_ptr<const EncodedEvent> EncodeSerialized(const v1::FeedEvent& event, EventAttrs&& attrs);
  friend std::shared_ptr<const EncodedEvent> EncodeSpliced(const v1::FeedEvent& event, absl::string_view body,
                                                           uint8_t normalised, EventAttrs&& attrs);
  void Decode() const;

  const uint64_t sequence_;
  const Bytes frame_;
  const size_t body_offset_;
  mutable absl::once_flag decoded_;
  mutable v1::FeedEvent event_;
  mutable EventAttrs attrs_;
  // Set before the event is shared when attrs_ came with it (EncodeSerialized).
  bool attrs_known_ = false;
};
using EventPtr = std::shared_ptr<const EncodedEvent>;

// Encodes `event` once.
EventPtr EncodeEvent(v1::FeedEvent event);

// Encodes `event`, keeping only its bytes and `attrs` (= AttrsOf(event)):
// event() parses them if it is ever called. For events built on an arena.
EventPtr EncodeSerialized(const v1::FeedEvent& event, EventAttrs&& attrs);

// One item of a serialized PublishRequest: the number and bytes of its one
// field (fact, guidance, ...); field 0 when the item is not that field alone.
struct ItemBody {
  int field = 0;
  absl::string_view bytes;
};
// The items of the serialized PublishRequest `request`, in order (views into
// it); empty when its top level does not walk.
std::vector<ItemBody> PublishItemBodies(absl::string_view request);
// The same for a request in pieces (a transport's slices, in order): an item
// within one piece is a view into it, one across pieces is copied onto
// `arena`. The views live as long as the pieces and the arena.
std::vector<ItemBody> PublishItemBodies(absl::Span<const absl::string_view> pieces,
                                        google::protobuf::Arena* arena);

// True when EncodeSpliced can encode `event` (validated and stamped) from
// `body`, the bytes its item arrived in: a fact or a guidance, from that field.
bool CanSplice(const v1::FeedEvent& event, const ItemBody& body);
// `event` encoded from `body` without serializing all of it again: its
// sequence and time, then its body with the parts validation changed
// (`normalised`, Normalised bits: key, value or bound, translations) and the
// stamps (revision, supersedes_sequence, known_at) written from `event`, and
// every other field (provenance, unknown fields) copied from `body` as it
// came. The bytes parse to `event`, and are its serialization when `body`'s
// fields came in field order. `attrs` as for EncodeSerialized.
EventPtr EncodeSpliced(const v1::FeedEvent& event, absl::string_view body, uint8_t normalised,
                       EventAttrs&& attrs);

// An event from its serialized FeedEvent bytes (the journal form), parsed
// at once: DATA_LOSS when they are not a FeedEvent.
absl::StatusOr<EventPtr> DecodeEvent(absl::string_view body);

// An event from the journal, whose row holds its sequence; the bytes are
// parsed only when event() or attrs() is first called. Their top level is
// checked now (a torn or overwritten row, or one whose sequence field is
// not the row's, is DATA_LOSS); damage inside a nested message is found by
// that later parse, after which attrs() has kind EVENT_KIND_UNSPECIFIED.
absl::StatusOr<EventPtr> JournalEvent(uint64_t sequence, absl::string_view body);

// JournalEvent for the frame at [begin, end) of `frames`, whose body starts
// `body_offset` bytes in: the event shares `frames` (a reference, no copy),
// and keeps all of it alive while it lives.
absl::StatusOr<EventPtr> JournalEventIn(uint64_t sequence, const Bytes& frames, size_t begin, size_t end,
                                        size_t body_offset);

// DATA_LOSS naming the journal row of `sequence`, whose bytes are not a
// kessan.v1.FeedEvent.
absl::Status DamagedJournalRow(uint64_t sequence);
// DamagedJournalRow when `e`, read from the journal, parsed to no body (it
// parses `e` if it was not yet); OK otherwise.
absl::Status CheckParsed(const EncodedEvent& e);

}  // namespace kessan
