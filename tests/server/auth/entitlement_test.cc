// Tests of server/auth/entitlement.cc: filters, publishes and scenario
// issuers narrowed to a principal's entitlements.
#include "auth/entitlement.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "google/protobuf/text_format.h"

namespace kessan::auth {
namespace {

using ::testing::ElementsAre;

// Issuers the feed knows, with aliases.
std::string Resolve(const std::string& name) {
  if (name == "IIJ" || name == "11J") return "IIJ";
  if (name == "ACME") return "ACME";
  return "";
}

Principal Restricted(std::vector<std::string> issuers, std::vector<std::string> concepts = {}) {
  Principal p;
  p.name = "p";
  p.roles = static_cast<uint32_t>(Role::kSubscriber);
  p.issuers = std::move(issuers);
  p.concepts = std::move(concepts);
  return p;
}

v1::Filter FilterOf(const std::string& text) {
  v1::Filter f;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &f));
  return f;
}

TEST(EntitlementTest, UnrestrictedPrincipalKeepsItsFilter) {
  v1::Filter f = FilterOf(R"pb(issuers: "NOPE" concepts: "x")pb");
  absl::StatusOr<v1::Filter> out = EntitledFilter(Principal::Anonymous(), f, Resolve);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->DebugString(), f.DebugString());
}

TEST(EntitlementTest, EmptyListsBecomeTheEntitlement) {
  absl::StatusOr<v1::Filter> out = EntitledFilter(Restricted({"IIJ", "LATER"}, {"revenue"}),
                                                  FilterOf(R"pb(event_kinds: EVENT_KIND_FACT)pb"), Resolve);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->issuers(), ElementsAre("IIJ"));  // LATER is not known yet
  EXPECT_THAT(out->concepts(), ElementsAre("revenue"));
  EXPECT_EQ(out->event_kinds_size(), 1);
  out = EntitledFilter(Restricted({"LATER"}), v1::Filter(), Resolve);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(EntitlementTest, NamedIssuersMustBeEntitledAndUnknownLooksTheSame) {
  Principal p = Restricted({"IIJ"});
  absl::StatusOr<v1::Filter> out = EntitledFilter(p, FilterOf(R"pb(issuers: "11J")pb"), Resolve);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->issuers(), ElementsAre("IIJ"));
  absl::StatusOr<v1::Filter> other =
      EntitledFilter(p, FilterOf(R"pb(issuers: "IIJ" issuers: "ACME")pb"), Resolve);
  absl::StatusOr<v1::Filter> unknown =
      EntitledFilter(p, FilterOf(R"pb(issuers: "IIJ" issuers: "NOPE")pb"), Resolve);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(other.status().message(), "filter.issuers[1]: not entitled to issuer 'ACME'");
  EXPECT_EQ(unknown.status().message(), "filter.issuers[1]: not entitled to issuer 'NOPE'");
  out = EntitledFilter(Restricted({}, {"revenue"}), FilterOf(R"pb(concepts: "operating_income")pb"), Resolve);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kPermissionDenied);
}

v1::PublishRequest Items(const std::string& text) {
  v1::PublishRequest r;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &r));
  return r;
}

TEST(EntitlementTest, PublishOnlyEntitledItems) {
  Principal p = Restricted({"IIJ"});
  EXPECT_TRUE(CheckPublish(p, Items(R"pb(items { fact { key { issuer: "11J" concept_id: "revenue" } } }
                                         items { segment { issuer: "IIJ" id: "x" } }
                                         items { issuer { id: "IIJ" } })pb"),
                           Resolve)
                  .ok());
  absl::Status s = CheckPublish(p, Items(R"pb(items { fact { key { issuer: "IIJ" concept_id: "revenue" } } }
                                              items { guidance { key { issuer: "ACME" concept_id: "revenue" } } })pb"),
                                Resolve);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "items[1]: not entitled to issuer 'ACME'");
  s = CheckPublish(p, Items(R"pb(items { issuer { id: "NEWCO" } })pb"), Resolve);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  s = CheckPublish(
      p, Items(R"pb(items { retraction { item { capital_action { issuer: "ACME" action_id: "a" } } } })pb"),
      Resolve);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  Principal q = Restricted({}, {"revenue"});
  EXPECT_TRUE(CheckPublish(q, Items(R"pb(items { fact { key { issuer: "ACME" concept_id: "revenue" } } })pb"),
                           Resolve)
                  .ok());
  EXPECT_EQ(CheckPublish(q, Items(R"pb(items { capital_action { issuer: "ACME" } })pb"), Resolve).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(EntitlementTest, ScenarioIssuer) {
  Principal p = Restricted({"IIJ"});
  EXPECT_EQ(*EntitledIssuer(p, "", Resolve), "");
  EXPECT_EQ(*EntitledIssuer(p, "11J", Resolve), "IIJ");
  EXPECT_EQ(EntitledIssuer(p, "ACME", Resolve).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(EntitledIssuer(p, "NOPE", Resolve).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(*EntitledIssuer(Principal::Anonymous(), "NOPE", Resolve), "NOPE");  // the engine says unknown
}

}  // namespace
}  // namespace kessan::auth
