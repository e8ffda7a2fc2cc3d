// Wire: events' encoded frames handed to gRPC as slices, without a copy.
#pragma once

#include <grpc/slice.h>
#include <grpcpp/support/byte_buffer.h>

#include <vector>

#include "absl/strings/string_view.h"
#include "event/encoded_event.h"
#include "event/wire_run.h"

namespace kessan {

// WireBuilder makes the ByteBuffer of a SubscribeResponse from events'
// frames (PlanWire's ranges). Every slice of one response shares one gRPC
// refcount, which owns the events and runs until gRPC drops the last slice:
// per response, one allocation and no atomic on a line other threads touch.
// Reuses its arrays from one response to the next; one user at a time.
class WireBuilder {
 public:
  // Replaces `*out` with the response of `events` (ByteBuffer has no move:
  // a copy would take every slice's reference again).
  void Build(std::vector<EventPtr> events, std::vector<WireRunPtr> runs, grpc::ByteBuffer* out);

 private:
  std::vector<absl::string_view> ranges_;
  std::vector<grpc_slice> slices_;
};

}  // namespace kessan
