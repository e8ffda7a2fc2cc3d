// Identity of feed items: fact keys, period labels and the attributes that
// filters select on.
#pragma once

#include <string>

#include "kessan/v1/feed.pb.h"

namespace kessan {

// "FY2002", "FY2002Q4", "FY2002H1".
std::string PeriodLabel(const v1::FiscalPeriod& period);

// A canonical string for a fact key: "IIJ/revenue/FY2002Q4",
// "IIJ/revenue_growth/FY2002Q4/vs:FY2001Q4", "IIJ/revenue/FY2002/seg:dedicated_access".
std::string FactKeyString(const v1::FactKey& key);

// What a filter can select on, and the identity of the item an event
// carries (events with the same item_key are revisions of one another).
struct EventAttrs {
  v1::EventKind kind = v1::EVENT_KIND_UNSPECIFIED;
  std::string issuer;
  std::string concept_id;
  std::string segment;
  std::string item_key;
};

// Attributes of a journaled event; kind is UNSPECIFIED for control events.
EventAttrs AttrsOf(const v1::FeedEvent& event);

}  // namespace kessan
