// EventLog: the durable journal of feed events.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "feed/encoded_event.h"

namespace kessan {

// EventLog stores events in sequence order. Sequences start at 1 and have
// no gaps. Implementations are thread-safe: one appender at a time (calls to
// Append are serialized by the caller) and any number of concurrent readers.
class EventLog {
 public:
  virtual ~EventLog() = default;

  // Appends `events`, whose sequences must be last_sequence()+1, +2, ... in
  // order, all or nothing. Returns OK only once the events are durable.
  virtual absl::Status Append(const std::vector<EventPtr>& events) = 0;

  // The highest sequence appended; 0 for an empty log.
  virtual uint64_t last_sequence() const = 0;

  // Calls `fn` with the events whose sequence is in (after, up_to], in
  // order, at most `max_count` of them. Returns the number read.
  virtual absl::StatusOr<size_t> Read(uint64_t after, uint64_t up_to,
                                      size_t max_count,
                                      const std::function<void(EventPtr)>& fn) = 0;
};

}  // namespace kessan
