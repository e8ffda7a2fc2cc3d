#include "kessan/publish_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kessan {
namespace {

// Writes `content` to a fresh file named `name` in the test's temp dir.
std::string WriteFile(const std::string& name, const std::string& content) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", name);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  return path;
}

// Describes each item as "kind:id" for compact comparison.
std::vector<std::string> Describe(const v1::PublishRequest& request) {
  std::vector<std::string> out;
  for (const v1::PublishItem& item : request.items()) {
    switch (item.item_case()) {
      case v1::PublishItem::kIssuer:
        out.push_back("issuer:" + item.issuer().id());
        break;
      case v1::PublishItem::kSegment:
        out.push_back("segment:" + item.segment().id());
        break;
      case v1::PublishItem::kFact:
        out.push_back("fact:" + item.fact().key().concept_id());
        break;
      case v1::PublishItem::kCapitalAction:
        out.push_back("capital_action:" + item.capital_action().action_id());
        break;
      case v1::PublishItem::kGuidance:
        out.push_back("guidance:" + item.guidance().key().concept_id());
        break;
      case v1::PublishItem::kRetraction:
        out.push_back("retraction");
        break;
      case v1::PublishItem::ITEM_NOT_SET:
        out.push_back("empty");
        break;
    }
  }
  return out;
}

// Groups deliberately out of publish order.
constexpr char kDataSetText[] = R"pb(
  # A DataSet in text format.
  name: "iij_fy2002"
  guidance { key { issuer: "IIJ" concept_id: "revenue_growth" } }
  facts {
    key {
      issuer: "IIJ"
      concept_id: "revenue"
      period { fiscal_year: 2002 kind: PERIOD_KIND_FULL_YEAR }
    }
  }
  facts { key { issuer: "IIJ" concept_id: "operating_income" } }
  capital_actions {
    issuer: "IIJ"
    action_id: "private_placement_2003_06"
    private_placement {
      shares: 8000
      issue_price { currency_code: "JPY" units: 418200 }
    }
  }
  segments { issuer: "IIJ" id: "systems_integration" }
  issuers {
    id: "IIJ"
    name: "Internet Initiative Japan Inc."
    fiscal_year_end_month: 3
    aliases: [ "11J", "I1J" ]
  }
  segments { issuer: "IIJ" id: "dial_up_access" }
)pb";

TEST(LoadPublishRequestFromFileTest, TextDataSetInPublishOrder) {
  absl::StatusOr<v1::PublishRequest> request =
      LoadPublishRequestFromFile(WriteFile("dataset.txtpb", kDataSetText));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(Describe(*request), (std::vector<std::string>{
                                    "issuer:IIJ", "segment:systems_integration", "segment:dial_up_access",
                                    "fact:revenue", "fact:operating_income",
                                    "capital_action:private_placement_2003_06", "guidance:revenue_growth"}));
  EXPECT_EQ(request->items(0).issuer().aliases_size(), 2);
  EXPECT_EQ(request->items(5).capital_action().private_placement().issue_price().units(), 418200);
}

TEST(LoadPublishRequestFromFileTest, JsonPublishRequest) {
  const std::string json = R"({
    "items": [
      {"issuer": {"id": "IIJ", "fiscalYearEndMonth": 3}},
      {"fact": {"key": {"issuer": "IIJ", "conceptId": "revenue",
                        "period": {"fiscalYear": 2002,
                                   "kind": "PERIOD_KIND_FULL_YEAR"}},
                "value": {"money": {"currencyCode": "JPY",
                                    "units": "68000000000"},
                          "precision": {"decimals": -9}}}}
    ]
  })";
  absl::StatusOr<v1::PublishRequest> request = LoadPublishRequestFromFile(WriteFile("batch.json", json));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(Describe(*request), (std::vector<std::string>{"issuer:IIJ", "fact:revenue"}));
  EXPECT_EQ(request->items(1).fact().value().money().units(), 68000000000);
  EXPECT_EQ(request->items(1).fact().key().period().kind(), v1::PERIOD_KIND_FULL_YEAR);
}

TEST(LoadPublishRequestFromFileTest, JsonDataSetWithProtoFieldNames) {
  const std::string json = R"({"name": "x",
      "guidance": [{"key": {"issuer": "IIJ", "concept_id": "revenue_growth"}}],
      "issuers": [{"id": "IIJ"}]})";
  absl::StatusOr<v1::PublishRequest> request = LoadPublishRequestFromFile(WriteFile("dataset.json", json));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(Describe(*request), (std::vector<std::string>{"issuer:IIJ", "guidance:revenue_growth"}));
}

TEST(LoadPublishRequestFromFileTest, TextPublishRequest) {
  absl::StatusOr<v1::PublishRequest> request =
      LoadPublishRequestFromFile(WriteFile("batch.textproto",
                                           "items { segment { issuer: \"IIJ\" id: \"others\" } }\n"
                                           "items { issuer { id: \"IIJ\" } }\n"));
  ASSERT_TRUE(request.ok()) << request.status();
  // A PublishRequest keeps its own order.
  EXPECT_EQ(Describe(*request), (std::vector<std::string>{"segment:others", "issuer:IIJ"}));
}

TEST(LoadPublishRequestFromFileTest, UnknownExtensionIsSniffed) {
  absl::StatusOr<v1::PublishRequest> json =
      LoadPublishRequestFromFile(WriteFile("batch.in", "  {\"items\": [{\"issuer\": {\"id\": \"A\"}}]}"));
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(Describe(*json), (std::vector<std::string>{"issuer:A"}));

  absl::StatusOr<v1::PublishRequest> text =
      LoadPublishRequestFromFile(WriteFile("dataset.in", "issuers { id: \"B\" }"));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(Describe(*text), (std::vector<std::string>{"issuer:B"}));
}

TEST(LoadPublishRequestFromFileTest, ProtoMessageHeaderDecidesTheType) {
  const std::string path = WriteFile("forced.txtpb",
                                     "# proto-file: kessan/v1/feed.proto\n"
                                     "# proto-message: kessan.v1.PublishRequest\n"
                                     "issuers { id: \"IIJ\" }\n");
  absl::StatusOr<v1::PublishRequest> request = LoadPublishRequestFromFile(path);
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(request.status().message(), "kessan.v1.PublishRequest")) << request.status();
}

TEST(LoadPublishRequestFromFileTest, BadTextNamesFileLineAndColumn) {
  const std::string path = WriteFile("bad.txtpb", "name: \"x\"\nissuers { id: \"IIJ\" }\nfacts { kye {} }\n");
  absl::StatusOr<v1::PublishRequest> request = LoadPublishRequestFromFile(path);
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(request.status().message(), path + ":3:")) << request.status();
  EXPECT_TRUE(absl::StrContains(request.status().message(), "kye")) << request.status();
}

TEST(LoadPublishRequestFromFileTest, BadJsonNamesTheFile) {
  const std::string path = WriteFile("bad.json", "{\"items\": [{\"issuer\": {\"idd\": 1}}]}");
  absl::StatusOr<v1::PublishRequest> request = LoadPublishRequestFromFile(path);
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(request.status().message(), path + ": ")) << request.status();
}

TEST(LoadPublishRequestFromFileTest, MalformedJsonNamesTheFile) {
  const std::string path = WriteFile("truncated.json", "{\"items\": [");
  absl::StatusOr<v1::PublishRequest> request = LoadPublishRequestFromFile(path);
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(request.status().message(), path + ": ")) << request.status();
}

TEST(LoadPublishRequestFromFileTest, EmptyFileHasNoItems) {
  const std::string path = WriteFile("empty.txtpb", "# nothing here\n");
  absl::StatusOr<v1::PublishRequest> request = LoadPublishRequestFromFile(path);
  EXPECT_EQ(request.status(), absl::InvalidArgumentError(path + ": no items to publish"));
}

TEST(LoadPublishRequestFromFileTest, MissingFileIsNotFound) {
  const std::string path = ::testing::TempDir() + "/does_not_exist.txtpb";
  absl::StatusOr<v1::PublishRequest> request = LoadPublishRequestFromFile(path);
  EXPECT_EQ(request.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(request.status().message(), path)) << request.status();
}

}  // namespace
}  // namespace kessan
