// The in-process API (kessan/local.h) of a real Server: the same rules,
// sequences and errors as over gRPC, callbacks on delivery threads.
#include "kessan/local.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "auth/token_store.h"
#include "feed_test_util.h"
#include "kessan/server.h"
#include "kessan/v1/scenario.grpc.pb.h"

namespace kessan {
namespace {

using ::testing::HasSubstr;

// Collects what a local subscription delivers.
class Collector {
 public:
  SubscribeCallbacks Callbacks() {
    SubscribeCallbacks on;
    on.on_event = [this](const v1::FeedEvent& e) {
      absl::MutexLock lock(&mu_);
      events_.push_back(e);
      threads_.insert(std::this_thread::get_id());
    };
    on.on_end = [this](const absl::Status& s) {
      absl::MutexLock lock(&mu_);
      ++ends_;
      end_ = s;
    };
    return on;
  }
  // Waits until an event with `sequence` came; false after kWait.
  bool AwaitSequence(uint64_t sequence) {
    absl::MutexLock lock(&mu_);
    auto seen = [&] {
      for (const auto& e : events_) {
        if (e.sequence() == sequence) return true;
      }
      return false;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), kWait);
  }
  bool AwaitEnd() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(
                                    +[](int* ends) { return *ends > 0; }, &ends_),
                                kWait);
  }
  std::vector<v1::FeedEvent> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  std::vector<uint64_t> Sequences() {
    std::vector<uint64_t> out;
    for (const auto& e : events()) {
      if (e.sequence() != 0) out.push_back(e.sequence());
    }
    return out;
  }
  int ends() {
    absl::MutexLock lock(&mu_);
    return ends_;
  }
  absl::Status end() {
    absl::MutexLock lock(&mu_);
    return end_;
  }
  std::set<std::thread::id> threads() {
    absl::MutexLock lock(&mu_);
    return threads_;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::FeedEvent> events_ ABSL_GUARDED_BY(mu_);
  std::set<std::thread::id> threads_ ABSL_GUARDED_BY(mu_);
  int ends_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status end_ ABSL_GUARDED_BY(mu_);
};

class LocalTest : public FeedServerTest {
 protected:
  void Adjust(ServerOptions& options) override {
    options.plugin_dir.clear();  // the bundled plugins (dilution)
    options.max_queued_events = max_queued_;
    if (!tokens_.empty()) {
      const std::string path =
          (data_dir_.parent_path() / (data_dir_.filename().string() + ".principals")).string();
      std::ofstream(path) << tokens_;
      options.auth_tokens_file = path;
    }
  }
  size_t max_queued_ = 65536;
  std::string tokens_;
};

v1::SubscribeRequest LiveRevenue() {
  v1::SubscribeRequest request;
  request.mutable_filter()->add_concepts("revenue");
  return request;
}

TEST_F(LocalTest, PublishesAndSubscribesInProcessInTheSameHistoryAsGrpc) {
  std::unique_ptr<LocalClient> local = server_->Local();
  Collector collector;
  absl::StatusOr<std::unique_ptr<LocalSubscription>> sub =
      local->Subscribe(LiveRevenue(), collector.Callbacks());
  ASSERT_TRUE(sub.ok()) << sub.status();
  // A gRPC subscriber beside it, from the same point: its snapshot is taken
  // before the publish (else it would hold the revision, not the seed's fact).
  StreamCollector remote(*stub_, LiveRevenue());
  remote.WaitUntil([](const std::vector<v1::FeedEvent>& events) {
    return std::any_of(events.begin(), events.end(),
                       [](const v1::FeedEvent& e) { return e.has_snapshot_end(); });
  });

  absl::StatusOr<v1::PublishResponse> ack = local->Publish(Batch({RevenueItem(2002, 13'100'000'000)}));
  ASSERT_TRUE(ack.ok()) << ack.status();
  ASSERT_EQ(ack->sequences_size(), 1);
  const uint64_t sequence = ack->sequences(0);
  EXPECT_EQ(sequence, server_->last_sequence());
  ASSERT_TRUE(collector.AwaitSequence(sequence));
  std::vector<v1::FeedEvent> remote_events =
      remote.WaitUntil([sequence](const std::vector<v1::FeedEvent>& events) {
        for (const auto& e : events) {
          if (e.sequence() == sequence) return true;
        }
        return false;
      });

  // The snapshot came first (begin, the revenue facts, end), then the revision.
  std::vector<v1::FeedEvent> events = collector.events();
  ASSERT_GE(events.size(), 3u);
  EXPECT_TRUE(events.front().has_snapshot_begin());
  EXPECT_FALSE(events.front().snapshot_begin().incarnation().empty());
  // The last journaled event (heartbeats, sequence 0, may come after it).
  auto journaled =
      std::find_if(events.rbegin(), events.rend(), [](const v1::FeedEvent& e) { return e.sequence() != 0; });
  ASSERT_NE(journaled, events.rend());
  const v1::FeedEvent& last = *journaled;
  ASSERT_TRUE(last.has_fact());
  EXPECT_EQ(last.fact().value().money().units(), 13'100'000'000);
  EXPECT_EQ(last.fact().revision(), 2);  // it revised the seed's 4Q02 revenue
  EXPECT_EQ((*sub)->last_sequence(), sequence);
  EXPECT_EQ((*sub)->incarnation(), events.front().snapshot_begin().incarnation());
  // The callbacks run on the server's delivery threads, not this one.
  EXPECT_EQ(collector.threads().count(std::this_thread::get_id()), 0u);

  // Both transports saw the same events under the same sequences.
  std::vector<uint64_t> remote_sequences;
  for (const auto& e : remote_events) {
    if (e.sequence() != 0) remote_sequences.push_back(e.sequence());
  }
  EXPECT_EQ(collector.Sequences(), remote_sequences);

  // And a snapshot in process equals one over gRPC.
  absl::StatusOr<v1::GetSnapshotResponse> in_process = local->GetSnapshot(v1::GetSnapshotRequest());
  ASSERT_TRUE(in_process.ok()) << in_process.status();
  EXPECT_EQ(in_process->SerializeAsString(), Snapshot().SerializeAsString());
  (*sub)->Cancel();
  EXPECT_EQ(collector.ends(), 0);  // cancelled: no on_end
}

TEST_F(LocalTest, BadInputIsTheSameErrorAsOverGrpcAndChangesNothing) {
  std::unique_ptr<LocalClient> local = server_->Local();
  const uint64_t before = server_->last_sequence();
  v1::PublishRequest bad = Batch({RevenueItem(2002, 1)});
  bad.mutable_items(0)->mutable_fact()->mutable_key()->set_issuer("");
  absl::StatusOr<v1::PublishResponse> ack = local->Publish(bad);
  ASSERT_EQ(ack.status().code(), absl::StatusCode::kInvalidArgument);
  v1::PublishResponse ignored;
  grpc::Status remote = Publish(bad, &ignored);
  EXPECT_EQ(std::string(ack.status().message()), remote.error_message());
  EXPECT_THAT(std::string(ack.status().message()), HasSubstr("items[0].fact.key.issuer"));
  EXPECT_EQ(server_->last_sequence(), before);

  v1::SubscribeRequest unknown;
  unknown.mutable_filter()->add_issuers("NOPE");
  Collector collector;
  absl::StatusOr<std::unique_ptr<LocalSubscription>> sub = local->Subscribe(unknown, collector.Callbacks());
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kInvalidArgument) << sub.status();
}

TEST_F(LocalTest, RunsTheDilutionScenario) {
  std::unique_ptr<LocalClient> local = server_->Local();
  absl::StatusOr<v1::ListScenariosResponse> list = local->ListScenarios();
  ASSERT_TRUE(list.ok()) << list.status();
  bool dilution = false;
  for (const auto& s : list->scenarios()) dilution = dilution || s.scenario().name() == "dilution";
  ASSERT_TRUE(dilution);
  v1::RunScenarioRequest run;
  run.set_name("dilution");
  run.set_issuer("IIJ");
  (*run.mutable_parameters())["shares_outstanding_before"].set_integer(17345);
  absl::StatusOr<v1::RunScenarioResponse> result = local->RunScenario(run);
  ASSERT_TRUE(result.ok()) << result.status();
  bool proceeds = false;
  for (const auto& output : result->result().outputs()) {
    if (output.name() == "gross_proceeds") {
      proceeds = true;
      EXPECT_EQ(output.money().units(), 3'512'880'000);
    }
  }
  EXPECT_TRUE(proceeds) << result->DebugString();
}

TEST_F(LocalTest, ResumesFromItsLastSequenceWithNoGapOrRepeat) {
  std::unique_ptr<LocalClient> local = server_->Local();
  Collector first;
  auto sub = local->Subscribe(LiveRevenue(), first.Callbacks());
  ASSERT_TRUE(sub.ok()) << sub.status();
  auto a = local->Publish(Batch({RevenueItem(2002, 13'200'000'000)}));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(first.AwaitSequence(a->sequences(0)));
  const uint64_t resume = (*sub)->last_sequence();
  const std::string incarnation = (*sub)->incarnation();
  sub->reset();
  auto b = local->Publish(Batch({RevenueItem(2002, 13'300'000'000)}));
  auto c = local->Publish(Batch({RevenueItem(2001, 9'000'000'000)}));
  ASSERT_TRUE(b.ok() && c.ok());

  v1::SubscribeRequest again = LiveRevenue();
  again.set_start(v1::START_MODE_FROM_SEQUENCE);
  again.set_from_sequence(resume);
  again.set_incarnation(incarnation);
  Collector second;
  auto resumed = local->Subscribe(again, second.Callbacks());
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_TRUE(second.AwaitSequence(c->sequences(0)));
  EXPECT_EQ(second.Sequences(), (std::vector<uint64_t>{b->sequences(0), c->sequences(0)}));
}

TEST_F(LocalTest, ASlowCallbackIsASlowConsumer) {
  max_queued_ = 16;
  RestartServer();
  std::unique_ptr<LocalClient> local = server_->Local();
  absl::Notification release;
  absl::Notification blocked;
  std::atomic<int> seen{0};
  absl::Notification ended;
  absl::Status end;
  SubscribeCallbacks on;
  v1::SubscribeRequest live = LiveRevenue();
  live.set_start(v1::START_MODE_LIVE_ONLY);
  on.on_event = [&](const v1::FeedEvent& e) {
    if (e.sequence() == 0) return;
    if (seen.fetch_add(1) == 0) {
      blocked.Notify();
      release.WaitForNotification();
    }
  };
  on.on_end = [&](const absl::Status& s) {
    end = s;
    ended.Notify();
  };
  auto sub = local->Subscribe(live, std::move(on));
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(local->Publish(Batch({QuarterItem(0, 1)})).ok());
  ASSERT_TRUE(blocked.WaitForNotificationWithTimeout(kWait));
  // The callback holds its subscription: its queue of 16 overflows.
  for (int i = 1; i <= 40; ++i) ASSERT_TRUE(local->Publish(Batch({QuarterItem(i, i)})).ok());
  release.Notify();
  ASSERT_TRUE(ended.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(end.code(), absl::StatusCode::kResourceExhausted) << end;
  EXPECT_THAT(std::string(end.message()), HasSubstr("from_sequence="));
  // Publishers and other subscribers were not held up: a new one works.
  Collector other;
  auto next = local->Subscribe(LiveRevenue(), other.Callbacks());
  ASSERT_TRUE(next.ok());
  auto ack = local->Publish(Batch({QuarterItem(41, 41)}));
  ASSERT_TRUE(ack.ok());
  EXPECT_TRUE(other.AwaitSequence(ack->sequences(0)));
}

TEST_F(LocalTest, ACallbackMayEndItsOwnSubscription) {
  std::unique_ptr<LocalClient> local = server_->Local();
  std::unique_ptr<LocalSubscription> self;
  absl::Mutex mu;
  int events = 0;
  absl::Notification done;
  absl::Notification stored;
  SubscribeCallbacks on;
  on.on_event = [&](const v1::FeedEvent&) {
    stored.WaitForNotification();
    absl::MutexLock lock(&mu);
    if (++events == 1) {
      self.reset();  // destroyed from within its own callback
      done.Notify();
    }
  };
  auto sub = local->Subscribe(LiveRevenue(), std::move(on));
  ASSERT_TRUE(sub.ok());
  {
    absl::MutexLock lock(&mu);
    self = *std::move(sub);
  }
  stored.Notify();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  ASSERT_TRUE(local->Publish(Batch({RevenueItem(2002, 13'400'000'000)})).ok());
  // A second subscription delivers; the first one delivered no more.
  Collector other;
  auto next = local->Subscribe(LiveRevenue(), other.Callbacks());
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(other.AwaitSequence(server_->last_sequence()));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(events, 1);
}

TEST_F(LocalTest, ShutdownEndsSubscriptionsAndTheServerMayGoFirst) {
  std::unique_ptr<LocalClient> local = server_->Local();
  Collector collector;
  auto sub = local->Subscribe(LiveRevenue(), collector.Callbacks());
  ASSERT_TRUE(sub.ok());
  server_->Shutdown(absl::Seconds(1));
  ASSERT_TRUE(collector.AwaitEnd());
  EXPECT_EQ(collector.end().code(), absl::StatusCode::kUnavailable) << collector.end();
  // The server goes before the client and the subscription handle.
  stub_.reset();
  server_.reset();
  EXPECT_EQ(local->GetSnapshot(v1::GetSnapshotRequest()).status().code(), absl::StatusCode::kUnavailable);
  sub->reset();
  EXPECT_EQ(collector.ends(), 1);
}

TEST_F(LocalTest, CallersAreAuthenticatedAndEntitledAsOverGrpc) {
  tokens_ = "reader subscriber sha256:" + auth::Sha256Hex("reader-token") +
            " issuers=IIJ\n"
            "feeder publisher sha256:" +
            auth::Sha256Hex("feeder-token") + " issuers=IIJ\n";
  RestartServer();
  std::unique_ptr<LocalClient> anonymous = server_->Local();
  EXPECT_EQ(anonymous->GetSnapshot(v1::GetSnapshotRequest()).status().code(),
            absl::StatusCode::kUnauthenticated);
  LocalCredentials reader_credentials;
  reader_credentials.bearer_token = "reader-token";
  std::unique_ptr<LocalClient> reader = server_->Local(reader_credentials);
  EXPECT_TRUE(reader->GetSnapshot(v1::GetSnapshotRequest()).ok());
  absl::StatusOr<v1::PublishResponse> denied = reader->Publish(Batch({RevenueItem(2002, 1)}));
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied) << denied.status();
  v1::SubscribeRequest other_issuer;
  other_issuer.mutable_filter()->add_issuers("ACME");
  Collector collector;
  EXPECT_EQ(reader->Subscribe(other_issuer, collector.Callbacks()).status().code(),
            absl::StatusCode::kPermissionDenied);
  LocalCredentials feeder_credentials;
  feeder_credentials.bearer_token = "feeder-token";
  EXPECT_TRUE(server_->Local(feeder_credentials)->Publish(Batch({RevenueItem(2002, 13'500'000'000)})).ok());
}

}  // namespace
}  // namespace kessan

namespace kessan {
namespace {

TEST_F(LocalTest, AnApplicationsLogHandlerGetsTheServersLines) {
  absl::Mutex mu;
  std::vector<std::string> lines;
  SetLogHandler([&](LogLevel level, std::string_view logger, std::string_view message) {
    absl::MutexLock lock(&mu);
    lines.push_back(
        absl::StrCat(static_cast<int>(level), " ", std::string(logger), ": ", std::string(message)));
  });
  RestartServer();
  ASSERT_TRUE(server_->Local()->Publish(Batch({RevenueItem(2002, 13'600'000'000)})).ok());
  SetLogHandler(nullptr);
  absl::MutexLock lock(&mu);
  auto has = [&](const std::string& needle) {
    for (const auto& l : lines) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("2 kessan: kessand serving kessan.v1.FeedService")) << absl::StrJoin(lines, "\n");
  EXPECT_TRUE(has("2 audit: principal=anonymous method=/kessan.v1.FeedService/Publish outcome=OK"))
      << absl::StrJoin(lines, "\n");
}

}  // namespace
}  // namespace kessan
