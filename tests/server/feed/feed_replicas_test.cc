// Feeds of several replicas on one NATS JetStream journal: each follows what
// the others publish, and publishes from all of them make one history.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "feed/feed.h"
#include "journal/nats_journal.h"
#include "testing/nats_cluster.h"
#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::Iij;
using ::kessan::test::Item;
using ::kessan::test::MakeFact;
using ::kessan::test::MakeSegment;
using ::kessan::test::NatsCluster;
using ::kessan::test::Quarter;
using ::kessan::test::TempDir;

constexpr absl::Duration kWait = absl::Seconds(60);

// Counts wakes, so a consumer can wait for the next one.
class CountingWaker final : public Waker {
 public:
  void Wake() override {
    absl::MutexLock lock(&mu_);
    ++wakes_;
  }
  int wakes() {
    absl::MutexLock lock(&mu_);
    return wakes_;
  }
  bool AwaitMoreThan(int seen, absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto more = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wakes_ > seen; };
    return mu_.AwaitWithDeadline(absl::Condition(&more), deadline);
  }

 private:
  absl::Mutex mu_;
  int wakes_ ABSL_GUARDED_BY(mu_) = 0;
};

// A live subscription and its waker.
struct Follower {
  std::shared_ptr<Subscription> subscription;
  std::shared_ptr<CountingWaker> waker = std::make_shared<CountingWaker>();
  std::vector<EventPtr> events;  // journaled events taken so far

  // Takes until the event at `sequence` is taken; false when it is not
  // within kWait.
  bool TakeUpTo(uint64_t sequence) {
    const absl::Time deadline = absl::Now() + kWait;
    while (subscription->last_taken() < sequence) {
      const int seen = waker->wakes();
      std::vector<EventPtr> taken = subscription->Take(4096, size_t{1} << 30);
      if (taken.empty()) {
        if (subscription->Finished().has_value()) return false;
        if (!waker->AwaitMoreThan(seen, deadline)) return false;
        continue;
      }
      for (EventPtr& e : taken) {
        if (e->sequence() != 0) events.push_back(std::move(e));
      }
    }
    return true;
  }
};

class FeedReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<NatsCluster>> cluster = NatsCluster::Start(1);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
  }
  void TearDown() override {
    for (auto& [feed, follower] : followers_) feed->Unsubscribe(follower->subscription.get());
    followers_.clear();
    feeds_.clear();
    if (HasFailure() && cluster_ != nullptr) std::cerr << cluster_->Logs();
  }

  // A replica's feed, its cache in `cache`, caught up with the stream.
  Feed* Replica(const std::string& cache) {
    NatsJournalOptions options;
    options.url = cluster_->url();
    options.stream = "KESSAN";
    options.cache_path = dir_.File(cache);
    absl::StatusOr<std::unique_ptr<NatsJournal>> log = NatsJournal::Open(options);
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok()) return nullptr;
    absl::Status caught_up = (*log)->CatchUp(kWait);
    EXPECT_TRUE(caught_up.ok()) << caught_up;
    Feed::Options feed_options;
    feed_options.tick = absl::ZeroDuration();
    absl::StatusOr<std::unique_ptr<Feed>> feed = Feed::Open(*std::move(log), std::move(feed_options));
    EXPECT_TRUE(feed.ok()) << feed.status();
    if (!feed.ok()) return nullptr;
    feeds_.push_back(*std::move(feed));
    return feeds_.back().get();
  }

  // A live subscription to `feed` from its current head.
  Follower* Follow(Feed* feed) {
    v1::SubscribeRequest request;
    request.set_start(v1::START_MODE_LIVE_ONLY);
    absl::StatusOr<std::shared_ptr<Subscription>> s = feed->Subscribe(request);
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return nullptr;
    auto follower = std::make_unique<Follower>();
    follower->subscription = *std::move(s);
    follower->subscription->SetWaker(follower->waker);
    followers_.emplace_back(feed, std::move(follower));
    return followers_.back().second.get();
  }

  static v1::PublishResponse MustPublish(Feed* feed, const v1::PublishRequest& request) {
    absl::StatusOr<v1::PublishResponse> r = feed->Publish(request);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : v1::PublishResponse();
  }

  static std::string SnapshotBytes(Feed* feed) {
    absl::StatusOr<v1::GetSnapshotResponse> s = feed->Snapshot(v1::Filter());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->SerializeAsString() : std::string();
  }

  // `publishers` threads, half on each of two replicas, revise the same
  // items.
  void PublishersMakeOneHistory(int publishers);

  TempDir dir_;
  std::unique_ptr<NatsCluster> cluster_;
  std::vector<std::unique_ptr<Feed>> feeds_;
  std::vector<std::pair<Feed*, std::unique_ptr<Follower>>> followers_;
};

TEST_F(FeedReplicasTest, APublishOnOneReplicaReachesTheOthersSubscribers) {
  Feed* a = Replica("a.db");
  Feed* b = Replica("b.db");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  Follower* on_b = Follow(b);
  ASSERT_NE(on_b, nullptr);
  MustPublish(a, test::Batch({Item(Iij()), Item(MakeSegment("IIJ", "systems_integration"))}));
  v1::PublishResponse facts =
      MustPublish(a, test::Batch({Item(MakeFact("IIJ", "revenue", Quarter(2002, 4), 13'000'000'000)),
                                  Item(MakeFact("IIJ", "operating_income", Quarter(2002, 4), 500'000'000))}));
  ASSERT_EQ(facts.sequences_size(), 2);
  ASSERT_TRUE(on_b->TakeUpTo(4));
  ASSERT_EQ(on_b->events.size(), 4u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(on_b->events[2 + i]->event().SerializeAsString(), facts.events(i).SerializeAsString());
  }
  EXPECT_EQ(b->last_sequence(), 4u);
  EXPECT_EQ(SnapshotBytes(a), SnapshotBytes(b));
}

// Publishers on each of two replicas revise the same items: every publish
// succeeds (a group another replica got ahead of is validated again and
// journaled again, and so is every group in flight after it) and the
// revisions form one chain per item.
void FeedReplicasTest::PublishersMakeOneHistory(int publishers) {
  Feed* a = Replica("a.db");
  Feed* b = Replica("b.db");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  Follower* on_a = Follow(a);
  Follower* on_b = Follow(b);
  MustPublish(a, test::Batch({Item(Iij())}));
  ASSERT_TRUE(on_b->TakeUpTo(1));
  constexpr int kBatches = 25;
  std::vector<std::vector<v1::PublishResponse>> responses(static_cast<size_t>(publishers));
  std::vector<std::thread> threads;
  for (int t = 0; t < publishers; ++t) {
    threads.emplace_back([&, t] {
      Feed* feed = t % 2 == 0 ? a : b;
      for (int i = 0; i < kBatches; ++i) {
        v1::PublishRequest request;
        for (int j = 0; j <= i % 3; ++j) {
          *request.add_items() = Item(MakeFact("IIJ", absl::StrCat("concept_", (t + i + j) % 4),
                                               Quarter(2002, 4), 1'000'000 * (t * 100 + i + 1)));
        }
        absl::StatusOr<v1::PublishResponse> r = feed->Publish(request);
        ASSERT_TRUE(r.ok()) << "publisher " << t << " batch " << i << ": " << r.status();
        responses[t].push_back(*std::move(r));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::cout << "groups staged again: " << a->restaged_groups() << " on a, " << b->restaged_groups()
            << " on b\n";
  // What this test is about: the replicas' appends did collide.
  EXPECT_GT(a->restaged_groups() + b->restaged_groups(), 0u);
  std::map<uint64_t, v1::FeedEvent> by_sequence;
  for (const auto& mine : responses) {
    ASSERT_EQ(mine.size(), static_cast<size_t>(kBatches));
    for (const v1::PublishResponse& r : mine) {
      ASSERT_GT(r.sequences_size(), 0);
      for (int k = 0; k < r.sequences_size(); ++k) {
        EXPECT_EQ(r.sequences(k), r.sequences(0) + k);  // a batch is one run
        EXPECT_TRUE(by_sequence.emplace(r.sequences(k), r.events(k)).second)
            << "sequence " << r.sequences(k) << " acknowledged twice";
      }
    }
  }
  const uint64_t last = by_sequence.rbegin()->first;
  ASSERT_EQ(by_sequence.size(), last - 1) << "a gap or a lost event";
  EXPECT_EQ(by_sequence.begin()->first, 2u);
  std::map<std::string, std::pair<int32_t, uint64_t>> chain;  // item -> revision, sequence
  for (const auto& [sequence, e] : by_sequence) {
    auto& [revision, previous] = chain[AttrsOf(e).item_key];
    EXPECT_EQ(e.fact().revision(), revision + 1) << "sequence " << sequence;
    EXPECT_EQ(e.fact().supersedes_sequence(), previous) << "sequence " << sequence;
    revision = e.fact().revision();
    previous = sequence;
  }
  // Both replicas' subscribers saw the same events, each once, in order.
  ASSERT_TRUE(on_a->TakeUpTo(last));
  ASSERT_TRUE(on_b->TakeUpTo(last));
  for (Follower* f : {on_a, on_b}) {
    ASSERT_EQ(f->events.size(), last);
    for (uint64_t s = 2; s <= last; ++s) {
      ASSERT_EQ(f->events[s - 1]->sequence(), s);
      EXPECT_EQ(f->events[s - 1]->event().SerializeAsString(), by_sequence[s].SerializeAsString());
    }
  }
  EXPECT_EQ(a->last_sequence(), last);
  EXPECT_EQ(b->last_sequence(), last);
  EXPECT_EQ(SnapshotBytes(a), SnapshotBytes(b));
}

TEST_F(FeedReplicasTest, PublishersOnTwoReplicasMakeOneHistory) { PublishersMakeOneHistory(4); }

// Four publishers per replica: several commit groups in flight on each.
TEST_F(FeedReplicasTest, PublishersWithGroupsInFlightOnTwoReplicasMakeOneHistory) {
  PublishersMakeOneHistory(8);
}

TEST_F(FeedReplicasTest, ARetryOnAnotherReplicaAppliesOnce) {
  Feed* a = Replica("a.db");
  Feed* b = Replica("b.db");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  v1::PublishRequest request = test::Batch({Item(Iij())});
  request.set_publisher_id("desk-7");
  request.set_batch_key("iij-1");
  v1::PublishResponse first = MustPublish(a, request);
  ASSERT_EQ(first.sequences_size(), 1);
  EXPECT_FALSE(first.duplicate());
  // b may not have applied it yet: its stage is then refused by the stream,
  // and the restage finds the batch; or its cache has it and its state not
  // yet: the answer waits until b has applied it.
  v1::PublishResponse retry = MustPublish(b, request);
  EXPECT_TRUE(retry.duplicate());
  ASSERT_EQ(retry.sequences_size(), 1);
  EXPECT_EQ(retry.sequences(0), first.sequences(0));
  EXPECT_EQ(b->last_sequence(), 1u);
  v1::PublishResponse next = MustPublish(b, test::Batch({Item(MakeSegment("IIJ", "network"))}));
  ASSERT_EQ(next.sequences_size(), 1);
  EXPECT_EQ(next.sequences(0), 2u);
}

// A replica opened on a stream others wrote to starts from its cache and
// follows; what it publishes lands after them.
TEST_F(FeedReplicasTest, ALateReplicaStartsFromTheStreamAndPublishesAfterIt) {
  Feed* a = Replica("a.db");
  ASSERT_NE(a, nullptr);
  MustPublish(a, test::Batch({Item(Iij()), Item(MakeSegment("IIJ", "network"))}));
  Feed* c = Replica("c.db");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->last_sequence(), 2u);
  Follower* on_a = Follow(a);
  v1::PublishResponse r = MustPublish(c, test::Batch({Item(MakeSegment("IIJ", "systems"))}));
  ASSERT_EQ(r.sequences_size(), 1);
  EXPECT_EQ(r.sequences(0), 3u);
  ASSERT_TRUE(on_a->TakeUpTo(3));
  EXPECT_EQ(SnapshotBytes(a), SnapshotBytes(c));
}

// Every replica of a stream has its incarnation; a resume on another
// replica right after a publish gets exactly the rest (the replica catches
// up first), and one beyond anything the stream holds is UNAVAILABLE.
TEST_F(FeedReplicasTest, AResumeOnAnotherReplicaGetsExactlyTheRest) {
  Feed* a = Replica("a.db");
  Feed* b = Replica("b.db");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->incarnation(), b->incarnation());
  EXPECT_THAT(a->incarnation(), ::testing::StartsWith("nats-KESSAN-"));
  MustPublish(a, test::Batch({Item(Iij())}));
  v1::PublishResponse last =
      MustPublish(a, test::Batch({Item(MakeSegment("IIJ", "network")), Item(MakeSegment("IIJ", "systems"))}));
  ASSERT_EQ(last.sequences_size(), 2);
  v1::SubscribeRequest resume;
  resume.set_start(v1::START_MODE_FROM_SEQUENCE);
  resume.set_from_sequence(2);
  resume.set_incarnation(a->incarnation());
  absl::StatusOr<std::shared_ptr<Subscription>> s = b->Subscribe(resume);
  ASSERT_TRUE(s.ok()) << s.status();
  Follower follower;
  follower.subscription = *s;
  follower.subscription->SetWaker(follower.waker);
  ASSERT_TRUE(follower.TakeUpTo(3));
  ASSERT_EQ(follower.events.size(), 1u);
  EXPECT_EQ(follower.events[0]->sequence(), 3u);
  b->Unsubscribe(s->get());

  resume.set_from_sequence(50);
  EXPECT_THAT(
      b->Subscribe(resume).status(),
      test::StatusIs(absl::StatusCode::kUnavailable, ::testing::HasSubstr("resume on another replica")));
}

}  // namespace
}  // namespace kessan
