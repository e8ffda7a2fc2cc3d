#include "cli/commands.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fake_feed_service.h"

namespace kessan::cli {
namespace {

using fakes::FactEvent;
using fakes::FakeFeedService;
using fakes::FakeServer;

class CommandsTest : public ::testing::Test {
 protected:
  FakeFeedService& service() { return server_.service(); }

  // Parses `argv`, runs it against the fake; output lands in out_ / err_.
  int Run(const std::vector<std::string>& argv) {
    absl::StatusOr<Args> args = ParseArgs(argv);
    EXPECT_TRUE(args.ok()) << args.status();
    if (!args.ok()) return -1;
    return RunCommand(*args, client_, out_, err_);
  }

  std::vector<std::string> OutLines() const { return absl::StrSplit(out_.str(), '\n', absl::SkipEmpty()); }

  FakeServer server_;
  Client client_{server_.address()};
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(CommandsTest, SubscribePrintsOneJsonLinePerEventUpToTheLimit) {
  v1::SubscribeResponse batch;
  batch.add_events()->mutable_snapshot_begin()->set_sequence(5);
  for (uint64_t s = 6; s <= 10; ++s) {
    *batch.add_events() = FactEvent(s, "IIJ", "revenue");
  }
  service().subscribe_responses = {batch};
  EXPECT_EQ(Run({"subscribe", "--from", "5", "--issuer", "IIJ", "--limit", "2"}), kExitOk) << err_.str();

  // The control event is printed but not counted.
  std::vector<std::string> lines = OutLines();
  ASSERT_EQ(lines.size(), 3u) << out_.str();
  EXPECT_EQ(lines[0], R"({"snapshotBegin":{"sequence":"5"}})");
  EXPECT_TRUE(absl::StrContains(lines[1], R"("conceptId":"revenue")")) << lines[1];
  v1::FeedEvent event;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[2], &event).ok());
  EXPECT_EQ(event.sequence(), 7u);
  EXPECT_EQ(err_.str(), "");
  ASSERT_TRUE(service().last_subscribe.has_value());
  EXPECT_EQ(service().last_subscribe->start(), v1::START_MODE_FROM_SEQUENCE);
  EXPECT_EQ(service().last_subscribe->from_sequence(), 5u);
  EXPECT_EQ(service().last_subscribe->filter().issuers(0), "IIJ");
}

TEST_F(CommandsTest, SubscribeEndsWithTheStream) {
  v1::SubscribeResponse batch;
  *batch.add_events()->mutable_snapshot_begin() = v1::SnapshotBegin();
  *batch.add_events() = FactEvent(3, "IIJ", "revenue");
  service().subscribe_responses = {batch};
  EXPECT_EQ(Run({"subscribe", "--live", "--no-reconnect"}), kExitOk) << err_.str();
  EXPECT_EQ(OutLines().size(), 2u);
  EXPECT_EQ(service().last_subscribe->start(), v1::START_MODE_LIVE_ONLY);
}

TEST_F(CommandsTest, ResumingLiveSubscriptionStartsFromTheJournalHead) {
  // Live only, resumable: events after the head when it started.
  service().snapshot_response.set_sequence(2);
  service().subscribe_responses = {v1::SubscribeResponse()};
  *service().subscribe_responses[0].add_events() = FactEvent(3, "IIJ", "r");
  EXPECT_EQ(Run({"subscribe", "--live"}), kExitOk) << err_.str();
  EXPECT_EQ(OutLines().size(), 1u);
  EXPECT_EQ(service().last_subscribe->start(), v1::START_MODE_FROM_SEQUENCE);
  EXPECT_EQ(service().last_subscribe->from_sequence(), 2u);
}

TEST_F(CommandsTest, SubscribeReconnectsAndSaysSoOnStderr) {
  v1::SubscribeResponse first, second;
  *first.add_events() = FactEvent(6, "IIJ", "revenue");
  *first.add_events() = FactEvent(7, "IIJ", "revenue");
  *second.add_events() = FactEvent(7, "IIJ", "revenue");  // Replayed.
  *second.add_events() = FactEvent(8, "IIJ", "revenue");
  service().subscribe_script = {{{first}, grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone")},
                                {{second}, grpc::Status::OK}};
  EXPECT_EQ(Run({"subscribe", "--from", "5", "--heartbeat-ms", "250", "--policy", "conflate"}), kExitOk)
      << err_.str();

  std::vector<std::string> lines = OutLines();
  ASSERT_EQ(lines.size(), 3u) << out_.str();
  EXPECT_TRUE(absl::StrContains(lines[2], "\"sequence\":\"8\"")) << lines[2];
  std::vector<std::string> notes = absl::StrSplit(err_.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(notes.size(), 2u) << err_.str();
  EXPECT_TRUE(absl::StartsWith(notes[0], "kessan: stream ended (UNAVAILABLE: gone); reconnecting in "))
      << notes[0];
  EXPECT_TRUE(absl::EndsWith(notes[0], "resuming after sequence 7")) << notes[0];
  EXPECT_EQ(notes[1], "kessan: reconnected to " + server_.address() + " (attempt 1)");
  std::vector<v1::SubscribeRequest> requests = service().subscribe_requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].heartbeat_interval_ms(), 250u);
  EXPECT_EQ(requests[0].slow_consumer_policy(), v1::SLOW_CONSUMER_POLICY_CONFLATE);
  EXPECT_EQ(requests[1].from_sequence(), 7u);
}

TEST_F(CommandsTest, NoReconnectEndsAtTheFirstError) {
  service().subscribe_status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone");
  EXPECT_EQ(Run({"subscribe", "--no-reconnect"}), kExitFailure);
  EXPECT_EQ(err_.str(), "kessan: UNAVAILABLE: gone\n");
  EXPECT_EQ(service().subscribe_requests().size(), 1u);
}

TEST_F(CommandsTest, SubscribeSendsTheView) {
  EXPECT_EQ(Run({"subscribe", "--as-of", "2003-05-20T00:00:00Z"}), kExitOk) << err_.str();
  EXPECT_EQ(service().last_subscribe->point_in_time().view(), v1::REVISION_VIEW_AS_OF);
  EXPECT_EQ(service().last_subscribe->point_in_time().as_of().seconds(), 1053388800);
}

TEST_F(CommandsTest, SnapshotSendsTheView) {
  EXPECT_EQ(Run({"snapshot", "--view", "first"}), kExitOk) << err_.str();
  EXPECT_EQ(service().last_snapshot->point_in_time().view(), v1::REVISION_VIEW_FIRST_REPORTED);
  EXPECT_FALSE(service().last_snapshot->point_in_time().has_as_of());
}

TEST_F(CommandsTest, SubscribeServerError) {
  service().subscribe_status =
      grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "filter.issuers[0]: unknown issuer \"XYZ\"");
  EXPECT_EQ(Run({"subscribe", "--issuer", "XYZ"}), kExitFailure);
  EXPECT_EQ(err_.str(),
            "kessan: INVALID_ARGUMENT: filter.issuers[0]: unknown issuer "
            "\"XYZ\"\n");
}

TEST_F(CommandsTest, SubscribeTimeout) {
  service().subscribe_end = FakeFeedService::StreamEnd::kHang;
  EXPECT_EQ(Run({"subscribe", "--timeout", "200ms"}), kExitFailure);
  EXPECT_TRUE(absl::StartsWith(err_.str(), "kessan: DEADLINE_EXCEEDED: ")) << err_.str();
}

TEST_F(CommandsTest, SnapshotPrintsTheResponseAsJson) {
  service().snapshot_response.set_sequence(9);
  *service().snapshot_response.add_events() = FactEvent(8, "IIJ", "revenue");
  *service().snapshot_response.add_events() = FactEvent(9, "IIJ", "ebitda");
  EXPECT_EQ(Run({"snapshot", "--kind", "fact"}), kExitOk) << err_.str();

  v1::GetSnapshotResponse printed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out_.str(), &printed).ok()) << out_.str();
  EXPECT_EQ(printed.SerializeAsString(), service().snapshot_response.SerializeAsString());
  EXPECT_GT(OutLines().size(), 2u);  // Pretty: indented over many lines.
  EXPECT_EQ(service().last_snapshot->filter().event_kinds(0), v1::EVENT_KIND_FACT);
}

TEST_F(CommandsTest, SnapshotJsonl) {
  *service().snapshot_response.add_events() = FactEvent(8, "IIJ", "revenue");
  *service().snapshot_response.add_events() = FactEvent(9, "IIJ", "ebitda");
  EXPECT_EQ(Run({"snapshot", "--jsonl"}), kExitOk) << err_.str();
  std::vector<std::string> lines = OutLines();
  ASSERT_EQ(lines.size(), 2u) << out_.str();
  EXPECT_TRUE(absl::StrContains(lines[1], "\"sequence\":\"9\"")) << lines[1];
}

TEST_F(CommandsTest, SnapshotServerError) {
  service().snapshot_status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "journal is restarting");
  EXPECT_EQ(Run({"snapshot"}), kExitFailure);
  EXPECT_EQ(err_.str(), "kessan: UNAVAILABLE: journal is restarting\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(CommandsTest, PublishPrintsTheSequences) {
  const std::string path = ::testing::TempDir() + "/commands_publish.txtpb";
  std::ofstream(path) << "issuers { id: \"IIJ\" }\n"
                         "facts { key { issuer: \"IIJ\" concept_id: \"x\" } }\n";
  service().publish_response.add_sequences(1);
  service().publish_response.add_sequences(2);
  EXPECT_EQ(Run({"publish", path}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(), "{\"sequences\":[1,2]}\n");
  ASSERT_TRUE(service().last_publish.has_value());
  EXPECT_EQ(service().last_publish->items_size(), 2);
}

TEST_F(CommandsTest, PublishRetriesWithTheGivenBatchIdentity) {
  const std::string path = ::testing::TempDir() + "/commands_retry.txtpb";
  std::ofstream(path) << "items { issuer { id: \"IIJ\" } }\n";
  service().publish_failures = {grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting")};
  service().publish_response.add_sequences(4);
  service().publish_response.set_duplicate(true);
  EXPECT_EQ(Run({"publish", path, "--publisher-id", "desk-1", "--batch-key", "k-9"}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(), "{\"sequences\":[4],\"duplicate\":true}\n");
  std::vector<v1::PublishRequest> sent = service().publish_requests();
  ASSERT_EQ(sent.size(), 2u);
  for (const auto& r : sent) {
    EXPECT_EQ(r.publisher_id(), "desk-1");
    EXPECT_EQ(r.batch_key(), "k-9");
  }
}

TEST_F(CommandsTest, PublishGeneratesABatchIdentity) {
  const std::string path = ::testing::TempDir() + "/commands_gen.txtpb";
  std::ofstream(path) << "items { issuer { id: \"IIJ\" } }\n";
  EXPECT_EQ(Run({"publish", path}), kExitOk) << err_.str();
  EXPECT_FALSE(service().last_publish->publisher_id().empty());
  EXPECT_FALSE(service().last_publish->batch_key().empty());
}

// A data set of 2,500 items: more than a server takes in one batch.
std::string WriteLargeDataSet(const std::string& name) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream out(path);
  out << "issuers { id: \"IIJ\" }\n";
  for (int i = 1; i < 2500; ++i) {
    out << "facts { key { issuer: \"IIJ\" concept_id: \"c" << i << "\" } }\n";
  }
  return path;
}

TEST_F(CommandsTest, PublishSendsALargeDataSetInBatchesOfTheServersLimit) {
  const std::string path = WriteLargeDataSet("commands_large.txtpb");
  service().publish_response.add_sequences(7);
  EXPECT_EQ(Run({"publish", path, "--batch-key", "fy2002"}), kExitOk) << err_.str();
  std::vector<v1::PublishRequest> sent = service().publish_requests();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].items_size(), 1000);
  EXPECT_EQ(sent[1].items_size(), 1000);
  EXPECT_EQ(sent[2].items_size(), 500);
  EXPECT_TRUE(sent[0].items(0).has_issuer());
  EXPECT_EQ(sent[2].items(499).fact().key().concept_id(), "c2499");
  EXPECT_EQ(sent[0].batch_key(), "fy2002/1");
  EXPECT_EQ(sent[2].batch_key(), "fy2002/3");
  // The fake answers each batch with sequence 7.
  EXPECT_EQ(out_.str(), "{\"sequences\":[7,7,7]}\n");
}

TEST_F(CommandsTest, PublishBatchSizeFollowsMaxBatchItems) {
  const std::string path = WriteLargeDataSet("commands_large_400.txtpb");
  EXPECT_EQ(Run({"publish", path, "--max-batch-items", "400"}), kExitOk) << err_.str();
  std::vector<v1::PublishRequest> sent = service().publish_requests();
  ASSERT_EQ(sent.size(), 7u);
  EXPECT_EQ(sent[6].items_size(), 100);
  EXPECT_NE(sent[0].batch_key(), sent[1].batch_key());
}

TEST_F(CommandsTest, PublishBadFileSendsNothing) {
  const std::string path = ::testing::TempDir() + "/commands_bad.txtpb";
  std::ofstream(path) << "issuers { id: }\n";
  EXPECT_EQ(Run({"publish", path}), kExitFailure);
  EXPECT_TRUE(absl::StartsWith(err_.str(), absl::StrCat("kessan: INVALID_ARGUMENT: ", path, ":1:")))
      << err_.str();
  EXPECT_FALSE(service().last_publish.has_value());
}

}  // namespace
}  // namespace kessan::cli
