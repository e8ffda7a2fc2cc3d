// Tests of the revenue_outlook plugin, through its C ABI entry point.
#include <gtest/gtest.h>

#include "testing/iij_inputs.h"
#include "testing/plugin_test_util.h"

namespace kessan::plugin::testing {
namespace {

v1::PluginRunRequest IijRequest() {
  v1::PluginRunRequest r;
  r.set_issuer("IIJ");
  *r.add_inputs() = MoneyFact(10, "revenue", FY(2002), 44000000000, -9);
  v1::FiscalPeriod fy2002 = FY(2002);
  *r.add_inputs() =
      RatioGuidance(20, "revenue_growth", FY(2003), &fy2002, "0.10", v1::QUALIFIER_GREATER_THAN);
  *r.add_inputs() = RatioGuidance(21, "operating_margin", FY(2003), nullptr, "0", v1::QUALIFIER_GREATER_THAN);
  (*r.mutable_parameters())["bear_growth"] = DecimalValue("0.10");
  (*r.mutable_parameters())["base_growth"] = DecimalValue("0.15");
  (*r.mutable_parameters())["bull_growth"] = DecimalValue("0.20");
  (*r.mutable_parameters())["operating_margin"] = DecimalValue("0.03");
  (*r.mutable_parameters())["base_fiscal_year"] = Integer(2002);
  return r;
}

TEST(RevenueOutlookTest, DescribesDefaultsAndInputs) {
  LoadedPlugin plugin;
  v1::ScenarioDescriptor d = plugin.Describe();
  EXPECT_EQ(d.name(), "revenue_outlook");
  EXPECT_EQ(d.parameters_size(), 5);
  EXPECT_EQ(d.parameters(1).name(), "base_growth");
  EXPECT_EQ(d.parameters(1).default_value().decimal().value(), "0.15");
  EXPECT_EQ(d.inputs_size(), 3);
}

TEST(RevenueOutlookTest, CasesUnderTheGuidance) {
  LoadedPlugin plugin;
  v1::PluginRunResponse out;
  PluginCall c = plugin.Run(IijRequest(), &out);
  ASSERT_EQ(c.code, KESSAN_STATUS_OK) << c.message;
  EXPECT_EQ(FindOutput(out, "revenue_guidance_bound")->money().units(), 48400000000);
  EXPECT_EQ(FindOutput(out, "revenue_bear")->money().units(), 48400000000);
  EXPECT_EQ(FindOutput(out, "revenue_base")->money().units(), 50600000000);
  EXPECT_EQ(FindOutput(out, "revenue_bull")->money().units(), 52800000000);
  EXPECT_EQ(FindOutput(out, "operating_income_base")->money().units(), 1518000000);
  EXPECT_EQ(FindOutput(out, "operating_income_bull")->money().units(), 1584000000);
  // "more than 10%": exactly 10% does not meet it.
  EXPECT_FALSE(FindOutput(out, "bear_meets_guidance")->flag());
  EXPECT_TRUE(FindOutput(out, "base_meets_guidance")->flag());
  EXPECT_TRUE(FindOutput(out, "operating_margin_meets_guidance")->flag());
  EXPECT_EQ(out.used_sequences_size(), 3);
  EXPECT_NE(FindOutput(out, "revenue_base")->derivation().find("44,000,000,000 x (1 + 0.15)"),
            std::string::npos);
}

TEST(RevenueOutlookTest, RoundsToWholeYenAndHandlesNegativeMargins) {
  LoadedPlugin plugin;
  v1::PluginRunRequest r = IijRequest();
  (*r.mutable_parameters())["base_growth"] = DecimalValue("0.1234567");
  (*r.mutable_parameters())["operating_margin"] = DecimalValue("-0.015");
  v1::PluginRunResponse out;
  ASSERT_EQ(plugin.Run(r, &out).code, KESSAN_STATUS_OK);
  // 44,000,000,000 x 1.1234567 = 49,432,094,800
  EXPECT_EQ(FindOutput(out, "revenue_base")->money().units(), 49432094800);
  // x -0.015 = -741,481,422
  EXPECT_EQ(FindOutput(out, "operating_income_base")->money().units(), -741481422);
  EXPECT_FALSE(FindOutput(out, "operating_margin_meets_guidance")->flag());
}

TEST(RevenueOutlookTest, MissingBaseYearIsFailedPrecondition) {
  LoadedPlugin plugin;
  v1::PluginRunRequest r = IijRequest();
  (*r.mutable_parameters())["base_fiscal_year"] = Integer(2001);
  v1::PluginRunResponse out;
  PluginCall c = plugin.Run(r, &out);
  EXPECT_EQ(c.code, KESSAN_STATUS_FAILED_PRECONDITION);
  EXPECT_NE(c.message.find("FY2001 revenue"), std::string::npos) << c.message;
}

// Overflow is an error naming the parameter, never a wrapped figure.
TEST(RevenueOutlookTest, OverflowIsOutOfRangeNamingTheParameter) {
  LoadedPlugin plugin;
  v1::PluginRunRequest r = IijRequest();
  (*r.mutable_parameters())["bull_growth"] = DecimalValue("999999999999999999999999999999");
  v1::PluginRunResponse out;
  PluginCall c = plugin.Run(r, &out);
  EXPECT_EQ(c.code, KESSAN_STATUS_OUT_OF_RANGE) << c.message;
  EXPECT_NE(c.message.find("parameter bull_growth"), std::string::npos) << c.message;
  r = IijRequest();
  (*r.mutable_parameters())["operating_margin"] = DecimalValue("99999999999");
  c = plugin.Run(r, &out);
  EXPECT_EQ(c.code, KESSAN_STATUS_OUT_OF_RANGE) << c.message;
  EXPECT_NE(c.message.find("parameter operating_margin"), std::string::npos) << c.message;
}

}  // namespace
}  // namespace kessan::plugin::testing
