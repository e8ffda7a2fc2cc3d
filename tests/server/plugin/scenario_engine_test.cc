// Tests of server/plugin/scenario_engine.cc: parameter checking and input
// matching (the runs themselves are covered end to end in tests/plugins).
#include "plugin/scenario_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kessan {
namespace {

using ::testing::HasSubstr;

v1::ScenarioDescriptor Descriptor() {
  v1::ScenarioDescriptor d;
  d.set_name("demo");
  v1::ParameterSpec* p = d.add_parameters();
  p->set_name("shares");
  p->set_type(v1::PARAMETER_TYPE_INTEGER);
  p->set_required(true);
  p->mutable_min()->set_integer(1);
  p = d.add_parameters();
  p->set_name("growth");
  p->set_type(v1::PARAMETER_TYPE_DECIMAL);
  p->mutable_default_value()->mutable_decimal()->set_value("0.15");
  p->mutable_min()->mutable_decimal()->set_value("-1");
  p->mutable_max()->mutable_decimal()->set_value("10");
  p = d.add_parameters();
  p->set_name("price");
  p->set_type(v1::PARAMETER_TYPE_MONEY);
  p->set_unit("JPY");
  p = d.add_parameters();
  p->set_name("verbose");
  p->set_type(v1::PARAMETER_TYPE_BOOL);
  v1::InputSpec* in = d.add_inputs();
  in->set_event_kind(v1::EVENT_KIND_FACT);
  in->set_concept_id("revenue");
  in = d.add_inputs();
  in->set_event_kind(v1::EVENT_KIND_CAPITAL_ACTION);
  return d;
}

using Params = google::protobuf::Map<std::string, v1::ParameterValue>;

Params Text(std::initializer_list<std::pair<std::string, std::string>> kv) {
  Params p;
  for (const auto& [k, v] : kv) p[k].set_text(v);
  return p;
}

TEST(CheckParametersTest, ConvertsTextAndFillsDefaults) {
  auto p = CheckParameters(Descriptor(),
                           Text({{"shares", "48,000"}, {"price", "JPY 418200"}, {"verbose", "yes"}}));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("shares").integer(), 48000);
  EXPECT_EQ(p->at("growth").decimal().value(), "0.15");
  EXPECT_EQ(p->at("price").money().currency_code(), "JPY");
  EXPECT_EQ(p->at("price").money().units(), 418200);
  EXPECT_TRUE(p->at("verbose").flag());
}

TEST(CheckParametersTest, PercentIsADecimal) {
  auto p = CheckParameters(Descriptor(), Text({{"shares", "1"}, {"growth", "12.5%"}}));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("growth").decimal().value(), "0.125");
}

TEST(CheckParametersTest, MissingRequiredNamesTheParameter) {
  auto p = CheckParameters(Descriptor(), Params());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("parameter shares: required"));
}

TEST(CheckParametersTest, WrongTypeNamesTheParameter) {
  auto p = CheckParameters(Descriptor(), Text({{"shares", "many"}}));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("parameter shares: expected an integer, got 'many'"));
  p = CheckParameters(Descriptor(), Text({{"shares", "1"}, {"growth", "1e3"}}));
  EXPECT_THAT(p.status().message(), HasSubstr("parameter growth: expected a decimal"));
  Params usd = Text({{"shares", "1"}});
  usd["price"].mutable_money()->set_currency_code("USD");
  p = CheckParameters(Descriptor(), usd);
  EXPECT_THAT(p.status().message(), HasSubstr("parameter price: expected an amount in JPY"));
}

TEST(CheckParametersTest, OutOfBoundsNamesTheParameter) {
  auto p = CheckParameters(Descriptor(), Text({{"shares", "0"}}));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("parameter shares: 0 is below the minimum 1"));
  p = CheckParameters(Descriptor(), Text({{"shares", "5"}, {"growth", "10.01"}}));
  EXPECT_THAT(p.status().message(), HasSubstr("parameter growth: 10.01 is above the maximum 10"));
}

TEST(CheckParametersTest, UnknownParameterIsRefused) {
  auto p = CheckParameters(Descriptor(), Text({{"shares", "5"}, {"sharez", "5"}}));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("parameter sharez: unknown to scenario 'demo'"));
}

TEST(IsInputTest, MatchesKindConceptAndAction) {
  v1::FeedEvent revenue;
  revenue.mutable_fact()->mutable_key()->set_concept_id("revenue");
  v1::FeedEvent income;
  income.mutable_fact()->mutable_key()->set_concept_id("operating_income");
  v1::FeedEvent action;
  action.mutable_capital_action()->set_action_id("x");
  v1::FeedEvent guidance;
  guidance.mutable_guidance()->mutable_key()->set_concept_id("revenue");
  EXPECT_TRUE(IsInput(Descriptor(), revenue));
  EXPECT_FALSE(IsInput(Descriptor(), income));
  EXPECT_TRUE(IsInput(Descriptor(), action));
  EXPECT_FALSE(IsInput(Descriptor(), guidance));
}

}  // namespace
}  // namespace kessan
