// Tests of server/model/keys.cc: period labels, fact keys, event attributes.
#include "model/keys.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::FullYear;
using ::kessan::test::Half;
using ::kessan::test::Iij;
using ::kessan::test::MakeCapitalAction;
using ::kessan::test::MakeDate;
using ::kessan::test::MakeFact;
using ::kessan::test::MakeGuidance;
using ::kessan::test::MakeKey;
using ::kessan::test::MakeSegment;
using ::kessan::test::Quarter;

TEST(PeriodLabelTest, Forms) {
  EXPECT_EQ(PeriodLabel(FullYear(2002)), "FY2002");
  EXPECT_EQ(PeriodLabel(Quarter(2002, 4)), "FY2002Q4");
  EXPECT_EQ(PeriodLabel(Half(2002, 1)), "FY2002H1");
}

TEST(FactKeyStringTest, Forms) {
  EXPECT_EQ(FactKeyString(MakeKey("IIJ", "revenue", Quarter(2002, 4))), "IIJ/revenue/FY2002Q4");
  EXPECT_EQ(FactKeyString(MakeKey("IIJ", "revenue", FullYear(2002), "dedicated_access")),
            "IIJ/revenue/FY2002/seg:dedicated_access");

  v1::FactKey growth = MakeKey("IIJ", "revenue_growth", Quarter(2002, 4));
  *growth.mutable_comparison_period() = Quarter(2001, 4);
  EXPECT_EQ(FactKeyString(growth), "IIJ/revenue_growth/FY2002Q4/vs:FY2001Q4");

  growth.set_segment("systems_integration");
  EXPECT_EQ(FactKeyString(growth), "IIJ/revenue_growth/FY2002Q4/seg:systems_integration/vs:FY2001Q4");
}

// Validation fills in period dates; the key must not depend on them, or a
// revision would not find the item it revises.
TEST(FactKeyStringTest, IgnoresPeriodDates) {
  v1::FactKey bare = MakeKey("IIJ", "revenue", Quarter(2002, 4));
  v1::FactKey dated = bare;
  *dated.mutable_period()->mutable_start_date() = MakeDate(2003, 1, 1);
  *dated.mutable_period()->mutable_end_date() = MakeDate(2003, 3, 31);
  EXPECT_EQ(FactKeyString(bare), FactKeyString(dated));
}

TEST(FactKeyStringTest, DistinguishesEveryPart) {
  const std::string base = FactKeyString(MakeKey("IIJ", "revenue", Quarter(2002, 4)));
  EXPECT_NE(base, FactKeyString(MakeKey("IIJ", "revenue", Quarter(2002, 3))));
  EXPECT_NE(base, FactKeyString(MakeKey("IIJ", "revenue", Half(2002, 2))));
  EXPECT_NE(base, FactKeyString(MakeKey("IIJ", "revenue", Quarter(2001, 4))));
  EXPECT_NE(base, FactKeyString(MakeKey("IIJ", "net_income", Quarter(2002, 4))));
  EXPECT_NE(base, FactKeyString(MakeKey("SONY", "revenue", Quarter(2002, 4))));
}

// The journal keeps item keys: they must stay what StrCat wrote, for every
// number and kind a key may hold.
std::string StrCatLabel(const v1::FiscalPeriod& p) {
  switch (p.kind()) {
    case v1::PERIOD_KIND_QUARTER:
      return absl::StrCat("FY", p.fiscal_year(), "Q", p.number());
    case v1::PERIOD_KIND_HALF:
      return absl::StrCat("FY", p.fiscal_year(), "H", p.number());
    case v1::PERIOD_KIND_FULL_YEAR:
      return absl::StrCat("FY", p.fiscal_year());
    default:
      return absl::StrCat("FY", p.fiscal_year(), "?", p.number());
  }
}

TEST(FactKeyStringTest, WritesWhatStrCatWrote) {
  const int32_t numbers[] = {0,
                             1,
                             4,
                             9,
                             10,
                             2002,
                             -1,
                             -2002,
                             std::numeric_limits<int32_t>::max(),
                             std::numeric_limits<int32_t>::min()};
  const v1::PeriodKind kinds[] = {v1::PERIOD_KIND_QUARTER, v1::PERIOD_KIND_HALF, v1::PERIOD_KIND_FULL_YEAR,
                                  v1::PERIOD_KIND_UNSPECIFIED};
  for (int32_t year : numbers) {
    for (int32_t number : numbers) {
      for (v1::PeriodKind kind : kinds) {
        v1::FiscalPeriod period;
        period.set_fiscal_year(year);
        period.set_kind(kind);
        period.set_number(number);
        EXPECT_EQ(PeriodLabel(period), StrCatLabel(period));
        v1::FactKey key = MakeKey("IIJ", "operating_income_margin", period, "systems_integration");
        *key.mutable_comparison_period() = period;
        EXPECT_EQ(FactKeyString(key, "guidance:"),
                  absl::StrCat("guidance:IIJ/operating_income_margin/", StrCatLabel(period),
                               "/seg:systems_integration/vs:", StrCatLabel(period)));
        key.clear_segment();
        key.clear_comparison_period();
        EXPECT_EQ(FactKeyString(key), absl::StrCat("IIJ/operating_income_margin/", StrCatLabel(period)));
      }
    }
  }
  EXPECT_EQ(FactKeyString(v1::FactKey()), "//FY0?0");
  const std::string long_concept(300, 'c');  // past the key's buffer on the stack
  EXPECT_EQ(FactKeyString(MakeKey("IIJ", long_concept, Quarter(2002, 4), "seg"), "fact:"),
            absl::StrCat("fact:IIJ/", long_concept, "/FY2002Q4/seg:seg"));
}

v1::FeedEvent Event(uint64_t sequence) {
  v1::FeedEvent event;
  event.set_sequence(sequence);
  return event;
}

TEST(AttrsOfTest, Issuer) {
  v1::FeedEvent e = Event(1);
  *e.mutable_issuer() = Iij();
  EventAttrs a = AttrsOf(e);
  EXPECT_EQ(a.kind, v1::EVENT_KIND_ISSUER);
  EXPECT_EQ(a.issuer, "IIJ");
  EXPECT_EQ(a.concept_id, "");
  EXPECT_EQ(a.segment, "");
  EXPECT_EQ(a.item_key, "issuer:IIJ");
}

TEST(AttrsOfTest, Segment) {
  v1::FeedEvent e = Event(2);
  *e.mutable_segment() = MakeSegment("IIJ", "systems_integration");
  EventAttrs a = AttrsOf(e);
  EXPECT_EQ(a.kind, v1::EVENT_KIND_SEGMENT);
  EXPECT_EQ(a.issuer, "IIJ");
  EXPECT_EQ(a.concept_id, "");
  EXPECT_EQ(a.segment, "systems_integration");
  EXPECT_EQ(a.item_key, "segment:IIJ/systems_integration");
}

TEST(AttrsOfTest, Fact) {
  v1::FeedEvent e = Event(3);
  *e.mutable_fact() = MakeFact("IIJ", "revenue", Quarter(2002, 4));
  e.mutable_fact()->mutable_key()->set_segment("systems_integration");
  EventAttrs a = AttrsOf(e);
  EXPECT_EQ(a.kind, v1::EVENT_KIND_FACT);
  EXPECT_EQ(a.issuer, "IIJ");
  EXPECT_EQ(a.concept_id, "revenue");
  EXPECT_EQ(a.segment, "systems_integration");
  EXPECT_EQ(a.item_key, "fact:IIJ/revenue/FY2002Q4/seg:systems_integration");
}

TEST(AttrsOfTest, CapitalAction) {
  v1::FeedEvent e = Event(4);
  *e.mutable_capital_action() = MakeCapitalAction("IIJ", "private_placement_2003_06");
  EventAttrs a = AttrsOf(e);
  EXPECT_EQ(a.kind, v1::EVENT_KIND_CAPITAL_ACTION);
  EXPECT_EQ(a.issuer, "IIJ");
  EXPECT_EQ(a.concept_id, "");
  EXPECT_EQ(a.segment, "");
  EXPECT_EQ(a.item_key, "capital_action:IIJ/private_placement_2003_06");
}

TEST(AttrsOfTest, Guidance) {
  v1::FeedEvent e = Event(5);
  *e.mutable_guidance() = MakeGuidance("IIJ", "revenue_growth", FullYear(2003));
  EventAttrs a = AttrsOf(e);
  EXPECT_EQ(a.kind, v1::EVENT_KIND_GUIDANCE);
  EXPECT_EQ(a.issuer, "IIJ");
  EXPECT_EQ(a.concept_id, "revenue_growth");
  EXPECT_EQ(a.segment, "");
  EXPECT_EQ(a.item_key, "guidance:IIJ/revenue_growth/FY2003");
}

// A fact and a guidance with the same key are different items.
TEST(AttrsOfTest, FactAndGuidanceOfOneKeyAreDifferentItems) {
  v1::FeedEvent fact = Event(1), guidance = Event(2);
  *fact.mutable_fact() = MakeFact("IIJ", "revenue", FullYear(2003));
  *guidance.mutable_guidance() = MakeGuidance("IIJ", "revenue", FullYear(2003));
  EXPECT_NE(AttrsOf(fact).item_key, AttrsOf(guidance).item_key);
}

TEST(AttrsOfTest, ControlEventsHaveNoKindOrKey) {
  v1::FeedEvent begin, end, empty;
  begin.mutable_snapshot_begin()->set_sequence(7);
  end.mutable_snapshot_end()->set_sequence(7);
  for (const v1::FeedEvent& e : {begin, end, empty}) {
    EventAttrs a = AttrsOf(e);
    EXPECT_EQ(a.kind, v1::EVENT_KIND_UNSPECIFIED);
    EXPECT_EQ(a.item_key, "");
    EXPECT_EQ(a.issuer, "");
  }
}

}  // namespace
}  // namespace kessan
