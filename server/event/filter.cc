#include "event/filter.h"

#include <algorithm>

namespace kessan {
namespace {

template <typename T>
bool Allows(const std::vector<T>& allowed, const T& value) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

}  // namespace

EventFilter::EventFilter(const v1::Filter& filter)
    : issuers_(filter.issuers().begin(), filter.issuers().end()),
      concepts_(filter.concepts().begin(), filter.concepts().end()),
      segments_(filter.segments().begin(), filter.segments().end()) {
  for (int kind : filter.event_kinds()) kinds_.push_back(static_cast<v1::EventKind>(kind));
}

bool EventFilter::Matches(const EventAttrs& a) const {
  // A retraction goes to whoever follows the kind of item it withdraws.
  bool kind =
      Allows(kinds_, a.kind) || (a.kind == v1::EVENT_KIND_RETRACTION && Allows(kinds_, a.target_kind));
  return kind && Allows(issuers_, a.issuer) && Allows(concepts_, a.concept_id) &&
         Allows(segments_, a.segment);
}

}  // namespace kessan
