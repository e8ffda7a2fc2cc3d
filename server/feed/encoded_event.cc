#include "feed/encoded_event.h"

#include "absl/status/status.h"

namespace kessan {
namespace {

// Field 1 (SubscribeResponse.events), wire type 2 (length-delimited).
constexpr char kEventsTag = (1 << 3) | 2;

std::shared_ptr<EncodedEvent> Frame(absl::string_view body) {
  auto encoded = std::make_shared<EncodedEvent>();
  std::string& frame = encoded->frame;
  frame.reserve(body.size() + 11);
  frame.push_back(kEventsTag);
  uint64_t n = body.size();
  while (n >= 0x80) {
    frame.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  frame.push_back(static_cast<char>(n));
  encoded->body_offset = frame.size();
  frame.append(body.data(), body.size());
  return encoded;
}

}  // namespace

absl::string_view EncodedEvent::body() const {
  return absl::string_view(frame).substr(body_offset);
}

EventPtr EncodeEvent(v1::FeedEvent event) {
  auto encoded = Frame(event.SerializeAsString());
  encoded->attrs = AttrsOf(event);
  encoded->event = std::move(event);
  encoded->slice = grpc::Slice(encoded->frame);
  return encoded;
}

absl::StatusOr<EventPtr> DecodeEvent(absl::string_view body) {
  auto encoded = Frame(body);
  if (!encoded->event.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return absl::DataLossError("journal record is not a kessan.v1.FeedEvent");
  }
  encoded->attrs = AttrsOf(encoded->event);
  encoded->slice = grpc::Slice(encoded->frame);
  return encoded;
}

}  // namespace kessan
