// Tests of server/auth/open_streams.cc: open streams rechecked against a
// reloaded principals table.
#include "auth/open_streams.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "auth/token_store.h"

namespace kessan::auth {
namespace {

using ::testing::HasSubstr;

PrincipalTable TableOf(const std::string& text) {
  absl::StatusOr<PrincipalTable> t = PrincipalTable::Parse(text);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : PrincipalTable();
}

TEST(OpenStreamsTest, ARecheckEndsOnlyWhatTheNewTableNoLongerGrants) {
  const std::string a = "sha256:" + Sha256Hex("a");
  const std::string b = "sha256:" + Sha256Hex("b");
  PrincipalTable before =
      TableOf("alice subscriber,analyst " + a + " issuers=IIJ\nbob subscriber " + b + "\n");
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
  EXPECT_EQ(streams.Recheck(TableOf("alice subscriber " + a + " issuers=IIJ\nbob subscriber " + b + "\n")),
            1u);
  EXPECT_EQ(ended["alice-watch"].code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(ended["alice-watch"].message(), HasSubstr("no longer has the role analyst"));
  // alice's issuers change; bob's token changes.
  const std::string b2 = "sha256:" + Sha256Hex("b2");
  EXPECT_EQ(streams.Recheck(TableOf("alice subscriber " + a + " issuers=SONY\nbob subscriber " + b2 + "\n")),
            2u);
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
