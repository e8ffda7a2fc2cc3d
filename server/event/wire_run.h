// WireRun: the frames of a commit group's events, copied once into one buffer.
#pragma once

#include <memory>
#include <vector>

#include "absl/strings/string_view.h"
#include "event/bytes.h"
#include "event/encoded_event.h"

namespace kessan {

// A response of many events takes one reference per frame, and each
// reference is an atomic on a cache line every subscriber's thread touches.
// A WireRun holds the frames of consecutive events back to back, so a
// response of any stretch of them is one range of one buffer. It is made
// once per group for all subscribers and lives only while some queue or
// response holds it; the catalog keeps the events' own frames, so a long
// lived event never pins a group.
class WireRun {
 public:
  // `events` in sequence order with consecutive sequences, none empty.
  explicit WireRun(std::vector<EventPtr> events);

  uint64_t first_sequence() const { return events_.front()->sequence(); }
  uint64_t last_sequence() const { return events_.back()->sequence(); }
  const Bytes& bytes() const { return bytes_; }
  // Where `e`'s frame is in bytes(), when `e` is one of the run's events
  // (the same event, not only the same sequence).
  bool Locate(const EncodedEvent& e, size_t* begin, size_t* end) const;

 private:
  const std::vector<EventPtr> events_;
  std::vector<size_t> offsets_;  // events_.size() + 1
  Bytes bytes_;
};
using WireRunPtr = std::shared_ptr<const WireRun>;

// Appends to `out` the byte ranges of a response of `events`, in order:
// each stretch of consecutive events found in `runs` (sorted by sequence)
// as one range of its run, any other event as its own frame; ranges that
// are adjacent in memory (a journal row's frames, on replay) as one. The
// ranges point into `events` and `runs`, which must outlive their use.
void PlanWire(const std::vector<EventPtr>& events, const std::vector<WireRunPtr>& runs,
              std::vector<absl::string_view>* out);

}  // namespace kessan
