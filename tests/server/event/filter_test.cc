// Tests of server/event/filter.cc: matching event attributes.
#include "event/filter.h"

#include <gtest/gtest.h>

namespace kessan {
namespace {

EventAttrs Attrs(v1::EventKind kind, const char* issuer, const char* concept_id = "",
                 const char* segment = "") {
  EventAttrs a;
  a.kind = kind;
  a.issuer = issuer;
  a.concept_id = concept_id;
  a.segment = segment;
  return a;
}

const EventAttrs kRevenue = Attrs(v1::EVENT_KIND_FACT, "IIJ", "revenue");
const EventAttrs kSegmentRevenue = Attrs(v1::EVENT_KIND_FACT, "IIJ", "revenue", "systems_integration");
const EventAttrs kPlacement = Attrs(v1::EVENT_KIND_CAPITAL_ACTION, "IIJ");
const EventAttrs kSonyRevenue = Attrs(v1::EVENT_KIND_FACT, "SONY", "revenue");

TEST(EventFilterTest, EmptyFilterMatchesEverything) {
  EventFilter all;
  for (const EventAttrs& a : {kRevenue, kSegmentRevenue, kPlacement, kSonyRevenue}) {
    EXPECT_TRUE(all.Matches(a));
  }
  EXPECT_TRUE(EventFilter(v1::Filter()).Matches(kPlacement));
}

TEST(EventFilterTest, Issuers) {
  v1::Filter f;
  f.add_issuers("IIJ");
  EventFilter filter(f);
  EXPECT_TRUE(filter.Matches(kRevenue));
  EXPECT_TRUE(filter.Matches(kPlacement));
  EXPECT_FALSE(filter.Matches(kSonyRevenue));
  f.add_issuers("SONY");
  EXPECT_TRUE(EventFilter(f).Matches(kSonyRevenue));
}

// An event without the attribute a list filters on does not match it.
TEST(EventFilterTest, ConceptsAndSegmentsNeedTheAttribute) {
  v1::Filter concepts;
  concepts.add_concepts("revenue");
  EXPECT_TRUE(EventFilter(concepts).Matches(kRevenue));
  EXPECT_FALSE(EventFilter(concepts).Matches(kPlacement));

  v1::Filter segments;
  segments.add_segments("systems_integration");
  EXPECT_TRUE(EventFilter(segments).Matches(kSegmentRevenue));
  EXPECT_FALSE(EventFilter(segments).Matches(kRevenue));
}

TEST(EventFilterTest, EveryNonEmptyListMustMatch) {
  v1::Filter f;
  f.add_issuers("IIJ");
  f.add_event_kinds(v1::EVENT_KIND_FACT);
  f.add_concepts("revenue");
  EventFilter filter(f);
  EXPECT_TRUE(filter.Matches(kRevenue));
  EXPECT_FALSE(filter.Matches(kSonyRevenue));
  EXPECT_FALSE(filter.Matches(kPlacement));
  EXPECT_FALSE(filter.Matches(Attrs(v1::EVENT_KIND_GUIDANCE, "IIJ", "revenue")));
}

}  // namespace
}  // namespace kessan
