#include "state/state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kessan {

void State::Apply(const EventPtr& event) {
  const EventAttrs& a = event->attrs();
  if (a.kind == v1::EVENT_KIND_UNSPECIFIED) return;
  items_[a.item_key] = event;
  last_sequence_ = event->sequence();
  if (a.kind == v1::EVENT_KIND_ISSUER) {
    const v1::Issuer& issuer = event->event().issuer();
    issuer_by_name_[issuer.id()] = issuer.id();
    for (const std::string& alias : issuer.aliases()) issuer_by_name_[alias] = issuer.id();
  } else if (a.kind == v1::EVENT_KIND_SEGMENT) {
    segments_.insert(absl::StrCat(a.issuer, "/", a.segment));
  }
}

EventPtr State::Latest(const std::string& item_key) const {
  auto it = items_.find(item_key);
  return it == items_.end() ? nullptr : it->second;
}

EventPtr State::Latest(absl::string_view item_key, size_t hash) const {
  auto it = items_.find(item_key, hash);
  return it == items_.end() ? nullptr : it->second;
}

std::vector<EventPtr> State::Snapshot(const EventFilter& filter) const {
  std::vector<EventPtr> out;
  for (const auto& [key, event] : items_) {
    if (event->attrs().kind != v1::EVENT_KIND_RETRACTION && filter.Matches(event->attrs())) {
      out.push_back(event);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const EventPtr& a, const EventPtr& b) { return a->sequence() < b->sequence(); });
  return out;
}

std::vector<uint64_t> State::LatestSequencesBelow(uint64_t horizon) const {
  std::vector<uint64_t> out;
  for (const auto& [key, event] : items_) {
    if (event->sequence() < horizon) out.push_back(event->sequence());
  }
  return out;
}

const v1::Issuer* State::FindIssuer(absl::string_view id_or_alias) const {
  auto it = issuer_by_name_.find(id_or_alias);
  if (it == issuer_by_name_.end()) return nullptr;
  EventPtr e = Latest(absl::StrCat("issuer:", it->second));
  return e ? &e->event().issuer() : nullptr;
}

bool State::HasLiveItem(const std::string& item_key) const {
  auto it = items_.find(item_key);
  return it != items_.end() && it->second->attrs().kind != v1::EVENT_KIND_RETRACTION;
}

bool State::HasSegment(absl::string_view issuer, absl::string_view segment_id) const {
  return segments_.count(absl::StrCat(issuer, "/", segment_id)) > 0;
}

}  // namespace kessan
