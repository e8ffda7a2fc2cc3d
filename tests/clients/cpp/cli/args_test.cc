#include "cli/args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace kessan::cli {
namespace {

std::vector<std::string> List(const google::protobuf::RepeatedPtrField<std::string>& field) {
  return {field.begin(), field.end()};
}

// Asserts a usage error whose message contains `needle`.
void ExpectUsageError(const std::vector<std::string>& argv, const std::string& needle) {
  absl::StatusOr<Args> args = ParseArgs(argv);
  ASSERT_FALSE(args.ok()) << "accepted: " << ::testing::PrintToString(argv);
  EXPECT_EQ(args.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(args.status().message(), needle)) << args.status() << " lacks " << needle;
}

TEST(ParseArgsTest, SubscribeDefaults) {
  absl::StatusOr<Args> args = ParseArgs({"subscribe"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->command, Command::kSubscribe);
  EXPECT_EQ(args->server, "127.0.0.1:50051");
  EXPECT_EQ(args->servers, std::vector<std::string>{"127.0.0.1:50051"});
  EXPECT_EQ(args->start, v1::START_MODE_SNAPSHOT_THEN_LIVE);
  EXPECT_EQ(args->limit, 0u);
  EXPECT_EQ(args->timeout, absl::InfiniteDuration());
  EXPECT_EQ(args->filter.ByteSizeLong(), 0u);
}

TEST(ParseArgsTest, SubscribeWithEverything) {
  absl::StatusOr<Args> args = ParseArgs({"--server", "127.0.0.1:6000", "subscribe", "--from=17", "--issuer",
                                         "IIJ", "--issuer=XYZ, ABC", "--concept", "revenue,operating_income",
                                         "--segment", "systems_integration", "--kind", "fact", "--kind",
                                         "capital_action,GUIDANCE", "--limit", "3", "--timeout", "1.5s"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->server, "127.0.0.1:6000");
  EXPECT_EQ(args->start, v1::START_MODE_FROM_SEQUENCE);
  EXPECT_EQ(args->from_sequence, 17u);
  EXPECT_EQ(List(args->filter.issuers()), (std::vector<std::string>{"IIJ", "XYZ", "ABC"}));
  EXPECT_EQ(List(args->filter.concepts()), (std::vector<std::string>{"revenue", "operating_income"}));
  EXPECT_EQ(List(args->filter.segments()), (std::vector<std::string>{"systems_integration"}));
  ASSERT_EQ(args->filter.event_kinds_size(), 3);
  EXPECT_EQ(args->filter.event_kinds(0), v1::EVENT_KIND_FACT);
  EXPECT_EQ(args->filter.event_kinds(1), v1::EVENT_KIND_CAPITAL_ACTION);
  EXPECT_EQ(args->filter.event_kinds(2), v1::EVENT_KIND_GUIDANCE);
  EXPECT_EQ(args->limit, 3u);
  EXPECT_EQ(args->timeout, absl::Milliseconds(1500));
}

TEST(ParseArgsTest, ServerListInOrder) {
  absl::StatusOr<Args> args = ParseArgs({"snapshot", "--server", "127.0.0.1:1, 127.0.0.1:2"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->servers, (std::vector<std::string>{"127.0.0.1:1", "127.0.0.1:2"}));
}

TEST(ParseArgsTest, FromZeroReplaysEverything) {
  absl::StatusOr<Args> args = ParseArgs({"subscribe", "--from", "0"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->start, v1::START_MODE_FROM_SEQUENCE);
  EXPECT_EQ(args->from_sequence, 0u);
}

TEST(ParseArgsTest, Live) {
  absl::StatusOr<Args> args = ParseArgs({"subscribe", "--live"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->start, v1::START_MODE_LIVE_ONLY);
}

TEST(ParseArgsTest, AllEventKinds) {
  absl::StatusOr<Args> args =
      ParseArgs({"snapshot", "--kind", "issuer,segment,fact,capital-action,guidance"});
  ASSERT_TRUE(args.ok()) << args.status();
  ASSERT_EQ(args->filter.event_kinds_size(), 5);
  EXPECT_EQ(args->filter.event_kinds(0), v1::EVENT_KIND_ISSUER);
  EXPECT_EQ(args->filter.event_kinds(1), v1::EVENT_KIND_SEGMENT);
  EXPECT_EQ(args->filter.event_kinds(3), v1::EVENT_KIND_CAPITAL_ACTION);
}

TEST(ParseArgsTest, Snapshot) {
  absl::StatusOr<Args> args = ParseArgs({"snapshot", "--jsonl", "--issuer", "IIJ"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->command, Command::kSnapshot);
  EXPECT_TRUE(args->jsonl);
  EXPECT_EQ(List(args->filter.issuers()), (std::vector<std::string>{"IIJ"}));
}

TEST(ParseArgsTest, Publish) {
  absl::StatusOr<Args> args = ParseArgs({"publish", "data/iij.txtpb", "--server=h:1"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->command, Command::kPublish);
  EXPECT_EQ(args->file, "data/iij.txtpb");
  EXPECT_EQ(args->server, "h:1");
  EXPECT_EQ(args->servers, std::vector<std::string>{"h:1"});
}

TEST(ParseArgsTest, DoubleDashEndsFlags) {
  absl::StatusOr<Args> args = ParseArgs({"publish", "--", "--odd-name.json"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->file, "--odd-name.json");
}

TEST(ParseArgsTest, Help) {
  for (const auto& argv :
       std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"help"}, {"subscribe", "--help"}}) {
    absl::StatusOr<Args> args = ParseArgs(argv);
    ASSERT_TRUE(args.ok()) << args.status();
    EXPECT_EQ(args->command, Command::kHelp) << argv[0];
  }
  EXPECT_TRUE(absl::StartsWith(Usage(), "usage: kessan"));
}

TEST(ParseArgsTest, UsageErrors) {
  ExpectUsageError({}, "no command");
  ExpectUsageError({"frobnicate"}, "unknown command \"frobnicate\"");
  ExpectUsageError({"subscribe", "--bogus"}, "unknown flag --bogus");
  ExpectUsageError({"subscribe", "-x"}, "unknown flag -x");
  ExpectUsageError({"subscribe", "--issuer"}, "--issuer needs a value");
  ExpectUsageError({"subscribe", "--live=yes"}, "--live takes no value");
  ExpectUsageError({"subscribe", "--from", "-1"}, "--from \"-1\"");
  ExpectUsageError({"subscribe", "--from", "12x"}, "--from \"12x\"");
  ExpectUsageError({"subscribe", "--from", "3", "--live"}, "exclude");
  ExpectUsageError({"subscribe", "--limit", "0"}, "--limit");
  ExpectUsageError({"subscribe", "--kind", "facts"}, "--kind \"facts\"");
  ExpectUsageError({"subscribe", "--issuer", "IIJ,,X"}, "empty item");
  ExpectUsageError({"subscribe", "--issuer="}, "empty item");
  ExpectUsageError({"subscribe", "--timeout", "soon"}, "--timeout");
  ExpectUsageError({"subscribe", "--timeout", "-1s"}, "--timeout");
  ExpectUsageError({"subscribe", "extra"}, "takes no argument");
  ExpectUsageError({"snapshot", "--live"}, "--live does not apply to snapshot");
  ExpectUsageError({"publish"}, "exactly one FILE");
  ExpectUsageError({"publish", "a", "b"}, "exactly one FILE");
  ExpectUsageError({"publish", "a", "--issuer", "IIJ"}, "--issuer does not apply to publish");
  ExpectUsageError({"subscribe", "--server="}, "--server is empty");
  ExpectUsageError({"subscribe", "--server", "a:1,,b:2"}, "empty server");
  ExpectUsageError({"snapshot", "--server", "a:1, "}, "empty server");
  ExpectUsageError({"subscribe", "--heartbeat-ms", "50"}, "100..60000");
  ExpectUsageError({"subscribe", "--heartbeat-ms", "60001"}, "100..60000");
  ExpectUsageError({"subscribe", "--policy", "drop"}, "--policy \"drop\"");
  ExpectUsageError({"snapshot", "--view", "newest"}, "--view \"newest\"");
  ExpectUsageError({"snapshot", "--view", "as-of"}, "needs --as-of");
  ExpectUsageError({"snapshot", "--as-of", "yesterday"}, "RFC 3339");
  ExpectUsageError({"snapshot", "--as-of", "2003-05-20"}, "RFC 3339");
  ExpectUsageError({"snapshot", "--view", "latest", "--as-of", "2003-05-20T00:00:00Z"},
                   "--as-of goes with --view as-of");
  ExpectUsageError({"snapshot", "--no-reconnect"}, "--no-reconnect does not apply to snapshot");
  ExpectUsageError({"snapshot", "--policy", "conflate"}, "does not apply");
  ExpectUsageError({"subscribe", "--batch-key", "k"}, "--batch-key does not apply to subscribe");
  ExpectUsageError({"publish", "f", "--publisher-id="}, "--publisher-id is empty");
}

TEST(ParseArgsTest, ResumeFlags) {
  absl::StatusOr<Args> args = ParseArgs({"subscribe"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_TRUE(args->reconnect);  // The default.
  EXPECT_EQ(args->heartbeat_ms, 0u);
  EXPECT_EQ(args->policy, v1::SLOW_CONSUMER_POLICY_UNSPECIFIED);
  EXPECT_EQ(args->point_in_time.view(), v1::REVISION_VIEW_UNSPECIFIED);

  args = ParseArgs({"subscribe", "--no-reconnect", "--heartbeat-ms=250", "--policy", "CONFLATE", "--view",
                    "first-reported"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_FALSE(args->reconnect);
  EXPECT_EQ(args->heartbeat_ms, 250u);
  EXPECT_EQ(args->policy, v1::SLOW_CONSUMER_POLICY_CONFLATE);
  EXPECT_EQ(args->point_in_time.view(), v1::REVISION_VIEW_FIRST_REPORTED);

  args = ParseArgs({"subscribe", "--policy", "disconnect", "--view", "latest"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->policy, v1::SLOW_CONSUMER_POLICY_DISCONNECT);
  EXPECT_EQ(args->point_in_time.view(), v1::REVISION_VIEW_LATEST);
}

TEST(ParseArgsTest, AsOf) {
  // --as-of alone means --view as-of; fractions and offsets are kept.
  absl::StatusOr<Args> args = ParseArgs({"snapshot", "--as-of", "2003-05-20T09:00:00.25+09:00"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->point_in_time.view(), v1::REVISION_VIEW_AS_OF);
  EXPECT_EQ(args->point_in_time.as_of().seconds(), 1053388800);
  EXPECT_EQ(args->point_in_time.as_of().nanos(), 250000000);

  args = ParseArgs({"subscribe", "--view=as-of", "--as-of=2003-05-20T00:00:00Z"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->point_in_time.view(), v1::REVISION_VIEW_AS_OF);
}

TEST(ParseArgsTest, PublishIdentity) {
  absl::StatusOr<Args> args =
      ParseArgs({"publish", "f.txtpb", "--publisher-id", "desk-7", "--batch-key=b-1"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->publisher_id, "desk-7");
  EXPECT_EQ(args->batch_key, "b-1");
  args = ParseArgs({"publish", "f.txtpb"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->publisher_id, "");
}

}  // namespace
}  // namespace kessan::cli
