#include "event/wire_run.h"

#include <cstring>

namespace kessan {

WireRun::WireRun(std::vector<EventPtr> events) : events_(std::move(events)) {
  offsets_.reserve(events_.size() + 1);
  size_t total = 0;
  for (const EventPtr& e : events_) {
    offsets_.push_back(total);
    total += e->frame_size();
  }
  offsets_.push_back(total);
  char* at;
  bytes_ = Bytes::Allocate(total, &at);
  for (const EventPtr& e : events_) {
    std::memcpy(at, e->frame().data(), e->frame_size());
    at += e->frame_size();
  }
}

bool WireRun::Locate(const EncodedEvent& e, size_t* begin, size_t* end) const {
  const uint64_t s = e.sequence();
  if (s < first_sequence() || s > last_sequence()) return false;
  const size_t i = s - first_sequence();
  if (events_[i].get() != &e) return false;
  *begin = offsets_[i];
  *end = offsets_[i + 1];
  return true;
}

void PlanWire(const std::vector<EventPtr>& events, const std::vector<WireRunPtr>& runs,
              std::vector<absl::string_view>* out) {
  const size_t first = out->size();
  // Appends `range`, extending the last range when it ends where `range` starts.
  auto add = [&](absl::string_view range) {
    if (out->size() > first && out->back().data() + out->back().size() == range.data()) {
      out->back() = absl::string_view(out->back().data(), out->back().size() + range.size());
    } else {
      out->push_back(range);
    }
  };
  size_t r = 0;
  for (const EventPtr& e : events) {
    while (r < runs.size() && runs[r]->last_sequence() < e->sequence()) ++r;
    size_t begin;
    size_t end;
    if (r < runs.size() && runs[r]->Locate(*e, &begin, &end)) {
      add(runs[r]->bytes().view().substr(begin, end - begin));
    } else {
      add(e->frame());
    }
  }
}

}  // namespace kessan
