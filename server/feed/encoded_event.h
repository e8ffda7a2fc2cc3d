// EncodedEvent: a journaled event encoded once, shared by every reader.
#pragma once

#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include <grpcpp/support/slice.h>

#include "absl/status/statusor.h"
#include "kessan/v1/feed.pb.h"
#include "model/keys.h"

namespace kessan {

// EncodedEvent holds an event, its filter attributes and its wire form as
// one element of SubscribeResponse.events (field tag, length, FeedEvent
// bytes), so a response of several events is the concatenation of their
// frames. Immutable once built; shared between threads by EventPtr.
struct EncodedEvent {
  v1::FeedEvent event;
  EventAttrs attrs;
  std::string frame;
  // The frame in a gRPC refcounted slice, made once: each subscriber's
  // response takes a reference (an atomic increment), never a copy.
  grpc::Slice slice;

  uint64_t sequence() const { return event.sequence(); }
  // The FeedEvent's serialized bytes, inside the frame.
  absl::string_view body() const;
  size_t body_offset = 0;
};
using EventPtr = std::shared_ptr<const EncodedEvent>;

// Encodes `event` once.
EventPtr EncodeEvent(v1::FeedEvent event);

// Builds an EncodedEvent from serialized FeedEvent bytes (the journal form).
absl::StatusOr<EventPtr> DecodeEvent(absl::string_view body);

}  // namespace kessan
