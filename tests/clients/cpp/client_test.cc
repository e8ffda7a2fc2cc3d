#include "kessan/client.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fake_feed_service.h"

namespace kessan {
namespace {

using fakes::FactEvent;
using fakes::FakeFeedService;
using fakes::FakeServer;

class ClientTest : public ::testing::Test {
 protected:
  FakeFeedService& service() { return server_.service(); }

  FakeServer server_;
  Client client_{server_.address()};
};

std::vector<uint64_t> Sequences(const std::vector<v1::FeedEvent>& events) {
  std::vector<uint64_t> sequences;
  for (const v1::FeedEvent& event : events) {
    sequences.push_back(event.sequence());
  }
  return sequences;
}

TEST(ClientOptionsTest, DefaultAddress) {
  EXPECT_EQ(Client().address(), "127.0.0.1:50051");
  EXPECT_EQ(Client(ClientOptions{.address = "h:1"}).address(), "h:1");
  EXPECT_EQ(Client().servers(), std::vector<std::string>{"127.0.0.1:50051"});
}

TEST(ClientOptionsTest, ServersReplaceTheAddressAndStartWithTheFirst) {
  Client client(ClientOptions{.address = "h:1", .servers = {"a:1", "b:2"}});
  EXPECT_EQ(client.address(), "a:1");
  EXPECT_EQ(client.servers(), (std::vector<std::string>{"a:1", "b:2"}));
}

TEST(ClientOptionsTest, AnEmptyServerIsInvalidForEveryCall) {
  Client client(ClientOptions{.servers = {"127.0.0.1:1", " "}});
  EXPECT_EQ(client.GetSnapshot(v1::Filter()).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<v1::GetSnapshotResponse> snapshot = client.GetSnapshot(v1::Filter());
  EXPECT_NE(snapshot.status().message().find("servers[1] is empty"), absl::string_view::npos)
      << snapshot.status();
  EXPECT_EQ(client.Publish(v1::PublishRequest()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.PublishWithRetry(v1::PublishRequest()).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto never = [](const v1::FeedEvent&) { return true; };
  EXPECT_EQ(client.Subscribe(v1::SubscribeRequest(), never).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.SubscribeResuming(v1::SubscribeRequest(), never).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Client(ClientOptions{.address = ""}).GetSnapshot(v1::Filter()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseServerListTest, SplitsAndTrims) {
  absl::StatusOr<std::vector<std::string>> one = ParseServerList("h:1");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(*one, std::vector<std::string>{"h:1"});
  absl::StatusOr<std::vector<std::string>> two = ParseServerList("a:1, b:2");
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(*two, (std::vector<std::string>{"a:1", "b:2"}));
  for (const char* bad : {"", ",", "a:1,", "a:1,,b:2", " ,b:2"}) {
    EXPECT_EQ(ParseServerList(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(ClientTest, PublishSendsTheBatchAndReturnsSequences) {
  service().publish_response.add_sequences(7);
  service().publish_response.add_sequences(8);
  v1::PublishRequest request;
  request.add_items()->mutable_issuer()->set_id("IIJ");
  *request.add_items()->mutable_fact() = FactEvent(0, "IIJ", "revenue").fact();

  absl::StatusOr<v1::PublishResponse> response = client_.Publish(request);

  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(std::vector<uint64_t>(response->sequences().begin(), response->sequences().end()),
            (std::vector<uint64_t>{7, 8}));
  ASSERT_TRUE(service().last_publish.has_value());
  EXPECT_EQ(service().last_publish->SerializeAsString(), request.SerializeAsString());
}

TEST_F(ClientTest, PublishErrorKeepsCodeAndMessage) {
  service().publish_status =
      grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "items[1].fact.key.issuer: issuer \"XYZ\" is unknown");
  absl::StatusOr<v1::PublishResponse> response = client_.Publish(v1::PublishRequest());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(response.status().message(), "items[1].fact.key.issuer: issuer \"XYZ\" is unknown");
}

TEST_F(ClientTest, GetSnapshotSendsTheFilter) {
  service().snapshot_response.set_sequence(42);
  *service().snapshot_response.add_events() = FactEvent(41, "IIJ", "revenue");
  v1::Filter filter;
  filter.add_issuers("IIJ");
  filter.add_event_kinds(v1::EVENT_KIND_FACT);

  absl::StatusOr<v1::GetSnapshotResponse> snapshot = client_.GetSnapshot(filter);

  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->sequence(), 42u);
  ASSERT_EQ(snapshot->events_size(), 1);
  EXPECT_EQ(snapshot->events(0).fact().key().concept_id(), "revenue");
  ASSERT_TRUE(service().last_snapshot.has_value());
  EXPECT_EQ(service().last_snapshot->filter().SerializeAsString(), filter.SerializeAsString());
}

TEST_F(ClientTest, GetSnapshotError) {
  service().snapshot_status = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "journal closed");
  absl::StatusOr<v1::GetSnapshotResponse> snapshot = client_.GetSnapshot(v1::Filter());
  EXPECT_EQ(snapshot.status(), absl::FailedPreconditionError("journal closed"));
}

TEST_F(ClientTest, SubscribeDeliversEveryEventInOrder) {
  v1::SubscribeResponse first;
  *first.add_events() = FactEvent(1, "IIJ", "revenue");
  *first.add_events() = FactEvent(2, "IIJ", "operating_income");
  v1::SubscribeResponse second;
  *second.add_events() = FactEvent(3, "IIJ", "net_income");
  service().subscribe_responses = {first, second};
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_FROM_SEQUENCE);
  request.set_from_sequence(0);
  request.mutable_filter()->add_issuers("IIJ");

  std::vector<v1::FeedEvent> events;
  absl::Status status = client_.Subscribe(request, [&](const v1::FeedEvent& e) {
    events.push_back(e);
    return true;
  });

  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(Sequences(events), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(events[1].fact().key().concept_id(), "operating_income");
  ASSERT_TRUE(service().last_subscribe.has_value());
  EXPECT_EQ(service().last_subscribe->SerializeAsString(), request.SerializeAsString());
}

TEST_F(ClientTest, SubscribeStopsWhenTheCallbackSaysSo) {
  service().subscribe_end = FakeFeedService::StreamEnd::kEndless;
  std::vector<uint64_t> sequences;
  absl::Status status = client_.Subscribe(
      v1::SubscribeRequest(),
      [&](const v1::FeedEvent& e) {
        sequences.push_back(e.sequence());
        return sequences.size() < 3;
      },
      CallOptions{.timeout = absl::Seconds(60)});

  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(sequences, (std::vector<uint64_t>{1001, 1002, 1003}));
  // The server sees the call cancelled rather than left open.
  EXPECT_TRUE(service().subscribe_cancelled.WaitForNotificationWithTimeout(absl::Seconds(30)));
}

TEST_F(ClientTest, SubscribeStopsInsideABatch) {
  v1::SubscribeResponse batch;
  for (uint64_t s = 1; s <= 5; ++s) *batch.add_events() = FactEvent(s, "IIJ", "c");
  service().subscribe_responses = {batch};
  std::vector<v1::FeedEvent> events;
  absl::Status status = client_.Subscribe(v1::SubscribeRequest(), [&](const v1::FeedEvent& e) {
    events.push_back(e);
    return e.sequence() != 2;
  });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(Sequences(events), (std::vector<uint64_t>{1, 2}));
}

TEST_F(ClientTest, SubscribeReturnsTheServerErrorAfterTheEvents) {
  v1::SubscribeResponse batch;
  *batch.add_events() = FactEvent(4, "IIJ", "revenue");
  service().subscribe_responses = {batch};
  service().subscribe_status =
      grpc::Status(grpc::StatusCode::OUT_OF_RANGE, "from_sequence 99 is above the last sequence 4");
  std::vector<v1::FeedEvent> events;
  absl::Status status = client_.Subscribe(v1::SubscribeRequest(), [&](const v1::FeedEvent& e) {
    events.push_back(e);
    return true;
  });
  EXPECT_EQ(status, absl::OutOfRangeError("from_sequence 99 is above the last sequence 4"));
  EXPECT_EQ(Sequences(events), (std::vector<uint64_t>{4}));
}

TEST_F(ClientTest, SubscribeDeadline) {
  service().subscribe_end = FakeFeedService::StreamEnd::kHang;
  absl::Status status = client_.Subscribe(
      v1::SubscribeRequest(), [](const v1::FeedEvent&) { return true; },
      CallOptions{.timeout = absl::Milliseconds(200)});
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
}

TEST(ClientUnreachableTest, CallsFailWithUnavailable) {
  std::string address;
  {
    FakeServer server;  // Take a free port, then close it again.
    address = server.address();
  }
  Client client(address);
  absl::StatusOr<v1::GetSnapshotResponse> snapshot =
      client.GetSnapshot(v1::Filter(), CallOptions{.timeout = absl::Seconds(30)});
  EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kUnavailable) << snapshot.status();
}

}  // namespace
}  // namespace kessan
