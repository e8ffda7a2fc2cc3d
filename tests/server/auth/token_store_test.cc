// Tests of server/auth/token_store.cc: the principals file and token hashes.
#include "auth/token_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

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
      "reader subscriber sha256:" +
      kReaderHash +
      " issuers=IIJ  # trailing comment\n"
      "desk analyst,subscriber x509:desk.example issuers=IIJ,ACME concepts=revenue\n"
      "root admin sha256:" +
      Sha256Hex("root-token") + "\n");
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
  for (Role r : {Role::kSubscriber, Role::kPublisher, Role::kAnalyst, Role::kAdmin})
    EXPECT_TRUE(root->Has(r));
}

TEST(PrincipalTableTest, ErrorsNameTheLineAndNeverTheSecret) {
  std::map<std::string, std::string> cases = {
      {"a subscriber", "line 1: expected NAME ROLES CREDENTIAL"},
      {"a reader sha256:" + kReaderHash, "line 1: unknown role 'reader'"},
      {"a subscriber sha256:abc", "line 1: sha256: needs 64 hex digits"},
      {"a subscriber password:xyz", "line 1: the credential is"},
      {"a subscriber x509:", "line 1: x509: needs"},
      {"a subscriber sha256:" + kReaderHash + "\na publisher x509:b", "line 2: principal 'a' appears twice"},
      {"a subscriber sha256:" + kReaderHash + "\nb publisher sha256:" + kReaderHash,
       "line 2: the same credential"},
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

}  // namespace
}  // namespace kessan::auth
