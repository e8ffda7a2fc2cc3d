// EventFilter: matches event attributes against a validated Filter.
#pragma once

#include <string>
#include <vector>

#include "kessan/v1/feed.pb.h"
#include "model/keys.h"

namespace kessan {

// EventFilter is immutable and thread-safe. Each non-empty list of the
// filter must match; an event without the attribute does not match it.
class EventFilter {
 public:
  EventFilter() = default;
  // `filter` must be validated (issuer aliases resolved).
  explicit EventFilter(const v1::Filter& filter);

  bool Matches(const EventAttrs& attrs) const;
  // True when every event matches: no attribute needs looking at.
  bool matches_all() const {
    return issuers_.empty() && concepts_.empty() && segments_.empty() && kinds_.empty();
  }

 private:
  std::vector<std::string> issuers_;
  std::vector<std::string> concepts_;
  std::vector<std::string> segments_;
  std::vector<v1::EventKind> kinds_;
};

}  // namespace kessan
