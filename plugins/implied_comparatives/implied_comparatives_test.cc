// Tests of the implied_comparatives plugin, through its C ABI entry point.
#include <gtest/gtest.h>

#include "testing/iij_inputs.h"
#include "testing/plugin_test_util.h"

namespace kessan::plugin::testing {
namespace {

v1::PluginRunRequest IijRequest() {
  v1::PluginRunRequest r;
  r.set_issuer("IIJ");
  *r.add_inputs() = MoneyFact(1, "revenue", Q(2002, 4), 13000000000, -9);
  *r.add_inputs() = RatioFact(2, "revenue_growth", Q(2002, 4), Q(2001, 4), "0.077", 3);
  *r.add_inputs() = RatioFact(3, "revenue_growth", Q(2002, 4), Q(2002, 3), "0.234", 3);
  *r.add_inputs() = MoneyFact(4, "adjusted_ebitda", Q(2002, 4), 459000000, -6);
  *r.add_inputs() = RatioFact(5, "adjusted_ebitda_growth", Q(2002, 4), Q(2001, 4), "-0.530", 3);
  *r.add_inputs() = RatioFact(6, "adjusted_ebitda_growth", Q(2002, 4), Q(2002, 3), "0.320", 3);
  *r.add_inputs() = MoneyFact(7, "revenue", FY(2002), 44000000000, -9);
  *r.add_inputs() = RatioFact(8, "revenue_growth", FY(2002), FY(2001), "0.103", 3);
  (*r.mutable_parameters())["concepts"].set_text("revenue,adjusted_ebitda");
  return r;
}

void ExpectInterval(const v1::PluginRunResponse& out, const std::string& name, int64_t low, int64_t high) {
  const v1::Output* o = FindOutput(out, name);
  ASSERT_NE(o, nullptr) << name;
  ASSERT_TRUE(o->has_money_interval()) << name;
  EXPECT_EQ(o->money_interval().low().units(), low) << name;
  EXPECT_EQ(o->money_interval().high().units(), high) << name;
  EXPECT_EQ(o->money_interval().low().currency_code(), "JPY");
}

TEST(ImpliedComparativesTest, IijPriorPeriodsAsIntervals) {
  LoadedPlugin plugin;
  v1::PluginRunResponse out;
  PluginCall c = plugin.Run(IijRequest(), &out);
  ASSERT_EQ(c.code, KESSAN_STATUS_OK) << c.message;
  EXPECT_EQ(out.outputs_size(), 5);
  // 4Q01 revenue: [12.5 bn / 1.0775, 13.5 bn / 1.0765]
  ExpectInterval(out, "revenue_FY2001Q4", 11600928074, 12540640967);
  // 3Q02 revenue: [12.5 bn / 1.2345, 13.5 bn / 1.2335]
  ExpectInterval(out, "revenue_FY2002Q3", 10125556905, 10944466964);
  // FY2001 revenue: [43.5 bn / 1.1035, 44.5 bn / 1.1025]
  ExpectInterval(out, "revenue_FY2001", 39420027186, 40362811792);
  // 4Q01 adjusted EBITDA: [458.5 m / 0.4705, 459.5 m / 0.4695]
  ExpectInterval(out, "adjusted_ebitda_FY2001Q4", 974495217, 978700746);
  // 3Q02 adjusted EBITDA: [458.5 m / 1.3205, 459.5 m / 1.3195]
  ExpectInterval(out, "adjusted_ebitda_FY2002Q3", 347216963, 348237969);
  EXPECT_EQ(out.used_sequences_size(), 10);
}

TEST(ImpliedComparativesTest, IntervalContainsThePointEstimate) {
  LoadedPlugin plugin;
  v1::PluginRunResponse out;
  ASSERT_EQ(plugin.Run(IijRequest(), &out).code, KESSAN_STATUS_OK);
  const v1::Output* o = FindOutput(out, "revenue_FY2001Q4");
  // 13 bn / 1.077 = 12,070,566,388
  EXPECT_NE(o->derivation().find("point estimate 12,070,566,388"), std::string::npos) << o->derivation();
  EXPECT_EQ(o->label(), "4Q01 revenue implied by 4Q02");
}

TEST(ImpliedComparativesTest, ExactFiguresGiveNarrowIntervals) {
  LoadedPlugin plugin;
  v1::PluginRunRequest r;
  r.set_issuer("IIJ");
  *r.add_inputs() = MoneyFact(1, "revenue", FY(2002), 1100, 0);
  v1::FeedEvent g = RatioFact(2, "revenue_growth", FY(2002), FY(2001), "0.1", 1);
  g.mutable_fact()->mutable_value()->mutable_precision()->set_exact(true);
  *r.add_inputs() = g;
  v1::PluginRunResponse out;
  ASSERT_EQ(plugin.Run(r, &out).code, KESSAN_STATUS_OK);
  ExpectInterval(out, "revenue_FY2001", 1000, 1000);
}

TEST(ImpliedComparativesTest, NothingToDeriveIsFailedPrecondition) {
  LoadedPlugin plugin;
  v1::PluginRunRequest r;
  r.set_issuer("IIJ");
  v1::PluginRunResponse out;
  EXPECT_EQ(plugin.Run(r, &out).code, KESSAN_STATUS_FAILED_PRECONDITION);
}

}  // namespace
}  // namespace kessan::plugin::testing
