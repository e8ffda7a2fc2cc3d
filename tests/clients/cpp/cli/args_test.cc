#include "cli/args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace kessan::cli {
namespace {

std::vector<std::string> List(
    const google::protobuf::RepeatedPtrField<std::string>& field) {
  return {field.begin(), field.end()};
}

// Asserts a usage error whose message contains `needle`.
void ExpectUsageError(const std::vector<std::string>& argv,
                      const std::string& needle) {
  absl::StatusOr<Args> args = ParseArgs(argv);
  ASSERT_FALSE(args.ok()) << "accepted: " << ::testing::PrintToString(argv);
  EXPECT_EQ(args.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(args.status().message(), needle))
      << args.status() << " lacks " << needle;
}

TEST(ParseArgsTest, SubscribeDefaults) {
  absl::StatusOr<Args> args = ParseArgs({"subscribe"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->command, Command::kSubscribe);
  EXPECT_EQ(args->server, "127.0.0.1:50051");
  EXPECT_EQ(args->start, v1::START_MODE_SNAPSHOT_THEN_LIVE);
  EXPECT_EQ(args->limit, 0u);
  EXPECT_EQ(args->timeout, absl::InfiniteDuration());
  EXPECT_EQ(args->filter.ByteSizeLong(), 0u);
}

TEST(ParseArgsTest, SubscribeWithEverything) {
  absl::StatusOr<Args> args = ParseArgs(
      {"--server", "127.0.0.1:6000", "subscribe", "--from=17", "--issuer",
       "IIJ", "--issuer=XYZ, ABC", "--concept", "revenue,operating_income",
       "--segment", "systems_integration", "--kind", "fact", "--kind",
       "capital_action,GUIDANCE", "--limit", "3", "--timeout", "1.5s"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->server, "127.0.0.1:6000");
  EXPECT_EQ(args->start, v1::START_MODE_FROM_SEQUENCE);
  EXPECT_EQ(args->from_sequence, 17u);
  EXPECT_EQ(List(args->filter.issuers()),
            (std::vector<std::string>{"IIJ", "XYZ", "ABC"}));
  EXPECT_EQ(List(args->filter.concepts()),
            (std::vector<std::string>{"revenue", "operating_income"}));
  EXPECT_EQ(List(args->filter.segments()),
            (std::vector<std::string>{"systems_integration"}));
  ASSERT_EQ(args->filter.event_kinds_size(), 3);
  EXPECT_EQ(args->filter.event_kinds(0), v1::EVENT_KIND_FACT);
  EXPECT_EQ(args->filter.event_kinds(1), v1::EVENT_KIND_CAPITAL_ACTION);
  EXPECT_EQ(args->filter.event_kinds(2), v1::EVENT_KIND_GUIDANCE);
  EXPECT_EQ(args->limit, 3u);
  EXPECT_EQ(args->timeout, absl::Milliseconds(1500));
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
  absl::StatusOr<Args> args = ParseArgs(
      {"snapshot", "--kind", "issuer,segment,fact,capital-action,guidance"});
  ASSERT_TRUE(args.ok()) << args.status();
  ASSERT_EQ(args->filter.event_kinds_size(), 5);
  EXPECT_EQ(args->filter.event_kinds(0), v1::EVENT_KIND_ISSUER);
  EXPECT_EQ(args->filter.event_kinds(1), v1::EVENT_KIND_SEGMENT);
  EXPECT_EQ(args->filter.event_kinds(3), v1::EVENT_KIND_CAPITAL_ACTION);
}

TEST(ParseArgsTest, Snapshot) {
  absl::StatusOr<Args> args =
      ParseArgs({"snapshot", "--jsonl", "--issuer", "IIJ"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->command, Command::kSnapshot);
  EXPECT_TRUE(args->jsonl);
  EXPECT_EQ(List(args->filter.issuers()), (std::vector<std::string>{"IIJ"}));
}

TEST(ParseArgsTest, Publish) {
  absl::StatusOr<Args> args =
      ParseArgs({"publish", "data/iij.txtpb", "--server=h:1"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->command, Command::kPublish);
  EXPECT_EQ(args->file, "data/iij.txtpb");
  EXPECT_EQ(args->server, "h:1");
}

TEST(ParseArgsTest, DoubleDashEndsFlags) {
  absl::StatusOr<Args> args = ParseArgs({"publish", "--", "--odd-name.json"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->file, "--odd-name.json");
}

TEST(ParseArgsTest, Help) {
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"--help"}, {"-h"}, {"help"}, {"subscribe", "--help"}}) {
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
  ExpectUsageError({"publish", "a", "--issuer", "IIJ"},
                   "--issuer does not apply to publish");
  ExpectUsageError({"subscribe", "--server="}, "--server is empty");
}

}  // namespace
}  // namespace kessan::cli
