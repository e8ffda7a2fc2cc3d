// Faults in cluster mode (issue 20 §4): kessand replicas on a 3-node NATS
// JetStream cluster (file storage, 3 stream replicas) on 127.0.0.1, all
// started and stopped here. A replica killed during a burst of publishers, a
// NATS node killed, the whole NATS cluster down: no acknowledged event lost,
// none twice, subscribers resume elsewhere without a gap, and afterwards
// every replica's snapshot is the same and equal to a replay from 0.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "feed_test_util.h"
#include "kessand_process.h"
#include "model/keys.h"
#include "testing/nats_cluster.h"

namespace kessan {
namespace {

using ::kessan::test::NatsCluster;

constexpr absl::Duration kTestBound = absl::Seconds(150);

// One kessand replica: its process, address and stub.
struct Replica {
  std::string address;
  std::vector<std::string> args;
  std::string log;
  std::unique_ptr<KessandProcess> process;
  std::unique_ptr<v1::FeedService::Stub> stub;
};

// A publish acknowledged: its sequences and the figure it carried.
struct Acked {
  std::vector<uint64_t> sequences;
  int64_t units = 0;
  bool duplicate = false;
};

uint64_t LastAcked(const std::vector<Acked>& acked) {
  uint64_t last = 0;
  for (const Acked& a : acked) {
    for (uint64_t s : a.sequences) last = std::max(last, s);
  }
  return last;
}

// The journal as a replica streams it from sequence 0 up to `head`.
std::map<uint64_t, v1::FeedEvent> History(v1::FeedService::Stub& stub, uint64_t head) {
  std::map<uint64_t, v1::FeedEvent> history;
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_FROM_SEQUENCE);
  request.set_from_sequence(0);
  auto stream = stub.Subscribe(&context, request);
  v1::SubscribeResponse response;
  while (history.size() < head && stream->Read(&response)) {
    for (const v1::FeedEvent& e : response.events()) {
      if (e.sequence() != 0) history.emplace(e.sequence(), e);
    }
  }
  context.TryCancel();
  return history;
}

// The latest revision of each item, from a history: what a snapshot holds.
std::string ReplayedSnapshot(const std::map<uint64_t, v1::FeedEvent>& history) {
  std::map<std::string, const v1::FeedEvent*> latest;
  for (const auto& [sequence, e] : history) {
    const std::string key = AttrsOf(e).item_key;
    if (e.has_retraction()) {
      latest.erase(key);
    } else {
      latest[key] = &e;
    }
  }
  std::map<uint64_t, std::string> by_sequence;
  for (const auto& [key, e] : latest) by_sequence[e->sequence()] = e->SerializeAsString();
  std::string all;
  for (const auto& [sequence, bytes] : by_sequence) all += bytes;
  return all;
}

class ClusterFaultTest : public testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<NatsCluster>> nats = NatsCluster::Start(3);
    ASSERT_TRUE(nats.ok()) << nats.status();
    nats_ = *std::move(nats);
  }
  void TearDown() override {
    for (Replica& r : replicas_) r.process.reset();
    if (HasFailure() && nats_ != nullptr) {
      std::cerr << nats_->Logs(4096);
      for (Replica& r : replicas_) std::cerr << "\n==== " << r.log << "\n" << ReadFile(r.log);
    }
  }

  // Starts replica i (the first seeds the stream with the IIJ data set).
  void StartReplica(size_t i) {
    if (replicas_.size() <= i) replicas_.resize(i + 1);
    Replica& r = replicas_[i];
    if (r.address.empty()) {
      const int port = PickFreePort();
      ASSERT_NE(port, 0);
      r.address = absl::StrCat("127.0.0.1:", port);
      const std::string dir = absl::StrCat(nats_->dir(), "/kessand", i);
      r.log = dir + ".log";
      r.args = {"--listen",
                r.address,
                "--data_dir",
                dir,
                "--journal",
                "nats",
                "--nats_url",
                nats_->url(),
                "--nats_stream",
                "KESSAN_FAULT",
                "--nats_replicas",
                "3",
                "--nats_retry_timeout",
                "3s",
                "--plugin_dir",
                "none"};
      if (i == 0) {
        r.args.push_back("--seed");
        r.args.push_back(KESSAN_DATASET_FILE);
      }
    }
    r.process = std::make_unique<KessandProcess>(KESSAND_BINARY, r.args, r.log);
    ASSERT_TRUE(r.process->Start(r.address, absl::Seconds(60))) << ReadFile(r.log);
    r.stub = v1::FeedService::NewStub(grpc::CreateChannel(r.address, grpc::InsecureChannelCredentials()));
  }

  v1::GetSnapshotResponse Snapshot(size_t i) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::GetSnapshotResponse response;
    grpc::Status status = replicas_[i].stub->GetSnapshot(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << "replica " << i << ": " << status.error_message();
    return response;
  }

  // Publishes one keyed batch, trying the live replicas from `first` on
  // until one acknowledges it or `bound` passes. The same key every time: a
  // retry applies once.
  std::optional<Acked> PublishAnywhere(size_t first, const std::string& publisher, int batch, int64_t units,
                                       absl::Duration bound) {
    v1::PublishRequest request = Batch({RevenueItem(2000 + batch % 7, units)});
    request.set_publisher_id(publisher);
    request.set_batch_key(absl::StrCat("b", batch));
    const absl::Time end = absl::Now() + bound;
    for (size_t attempt = 0; absl::Now() < end; ++attempt) {
      const size_t i = (first + attempt) % replicas_.size();
      if (replicas_[i].process == nullptr || down_[i].load()) continue;
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
      v1::PublishResponse response;
      grpc::Status status = replicas_[i].stub->Publish(&context, request, &response);
      if (status.ok()) {
        Acked acked;
        acked.sequences.assign(response.sequences().begin(), response.sequences().end());
        acked.units = units;
        acked.duplicate = response.duplicate();
        return acked;
      }
      // Only a transport or availability failure is retried elsewhere.
      EXPECT_TRUE(status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                  status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                  status.error_code() == grpc::StatusCode::ABORTED ||
                  status.error_code() == grpc::StatusCode::CANCELLED)
          << status.error_code() << ": " << status.error_message();
    }
    return std::nullopt;
  }

  // Checks, once the publishers are done: every acknowledged figure is in
  // every replica's history exactly once at its acknowledged sequence, the
  // histories are identical, and each replica's snapshot equals the replay.
  void ExpectOneHistory(const std::vector<Acked>& acked, const std::vector<size_t>& live) {
    // The head: the last acknowledged sequence, or beyond it what a replica
    // has (a batch acknowledged on one may not be applied on another yet).
    uint64_t head = LastAcked(acked);
    for (size_t i : live) head = std::max(head, Snapshot(i).sequence());
    std::map<uint64_t, v1::FeedEvent> first;
    for (size_t i : live) {
      // Streams from 0 until it has `head` events: a replica still applying
      // the last batches sends them live.
      std::map<uint64_t, v1::FeedEvent> history = History(*replicas_[i].stub, head);
      ASSERT_EQ(history.size(), head) << "replica " << i;
      ASSERT_EQ(history.begin()->first, 1u);
      ASSERT_EQ(history.rbegin()->first, head) << "a gap in replica " << i;
      if (first.empty()) {
        first = history;
        std::map<int64_t, int> copies;
        for (const auto& [sequence, e] : history) {
          if (e.has_fact() && e.fact().value().has_money()) ++copies[e.fact().value().money().units()];
        }
        for (const Acked& a : acked) {
          ASSERT_EQ(a.sequences.size(), 1u);
          auto it = history.find(a.sequences[0]);
          ASSERT_NE(it, history.end()) << "acknowledged sequence " << a.sequences[0] << " lost";
          EXPECT_EQ(it->second.fact().value().money().units(), a.units) << "sequence " << a.sequences[0];
          EXPECT_EQ(copies[a.units], 1)
              << "figure " << a.units << " journaled " << copies[a.units] << " times";
        }
      } else {
        for (const auto& [sequence, e] : history) {
          ASSERT_EQ(e.SerializeAsString(), first[sequence].SerializeAsString())
              << "replica " << i << " differs at sequence " << sequence;
        }
      }
      v1::GetSnapshotResponse snapshot = Snapshot(i);
      std::string bytes;
      for (const v1::FeedEvent& e : snapshot.events()) bytes += e.SerializeAsString();
      EXPECT_EQ(bytes, ReplayedSnapshot(history)) << "replica " << i;
    }
  }

  std::unique_ptr<NatsCluster> nats_;
  std::vector<Replica> replicas_;
  std::atomic<bool> down_[3] = {false, false, false};
};

// A subscriber that fails over: reads from one replica, and when that
// stream ends resumes on the next live one from its last sequence, with the
// incarnation it was given. Records gaps and repeats.
class FailoverSubscriber {
 public:
  FailoverSubscriber(std::vector<Replica>* replicas, std::atomic<bool>* down, size_t start)
      : replicas_(replicas), down_(down), current_(start) {
    thread_ = std::thread([this] { Run(); });
  }
  ~FailoverSubscriber() { Stop(); }

  // Reads until it has seen `sequence`, at most `bound`; then stops.
  bool ReadUpTo(uint64_t sequence, absl::Duration bound) {
    absl::MutexLock lock(&mu_);
    target_ = sequence;
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return last_ >= target_; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), bound);
  }
  void Stop() {
    stop_ = true;
    {
      absl::MutexLock lock(&mu_);
      if (context_ != nullptr) context_->TryCancel();
    }
    if (thread_.joinable()) thread_.join();
  }
  std::vector<std::string> problems() {
    absl::MutexLock lock(&mu_);
    return problems_;
  }
  int failovers() {
    absl::MutexLock lock(&mu_);
    return failovers_;
  }
  // The highest last_sequence a heartbeat reported, and how many came.
  std::pair<uint64_t, int> heartbeats() {
    absl::MutexLock lock(&mu_);
    return {heartbeat_head_, heartbeats_};
  }

 private:
  void Run() {
    const absl::Time end = absl::Now() + kTestBound;
    while (!stop_ && absl::Now() < end) {
      Replica& r = (*replicas_)[current_];
      if (r.process == nullptr || down_[current_].load()) {
        current_ = (current_ + 1) % replicas_->size();
        continue;
      }
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(end));
      v1::SubscribeRequest request;
      request.set_heartbeat_interval_ms(200);
      {
        absl::MutexLock lock(&mu_);
        if (incarnation_.empty()) {
          request.set_start(v1::START_MODE_SNAPSHOT_THEN_LIVE);
        } else {
          request.set_start(v1::START_MODE_FROM_SEQUENCE);
          request.set_from_sequence(last_);
          request.set_incarnation(incarnation_);
        }
        context_ = &context;
      }
      auto channel = grpc::CreateChannel(r.address, grpc::InsecureChannelCredentials());
      auto stub = v1::FeedService::NewStub(channel);
      auto stream = stub->Subscribe(&context, request);
      v1::SubscribeResponse response;
      while (!stop_ && stream->Read(&response)) Take(response);
      grpc::Status status = stream->Finish();
      absl::MutexLock lock(&mu_);
      context_ = nullptr;
      if (stop_) break;
      // A stream of this replica ended: the next one.
      ++failovers_;
      current_ = (current_ + 1) % replicas_->size();
    }
  }

  void Take(const v1::SubscribeResponse& response) {
    absl::MutexLock lock(&mu_);
    for (const v1::FeedEvent& e : response.events()) {
      if (e.has_snapshot_begin()) {
        incarnation_ = e.snapshot_begin().incarnation();
        in_snapshot_ = true;
        continue;
      }
      if (e.has_snapshot_end()) {
        in_snapshot_ = false;
        last_ = e.snapshot_end().sequence();
        continue;
      }
      if (e.has_heartbeat()) {
        ++heartbeats_;
        heartbeat_head_ = std::max(heartbeat_head_, e.heartbeat().last_sequence());
        if (e.heartbeat().incarnation() != incarnation_) {
          problems_.push_back("a heartbeat of another incarnation");
        }
        continue;
      }
      if (e.has_resync()) {
        problems_.push_back(absl::StrCat("resync: ", e.resync().reason()));
        continue;
      }
      if (e.sequence() == 0 || in_snapshot_) continue;
      if (e.sequence() != last_ + 1) {
        problems_.push_back(absl::StrCat("sequence ", e.sequence(), " after ", last_));
      }
      last_ = std::max(last_, e.sequence());
    }
  }

  std::vector<Replica>* const replicas_;
  std::atomic<bool>* const down_;
  size_t current_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Mutex mu_;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::string incarnation_ ABSL_GUARDED_BY(mu_);
  bool in_snapshot_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t last_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t target_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> problems_ ABSL_GUARDED_BY(mu_);
  int failovers_ ABSL_GUARDED_BY(mu_) = 0;
  int heartbeats_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t heartbeat_head_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(ClusterFaultTest, AReplicaKilledDuringABurstLosesNothing) {
  for (size_t i = 0; i < 3; ++i) StartReplica(i);
  FailoverSubscriber subscriber(&replicas_, down_, 0);
  constexpr int kPublishers = 4;
  constexpr int kBatches = 30;
  std::vector<std::vector<Acked>> acked(kPublishers);
  std::atomic<int> published{0};
  std::vector<std::thread> publishers;
  for (int p = 0; p < kPublishers; ++p) {
    publishers.emplace_back([&, p] {
      for (int b = 0; b < kBatches; ++b) {
        std::optional<Acked> a =
            PublishAnywhere(p % 3, absl::StrCat("desk", p), b, (p + 1) * 1'000'000'000LL + b * 1'000'000LL,
                            absl::Seconds(60));
        ASSERT_TRUE(a.has_value()) << "publisher " << p << " batch " << b;
        acked[p].push_back(*a);
        ++published;
      }
    });
  }
  // kill -9 replica 0 once a third of the burst is acknowledged.
  const absl::Time end = absl::Now() + absl::Seconds(60);
  while (published.load() < kPublishers * kBatches / 3 && absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(5));  // polling a counter, bounded
  }
  down_[0] = true;
  replicas_[0].process->Kill();
  for (std::thread& t : publishers) t.join();
  std::vector<Acked> all;
  for (auto& mine : acked) all.insert(all.end(), mine.begin(), mine.end());
  ASSERT_EQ(all.size(), static_cast<size_t>(kPublishers * kBatches));

  const uint64_t head = LastAcked(all);
  ASSERT_TRUE(subscriber.ReadUpTo(head, absl::Seconds(60))) << "the subscriber did not resume up to " << head;
  subscriber.Stop();
  EXPECT_GE(subscriber.failovers(), 1);
  EXPECT_TRUE(subscriber.problems().empty()) << subscriber.problems().front();
  ExpectOneHistory(all, {1, 2});
}

TEST_F(ClusterFaultTest, ANatsNodeKilledKeepsPublishingAndComesBack) {
  StartReplica(0);
  StartReplica(1);
  std::vector<Acked> acked;
  for (int b = 0; b < 10; ++b) {
    std::optional<Acked> a = PublishAnywhere(b % 2, "desk", b, 1'000'000'000LL + b, absl::Seconds(60));
    ASSERT_TRUE(a.has_value()) << "batch " << b;
    acked.push_back(*a);
  }
  nats_->Kill(0);
  for (int b = 10; b < 30; ++b) {
    std::optional<Acked> a = PublishAnywhere(b % 2, "desk", b, 1'000'000'000LL + b, absl::Seconds(60));
    ASSERT_TRUE(a.has_value()) << "batch " << b << " with NATS node 0 down";
    acked.push_back(*a);
  }
  ASSERT_TRUE(nats_->Restart(0).ok());
  for (int b = 30; b < 40; ++b) {
    std::optional<Acked> a = PublishAnywhere(b % 2, "desk", b, 1'000'000'000LL + b, absl::Seconds(60));
    ASSERT_TRUE(a.has_value()) << "batch " << b << " after NATS node 0 came back";
    acked.push_back(*a);
  }
  ExpectOneHistory(acked, {0, 1});
}

TEST_F(ClusterFaultTest, TheWholeNatsClusterDownStallsAndEverythingResumes) {
  StartReplica(0);
  StartReplica(1);
  FailoverSubscriber subscriber(&replicas_, down_, 1);
  std::vector<Acked> acked;
  std::optional<Acked> a = PublishAnywhere(0, "desk", 0, 1'000'000'001LL, absl::Seconds(60));
  ASSERT_TRUE(a.has_value());
  acked.push_back(*a);
  const uint64_t before = Snapshot(0).sequence();
  ASSERT_TRUE(subscriber.ReadUpTo(before, absl::Seconds(60)));

  for (int i = 0; i < 3; ++i) nats_->Kill(i);
  {
    v1::PublishRequest request = Batch({RevenueItem(2003, 1'000'000'002LL)});
    request.set_publisher_id("desk");
    request.set_batch_key("down");
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::PublishResponse response;
    grpc::Status status = replicas_[0].stub->Publish(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  }
  // The subscriber's stream stays up, and its heartbeats show the stall.
  const int beats = subscriber.heartbeats().second;
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (subscriber.heartbeats().second < beats + 3 && absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(20));  // polling a counter, bounded
  }
  EXPECT_GE(subscriber.heartbeats().second, beats + 3);
  EXPECT_EQ(subscriber.heartbeats().first, before);
  EXPECT_EQ(subscriber.failovers(), 0);

  absl::Status back = nats_->RestartAll();
  ASSERT_TRUE(back.ok()) << back;
  // The batch that failed is published again (it may have been stored
  // without its acknowledgement: then it is a duplicate), and more.
  for (int b = 1; b < 6; ++b) {
    a = PublishAnywhere(b % 2, "desk", b, 1'000'000'000LL + 10 * b, absl::Seconds(60));
    ASSERT_TRUE(a.has_value()) << "batch " << b << " after NATS came back";
    acked.push_back(*a);
  }
  const uint64_t head = LastAcked(acked);
  ASSERT_TRUE(subscriber.ReadUpTo(head, absl::Seconds(60)));
  subscriber.Stop();
  EXPECT_TRUE(subscriber.problems().empty()) << subscriber.problems().front();
  ExpectOneHistory(acked, {0, 1});
}

}  // namespace
}  // namespace kessan
