// Tests of server/state/state.cc: latest revisions and the catalog.
#include "state/state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::Describe;
using ::kessan::test::FactEvent;
using ::kessan::test::Iij;
using ::kessan::test::MakeSegment;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

EventPtr IssuerEvent(uint64_t sequence, const v1::Issuer& issuer) {
  v1::FeedEvent e;
  e.set_sequence(sequence);
  *e.mutable_issuer() = issuer;
  return EncodeEvent(std::move(e));
}

EventPtr SegmentEvent(uint64_t sequence, const char* issuer, const char* id) {
  v1::FeedEvent e;
  e.set_sequence(sequence);
  *e.mutable_segment() = MakeSegment(issuer, id);
  return EncodeEvent(std::move(e));
}

TEST(StateTest, KeepsTheLatestRevisionOfEachItem) {
  State state;
  state.Apply(IssuerEvent(1, Iij()));
  state.Apply(FactEvent(2, "IIJ", "revenue"));
  state.Apply(FactEvent(3, "IIJ", "operating_income"));
  state.Apply(FactEvent(4, "IIJ", "revenue"));
  EXPECT_EQ(state.last_sequence(), 4u);
  EXPECT_EQ(state.item_count(), 3u);
  ASSERT_NE(state.Latest("fact:IIJ/revenue/FY2002Q4"), nullptr);
  EXPECT_EQ(state.Latest("fact:IIJ/revenue/FY2002Q4")->sequence(), 4u);
  EXPECT_EQ(state.Latest("fact:IIJ/net_income/FY2002Q4"), nullptr);
  EXPECT_THAT(Describe(state.Snapshot(EventFilter())),
              ElementsAre("1 issuer:IIJ", "3 fact:IIJ/operating_income/FY2002Q4 r1",
                          "4 fact:IIJ/revenue/FY2002Q4 r1"));
}

TEST(StateTest, SnapshotFilters) {
  State state;
  state.Apply(IssuerEvent(1, Iij()));
  state.Apply(FactEvent(2, "IIJ", "revenue"));
  v1::Filter facts;
  facts.add_event_kinds(v1::EVENT_KIND_FACT);
  EXPECT_THAT(Describe(state.Snapshot(EventFilter(facts))), ElementsAre("2 fact:IIJ/revenue/FY2002Q4 r1"));
  v1::Filter sony;
  sony.add_issuers("SONY");
  EXPECT_THAT(state.Snapshot(EventFilter(sony)), IsEmpty());
}

TEST(StateTest, IsACatalog) {
  State state;
  EXPECT_EQ(state.FindIssuer("IIJ"), nullptr);
  state.Apply(IssuerEvent(1, Iij()));
  state.Apply(SegmentEvent(2, "IIJ", "systems_integration"));
  ASSERT_NE(state.FindIssuer("IIJ"), nullptr);
  ASSERT_NE(state.FindIssuer("11J"), nullptr);
  EXPECT_EQ(state.FindIssuer("11J")->id(), "IIJ");
  EXPECT_EQ(state.FindIssuer("SONY"), nullptr);
  EXPECT_TRUE(state.HasSegment("IIJ", "systems_integration"));
  EXPECT_FALSE(state.HasSegment("IIJ", "mobile"));
  EXPECT_FALSE(state.HasSegment("11J", "systems_integration"));  // ids, not aliases

  // A revised issuer is what FindIssuer returns.
  v1::Issuer revised = Iij();
  revised.set_name("Internet Initiative Japan Inc.");
  state.Apply(IssuerEvent(3, revised));
  EXPECT_EQ(state.FindIssuer("11J")->name(), "Internet Initiative Japan Inc.");
}

TEST(StateTest, IgnoresControlEvents) {
  State state;
  state.Apply(FactEvent(1));
  v1::FeedEvent end;
  end.mutable_snapshot_end()->set_sequence(1);
  state.Apply(EncodeEvent(end));
  EXPECT_EQ(state.last_sequence(), 1u);
  EXPECT_EQ(state.item_count(), 1u);
}

}  // namespace
}  // namespace kessan
