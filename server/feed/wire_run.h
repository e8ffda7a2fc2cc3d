// WireRun: the frames of a commit group's events, copied once into one slice.
#pragma once

#include <memory>
#include <vector>

#include <grpc/slice.h>
#include <grpcpp/support/slice.h>

#include "feed/encoded_event.h"

namespace kessan {

// A response of many events takes one reference per frame, and each
// reference is an atomic on a cache line every subscriber's thread touches.
// A WireRun holds the frames of consecutive events back to back, so a
// response of any stretch of them is one slice and one reference. It is
// made once per group for all subscribers and lives only while some queue
// or response holds it; the catalog keeps the events' own frames, so a long
// lived event never pins a group.
class WireRun {
 public:
  // `events` in sequence order with consecutive sequences, none empty.
  explicit WireRun(std::vector<EventPtr> events);

  uint64_t first_sequence() const { return events_.front()->sequence(); }
  uint64_t last_sequence() const { return events_.back()->sequence(); }
  const grpc::Slice& bytes() const { return bytes_; }
  // Where `e`'s frame is in bytes(), when `e` is one of the run's events
  // (the same event, not only the same sequence).
  bool Locate(const EncodedEvent& e, size_t* begin, size_t* end) const;

 private:
  const std::vector<EventPtr> events_;
  std::vector<size_t> offsets_;  // events_.size() + 1
  grpc::Slice bytes_;
};
using WireRunPtr = std::shared_ptr<const WireRun>;

// The handle of `s` without taking a reference: a borrow valid while `s`
// lives. (grpc::Slice::c_slice() takes one, which the caller must drop.)
grpc_slice BorrowSlice(const grpc::Slice& s);

// Appends to `out` the slices of a response of `events`: each stretch of
// consecutive events found in `runs` (sorted by sequence) as one slice of
// its run, any other event as its own frame (frames adjacent in one buffer,
// as a replay's are, as one slice). The slices are borrowed (no
// reference taken): the caller's `events` and `runs` must outlive their use.
void AppendWire(const std::vector<EventPtr>& events, const std::vector<WireRunPtr>& runs,
                std::vector<grpc_slice>* out);

}  // namespace kessan
