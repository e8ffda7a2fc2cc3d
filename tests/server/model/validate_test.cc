// Tests of server/model/validate.cc: publish batches and filters.
//
// Every refusal is checked by the text "items[i].field.path: rule", which
// names the item, the field and the rule at once.
#include "model/validate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "absl/strings/str_cat.h"
#include "model/calendar.h"
#include "model/keys.h"
#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::Batch;
using ::kessan::test::FullYear;
using ::kessan::test::Half;
using ::kessan::test::IijCatalog;
using ::kessan::test::Item;
using ::kessan::test::MakeCapitalAction;
using ::kessan::test::MakeDate;
using ::kessan::test::MakeFact;
using ::kessan::test::MakeGuidance;
using ::kessan::test::MakeIssuer;
using ::kessan::test::MakeMoney;
using ::kessan::test::MakeSegment;
using ::kessan::test::Quarter;
using ::kessan::test::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// IIJ revenue for 4Q02, valid against IijCatalog().
v1::Fact Revenue4Q02() { return MakeFact("IIJ", "revenue", Quarter(2002, 4)); }

v1::PublishItem FactWith(const std::function<void(v1::Fact&)>& edit) {
  v1::Fact fact = Revenue4Q02();
  edit(fact);
  return Item(fact);
}

v1::PublishItem PlacementWith(const std::function<void(v1::PrivatePlacement&)>& edit) {
  v1::CapitalAction action = MakeCapitalAction("IIJ");
  edit(*action.mutable_private_placement());
  return Item(action);
}

// The message of a batch that must be refused with InvalidArgument.
std::string Refusal(const v1::PublishRequest& request) {
  absl::StatusOr<std::vector<v1::PublishItem>> result = ValidatePublish(request, IijCatalog());
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
  return std::string(result.status().message());
}

// The items of a batch that must validate.
std::vector<v1::PublishItem> Valid(const v1::PublishRequest& request) {
  absl::StatusOr<std::vector<v1::PublishItem>> result = ValidatePublish(request, IijCatalog());
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : std::vector<v1::PublishItem>{};
}

// ------------------------------------------------------ one bad item

struct BadItemCase {
  const char* name;
  std::function<v1::PublishItem()> item;
  // "path: rule" after "items[1]".
  const char* violation;
};

void PrintTo(const BadItemCase& c, std::ostream* os) { *os << c.name; }

const BadItemCase kBadItems[] = {
    // Capital actions.
    {"negative_share_count", [] { return PlacementWith([](auto& p) { p.set_shares(-100); }); },
     ".capital_action.private_placement.shares: must be positive"},
    {"zero_share_count", [] { return PlacementWith([](auto& p) { p.set_shares(0); }); },
     ".capital_action.private_placement.shares: must be positive"},
    {"amount_not_credited_over_half",
     [] {
       return PlacementWith(
           [](auto& p) { *p.mutable_amount_not_credited_per_share() = MakeMoney("JPY", 501); });
     },
     ".capital_action.private_placement.amount_not_credited_per_share: must be at most "
     "half of the issue price"},
    {"amount_not_credited_over_half_by_a_nano",
     [] {
       return PlacementWith([](auto& p) {
         *p.mutable_issue_price() = MakeMoney("USD", 10, 500000000);
         *p.mutable_amount_not_credited_per_share() = MakeMoney("USD", 5, 250000001);
       });
     },
     ".capital_action.private_placement.amount_not_credited_per_share: must be at most "
     "half of the issue price"},
    {"amount_not_credited_in_another_currency",
     [] {
       return PlacementWith(
           [](auto& p) { *p.mutable_amount_not_credited_per_share() = MakeMoney("USD", 1); });
     },
     ".capital_action.private_placement.amount_not_credited_per_share.currency_code: "
     "must be the issue price's currency"},
    {"amount_not_credited_negative",
     [] {
       return PlacementWith(
           [](auto& p) { *p.mutable_amount_not_credited_per_share() = MakeMoney("JPY", -1); });
     },
     ".capital_action.private_placement.amount_not_credited_per_share: must not be "
     "negative"},
    {"issue_price_zero",
     [] {
       return PlacementWith([](auto& p) {
         *p.mutable_issue_price() = MakeMoney("JPY", 0);
         p.clear_amount_not_credited_per_share();
       });
     },
     ".capital_action.private_placement.issue_price: must be positive"},
    // A bad issue price is reported as its own cause, not also as a broken
    // rule on the amount not credited (500 of the price here).
    {"issue_price_negative",
     [] { return PlacementWith([](auto& p) { *p.mutable_issue_price() = MakeMoney("JPY", -1000); }); },
     ".capital_action.private_placement.issue_price: must be positive"},
    {"issue_price_zero_with_amount_not_credited",
     [] { return PlacementWith([](auto& p) { *p.mutable_issue_price() = MakeMoney("JPY", 0); }); },
     ".capital_action.private_placement.issue_price: must be positive"},
    {"issue_price_in_unknown_currency",
     [] { return PlacementWith([](auto& p) { p.mutable_issue_price()->set_currency_code("XYZ"); }); },
     ".capital_action.private_placement.issue_price.currency_code: unknown currency 'XYZ'"},
    {"issue_price_jpy_with_nanos",
     [] { return PlacementWith([](auto& p) { p.mutable_issue_price()->set_nanos(5); }); },
     ".capital_action.private_placement.issue_price.nanos: JPY has no minor unit; nanos "
     "must be 0"},
    {"payment_before_application",
     [] { return PlacementWith([](auto& p) { *p.mutable_payment_date() = MakeDate(2003, 6, 9); }); },
     ".capital_action.private_placement.payment_date: must not be before "
     "application_date"},
    {"malformed_payment_date",
     [] { return PlacementWith([](auto& p) { *p.mutable_payment_date() = MakeDate(2003, 2, 30); }); },
     ".capital_action.private_placement.payment_date: must be a valid calendar date, got "
     "2003-2-30"},
    {"missing_application_date", [] { return PlacementWith([](auto& p) { p.clear_application_date(); }); },
     ".capital_action.private_placement.application_date: must be set"},
    {"capital_action_without_kind",
     [] {
       v1::CapitalAction action = MakeCapitalAction("IIJ");
       action.clear_private_placement();
       return Item(action);
     },
     ".capital_action.kind: must be set (private_placement)"},
    {"capital_action_empty_issuer", [] { return Item(MakeCapitalAction("")); },
     ".capital_action.issuer: must not be empty"},
    {"capital_action_revision_set",
     [] {
       v1::CapitalAction action = MakeCapitalAction("IIJ");
       action.set_revision(2);
       return Item(action);
     },
     ".capital_action.revision: is set by the server; leave it 0"},

    // Money and values of facts.
    {"jpy_amount_with_nanos",
     [] { return FactWith([](auto& f) { f.mutable_value()->mutable_money()->set_nanos(500); }); },
     ".fact.value.money.nanos: JPY has no minor unit; nanos must be 0"},
    {"unknown_currency",
     [] { return FactWith([](auto& f) { f.mutable_value()->mutable_money()->set_currency_code("XYZ"); }); },
     ".fact.value.money.currency_code: unknown currency 'XYZ'"},
    {"lower_case_currency",
     [] { return FactWith([](auto& f) { f.mutable_value()->mutable_money()->set_currency_code("jpy"); }); },
     ".fact.value.money.currency_code: unknown currency 'jpy'"},
    {"empty_currency",
     [] { return FactWith([](auto& f) { f.mutable_value()->mutable_money()->clear_currency_code(); }); },
     ".fact.value.money.currency_code: must not be empty"},
    {"nanos_against_the_sign_of_units",
     [] { return FactWith([](auto& f) { *f.mutable_value()->mutable_money() = MakeMoney("USD", 5, -10); }); },
     ".fact.value.money.nanos: must have the sign of units"},
    {"translation_in_unknown_currency",
     [] {
       return FactWith([](auto& f) {
         v1::Value* usd = f.add_translations();
         *usd->mutable_money() = MakeMoney("USX", 110);
         usd->mutable_precision()->set_decimals(6);
       });
     },
     ".fact.translations[0].money.currency_code: unknown currency 'USX'"},
    {"value_without_precision",
     [] { return FactWith([](auto& f) { f.mutable_value()->clear_precision(); }); },
     ".fact.value.precision: must say how the figure was rounded"},
    {"value_without_kind", [] { return FactWith([](auto& f) { f.mutable_value()->clear_money(); }); },
     ".fact.value.kind: must be set"},
    {"fact_without_value", [] { return FactWith([](auto& f) { f.clear_value(); }); },
     ".fact.value: must be set"},
    {"negative_count", [] { return FactWith([](auto& f) { f.mutable_value()->set_count(-3); }); },
     ".fact.value.count: must not be negative"},

    // Periods.
    {"quarter_5", [] { return FactWith([](auto& f) { f.mutable_key()->mutable_period()->set_number(5); }); },
     ".fact.key.period: no such period: a quarter's number must be 1-4"},
    {"half_3", [] { return FactWith([](auto& f) { *f.mutable_key()->mutable_period() = Half(2002, 3); }); },
     ".fact.key.period: no such period: a half's number must be 1-2"},
    {"comparison_quarter_0",
     [] {
       return FactWith([](auto& f) { *f.mutable_key()->mutable_comparison_period() = Quarter(2001, 0); });
     },
     ".fact.key.comparison_period: no such period"},
    {"period_not_set", [] { return FactWith([](auto& f) { f.mutable_key()->clear_period(); }); },
     ".fact.key.period: must be set"},
    {"end_date_disagrees_with_calendar",
     [] {
       return FactWith(
           [](auto& f) { *f.mutable_key()->mutable_period()->mutable_end_date() = MakeDate(2003, 2, 28); });
     },
     ".fact.key.period.end_date: is 2003-02-28 but the issuer's calendar puts it at "
     "2003-03-31"},
    {"start_date_of_a_calendar_year_quarter",
     [] {
       return FactWith(
           [](auto& f) { *f.mutable_key()->mutable_period()->mutable_start_date() = MakeDate(2002, 10, 1); });
     },
     ".fact.key.period.start_date: is 2002-10-01 but the issuer's calendar puts it at "
     "2003-01-01"},
    {"malformed_period_date",
     [] {
       return FactWith(
           [](auto& f) { *f.mutable_key()->mutable_period()->mutable_start_date() = MakeDate(2003, 2, 30); });
     },
     ".fact.key.period.start_date: must be a valid calendar date, got 2003-2-30"},

    // Keys.
    {"fact_empty_issuer", [] { return FactWith([](auto& f) { f.mutable_key()->clear_issuer(); }); },
     ".fact.key.issuer: must not be empty"},
    {"fact_unknown_issuer", [] { return FactWith([](auto& f) { f.mutable_key()->set_issuer("SONY"); }); },
     ".fact.key.issuer: unknown issuer 'SONY'; publish the issuer first"},
    {"fact_key_without_concept",
     [] { return FactWith([](auto& f) { f.mutable_key()->clear_concept_id(); }); },
     ".fact.key.concept_id: must not be empty"},
    {"concept_not_snake_case",
     [] { return FactWith([](auto& f) { f.mutable_key()->set_concept_id("Revenue"); }); },
     ".fact.key.concept_id: must be lower snake case"},
    {"fact_without_key", [] { return FactWith([](auto& f) { f.clear_key(); }); }, ".fact.key: must be set"},
    {"unknown_segment", [] { return FactWith([](auto& f) { f.mutable_key()->set_segment("mobile"); }); },
     ".fact.key.segment: unknown segment 'mobile' of issuer 'IIJ'"},

    // Fields the server sets.
    {"fact_revision_set", [] { return FactWith([](auto& f) { f.set_revision(1); }); },
     ".fact.revision: is set by the server; leave it 0"},
    {"fact_supersedes_sequence_set", [] { return FactWith([](auto& f) { f.set_supersedes_sequence(3); }); },
     ".fact.supersedes_sequence: is set by the server; leave it 0"},
    {"fact_known_at_set", [] { return FactWith([](auto& f) { f.mutable_known_at()->set_seconds(1); }); },
     ".fact.known_at: is set by the server; leave it unset"},
    {"guidance_revision_set",
     [] {
       v1::Guidance guidance = MakeGuidance("IIJ", "revenue_growth", FullYear(2003));
       guidance.set_revision(1);
       return Item(guidance);
     },
     ".guidance.revision: is set by the server; leave it 0"},

    // Provenance.
    {"fact_without_provenance", [] { return FactWith([](auto& f) { f.clear_provenance(); }); },
     ".fact.provenance: must be set"},
    {"provenance_lines_reversed",
     [] {
       return FactWith([](auto& f) {
         f.mutable_provenance()->set_line_start(5);
         f.mutable_provenance()->set_line_end(3);
       });
     },
     ".fact.provenance.line_end: must not be before line_start"},
    {"provenance_without_quote",
     [] { return FactWith([](auto& f) { f.mutable_provenance()->clear_quote(); }); },
     ".fact.provenance.quote: must not be empty"},

    // Guidance.
    {"guidance_ratio_not_a_decimal",
     [] {
       v1::Guidance guidance = MakeGuidance("IIJ", "revenue_growth", FullYear(2003));
       guidance.mutable_bound()->mutable_ratio()->set_value("10%");
       return Item(guidance);
     },
     ".guidance.bound.ratio.value: must be a decimal number"},

    // Issuers and segments.
    {"issuer_empty_id", [] { return Item(MakeIssuer("", 3)); }, ".issuer.id: must not be empty"},
    {"issuer_lower_case_id", [] { return Item(MakeIssuer("iij", 3)); },
     ".issuer.id: must be 1-32 upper case letters"},
    {"issuer_year_end_month_13", [] { return Item(MakeIssuer("SONY", 13)); },
     ".issuer.fiscal_year_end_month: must be a month, 1-12"},
    {"issuer_alias_of_another_issuer", [] { return Item(MakeIssuer("IIJ2", 3, {"11J"})); },
     ".issuer.aliases[0]: already names issuer 'IIJ'"},
    {"issuer_id_is_an_alias", [] { return Item(MakeIssuer("11J", 3)); },
     ".issuer.id: is an alias of issuer 'IIJ'"},
    {"segment_empty_issuer", [] { return Item(MakeSegment("", "mobile")); },
     ".segment.issuer: must not be empty"},
    {"segment_unknown_member", [] { return Item(MakeSegment("IIJ", "network_services", {"mobile"})); },
     ".segment.member_ids[0]: unknown segment 'mobile' of issuer 'IIJ'"},
    {"segment_own_member", [] { return Item(MakeSegment("IIJ", "network_services", {"network_services"})); },
     ".segment.member_ids[0]: a segment cannot be its own member"},

    {"empty_item", [] { return v1::PublishItem(); }, ": must hold an issuer, segment, fact, capital_action"},
};

class BadItemTest : public ::testing::TestWithParam<BadItemCase> {};

// The bad item follows a good one, so the message must name items[1] and no
// other item.
TEST_P(BadItemTest, RefusesTheBatchNamingItemPathAndRule) {
  std::string message = Refusal(Batch({Item(Revenue4Q02()), GetParam().item()}));
  EXPECT_THAT(message, HasSubstr(absl::StrCat("items[1]", GetParam().violation)));
  EXPECT_THAT(message, HasSubstr("(1 violation)"));
  EXPECT_THAT(message, Not(HasSubstr("items[0]")));
}

INSTANTIATE_TEST_SUITE_P(Rules, BadItemTest, ::testing::ValuesIn(kBadItems),
                         [](const ::testing::TestParamInfo<BadItemCase>& info) { return info.param.name; });

// ------------------------------------------------------ batch-level rules

TEST(ValidatePublishTest, EmptyBatch) {
  EXPECT_THAT(Refusal(v1::PublishRequest()), HasSubstr("items: must not be empty"));
}

TEST(ValidatePublishTest, OversizedBatch) {
  std::vector<v1::PublishItem> items;
  for (int i = 0; i <= kMaxBatchItems; ++i) {  // each of its own key
    items.push_back(Item(MakeFact("IIJ", absl::StrCat("concept_", i), Quarter(2002, 4))));
  }
  EXPECT_THAT(Refusal(Batch(items)), HasSubstr("items: at most 1000 items per batch, got 1001"));
  items.pop_back();
  EXPECT_EQ(Valid(Batch(items)).size(), 1000u);
}

// Two revisions of one item in a batch would be stored as revisions N and
// N+1 of one atomic batch: refused, naming both items and the key.
TEST(ValidatePublishTest, TheSameKeyTwiceInOneBatchIsRefused) {
  v1::Fact other = Revenue4Q02();
  other.mutable_key()->set_concept_id("operating_income");
  std::string message =
      Refusal(Batch({Item(Revenue4Q02()), Item(other), Item(MakeIssuer("SONY", 12)), Item(Revenue4Q02())}));
  EXPECT_THAT(message, AllOf(HasSubstr("(1 violation)"),
                             HasSubstr("items[3]: has the same key fact:IIJ/revenue/FY2002Q4 as "
                                       "items[0]; one batch may revise an item once")));
}

TEST(ValidatePublishTest, TheSameKeyUnderAnIssuerAliasIsRefused) {
  v1::Fact alias = Revenue4Q02();
  alias.mutable_key()->set_issuer("11J");  // the OCR's IIJ
  EXPECT_THAT(Refusal(Batch({Item(alias), Item(Revenue4Q02())})),
              HasSubstr("items[1]: has the same key fact:IIJ/revenue/FY2002Q4 as items[0]"));
  v1::Guidance guidance = MakeGuidance("IIJ", "revenue_growth", FullYear(2003));
  v1::Guidance guidance_alias = guidance;
  guidance_alias.mutable_key()->set_issuer("11J");
  EXPECT_THAT(Refusal(Batch({Item(guidance), Item(guidance_alias)})),
              HasSubstr("items[1]: has the same key guidance:IIJ/revenue_growth/FY2003 as items[0]"));
  EXPECT_THAT(Refusal(Batch({Item(MakeCapitalAction("11J")), Item(MakeCapitalAction("IIJ"))})),
              HasSubstr("items[1]: has the same key capital_action:IIJ/"));
}

// Keys differ by segment, comparison period or kind of item: all distinct.
TEST(ValidatePublishTest, ItemsOfDifferentKeysInOneBatchAreAllowed) {
  v1::Fact segment = Revenue4Q02();
  segment.mutable_key()->set_segment("systems_integration");
  v1::Fact growth = Revenue4Q02();
  *growth.mutable_key()->mutable_comparison_period() = Quarter(2001, 4);
  v1::Guidance guidance = MakeGuidance("IIJ", "revenue", Quarter(2002, 4));
  EXPECT_EQ(Valid(Batch({Item(Revenue4Q02()), Item(segment), Item(growth), Item(guidance)})).size(), 4u);
}

TEST(ValidatePublishTest, ReportsEveryViolation) {
  v1::Fact bad = Revenue4Q02();
  bad.mutable_key()->clear_concept_id();
  bad.set_revision(3);
  std::string message = Refusal(Batch({Item(bad), Item(Revenue4Q02()), Item(bad)}));
  EXPECT_THAT(
      message,
      AllOf(HasSubstr("(4 violations)"), HasSubstr("items[0].fact.key.concept_id: must not be empty"),
            HasSubstr("items[0].fact.revision"), HasSubstr("items[2].fact.key.concept_id: must not be empty"),
            HasSubstr("items[2].fact.revision"), Not(HasSubstr("items[1]"))));
}

TEST(ValidatePublishTest, ListsTwentyViolationsAndCountsTheRest) {
  v1::Fact bad = Revenue4Q02();
  bad.set_revision(1);
  std::string message = Refusal(Batch(std::vector<v1::PublishItem>(25, Item(bad))));
  EXPECT_THAT(message, AllOf(HasSubstr("(25 violations)"), HasSubstr("items[19].fact.revision"),
                             Not(HasSubstr("items[20]")), HasSubstr("and 5 more")));
}

// ------------------------------------------------------ good paths

TEST(ValidatePublishTest, NormalisesAFact) {
  v1::Fact fact = Revenue4Q02();
  fact.mutable_key()->set_issuer("11J");  // OCR alias of IIJ
  *fact.mutable_key()->mutable_comparison_period() = Quarter(2001, 4);
  std::vector<v1::PublishItem> items = Valid(Batch({Item(fact)}));
  ASSERT_EQ(items.size(), 1u);
  const v1::Fact& out = items[0].fact();
  EXPECT_EQ(out.key().issuer(), "IIJ");
  EXPECT_EQ(FormatDate(out.key().period().start_date()), "2003-01-01");
  EXPECT_EQ(FormatDate(out.key().period().end_date()), "2003-03-31");
  EXPECT_EQ(FormatDate(out.key().comparison_period().start_date()), "2002-01-01");
  EXPECT_EQ(FormatDate(out.key().comparison_period().end_date()), "2002-03-31");
  EXPECT_EQ(out.value().precision().qualifier(), v1::QUALIFIER_EQUAL);
  EXPECT_EQ(out.value().money().units(), fact.value().money().units());
}

TEST(ValidatePublishTest, KeepsAStatedQualifierAndDatesThatAgree) {
  v1::Fact fact = Revenue4Q02();
  fact.mutable_value()->mutable_precision()->set_qualifier(v1::QUALIFIER_AT_LEAST);
  *fact.mutable_key()->mutable_period()->mutable_start_date() = MakeDate(2003, 1, 1);
  *fact.mutable_key()->mutable_period()->mutable_end_date() = MakeDate(2003, 3, 31);
  std::vector<v1::PublishItem> items = Valid(Batch({Item(fact)}));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].fact().value().precision().qualifier(), v1::QUALIFIER_AT_LEAST);
  EXPECT_EQ(FormatDate(items[0].fact().key().period().end_date()), "2003-03-31");
}

TEST(ValidatePublishTest, ResolvesAliasesInEveryKindOfItem) {
  v1::Segment segment = MakeSegment("11J", "network_services");
  v1::CapitalAction action = MakeCapitalAction("11J");
  v1::Guidance guidance = MakeGuidance("11J", "revenue_growth", FullYear(2003));
  std::vector<v1::PublishItem> items = Valid(Batch({Item(segment), Item(action), Item(guidance)}));
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].segment().issuer(), "IIJ");
  EXPECT_EQ(items[1].capital_action().issuer(), "IIJ");
  EXPECT_EQ(items[2].guidance().key().issuer(), "IIJ");
  EXPECT_EQ(FormatDate(items[2].guidance().key().period().start_date()), "2003-04-01");
  EXPECT_EQ(items[2].guidance().bound().precision().qualifier(), v1::QUALIFIER_GREATER_THAN);
}

// The keys ValidatePublish hands back are the ones AttrsOf builds for the
// events the items become (the feed stamps events with them), aliases
// resolved, "" for items without revisions.
TEST(ValidatePublishTest, ItemKeysAreTheEventsItemKeys) {
  v1::Fact fact = MakeFact("11J", "revenue", Quarter(2002, 4));
  fact.mutable_key()->set_segment("network_services");
  v1::PublishRequest request =
      Batch({Item(MakeSegment("11J", "network_services")), Item(fact), Item(MakeCapitalAction("11J")),
             Item(MakeGuidance("11J", "revenue_growth", FullYear(2003)))});
  std::vector<std::string> keys;
  absl::StatusOr<std::vector<v1::PublishItem*>> items = ValidatePublish(&request, IijCatalog(), &keys);
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(keys.size(), 4u);
  EXPECT_EQ(keys[0], "");
  EXPECT_EQ(keys[1], "fact:IIJ/revenue/FY2002Q4/seg:network_services");
  EXPECT_EQ(keys[2], "capital_action:IIJ/private_placement_2003_06");
  EXPECT_EQ(keys[3], "guidance:IIJ/revenue_growth/FY2003");
  for (size_t i = 1; i < keys.size(); ++i) {
    v1::FeedEvent e;
    switch ((*items)[i]->item_case()) {
      case v1::PublishItem::kFact:
        *e.mutable_fact() = (*items)[i]->fact();
        break;
      case v1::PublishItem::kCapitalAction:
        *e.mutable_capital_action() = (*items)[i]->capital_action();
        break;
      default:
        *e.mutable_guidance() = (*items)[i]->guidance();
        break;
    }
    EXPECT_EQ(keys[i], AttrsOf(e).item_key) << i;
    EXPECT_EQ(AttrsOf(e, keys[i]).item_key, keys[i]) << i;
  }
}

TEST(ValidatePublishTest, ARefusedBatchLeavesTheItemKeysAlone) {
  v1::PublishRequest request = Batch({Item(Revenue4Q02()), Item(Revenue4Q02())});
  std::vector<std::string> keys = {"untouched"};
  EXPECT_THAT(ValidatePublish(&request, IijCatalog(), &keys), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(keys, ::testing::ElementsAre("untouched"));
}

TEST(ValidatePublishTest, IssuerSegmentAndFactInOneBatch) {
  v1::Fact fact = MakeFact("SNE", "revenue", Quarter(2002, 4));
  fact.mutable_key()->set_segment("games");
  std::vector<v1::PublishItem> items =
      Valid(Batch({Item(MakeIssuer("SONY", 12, {"SNE"})), Item(MakeSegment("SNE", "games")),
                   Item(MakeSegment("SONY", "electronics_and_games", {"games"})), Item(fact)}));
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[1].segment().issuer(), "SONY");
  // A December year end: 4Q02 is the last quarter of calendar 2002.
  EXPECT_EQ(items[3].fact().key().issuer(), "SONY");
  EXPECT_EQ(FormatDate(items[3].fact().key().period().start_date()), "2002-10-01");
  EXPECT_EQ(FormatDate(items[3].fact().key().period().end_date()), "2002-12-31");
}

TEST(ValidatePublishTest, LaterItemsDoNotCount) {
  std::string message =
      Refusal(Batch({Item(MakeFact("SONY", "revenue", Quarter(2002, 4))), Item(MakeIssuer("SONY", 12))}));
  EXPECT_THAT(message, HasSubstr("items[0].fact.key.issuer: unknown issuer 'SONY'"));
  EXPECT_THAT(message, Not(HasSubstr("items[1]")));
}

TEST(ValidatePublishTest, ARefusedIssuerDoesNotCount) {
  v1::Issuer bad = MakeIssuer("SONY", 13);
  std::string message = Refusal(Batch({Item(bad), Item(MakeFact("SONY", "revenue", Quarter(2002, 4)))}));
  EXPECT_THAT(message, HasSubstr("items[0].issuer.fiscal_year_end_month"));
  EXPECT_THAT(message, HasSubstr("items[1].fact.key.issuer: unknown issuer 'SONY'"));
}

// Items after an issuer's new revision in the same batch use it, even when
// items before it used the one already known.
TEST(ValidatePublishTest, AnIssuerRepublishedInTheBatchGovernsTheItemsAfterIt) {
  v1::Fact income = Revenue4Q02();
  income.mutable_key()->set_concept_id("operating_income");
  std::vector<v1::PublishItem> items =
      Valid(Batch({Item(Revenue4Q02()), Item(MakeIssuer("IIJ", 12, {"11J"})), Item(income)}));
  ASSERT_EQ(items.size(), 3u);
  // A March year end first: 4Q02 is January-March 2003.
  EXPECT_EQ(FormatDate(items[0].fact().key().period().start_date()), "2003-01-01");
  // Then December: 4Q02 is October-December 2002.
  EXPECT_EQ(FormatDate(items[2].fact().key().period().start_date()), "2002-10-01");
}

TEST(ValidatePublishTest, RepublishingAnIssuerWithItsOwnAliasIsAllowed) {
  EXPECT_EQ(Valid(Batch({Item(MakeIssuer("IIJ", 3, {"11J", "I1J"}))})).size(), 1u);
}

TEST(ValidatePublishTest, AmountNotCreditedOfExactlyHalfIsAllowed) {
  v1::PublishItem jpy = PlacementWith([](auto&) {});  // 500 of 1,000
  v1::PublishItem usd = PlacementWith([](auto& p) {
    *p.mutable_issue_price() = MakeMoney("USD", 10, 500000000);
    *p.mutable_amount_not_credited_per_share() = MakeMoney("USD", 5, 250000000);
  });
  usd.mutable_capital_action()->set_action_id("placement_in_usd");
  EXPECT_EQ(Valid(Batch({jpy, usd})).size(), 2u);
}

TEST(ValidatePublishTest, PaymentOnTheApplicationDateIsAllowed) {
  v1::PublishItem item = PlacementWith([](auto& p) { *p.mutable_payment_date() = p.application_date(); });
  EXPECT_EQ(Valid(Batch({item})).size(), 1u);
}

// What normalising changed, per item: a key whose issuer was an alias, a
// period without dates, a value or translation without a qualifier; nothing
// for an item given in full or of another kind.
TEST(ValidatePublishTest, NormalisedPartsAreReported) {
  v1::Fact full = Revenue4Q02();
  *full.mutable_key()->mutable_period()->mutable_start_date() = MakeDate(2003, 1, 1);
  *full.mutable_key()->mutable_period()->mutable_end_date() = MakeDate(2003, 3, 31);
  full.mutable_value()->mutable_precision()->set_qualifier(v1::QUALIFIER_EQUAL);
  v1::Fact alias = full;
  alias.mutable_key()->set_issuer("11J");
  v1::Fact undated = full;
  undated.mutable_key()->mutable_period()->clear_end_date();
  undated.mutable_key()->set_concept_id("operating_income");
  v1::Fact unqualified = full;
  unqualified.mutable_key()->set_concept_id("net_income");
  unqualified.mutable_value()->mutable_precision()->clear_qualifier();
  v1::Fact translated = full;
  translated.mutable_key()->set_concept_id("ordinary_income");
  *translated.add_translations() = MakeFact("IIJ", "x", Quarter(2002, 4), 110).value();
  v1::PublishRequest request = Batch(
      {Item(full), Item(MakeSegment("IIJ", "network")), Item(undated), Item(unqualified), Item(translated)});
  std::vector<uint8_t> normalised;
  ASSERT_TRUE(ValidatePublish(&request, IijCatalog(), nullptr, &normalised).ok());
  EXPECT_THAT(normalised,
              testing::ElementsAre(0, 0, kPeriodNormalised, kValueNormalised, kTranslationsNormalised));
  v1::Fact alias_undated = undated;
  alias_undated.mutable_key()->set_issuer("11J");
  v1::PublishRequest aliased = Batch({Item(alias), Item(alias_undated)});
  ASSERT_TRUE(ValidatePublish(&aliased, IijCatalog(), nullptr, &normalised).ok());
  EXPECT_THAT(normalised, testing::ElementsAre(kKeyNormalised, kKeyNormalised | kPeriodNormalised));
  // MakeFact leaves the dates and the qualifier to be filled.
  v1::PublishRequest plain = Batch({Item(Revenue4Q02())});
  ASSERT_TRUE(ValidatePublish(&plain, IijCatalog(), nullptr, &normalised).ok());
  EXPECT_THAT(normalised, testing::ElementsAre(kPeriodNormalised | kValueNormalised));
}

TEST(ValidatePublishTest, UsdAmountsMayHaveCents) {
  v1::Fact fact = Revenue4Q02();
  v1::Value* usd = fact.add_translations();
  *usd->mutable_money() = MakeMoney("USD", 110, 500000000);
  usd->mutable_precision()->set_decimals(6);
  std::vector<v1::PublishItem> items = Valid(Batch({Item(fact)}));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].fact().translations(0).precision().qualifier(), v1::QUALIFIER_EQUAL);
}

// ------------------------------------------------------ ValidateFilter

TEST(ValidateFilterTest, EmptyFilterIsValid) {
  absl::StatusOr<v1::Filter> filter = ValidateFilter(v1::Filter(), IijCatalog());
  ASSERT_TRUE(filter.ok()) << filter.status();
  EXPECT_EQ(filter->ByteSizeLong(), 0u);
}

// A retraction may withdraw what an earlier item of its own batch published.
v1::PublishItem RetractRevenue4Q02() {
  v1::PublishItem item;
  v1::Retraction* r = item.mutable_retraction();
  *r->mutable_item()->mutable_fact() = Revenue4Q02().key();
  r->set_reason("published in error");
  return item;
}

TEST(ValidatePublishTest, RetractsAnItemOfTheSameBatch) {
  EXPECT_EQ(Valid(Batch({Item(Revenue4Q02()), RetractRevenue4Q02()})).size(), 2u);
  // Alone, or before the item, there is nothing to retract.
  EXPECT_THAT(Refusal(Batch({RetractRevenue4Q02()})),
              HasSubstr("items[0].retraction.item: no published item 'fact:IIJ/revenue/FY2002Q4'"));
  EXPECT_THAT(Refusal(Batch({RetractRevenue4Q02(), Item(Revenue4Q02())})),
              HasSubstr("items[0].retraction.item: no published item"));
  // Retracted twice in one batch: the second finds nothing live.
  EXPECT_THAT(Refusal(Batch({Item(Revenue4Q02()), RetractRevenue4Q02(), RetractRevenue4Q02()})),
              HasSubstr("items[2].retraction.item: no published item"));
}

TEST(ValidateFilterTest, ResolvesIssuerAliases) {
  v1::Filter filter;
  filter.add_issuers("11J");
  filter.add_segments("systems_integration");
  filter.add_concepts("revenue");
  filter.add_event_kinds(v1::EVENT_KIND_FACT);
  absl::StatusOr<v1::Filter> valid = ValidateFilter(filter, IijCatalog());
  ASSERT_TRUE(valid.ok()) << valid.status();
  ASSERT_EQ(valid->issuers_size(), 1);
  EXPECT_EQ(valid->issuers(0), "IIJ");
  EXPECT_EQ(valid->segments(0), "systems_integration");
}

TEST(ValidateFilterTest, UnknownIssuer) {
  v1::Filter filter;
  filter.add_issuers("SONY");
  EXPECT_THAT(
      ValidateFilter(filter, IijCatalog()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filter.issuers[0]: unknown issuer 'SONY'")));
}

TEST(ValidateFilterTest, UnspecifiedOrUnknownEventKind) {
  v1::Filter filter;
  filter.add_event_kinds(v1::EVENT_KIND_FACT);
  filter.add_event_kinds(v1::EVENT_KIND_UNSPECIFIED);
  filter.add_event_kinds(static_cast<v1::EventKind>(99));
  absl::StatusOr<v1::Filter> valid = ValidateFilter(filter, IijCatalog());
  EXPECT_THAT(valid, StatusIs(absl::StatusCode::kInvalidArgument,
                              AllOf(HasSubstr("filter.event_kinds[1]"), HasSubstr("filter.event_kinds[2]"),
                                    Not(HasSubstr("filter.event_kinds[0]")))));
}

TEST(ValidateFilterTest, SegmentsAreCheckedAgainstTheIssuers) {
  v1::Filter filter;
  filter.add_issuers("IIJ");
  filter.add_segments("mobile");
  EXPECT_THAT(ValidateFilter(filter, IijCatalog()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("filter.segments[0]: unknown segment 'mobile'")));
  // Without issuers any well-formed segment id may match some issuer.
  filter.clear_issuers();
  EXPECT_TRUE(ValidateFilter(filter, IijCatalog()).ok());
  filter.set_segments(0, "Not Snake");
  EXPECT_THAT(ValidateFilter(filter, IijCatalog()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filter.segments[0]")));
}

TEST(ValidateFilterTest, ConceptsMustBeSnakeCase) {
  v1::Filter filter;
  filter.add_concepts("revenue");
  filter.add_concepts("Revenue");
  EXPECT_THAT(ValidateFilter(filter, IijCatalog()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("filter.concepts[1]"), Not(HasSubstr("filter.concepts[0]")))));
}

}  // namespace
}  // namespace kessan
