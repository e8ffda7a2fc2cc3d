// Tests of the dilution plugin, through its C ABI entry point.
#include <gtest/gtest.h>

#include <limits>

#include "testing/plugin_test_util.h"

namespace kessan::plugin::testing {
namespace {

v1::FeedEvent Placement(uint64_t sequence, int64_t shares, int64_t price, int64_t not_credited) {
  v1::FeedEvent e;
  e.set_sequence(sequence);
  v1::CapitalAction* a = e.mutable_capital_action();
  a->set_issuer("IIJ");
  a->set_action_id("private_placement_2003_06");
  v1::PrivatePlacement* pp = a->mutable_private_placement();
  pp->set_shares(shares);
  pp->mutable_issue_price()->set_currency_code("JPY");
  pp->mutable_issue_price()->set_units(price);
  pp->mutable_amount_not_credited_per_share()->set_currency_code("JPY");
  pp->mutable_amount_not_credited_per_share()->set_units(not_credited);
  return e;
}

v1::PluginRunRequest IijRequest() {
  v1::PluginRunRequest r;
  r.set_issuer("IIJ");
  *r.add_inputs() = Placement(42, 8400, 418200, 209100);
  (*r.mutable_parameters())["shares_outstanding_before"] = Integer(48000);
  return r;
}

TEST(DilutionTest, DescribesItself) {
  LoadedPlugin plugin;
  ASSERT_EQ(plugin.entry_status(), KESSAN_STATUS_OK);
  v1::ScenarioDescriptor d = plugin.Describe();
  EXPECT_EQ(d.name(), "dilution");
  ASSERT_GE(d.parameters_size(), 1);
  EXPECT_EQ(d.parameters(0).name(), "shares_outstanding_before");
  EXPECT_TRUE(d.parameters(0).required());
  ASSERT_EQ(d.inputs_size(), 1);
  EXPECT_EQ(d.inputs(0).event_kind(), v1::EVENT_KIND_CAPITAL_ACTION);
}

TEST(DilutionTest, IijPlacementInExactYen) {
  LoadedPlugin plugin;
  v1::PluginRunResponse out;
  PluginCall c = plugin.Run(IijRequest(), &out);
  ASSERT_EQ(c.code, KESSAN_STATUS_OK) << c.message;
  EXPECT_EQ(FindOutput(out, "gross_proceeds")->money().units(), 3512880000);
  EXPECT_EQ(FindOutput(out, "gross_proceeds")->money().currency_code(), "JPY");
  EXPECT_EQ(FindOutput(out, "stated_capital_increase")->money().units(), 1756440000);
  EXPECT_EQ(FindOutput(out, "capital_reserve_increase")->money().units(), 1756440000);
  EXPECT_EQ(FindOutput(out, "pro_forma_shares")->count(), 56400);
  // 8,400 / 56,400 = 0.148936170... -> 0.148936
  EXPECT_EQ(FindOutput(out, "ownership_dilution")->decimal().value(), "0.148936");
  EXPECT_EQ(FindOutput(out, "new_shares_to_existing")->decimal().value(), "0.175000");
  EXPECT_EQ(FindOutput(out, "gross_proceeds")->derivation(),
            "8,400 shares x JPY 418,200 issue price = 3,512,880,000");
  ASSERT_EQ(out.used_sequences_size(), 1);
  EXPECT_EQ(out.used_sequences(0), 42u);
  EXPECT_EQ(FindOutput(out, "eps_before"), nullptr);  // no net income given
}

TEST(DilutionTest, PerShareFiguresAndAccretion) {
  LoadedPlugin plugin;
  v1::PluginRunRequest r = IijRequest();
  (*r.mutable_parameters())["net_income"] = Yen(-4800000000);
  (*r.mutable_parameters())["book_equity"] = Yen(9600000000);  // 200,000 per share
  (*r.mutable_parameters())["market_price"] = Yen(400000);
  v1::PluginRunResponse out;
  PluginCall c = plugin.Run(r, &out);
  ASSERT_EQ(c.code, KESSAN_STATUS_OK) << c.message;
  EXPECT_EQ(FindOutput(out, "eps_before")->decimal().value(), "-100000.00");
  // -4,800,000,000 / 56,400 = -85106.382...
  EXPECT_EQ(FindOutput(out, "eps_after")->decimal().value(), "-85106.38");
  EXPECT_EQ(FindOutput(out, "book_value_per_share_before")->decimal().value(), "200000.00");
  // (9,600,000,000 + 3,512,880,000) / 56,400 = 232497.87...
  EXPECT_EQ(FindOutput(out, "book_value_per_share_after")->decimal().value(), "232497.87");
  EXPECT_TRUE(FindOutput(out, "accretive_to_book_value")->flag());
  EXPECT_EQ(FindOutput(out, "issue_premium_to_market")->decimal().value(), "0.045500");
}

TEST(DilutionTest, NotAccretiveWhenIssuedBelowBookValue) {
  LoadedPlugin plugin;
  v1::PluginRunRequest r = IijRequest();
  (*r.mutable_parameters())["book_equity"] = Yen(48000LL * 500000);  // 500,000 per share > 418,200
  v1::PluginRunResponse out;
  ASSERT_EQ(plugin.Run(r, &out).code, KESSAN_STATUS_OK);
  EXPECT_FALSE(FindOutput(out, "accretive_to_book_value")->flag());
}

TEST(DilutionTest, MissingSharesOutstandingIsAClearError) {
  LoadedPlugin plugin;
  v1::PluginRunRequest r = IijRequest();
  r.mutable_parameters()->erase("shares_outstanding_before");
  v1::PluginRunResponse out;
  PluginCall c = plugin.Run(r, &out);
  EXPECT_EQ(c.code, KESSAN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(c.message.find("shares_outstanding_before"), std::string::npos) << c.message;
}

TEST(DilutionTest, NoPlacementIsFailedPrecondition) {
  LoadedPlugin plugin;
  v1::PluginRunRequest r = IijRequest();
  r.clear_inputs();
  v1::PluginRunResponse out;
  EXPECT_EQ(plugin.Run(r, &out).code, KESSAN_STATUS_FAILED_PRECONDITION);
}

TEST(DilutionTest, LatestPlacementWinsAndRevisionsAreUsed) {
  LoadedPlugin plugin;
  v1::PluginRunRequest r = IijRequest();
  *r.add_inputs() = Placement(50, 10000, 400000, 200000);
  r.mutable_inputs(1)->mutable_capital_action()->set_action_id("private_placement_2004_01");
  v1::PluginRunResponse out;
  ASSERT_EQ(plugin.Run(r, &out).code, KESSAN_STATUS_OK);
  EXPECT_EQ(FindOutput(out, "gross_proceeds")->money().units(), 4000000000);
  (*r.mutable_parameters())["action_id"].set_text("private_placement_2003_06");
  out.Clear();
  ASSERT_EQ(plugin.Run(r, &out).code, KESSAN_STATUS_OK);
  EXPECT_EQ(FindOutput(out, "gross_proceeds")->money().units(), 3512880000);
}

TEST(DilutionTest, ForeignCurrencyParameterIsRefused) {
  LoadedPlugin plugin;
  v1::PluginRunRequest r = IijRequest();
  v1::ParameterValue usd;
  usd.mutable_money()->set_currency_code("USD");
  usd.mutable_money()->set_units(10);
  (*r.mutable_parameters())["net_income"] = usd;
  v1::PluginRunResponse out;
  PluginCall c = plugin.Run(r, &out);
  EXPECT_EQ(c.code, KESSAN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(c.message.find("net_income"), std::string::npos);
}

// Overflow is an error naming the parameter, never a wrapped figure.
TEST(DilutionTest, ShareCountOverflowIsOutOfRangeNamingTheParameter) {
  LoadedPlugin plugin;
  v1::PluginRunRequest r = IijRequest();
  (*r.mutable_parameters())["shares_outstanding_before"] = Integer(std::numeric_limits<int64_t>::max());
  v1::PluginRunResponse out;
  PluginCall c = plugin.Run(r, &out);
  EXPECT_EQ(c.code, KESSAN_STATUS_OUT_OF_RANGE) << c.message;
  EXPECT_NE(c.message.find("parameter shares_outstanding_before"), std::string::npos) << c.message;
  EXPECT_EQ(FindOutput(out, "pro_forma_shares"), nullptr);
}

TEST(DilutionTest, MoneyOverflowIsOutOfRangeNamingTheParameter) {
  LoadedPlugin plugin;
  v1::PluginRunRequest r = IijRequest();
  // 56,400 shares x the largest price: above any 64-bit amount.
  (*r.mutable_parameters())["market_price"] = Yen(std::numeric_limits<int64_t>::max());
  v1::PluginRunResponse out;
  PluginCall c = plugin.Run(r, &out);
  EXPECT_EQ(c.code, KESSAN_STATUS_OUT_OF_RANGE) << c.message;
  EXPECT_NE(c.message.find("parameter market_price"), std::string::npos) << c.message;

  r = IijRequest();
  (*r.mutable_parameters())["shares_outstanding_before"] =
      Integer(std::numeric_limits<int64_t>::max() - 8400);
  (*r.mutable_parameters())["book_equity"] = Yen(std::numeric_limits<int64_t>::max());
  c = plugin.Run(r, &out);
  EXPECT_EQ(c.code, KESSAN_STATUS_OK) << c.message;  // 128-bit products: exact
  (*r.mutable_parameters())["net_income"] = Yen(std::numeric_limits<int64_t>::min());
  c = plugin.Run(r, &out);
  EXPECT_EQ(c.code, KESSAN_STATUS_OK) << c.message;
}

TEST(DilutionTest, DecimalHelpersAreChecked) {
  EXPECT_THROW(CheckedMul(Pow10(20), Pow10(20)), std::overflow_error);
  EXPECT_THROW(FormatRatio(Pow10(37), 3, 6), std::overflow_error);
  EXPECT_THROW(ToInt64(Pow10(19), "output x"), std::overflow_error);
  EXPECT_EQ(FormatGrouped(-1234567), "-1,234,567");
  // Compare is exact where scaling would overflow.
  ScaledDecimal big{Pow10(30), 0}, tiny{1, 30};
  EXPECT_EQ(Compare(big, tiny), 1);
  EXPECT_EQ(Compare(tiny, big), -1);
  EXPECT_EQ(Compare(ScaledDecimal{-Pow10(30), 0}, tiny), -1);
  EXPECT_EQ(Compare(ScaledDecimal{5, 1}, ScaledDecimal{50, 2}), 0);
}

}  // namespace
}  // namespace kessan::plugin::testing
