// Tests of server/dataset/dataset.cc: loading data set files and cutting
// them into publish batches.
#include "dataset/dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::FullYear;
using ::kessan::test::Iij;
using ::kessan::test::MakeCapitalAction;
using ::kessan::test::MakeFact;
using ::kessan::test::MakeGuidance;
using ::kessan::test::MakeIssuer;
using ::kessan::test::MakeSegment;
using ::kessan::test::Quarter;
using ::kessan::test::StatusIs;
using ::kessan::test::TempDir;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kTextDataSet[] = R"pb(name: "iij"
description: "IIJ 4Q02"
issuers { id: "IIJ" name: "Internet Initiative Japan" fiscal_year_end_month: 3
          aliases: "11J" }
segments { issuer: "IIJ" id: "systems_integration" name: "Systems integration" }
facts {
  key { issuer: "IIJ" concept_id: "revenue"
        period { fiscal_year: 2002 kind: PERIOD_KIND_QUARTER number: 4 } }
  value { money { currency_code: "JPY" units: 13000000000 } precision { decimals: -8 } }
}
)pb";

TEST(LoadDataSetTest, TextFormat) {
  TempDir dir;
  absl::StatusOr<v1::DataSet> data_set = LoadDataSet(dir.WriteFile("iij.txtpb", kTextDataSet));
  ASSERT_TRUE(data_set.ok()) << data_set.status();
  EXPECT_EQ(data_set->name(), "iij");
  ASSERT_EQ(data_set->issuers_size(), 1);
  EXPECT_EQ(data_set->issuers(0).aliases(0), "11J");
  EXPECT_EQ(data_set->segments(0).id(), "systems_integration");
  ASSERT_EQ(data_set->facts_size(), 1);
  EXPECT_EQ(data_set->facts(0).key().period().number(), 4);
  EXPECT_EQ(data_set->facts(0).value().money().units(), 13000000000);
}

TEST(LoadDataSetTest, Json) {
  TempDir dir;
  absl::StatusOr<v1::DataSet> data_set = LoadDataSet(dir.WriteFile("iij.json", R"({
    "name": "iij",
    "issuers": [{"id": "IIJ", "fiscalYearEndMonth": 3, "aliases": ["11J"]}],
    "facts": [{"key": {"issuer": "IIJ", "conceptId": "revenue",
                       "period": {"fiscalYear": 2002, "kind": "PERIOD_KIND_QUARTER",
                                  "number": 4}},
               "value": {"money": {"currencyCode": "JPY", "units": "13000000000"}}}]
  })"));
  ASSERT_TRUE(data_set.ok()) << data_set.status();
  EXPECT_EQ(data_set->issuers(0).fiscal_year_end_month(), 3);
  EXPECT_EQ(data_set->facts(0).key().concept_id(), "revenue");
  EXPECT_EQ(data_set->facts(0).key().period().kind(), v1::PERIOD_KIND_QUARTER);
  EXPECT_EQ(data_set->facts(0).value().money().units(), 13000000000);
}

TEST(LoadDataSetTest, MissingFileIsNotFound) {
  TempDir dir;
  std::string path = dir.File("missing.txtpb");
  EXPECT_THAT(LoadDataSet(path), StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
}

TEST(LoadDataSetTest, TextSyntaxErrorNamesFileAndLine) {
  TempDir dir;
  std::string path = dir.WriteFile("bad.txtpb",
                                   "name: \"iij\"\n"
                                   "issuers { id: \"IIJ\" }\n"
                                   "issuers { id: \"X\" fiscal_year_end_month: march }\n");
  EXPECT_THAT(LoadDataSet(path), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path + ":3:")));
}

TEST(LoadDataSetTest, UnknownTextFieldNamesFileAndLine) {
  TempDir dir;
  std::string path = dir.WriteFile("bad.txtpb", "name: \"iij\"\n\nissuer { id: \"IIJ\" }\n");
  EXPECT_THAT(LoadDataSet(path), StatusIs(absl::StatusCode::kInvalidArgument,
                                          AllOf(HasSubstr(path + ":3:"), HasSubstr("issuer"))));
}

TEST(LoadDataSetTest, JsonSyntaxErrorNamesFile) {
  TempDir dir;
  std::string path = dir.WriteFile("bad.json", R"({"name": "iij", "issuers": [})");
  EXPECT_THAT(LoadDataSet(path), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path)));
}

// 2 issuers, 2 segments, 3 facts, 1 capital action, 1 guidance.
v1::DataSet NineItems() {
  v1::DataSet data_set;
  *data_set.add_issuers() = Iij();
  *data_set.add_issuers() = MakeIssuer("SONY", 3);
  *data_set.add_segments() = MakeSegment("IIJ", "systems_integration");
  *data_set.add_segments() = MakeSegment("SONY", "games");
  for (const char* concept_id : {"revenue", "operating_income", "net_income"}) {
    *data_set.add_facts() = MakeFact("IIJ", concept_id, Quarter(2002, 4));
  }
  *data_set.add_capital_actions() = MakeCapitalAction("IIJ");
  *data_set.add_guidance() = MakeGuidance("IIJ", "revenue_growth", FullYear(2003));
  return data_set;
}

// "issuer:IIJ", "fact:revenue", ...: what each item of each batch holds.
std::vector<std::vector<std::string>> Shape(const std::vector<v1::PublishRequest>& batches) {
  std::vector<std::vector<std::string>> shape;
  for (const v1::PublishRequest& batch : batches) {
    shape.emplace_back();
    for (const v1::PublishItem& item : batch.items()) {
      switch (item.item_case()) {
        case v1::PublishItem::kIssuer:
          shape.back().push_back("issuer:" + item.issuer().id());
          break;
        case v1::PublishItem::kSegment:
          shape.back().push_back("segment:" + item.segment().id());
          break;
        case v1::PublishItem::kFact:
          shape.back().push_back("fact:" + item.fact().key().concept_id());
          break;
        case v1::PublishItem::kCapitalAction:
          shape.back().push_back("capital_action");
          break;
        case v1::PublishItem::kGuidance:
          shape.back().push_back("guidance");
          break;
        default:
          shape.back().push_back("?");
      }
    }
  }
  return shape;
}

TEST(LoadPublishBatchesTest, DataSetIsCutAtMaxItems) {
  TempDir dir;
  std::string text = "issuers { id: \"IIJ\" }\n";
  for (int i = 1; i < 2500; ++i) {
    text += absl::StrCat("facts { key { issuer: \"IIJ\" concept_id: \"c", i, "\" } }\n");
  }
  absl::StatusOr<std::vector<v1::PublishRequest>> batches =
      LoadPublishBatches(dir.WriteFile("large.txtpb", text), 1000);
  ASSERT_TRUE(batches.ok()) << batches.status();
  ASSERT_EQ(batches->size(), 3u);
  EXPECT_EQ((*batches)[0].items_size(), 1000);
  EXPECT_EQ((*batches)[2].items_size(), 500);
  EXPECT_TRUE((*batches)[0].items(0).has_issuer());
}

TEST(LoadPublishBatchesTest, PublishRequestFileIsOneBatchAsWritten) {
  TempDir dir;
  const std::string path = dir.WriteFile("batch.txtpb",
                                         "publisher_id: \"desk\" items { issuer { id: \"IIJ\" } }\n"
                                         "items { segment { issuer: \"IIJ\" id: \"si\" } }\n");
  absl::StatusOr<std::vector<v1::PublishRequest>> batches = LoadPublishBatches(path, 1);
  ASSERT_TRUE(batches.ok()) << batches.status();
  ASSERT_EQ(batches->size(), 1u);
  EXPECT_EQ((*batches)[0].publisher_id(), "desk");
  EXPECT_EQ((*batches)[0].items_size(), 2);
  EXPECT_THAT(LoadDataSet(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a kessan.v1.DataSet")));
}

TEST(LoadPublishBatchesTest, EmptyFileHasNothingToPublish) {
  TempDir dir;
  const std::string path = dir.WriteFile("empty.txtpb", "# nothing\n");
  EXPECT_THAT(LoadPublishBatches(path, 1000),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no items to publish")));
}

TEST(LoadPublishBatchesTest, JsonUnknownFieldIsRefused) {
  TempDir dir;
  const std::string path = dir.WriteFile("unknown.json", R"({"issuers": [{"id": "IIJ"}],
                                                             "footnotes": ["x"]})");
  EXPECT_THAT(LoadPublishBatches(path, 1000), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path)));
}

TEST(ToPublishRequestsTest, DependencyOrderInOneBatch) {
  EXPECT_THAT(Shape(ToPublishRequests(NineItems(), 1000)),
              ElementsAre(ElementsAre("issuer:IIJ", "issuer:SONY", "segment:systems_integration",
                                      "segment:games", "fact:revenue", "fact:operating_income",
                                      "fact:net_income", "capital_action", "guidance")));
}

TEST(ToPublishRequestsTest, BatchesOfAtMostMaxItems) {
  EXPECT_THAT(
      Shape(ToPublishRequests(NineItems(), 4)),
      ElementsAre(ElementsAre("issuer:IIJ", "issuer:SONY", "segment:systems_integration", "segment:games"),
                  ElementsAre("fact:revenue", "fact:operating_income", "fact:net_income", "capital_action"),
                  ElementsAre("guidance")));
  // Exactly full batches leave no empty one behind.
  std::vector<v1::PublishRequest> threes = ToPublishRequests(NineItems(), 3);
  ASSERT_EQ(threes.size(), 3u);
  for (const v1::PublishRequest& batch : threes) EXPECT_EQ(batch.items_size(), 3);
}

TEST(ToPublishRequestsTest, ItemsAreCopiedWhole) {
  v1::DataSet data_set = NineItems();
  std::vector<v1::PublishRequest> batches = ToPublishRequests(data_set, 1000);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].items(4).fact().SerializeAsString(), data_set.facts(0).SerializeAsString());
}

TEST(ToPublishRequestsTest, EmptyDataSetHasNoBatches) {
  EXPECT_THAT(ToPublishRequests(v1::DataSet(), 10), IsEmpty());
}

}  // namespace
}  // namespace kessan
