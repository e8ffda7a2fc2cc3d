// Unit tests of server/auth: the principals file, entitlements, limits.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "auth/entitlement.h"
#include "auth/limits.h"
#include "auth/open_streams.h"
#include "auth/token_store.h"
#include "google/protobuf/text_format.h"

namespace kessan::auth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kReaderHash = Sha256Hex("reader-token");

TEST(Sha256HexTest, KnownVector) {
  EXPECT_EQ(Sha256Hex("test"), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
}

TEST(PrincipalTableTest, ParsesTokensCertificatesRolesAndEntitlements) {
  absl::StatusOr<PrincipalTable> table = PrincipalTable::Parse(
      "# comment\n\n"
      "reader subscriber sha256:" + kReaderHash + " issuers=IIJ  # trailing comment\n"
      "desk analyst,subscriber x509:desk.example issuers=IIJ,ACME concepts=revenue\n"
      "root admin sha256:" + Sha256Hex("root-token") + "\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 3u);
  const Principal* reader = table->FindByToken("reader-token");
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->name, "reader");
  EXPECT_TRUE(reader->Has(Role::kSubscriber));
  EXPECT_FALSE(reader->Has(Role::kPublisher));
  EXPECT_THAT(reader->issuers, ElementsAre("IIJ"));
  EXPECT_EQ(table->FindByToken("reader-token "), nullptr);
  EXPECT_EQ(table->FindByToken(""), nullptr);
  EXPECT_EQ(table->FindByToken(kReaderHash), nullptr);  // the hash is not the token
  const Principal* desk = table->FindByCertificate("desk.example");
  ASSERT_NE(desk, nullptr);
  EXPECT_TRUE(desk->Has(Role::kAnalyst));
  EXPECT_THAT(desk->issuers, ElementsAre("IIJ", "ACME"));
  EXPECT_THAT(desk->concepts, ElementsAre("revenue"));
  EXPECT_EQ(table->FindByCertificate("reader"), nullptr);
  const Principal* root = table->FindByToken("root-token");
  ASSERT_NE(root, nullptr);
  for (Role r : {Role::kSubscriber, Role::kPublisher, Role::kAnalyst, Role::kAdmin}) EXPECT_TRUE(root->Has(r));
}

TEST(PrincipalTableTest, ErrorsNameTheLineAndNeverTheSecret) {
  std::map<std::string, std::string> cases = {
      {"a subscriber", "line 1: expected NAME ROLES CREDENTIAL"},
      {"a reader sha256:" + kReaderHash, "line 1: unknown role 'reader'"},
      {"a subscriber sha256:abc", "line 1: sha256: needs 64 hex digits"},
      {"a subscriber password:xyz", "line 1: the credential is"},
      {"a subscriber x509:", "line 1: x509: needs"},
      {"a subscriber sha256:" + kReaderHash + "\na publisher x509:b", "line 2: principal 'a' appears twice"},
      {"a subscriber sha256:" + kReaderHash + "\nb publisher sha256:" + kReaderHash, "line 2: the same credential"},
      {"a subscriber x509:a issuers=", "line 1: issuers= lists no issuer"},
      {"a subscriber x509:a color=red", "line 1: unknown field 'color=red'"},
  };
  for (const auto& [text, error] : cases) {
    absl::StatusOr<PrincipalTable> table = PrincipalTable::Parse(text);
    ASSERT_FALSE(table.ok()) << text;
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(table.status().message(), HasSubstr(error)) << text;
    EXPECT_THAT(table.status().message(), Not(HasSubstr(kReaderHash)));
  }
}

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
  absl::StatusOr<v1::Filter> out =
      EntitledFilter(Restricted({"IIJ", "LATER"}, {"revenue"}), FilterOf(R"pb(event_kinds: EVENT_KIND_FACT)pb"), Resolve);
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
  absl::StatusOr<v1::Filter> other = EntitledFilter(p, FilterOf(R"pb(issuers: "IIJ" issuers: "ACME")pb"), Resolve);
  absl::StatusOr<v1::Filter> unknown = EntitledFilter(p, FilterOf(R"pb(issuers: "IIJ" issuers: "NOPE")pb"), Resolve);
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
  s = CheckPublish(p, Items(R"pb(items { retraction { item { capital_action { issuer: "ACME" action_id: "a" } } } })pb"),
                   Resolve);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  Principal q = Restricted({}, {"revenue"});
  EXPECT_TRUE(CheckPublish(q, Items(R"pb(items { fact { key { issuer: "ACME" concept_id: "revenue" } } })pb"), Resolve).ok());
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

TEST(RateLimiterTest, TokenBucketPerKey) {
  absl::Time now = absl::UnixEpoch();
  RateLimiter limiter(10, 20, [&] { return now; });
  EXPECT_TRUE(limiter.Take("a", 20).ok());
  absl::Status s = limiter.Take("a", 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("publish rate: limit 10 items/s per principal (burst 20) exceeded"));
  EXPECT_TRUE(limiter.Take("b", 5).ok());  // others are not affected
  now += absl::Milliseconds(500);
  EXPECT_TRUE(limiter.Take("a", 5).ok());
  EXPECT_FALSE(limiter.Take("a", 1).ok());
  s = limiter.Take("a", 21);
  EXPECT_THAT(s.message(), HasSubstr("a batch of 21 items exceeds the burst of 20 items"));
  RateLimiter unlimited(0, 0);
  EXPECT_TRUE(unlimited.Take("a", 1000000).ok());
}

TEST(LeaseCounterTest, BoundsLeasesPerKey) {
  LeaseCounter counter("subscriptions per connection", 2);
  absl::StatusOr<Lease> a = counter.Acquire("c1");
  absl::StatusOr<Lease> b = counter.Acquire("c1");
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<Lease> c = counter.Acquire("c1");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(c.status().message(), "subscriptions per connection: at most 2");
  EXPECT_TRUE(counter.Acquire("c2").ok());
  a->reset();
  EXPECT_EQ(counter.count("c1"), 1u);
  EXPECT_TRUE(counter.Acquire("c1").ok());
}

// --- OpenStreams -------------------------------------------------------------

PrincipalTable TableOf(const std::string& text) {
  absl::StatusOr<PrincipalTable> t = PrincipalTable::Parse(text);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : PrincipalTable();
}

TEST(OpenStreamsTest, ARecheckEndsOnlyWhatTheNewTableNoLongerGrants) {
  const std::string a = "sha256:" + Sha256Hex("a");
  const std::string b = "sha256:" + Sha256Hex("b");
  PrincipalTable before = TableOf("alice subscriber,analyst " + a + " issuers=IIJ\nbob subscriber " + b + "\n");
  OpenStreams streams;
  std::map<std::string, absl::Status> ended;
  auto track = [&](const char* name, Role role, const char* label) {
    return streams.Track(*before.FindByName(name), role,
                         [&ended, label](const absl::Status& s) { ended[label] = s; });
  };
  auto alice_sub = track("alice", Role::kSubscriber, "alice-sub");
  auto alice_watch = track("alice", Role::kAnalyst, "alice-watch");
  auto bob = track("bob", Role::kSubscriber, "bob");
  EXPECT_EQ(streams.Recheck(before), 0u);  // nothing changed
  // alice loses the analyst role; bob is unchanged.
  EXPECT_EQ(streams.Recheck(TableOf("alice subscriber " + a + " issuers=IIJ\nbob subscriber " + b + "\n")), 1u);
  EXPECT_EQ(ended["alice-watch"].code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(ended["alice-watch"].message(), HasSubstr("no longer has the role analyst"));
  // alice's issuers change; bob's token changes.
  const std::string b2 = "sha256:" + Sha256Hex("b2");
  EXPECT_EQ(streams.Recheck(TableOf("alice subscriber " + a + " issuers=SONY\nbob subscriber " + b2 + "\n")), 2u);
  EXPECT_EQ(ended["alice-sub"].code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ended["bob"].code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(streams.size(), 0u);
  // A stream that ended by itself is forgotten: no call after its handle goes.
  auto again = track("bob", Role::kSubscriber, "bob-again");
  EXPECT_EQ(streams.size(), 1u);
  again.reset();
  EXPECT_EQ(streams.size(), 0u);
  EXPECT_EQ(streams.Recheck(TableOf("carol subscriber " + a + "\n")), 0u);
  EXPECT_EQ(ended.count("bob-again"), 0u);
}

}  // namespace
}  // namespace kessan::auth
