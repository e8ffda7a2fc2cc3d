// Client::SubscribeResuming() against the fake: which requests it sends
// after each end of stream, what it delivers, what it tells the caller.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fake_feed_service.h"
#include "kessan/client.h"

namespace kessan {
namespace {

using fakes::FactEvent;
using fakes::FakeFeedService;
using fakes::FakeServer;
using Call = FakeFeedService::SubscribeCall;
using Kind = ResumeNotice::Kind;

v1::SubscribeResponse Events(std::vector<v1::FeedEvent> events) {
  v1::SubscribeResponse response;
  for (auto& e : events) *response.add_events() = std::move(e);
  return response;
}

v1::FeedEvent Fact(uint64_t sequence) { return FactEvent(sequence, "IIJ", "revenue"); }

v1::FeedEvent Begin(uint64_t sequence) {
  v1::FeedEvent e;
  e.mutable_snapshot_begin()->set_sequence(sequence);
  return e;
}

v1::FeedEvent End(uint64_t sequence) {
  v1::FeedEvent e;
  e.mutable_snapshot_end()->set_sequence(sequence);
  return e;
}

const grpc::Status kUnavailable(grpc::StatusCode::UNAVAILABLE, "connection lost");

class SubscribeResumingTest : public ::testing::Test {
 protected:
  SubscribeResumingTest() {
    resume_.random = [] { return 0.5; };
    resume_.sleep = [this](absl::Duration d) { sleeps_.push_back(d); };
    resume_.on_notice = [this](const ResumeNotice& n) { notices_.push_back(n); };
  }

  FakeFeedService& service() { return server_.service(); }

  // Subscribes with `request`, collecting the events.
  absl::Status Run(const v1::SubscribeRequest& request) {
    return client_.SubscribeResuming(
        request,
        [this](const v1::FeedEvent& e) {
          events_.push_back(e);
          return true;
        },
        resume_, CallOptions{.timeout = absl::Seconds(60)});
  }

  std::vector<uint64_t> Sequences() const {
    std::vector<uint64_t> out;
    for (const auto& e : events_) out.push_back(e.sequence());
    return out;
  }

  std::vector<Kind> NoticeKinds() const {
    std::vector<Kind> out;
    for (const auto& n : notices_) out.push_back(n.kind);
    return out;
  }

  FakeServer server_;
  Client client_{server_.address()};
  ResumeOptions resume_;
  std::vector<v1::FeedEvent> events_;
  std::vector<absl::Duration> sleeps_;
  std::vector<ResumeNotice> notices_;
};

v1::SubscribeRequest FromSequence(uint64_t sequence) {
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_FROM_SEQUENCE);
  request.set_from_sequence(sequence);
  return request;
}

TEST_F(SubscribeResumingTest, ResumesFromTheLastSequenceAfterALostStream) {
  service().subscribe_script = {
      Call{{Events({Fact(1), Fact(2)}), Events({Fact(3)})}, kUnavailable},
      Call{{Events({Fact(4), Fact(5)})}, grpc::Status::OK},
  };
  EXPECT_TRUE(Run(FromSequence(0)).ok());

  EXPECT_EQ(Sequences(), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  std::vector<v1::SubscribeRequest> requests = service().subscribe_requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].from_sequence(), 0u);
  EXPECT_EQ(requests[0].heartbeat_interval_ms(), 5000u);  // Made explicit.
  EXPECT_EQ(requests[1].start(), v1::START_MODE_FROM_SEQUENCE);
  EXPECT_EQ(requests[1].from_sequence(), 3u);
  // One jittered pause: half of the first ceiling.
  EXPECT_EQ(sleeps_, (std::vector<absl::Duration>{absl::Milliseconds(50)}));
  ASSERT_EQ(NoticeKinds(), (std::vector<Kind>{Kind::kDisconnected, Kind::kResumed}));
  EXPECT_EQ(notices_[0].status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(notices_[0].resume_from, 3u);
  EXPECT_EQ(notices_[0].attempt, 1);
  EXPECT_EQ(notices_[0].delay, absl::Milliseconds(50));
  EXPECT_FALSE(notices_[0].restart_snapshot);
  EXPECT_EQ(notices_[1].resume_from, 3u);
}

TEST_F(SubscribeResumingTest, ReplayedEventsAreNotDeliveredTwice) {
  service().subscribe_script = {
      Call{{Events({Fact(1), Fact(2), Fact(3)})}, kUnavailable},
      Call{{Events({Fact(2), Fact(3), Fact(4)})}, grpc::Status::OK},
  };
  EXPECT_TRUE(Run(FromSequence(0)).ok());
  EXPECT_EQ(Sequences(), (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST_F(SubscribeResumingTest, AGapEndsTheSubscriptionWithDataLoss) {
  service().subscribe_script = {Call{{Events({Fact(1), Fact(3)})}, grpc::Status::OK}};
  absl::Status status = Run(FromSequence(0));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_EQ(Sequences(), (std::vector<uint64_t>{1}));
  EXPECT_EQ(service().subscribe_requests().size(), 1u);
}

TEST_F(SubscribeResumingTest, AStreamLostInsideTheSnapshotStartsItOver) {
  service().subscribe_script = {
      Call{{Events({Begin(3), Fact(1)})}, kUnavailable},
      Call{{Events({Begin(3), Fact(1), Fact(2), End(3), Fact(4)})}, grpc::Status::OK},
  };
  v1::SubscribeRequest request;
  request.mutable_filter()->add_issuers("IIJ");
  EXPECT_TRUE(Run(request).ok());

  std::vector<v1::SubscribeRequest> requests = service().subscribe_requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].start(), v1::START_MODE_SNAPSHOT_THEN_LIVE);
  EXPECT_EQ(requests[1].filter().issuers(0), "IIJ");
  ASSERT_FALSE(notices_.empty());
  EXPECT_TRUE(notices_[0].restart_snapshot);
  // The second snapshot is delivered whole, then the live event.
  EXPECT_EQ(Sequences(), (std::vector<uint64_t>{0, 1, 0, 1, 2, 0, 4}));
}

TEST_F(SubscribeResumingTest, ResyncIsDeliveredAndNotified) {
  v1::FeedEvent resync;
  resync.mutable_resync()->set_requested_sequence(3);
  resync.mutable_resync()->set_oldest_available_sequence(40);
  service().subscribe_script = {
      Call{{Events({resync, Begin(50), Fact(44), End(50), Fact(51)})}, grpc::Status::OK}};
  EXPECT_TRUE(Run(FromSequence(3)).ok());
  ASSERT_EQ(NoticeKinds(), (std::vector<Kind>{Kind::kResync}));
  EXPECT_EQ(notices_[0].resync.oldest_available_sequence(), 40u);
  EXPECT_EQ(notices_[0].resume_from, 3u);
  ASSERT_EQ(events_.size(), 5u);
  EXPECT_TRUE(events_[0].has_resync());
}

TEST_F(SubscribeResumingTest, RefusalsAreNotRetried) {
  service().subscribe_script = {Call{{}, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad filter")}};
  absl::Status status = Run(FromSequence(0));
  EXPECT_EQ(status, absl::InvalidArgumentError("bad filter"));
  EXPECT_EQ(service().subscribe_requests().size(), 1u);
  EXPECT_TRUE(notices_.empty());

  service().subscribe_script = {Call{{}, grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too large")}};
  EXPECT_EQ(Run(FromSequence(0)).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(service().subscribe_requests().size(), 2u);
}

TEST_F(SubscribeResumingTest, SlowConsumerDisconnectIsResumed) {
  service().subscribe_script = {
      Call{{Events({Fact(8)})},
           grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "slow consumer: resume with "
                        "start=START_MODE_FROM_SEQUENCE from_sequence=8")},
      Call{{Events({Fact(9)})}, grpc::Status::OK},
  };
  EXPECT_TRUE(Run(FromSequence(7)).ok());
  EXPECT_EQ(Sequences(), (std::vector<uint64_t>{8, 9}));
  EXPECT_EQ(service().subscribe_requests()[1].from_sequence(), 8u);
}

TEST_F(SubscribeResumingTest, GivesUpAfterMaxAttemptsWithoutProgress) {
  resume_.backoff.max_attempts = 3;
  resume_.random = [] { return 1.0; };
  service().subscribe_script = {Call{{}, kUnavailable}};
  absl::Status status = Run(FromSequence(0));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(service().subscribe_requests().size(), 4u);
  EXPECT_EQ(sleeps_, (std::vector<absl::Duration>{absl::Milliseconds(100), absl::Milliseconds(200),
                                                  absl::Milliseconds(400)}));
}

TEST_F(SubscribeResumingTest, ProgressResetsTheAttempts) {
  resume_.backoff.max_attempts = 2;
  // A refused connection gives a server up at once, not after
  // connect_timeout (which would spend the 60 s call deadline in 2 waits).
  resume_.connect_timeout = absl::Seconds(30);
  resume_.random = [] { return 1.0; };
  service().subscribe_script = {
      Call{{}, kUnavailable},
      Call{{Events({Fact(1)})}, kUnavailable},  // Progress.
      Call{{}, kUnavailable},
      Call{{}, kUnavailable},
  };
  EXPECT_EQ(Run(FromSequence(0)).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(service().subscribe_requests().size(), 4u);
  EXPECT_EQ(sleeps_, (std::vector<absl::Duration>{absl::Milliseconds(100), absl::Milliseconds(100),
                                                  absl::Milliseconds(200)}));
}

TEST_F(SubscribeResumingTest, AStalledStreamIsCancelledAndResumed) {
  service().subscribe_script = {
      Call{{Events({Fact(1)})}, grpc::Status::OK, FakeFeedService::StreamEnd::kHang},
      Call{{Events({Fact(2)})}, grpc::Status::OK},
  };
  v1::SubscribeRequest request = FromSequence(0);
  request.set_heartbeat_interval_ms(100);  // Stalled after 300 ms.
  const absl::Time start = absl::Now();
  EXPECT_TRUE(Run(request).ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  EXPECT_EQ(Sequences(), (std::vector<uint64_t>{1, 2}));
  ASSERT_FALSE(notices_.empty());
  EXPECT_EQ(notices_[0].status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(service().subscribe_requests()[1].from_sequence(), 1u);
}

TEST_F(SubscribeResumingTest, ASlowCallbackIsNotAStall) {
  service().subscribe_script = {Call{{Events({Fact(1)}), Events({Fact(2)})}, grpc::Status::OK}};
  v1::SubscribeRequest request = FromSequence(0);
  request.set_heartbeat_interval_ms(100);
  absl::Status status = client_.SubscribeResuming(
      request,
      [this](const v1::FeedEvent& e) {
        absl::SleepFor(absl::Milliseconds(500));  // Longer than 3 x 100 ms.
        events_.push_back(e);
        return true;
      },
      resume_);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(Sequences(), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(service().subscribe_requests().size(), 1u);
}

TEST_F(SubscribeResumingTest, LiveOnlyResumesFromTheHeadItStartedAt) {
  service().snapshot_response.set_sequence(7);
  service().subscribe_script = {
      Call{{Events({Fact(8)})}, kUnavailable},
      Call{{Events({Fact(9)})}, grpc::Status::OK},
  };
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_LIVE_ONLY);
  EXPECT_TRUE(Run(request).ok());
  std::vector<v1::SubscribeRequest> requests = service().subscribe_requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].start(), v1::START_MODE_FROM_SEQUENCE);
  EXPECT_EQ(requests[0].from_sequence(), 7u);
  EXPECT_EQ(requests[1].from_sequence(), 8u);
  // The probe matches no item.
  ASSERT_TRUE(service().last_snapshot.has_value());
  EXPECT_EQ(service().last_snapshot->filter().concepts_size(), 1);
  EXPECT_EQ(Sequences(), (std::vector<uint64_t>{8, 9}));
}

TEST_F(SubscribeResumingTest, TheCallbackEndsTheSubscription) {
  service().subscribe_end = FakeFeedService::StreamEnd::kEndless;
  int seen = 0;
  absl::Status status = client_.SubscribeResuming(
      FromSequence(1000), [&](const v1::FeedEvent&) { return ++seen < 3; }, resume_,
      CallOptions{.timeout = absl::Seconds(60)});
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(seen, 3);
}

TEST_F(SubscribeResumingTest, TheCallDeadlineBoundsReconnects) {
  service().subscribe_script = {Call{{}, kUnavailable}};
  resume_.sleep = [](absl::Duration d) { absl::SleepFor(d); };
  resume_.backoff.max_attempts = 0;  // Only the deadline ends it.
  absl::Status status = client_.SubscribeResuming(
      FromSequence(0), [](const v1::FeedEvent&) { return true; }, resume_,
      CallOptions{.timeout = absl::Milliseconds(700)});
  EXPECT_TRUE(status.code() == absl::StatusCode::kUnavailable ||
              status.code() == absl::StatusCode::kDeadlineExceeded)
      << status;
  EXPECT_GT(service().subscribe_requests().size(), 1u);
}

}  // namespace
}  // namespace kessan

namespace kessan {
namespace {

// Two fakes as replicas: a client with servers {a, b}.
class FailoverSubscribeTest : public SubscribeResumingTest {
 protected:
  Client TwoServers(std::vector<std::string> servers) {
    ClientOptions options;
    options.servers = std::move(servers);
    options.on_failover = [this](const std::string& from, const std::string& to, const absl::Status&) {
      moves_.push_back(from + ">" + to);
    };
    return Client(std::move(options));
  }
  absl::Status RunOn(Client& client, const v1::SubscribeRequest& request) {
    return client.SubscribeResuming(
        request,
        [this](const v1::FeedEvent& e) {
          events_.push_back(e);
          return true;
        },
        resume_, CallOptions{.timeout = absl::Seconds(60)});
  }

  FakeServer b_;
  std::vector<std::string> moves_;
};

TEST_F(FailoverSubscribeTest, UnavailableResumesOnTheNextServerAtOnce) {
  service().subscribe_script = {Call{{Events({Fact(1), Fact(2)})}, kUnavailable}};
  b_.service().subscribe_script = {Call{{Events({Fact(2), Fact(3)})}, grpc::Status::OK}};
  Client client = TwoServers({server_.address(), b_.address()});
  EXPECT_TRUE(RunOn(client, FromSequence(0)).ok());

  EXPECT_EQ(Sequences(), (std::vector<uint64_t>{1, 2, 3}));  // 2 once.
  std::vector<v1::SubscribeRequest> on_b = b_.service().subscribe_requests();
  ASSERT_EQ(on_b.size(), 1u);
  EXPECT_EQ(on_b[0].start(), v1::START_MODE_FROM_SEQUENCE);
  EXPECT_EQ(on_b[0].from_sequence(), 2u);
  EXPECT_TRUE(sleeps_.empty());  // The first of its round: no backoff.
  ASSERT_EQ(NoticeKinds(), (std::vector<Kind>{Kind::kDisconnected, Kind::kResumed}));
  EXPECT_EQ(notices_[0].server, b_.address());
  EXPECT_EQ(notices_[0].delay, absl::ZeroDuration());
  EXPECT_EQ(notices_[1].server, b_.address());
  EXPECT_EQ(moves_, std::vector<std::string>{server_.address() + ">" + b_.address()});
  EXPECT_EQ(client.address(), b_.address());
}

TEST_F(FailoverSubscribeTest, OtherEndsStayOnTheServer) {
  service().subscribe_script = {
      Call{{Events({Fact(1)})}, grpc::Status(grpc::StatusCode::ABORTED, "try again")},
      Call{{Events({Fact(2)})}, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad filter")}};
  Client client = TwoServers({server_.address(), b_.address()});
  EXPECT_EQ(RunOn(client, FromSequence(0)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sequences(), (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(b_.service().subscribe_requests().empty());
  EXPECT_TRUE(moves_.empty());
  EXPECT_EQ(sleeps_.size(), 1u);  // ABORTED: the backoff, same server.
}

TEST_F(FailoverSubscribeTest, DeadServersBackOffOncePerRound) {
  resume_.backoff.max_attempts = 2;
  // A refused connection gives a server up at once, not after
  // connect_timeout (which would spend the 60 s call deadline in 2 waits).
  resume_.connect_timeout = absl::Seconds(30);
  // Nothing listens on port 1; the fake B is shut down with its object.
  std::string dead_b;
  {
    FakeServer gone;
    dead_b = gone.address();
  }
  Client client = TwoServers({"127.0.0.1:1", dead_b});
  EXPECT_EQ(RunOn(client, FromSequence(0)).code(), absl::StatusCode::kUnavailable);
  // Rounds A,B | A,B | A,B: a pause after each of the first two.
  EXPECT_EQ(sleeps_.size(), 2u);
  int immediate = 0;
  for (const ResumeNotice& n : notices_) {
    if (n.kind == Kind::kDisconnected && n.delay == absl::ZeroDuration()) ++immediate;
  }
  EXPECT_EQ(immediate, 3);
  EXPECT_EQ(moves_.size(), 6u);
}

}  // namespace
}  // namespace kessan
