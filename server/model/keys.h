// Identity of feed items: fact keys, period labels and the attributes that
// filters select on.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "kessan/v1/feed.pb.h"

namespace kessan {

// "FY2002", "FY2002Q4", "FY2002H1".
std::string PeriodLabel(const v1::FiscalPeriod& period);

// A canonical string for a fact key: "IIJ/revenue/FY2002Q4",
// "IIJ/revenue_growth/FY2002Q4/vs:FY2001Q4", "IIJ/revenue/FY2002/seg:dedicated_access";
// after `prefix` ("fact:" for an item key), in one allocation.
std::string FactKeyString(const v1::FactKey& key, absl::string_view prefix = {});

// What a filter can select on, and the identity of the item an event
// carries (events with the same item_key are revisions of one another).
struct EventAttrs {
  v1::EventKind kind = v1::EVENT_KIND_UNSPECIFIED;
  std::string issuer;
  std::string concept_id;
  std::string segment;
  std::string item_key;
  // For a retraction: the kind of the item it withdraws.
  v1::EventKind target_kind = v1::EVENT_KIND_UNSPECIFIED;
  // The body's revision (1 for issuers and segments, which have none) and
  // the event's time, so that neither needs the event decoded.
  int32_t revision = 0;
  int64_t time_ns = 0;
};

// Attributes of a journaled event; kind is UNSPECIFIED for control events.
// A retraction has the item key and attributes of the item it withdraws.
EventAttrs AttrsOf(const v1::FeedEvent& event);
// The same with the item key already known (ValidatePublish's `item_keys`):
// a fact's, capital action's or guidance's `item_key` is taken, not built
// again; it must be the one AttrsOf gives. Empty: built as by AttrsOf.
EventAttrs AttrsOf(const v1::FeedEvent& event, std::string item_key);

// The item key of what `ref` names: "fact:IIJ/revenue/FY2002Q4", ...
std::string ItemKeyOf(const v1::ItemRef& ref);

}  // namespace kessan
