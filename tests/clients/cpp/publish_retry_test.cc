#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fake_feed_service.h"
#include "kessan/client.h"

namespace kessan {
namespace {

using fakes::FakeServer;

class PublishWithRetryTest : public ::testing::Test {
 protected:
  PublishWithRetryTest() {
    retry_.random = [] { return 1.0; };
    retry_.sleep = [this](absl::Duration d) { sleeps_.push_back(d); };
  }

  FakeServer server_;
  Client client_{server_.address()};
  PublishRetryOptions retry_;
  std::vector<absl::Duration> sleeps_;
};

v1::PublishRequest OneIssuer() {
  v1::PublishRequest request;
  request.add_items()->mutable_issuer()->set_id("IIJ");
  return request;
}

TEST_F(PublishWithRetryTest, RetriesUnavailableWithTheSameBatchIdentity) {
  server_.service().publish_failures = {grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"),
                                        grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "slow")};
  server_.service().publish_response.add_sequences(9);
  server_.service().publish_response.set_duplicate(true);

  absl::StatusOr<v1::PublishResponse> response = client_.PublishWithRetry(OneIssuer(), retry_);

  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_TRUE(response->duplicate());
  std::vector<v1::PublishRequest> sent = server_.service().publish_requests();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_FALSE(sent[0].publisher_id().empty());
  EXPECT_EQ(sent[0].batch_key().size(), 32u);
  for (const auto& r : sent) {
    EXPECT_EQ(r.publisher_id(), sent[0].publisher_id());
    EXPECT_EQ(r.batch_key(), sent[0].batch_key());
    EXPECT_EQ(r.items_size(), 1);
  }
  EXPECT_EQ(sleeps_, (std::vector<absl::Duration>{absl::Milliseconds(100), absl::Milliseconds(200)}));
}

TEST_F(PublishWithRetryTest, KeepsTheCallersIdentity) {
  v1::PublishRequest request = OneIssuer();
  request.set_publisher_id("desk-7");
  request.set_batch_key("b-1");
  ASSERT_TRUE(client_.PublishWithRetry(request, retry_).ok());
  EXPECT_EQ(server_.service().last_publish->publisher_id(), "desk-7");
  EXPECT_EQ(server_.service().last_publish->batch_key(), "b-1");
}

TEST_F(PublishWithRetryTest, RefusalsAreNotRetried) {
  server_.service().publish_status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "items[0]: bad");
  EXPECT_EQ(client_.PublishWithRetry(OneIssuer(), retry_).status(),
            absl::InvalidArgumentError("items[0]: bad"));
  EXPECT_EQ(server_.service().publish_requests().size(), 1u);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(PublishWithRetryTest, GivesUpAfterMaxAttempts) {
  retry_.backoff.max_attempts = 2;
  server_.service().publish_status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "down");
  EXPECT_EQ(client_.PublishWithRetry(OneIssuer(), retry_).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(server_.service().publish_requests().size(), 3u);
}

TEST(AssignBatchIdentityTest, FillsOnlyWhatIsEmptyAndIsRandom) {
  v1::PublishRequest a, b;
  AssignBatchIdentity(a);
  AssignBatchIdentity(b);
  EXPECT_TRUE(a.publisher_id().rfind("kessan-cpp-", 0) == 0) << a.publisher_id();
  EXPECT_NE(a.batch_key(), b.batch_key());
  v1::PublishRequest c;
  c.set_batch_key("mine");
  AssignBatchIdentity(c);
  EXPECT_EQ(c.batch_key(), "mine");
  EXPECT_FALSE(c.publisher_id().empty());
}

}  // namespace
}  // namespace kessan

namespace kessan {
namespace {

TEST_F(PublishWithRetryTest, UnavailableMovesToTheNextServerWithTheSameIdentity) {
  FakeServer b;
  server_.service().publish_failures = {grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")};
  b.service().publish_response.add_sequences(9);
  std::vector<std::string> moves;
  ClientOptions options;
  options.servers = {server_.address(), b.address()};
  options.on_failover = [&](const std::string& from, const std::string& to, const absl::Status& s) {
    moves.push_back(from + ">" + to + " " + std::string(absl::StatusCodeToString(s.code())));
  };
  Client client(options);

  absl::StatusOr<v1::PublishResponse> response = client.PublishWithRetry(OneIssuer(), retry_);

  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->sequences(0), 9u);
  std::vector<v1::PublishRequest> on_a = server_.service().publish_requests();
  std::vector<v1::PublishRequest> on_b = b.service().publish_requests();
  ASSERT_EQ(on_a.size(), 1u);
  ASSERT_EQ(on_b.size(), 1u);
  EXPECT_EQ(on_b[0].publisher_id(), on_a[0].publisher_id());
  EXPECT_EQ(on_b[0].batch_key(), on_a[0].batch_key());
  EXPECT_TRUE(sleeps_.empty());
  EXPECT_EQ(moves, std::vector<std::string>{server_.address() + ">" + b.address() + " UNAVAILABLE"});
  EXPECT_EQ(client.address(), b.address());
}

TEST_F(PublishWithRetryTest, RefusalsAndDeadlinesStayOnTheServer) {
  FakeServer b;
  server_.service().publish_failures = {grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "slow"),
                                        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad")};
  Client client(ClientOptions{.servers = {server_.address(), b.address()}});
  absl::StatusOr<v1::PublishResponse> response = client.PublishWithRetry(OneIssuer(), retry_);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server_.service().publish_requests().size(), 2u);
  EXPECT_TRUE(b.service().publish_requests().empty());
  EXPECT_EQ(sleeps_.size(), 1u);
  EXPECT_EQ(client.address(), server_.address());
}

}  // namespace
}  // namespace kessan
