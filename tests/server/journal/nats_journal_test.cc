// Tests of server/journal/nats_journal.cc beyond the Journal contract
// (journal_contract_test.cc): replicas on one stream of a real 3-node
// nats-server cluster (testing/nats_cluster.h), and the errors of Open.
#include "journal/nats_journal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "testing/nats_cluster.h"
#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::FactEvent;
using ::kessan::test::FactEvents;
using ::kessan::test::NatsCluster;
using ::kessan::test::Sequences;
using ::kessan::test::StatusIs;
using ::kessan::test::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kCatchUp = absl::Seconds(20);

// A plain JetStream client, for what the journal would never do.
class RawClient {
 public:
  explicit RawClient(const std::string& url) {
    EXPECT_EQ(natsConnection_ConnectTo(&conn_, url.c_str()), NATS_OK) << url;
    if (conn_ != nullptr) {
      EXPECT_EQ(natsConnection_JetStream(&js_, conn_, nullptr), NATS_OK);
    }
  }
  ~RawClient() {
    jsCtx_Destroy(js_);
    natsConnection_Destroy(conn_);
  }
  jsCtx* js() { return js_; }

  // Publishes `body` to `subject` with the headers; the stream sequence.
  uint64_t Publish(const std::string& subject, const std::string& body,
                   const std::vector<std::pair<std::string, std::string>>& headers) {
    natsMsg* msg = nullptr;
    EXPECT_EQ(natsMsg_Create(&msg, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size())),
              NATS_OK);
    for (const auto& [key, value] : headers) {
      EXPECT_EQ(natsMsgHeader_Set(msg, key.c_str(), value.c_str()), NATS_OK);
    }
    jsPubAck* ack = nullptr;
    EXPECT_EQ(js_PublishMsg(&ack, js_, msg, nullptr, nullptr), NATS_OK);
    const uint64_t seq = ack != nullptr ? ack->Sequence : 0;
    jsPubAck_Destroy(ack);
    natsMsg_Destroy(msg);
    return seq;
  }

  // Bounded polling until every replica of the stream is online and
  // current (a restarted node has caught up), or `wait` passes.
  bool WaitStreamCurrent(const std::string& stream, absl::Duration wait) {
    const absl::Time deadline = absl::Now() + wait;
    while (absl::Now() < deadline) {
      jsStreamInfo* info = nullptr;
      bool current = false;
      if (js_GetStreamInfo(&info, js_, stream.c_str(), nullptr, nullptr) == NATS_OK &&
          info->Cluster != nullptr && info->Cluster->Leader != nullptr) {
        current = info->Cluster->ReplicasLen + 1 == info->Config->Replicas;
        for (int i = 0; i < info->Cluster->ReplicasLen; ++i) {
          current &= info->Cluster->Replicas[i]->Current && !info->Cluster->Replicas[i]->Offline;
        }
      }
      jsStreamInfo_Destroy(info);
      if (current) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  // The stream's configured replicas, 0 if it cannot be read.
  int64_t Replicas(const std::string& stream) {
    jsStreamInfo* info = nullptr;
    if (js_GetStreamInfo(&info, js_, stream.c_str(), nullptr, nullptr) != NATS_OK) return 0;
    const int64_t replicas = info->Config->Replicas;
    jsStreamInfo_Destroy(info);
    return replicas;
  }

 private:
  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
};

// Events whose concepts name their writer, so each can be traced.
std::vector<EventPtr> TaggedEvents(uint64_t first, size_t count, absl::string_view tag) {
  std::vector<EventPtr> events;
  for (uint64_t s = first; s < first + count; ++s) {
    events.push_back(FactEvent(s, "IIJ", absl::StrCat(tag, "_", s - first)));
  }
  return events;
}

std::vector<EventPtr> ReadAll(Journal& log) {
  std::vector<EventPtr> events;
  absl::StatusOr<size_t> n =
      log.Read(0, log.last_sequence(), SIZE_MAX, [&](EventPtr e) { events.push_back(e); });
  EXPECT_TRUE(n.ok()) << n.status();
  return events;
}

// Both journals hold the same events at the same sequences.
void ExpectSameJournal(Journal& a, Journal& b) {
  EXPECT_EQ(a.last_sequence(), b.last_sequence());
  std::vector<EventPtr> x = ReadAll(a), y = ReadAll(b);
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(x[i]->sequence(), i + 1);
    ASSERT_EQ(x[i]->sequence(), y[i]->sequence());
    ASSERT_EQ(x[i]->frame(), y[i]->frame()) << "sequence " << i + 1;
  }
}

class NatsJournalTest : public ::testing::Test {
 protected:
  // Nodes in the cluster: 3 unless a test says otherwise.
  virtual int nodes() const { return 3; }

  void SetUp() override {
    absl::StatusOr<std::unique_ptr<NatsCluster>> cluster = NatsCluster::Start(nodes());
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
  }
  void TearDown() override {
    replicas_.clear();
    if (HasFailure() && cluster_ != nullptr) std::cerr << cluster_->Logs();
  }

  NatsJournalOptions Options(const std::string& cache) {
    NatsJournalOptions options;
    options.url = cluster_->url();
    options.stream = "KESSAN";
    options.cache_path = dir_.File(cache);
    return options;
  }

  // A replica with its cache in `cache`, caught up.
  NatsJournal* Replica(const std::string& cache) {
    absl::StatusOr<std::unique_ptr<NatsJournal>> log = NatsJournal::Open(Options(cache));
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok()) return nullptr;
    absl::Status caught_up = (*log)->CatchUp(kCatchUp);
    EXPECT_TRUE(caught_up.ok()) << caught_up;
    replicas_.push_back(*std::move(log));
    return replicas_.back().get();
  }

  // Closes a replica opened by Replica.
  void Close(NatsJournal* log) {
    for (auto it = replicas_.begin(); it != replicas_.end(); ++it) {
      if (it->get() == log) {
        replicas_.erase(it);
        return;
      }
    }
  }

  TempDir dir_;
  std::unique_ptr<NatsCluster> cluster_;
  std::vector<std::unique_ptr<NatsJournal>> replicas_;
};

TEST_F(NatsJournalTest, AReplicaCatchesUpToTheSameEventsAndSequences) {
  NatsJournal* a = Replica("a.db");
  NatsJournal* b = Replica("b.db");
  ASSERT_TRUE(a && b);
  absl::Mutex mu;
  std::vector<uint64_t> heard;
  b->SetAppendListener([&](const std::vector<EventPtr>& events) {
    absl::MutexLock lock(&mu);
    for (const EventPtr& e : events) heard.push_back(e->sequence());
  });
  ASSERT_TRUE(a->Append(FactEvents(1, 3)).ok());
  ASSERT_TRUE(a->Append(FactEvents(4, 1)).ok());
  ASSERT_TRUE(a->Append(FactEvents(5, 2)).ok());
  ASSERT_TRUE(b->CatchUp(kCatchUp).ok());
  ExpectSameJournal(*a, *b);
  EXPECT_EQ(b->last_sequence(), 6u);
  EXPECT_EQ(b->stream_sequence(), a->stream_sequence());
  EXPECT_EQ(b->tail_applied_batches(), 3u);
  EXPECT_EQ(a->tail_applied_batches(), 0u);  // its own appends are not tailed again
  absl::MutexLock lock(&mu);
  EXPECT_THAT(heard, ElementsAre(1, 2, 3, 4, 5, 6));
  // On three nodes, the stream has three replicas.
  RawClient raw(cluster_->url());
  EXPECT_EQ(raw.Replicas("KESSAN"), 3);
}

// Two replicas at the same stream position (here the empty stream): the
// first append wins, the other is ABORTED, catches up and appends next.
TEST_F(NatsJournalTest, OfTwoAppendsAtOnePositionOneWinsTheOtherRetries) {
  NatsJournal* a = Replica("a.db");
  NatsJournal* b = Replica("b.db");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Append(TaggedEvents(1, 2, "a")).ok());
  EXPECT_THAT(b->Append(TaggedEvents(1, 3, "b"), {{"pub", "b1", 1, 1, 3}}),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("catch up and retry")));
  ASSERT_TRUE(b->CatchUp(kCatchUp).ok());
  EXPECT_EQ(b->last_sequence(), 2u);
  absl::StatusOr<std::optional<BatchLocation>> lost = b->FindBatch("pub", "b1");
  ASSERT_TRUE(lost.ok());
  EXPECT_FALSE(lost->has_value());
  ASSERT_TRUE(b->Append(TaggedEvents(3, 3, "b"), {{"pub", "b1", 1, 3, 3}}).ok());
  ASSERT_TRUE(a->CatchUp(kCatchUp).ok());
  ExpectSameJournal(*a, *b);
  EXPECT_EQ(ReadAll(*a)[2]->body(), TaggedEvents(3, 1, "b")[0]->body());
}

// Two writers appending at once, each catching up and retrying when
// ABORTED: one linear history, every batch in it exactly once.
TEST_F(NatsJournalTest, ConcurrentWritersMakeOneGapFreeHistory) {
  NatsJournal* a = Replica("a.db");
  NatsJournal* b = Replica("b.db");
  ASSERT_TRUE(a && b);
  constexpr int kBatches = 15;
  std::atomic<int> aborted{0};
  auto writer = [&](NatsJournal* log, const std::string& name) {
    for (int i = 0; i < kBatches; ++i) {
      const std::string tag = absl::StrCat(name, i);
      for (int attempt = 0;; ++attempt) {
        ASSERT_LT(attempt, 100) << tag;
        const uint64_t next = log->last_sequence() + 1;
        absl::Status s = log->Append(TaggedEvents(next, 2, tag), {{name, tag, 1, next, 2}});
        if (s.ok()) break;
        ASSERT_EQ(s.code(), absl::StatusCode::kAborted) << s;
        aborted.fetch_add(1);
        ASSERT_TRUE(log->CatchUp(kCatchUp).ok());
      }
    }
  };
  std::thread ta(writer, a, "a"), tb(writer, b, "b");
  ta.join();
  tb.join();
  ASSERT_TRUE(a->CatchUp(kCatchUp).ok());
  ASSERT_TRUE(b->CatchUp(kCatchUp).ok());
  ExpectSameJournal(*a, *b);
  EXPECT_EQ(a->last_sequence(), 2u * 2 * kBatches);
  std::set<std::string> concepts;
  for (const EventPtr& e : ReadAll(*a)) concepts.insert(e->event().fact().key().concept_id());
  EXPECT_EQ(concepts.size(), 2u * 2 * kBatches);
  for (const char* name : {"a", "b"}) {
    for (int i = 0; i < kBatches; ++i) {
      absl::StatusOr<std::optional<BatchLocation>> found = b->FindBatch(name, absl::StrCat(name, i));
      ASSERT_TRUE(found.ok() && found->has_value()) << name << i;
    }
  }
  std::cerr << "appends aborted and retried: " << aborted.load() << "\n";
}

// Appends begun before the earlier ones are acknowledged (a big one in
// several chunks among them) land in the order begun, each right after the
// one before it.
TEST_F(NatsJournalTest, AppendsInFlightLandInTheOrderBegun) {
  NatsJournal* a = Replica("a.db");
  NatsJournal* b = Replica("b.db");
  ASSERT_TRUE(a && b);
  const std::vector<size_t> sizes = {3, 2, 30000, 1, 4};  // 30,000 facts are more than one chunk
  std::vector<std::unique_ptr<PendingAppend>> pending;
  uint64_t next = 1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string key = absl::StrCat("k", i);
    pending.push_back(a->BeginAppend(TaggedEvents(next, sizes[i], key), {{"pub", key, i, next, sizes[i]}}));
    next += sizes[i];
  }
  for (auto& p : pending) ASSERT_TRUE(p->Wait().ok());
  EXPECT_EQ(a->last_sequence(), next - 1);
  EXPECT_GT(a->stream_sequence(), sizes.size());  // the big one took several messages
  ASSERT_TRUE(b->CatchUp(kCatchUp).ok());
  ExpectSameJournal(*a, *b);
  EXPECT_EQ(b->tail_applied_batches(), sizes.size());
  EXPECT_EQ(a->tail_applied_batches(), 0u);
  uint64_t first = 1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    absl::StatusOr<std::optional<BatchLocation>> found = b->FindBatch("pub", absl::StrCat("k", i));
    ASSERT_TRUE(found.ok() && found->has_value()) << i;
    EXPECT_EQ((*found)->first_sequence, first);
    EXPECT_EQ(ReadAll(*b)[first - 1]->body(), TaggedEvents(first, 1, absl::StrCat("k", i))[0]->body());
    first += sizes[i];
  }
}

// Another replica appended first: the appends in flight all fail with
// ABORTED, none of them lands, and until ResumeAppends nothing else begins.
TEST_F(NatsJournalTest, AnotherReplicasAppendVoidsEveryAppendInFlight) {
  NatsJournal* a = Replica("a.db");
  NatsJournal* b = Replica("b.db");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(b->Append(TaggedEvents(1, 2, "b"), {{"pub", "b", 1, 1, 2}}).ok());
  // `a` has not caught up: it computed its sequences on the empty stream.
  std::vector<std::unique_ptr<PendingAppend>> pending;
  for (uint64_t i = 0; i < 3; ++i) {
    const std::string key = absl::StrCat("a", i);
    pending.push_back(a->BeginAppend(TaggedEvents(1 + 3 * i, 3, key), {{"pub", key, 1, 1 + 3 * i, 3}}));
  }
  for (auto& p : pending) {
    EXPECT_THAT(p->Wait(), StatusIs(absl::StatusCode::kAborted, HasSubstr("catch up and retry")));
  }
  EXPECT_THAT(a->BeginAppend(TaggedEvents(10, 1, "stale"), {})->Wait(),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("an append begun before this one failed")));
  a->ResumeAppends();
  ASSERT_TRUE(a->CatchUp(kCatchUp).ok());
  ASSERT_EQ(a->last_sequence(), 2u);
  for (const char* key : {"a0", "a1", "a2"}) {
    absl::StatusOr<std::optional<BatchLocation>> lost = a->FindBatch("pub", key);
    ASSERT_TRUE(lost.ok());
    EXPECT_FALSE(lost->has_value()) << key;
  }
  // Staged again on what `b` appended.
  pending.clear();
  for (uint64_t i = 0; i < 3; ++i) {
    const std::string key = absl::StrCat("a", i);
    pending.push_back(a->BeginAppend(TaggedEvents(3 + 3 * i, 3, key), {{"pub", key, 1, 3 + 3 * i, 3}}));
  }
  for (auto& p : pending) ASSERT_TRUE(p->Wait().ok());
  ASSERT_TRUE(b->CatchUp(kCatchUp).ok());
  ExpectSameJournal(*a, *b);
  EXPECT_EQ(b->last_sequence(), 11u);
  EXPECT_EQ(b->stream_sequence(), 4u);  // nothing of the refused appends is in the stream
}

// Two writers, each with up to kMaxAppendsInFlight appends in flight,
// catching up and staging again after a failure: one gap-free history, each
// acknowledged batch in it once at the sequences it was acknowledged with.
TEST_F(NatsJournalTest, ConcurrentWritersWithAppendsInFlightMakeOneGapFreeHistory) {
  NatsJournal* a = Replica("a.db");
  NatsJournal* b = Replica("b.db");
  ASSERT_TRUE(a && b);
  constexpr int kBatches = 40;
  absl::Mutex mu;
  std::map<std::string, uint64_t> acknowledged;  // batch key -> first sequence
  std::atomic<int> aborted{0};
  auto writer = [&](NatsJournal* log, const std::string& name) {
    int done = 0;
    for (int round = 0; done < kBatches; ++round) {
      ASSERT_LT(round, 400) << name;
      struct Begun {
        std::string key;
        uint64_t first;
        std::unique_ptr<PendingAppend> append;
      };
      std::vector<Begun> begun;
      uint64_t next = log->last_sequence() + 1;
      for (size_t i = 0; i < NatsJournal::kMaxAppendsInFlight && done + static_cast<int>(i) < kBatches; ++i) {
        const std::string key = absl::StrCat(name, done + static_cast<int>(i));
        const size_t count = 1 + (done + i) % 3;
        begun.push_back(
            {key, next, log->BeginAppend(TaggedEvents(next, count, key), {{name, key, 1, next, count}})});
        next += count;
      }
      bool failed = false;
      for (Begun& g : begun) {
        absl::Status s = g.append->Wait();
        if (s.ok()) {
          ASSERT_FALSE(failed) << g.key << " acknowledged after an earlier append failed";
          absl::MutexLock lock(&mu);
          acknowledged[g.key] = g.first;
          ++done;
        } else {
          ASSERT_EQ(s.code(), absl::StatusCode::kAborted) << s;
          failed = true;
        }
      }
      if (failed) {
        aborted.fetch_add(1);
        log->ResumeAppends();
        ASSERT_TRUE(log->CatchUp(kCatchUp).ok());
      }
    }
  };
  std::thread ta(writer, a, "a"), tb(writer, b, "b");
  ta.join();
  tb.join();
  ASSERT_TRUE(a->CatchUp(kCatchUp).ok());
  ASSERT_TRUE(b->CatchUp(kCatchUp).ok());
  ExpectSameJournal(*a, *b);
  const std::vector<EventPtr> events = ReadAll(*a);
  ASSERT_EQ(acknowledged.size(), 2u * kBatches);
  std::map<std::string, int> seen;
  for (const EventPtr& e : events) {
    const std::string concept_id = e->event().fact().key().concept_id();
    ++seen[concept_id.substr(0, concept_id.rfind('_'))];
  }
  for (const auto& [key, first] : acknowledged) {
    absl::StatusOr<std::optional<BatchLocation>> found = b->FindBatch(key.substr(0, 1), key);
    ASSERT_TRUE(found.ok() && found->has_value()) << key;
    EXPECT_EQ((*found)->first_sequence, first) << key;
    EXPECT_EQ(static_cast<size_t>(seen[key]), (*found)->count) << key << " is in the journal once";
    EXPECT_EQ(events[first - 1]->body(), TaggedEvents(first, 1, key)[0]->body()) << key;
  }
  EXPECT_EQ(seen.size(), acknowledged.size());
  std::cerr << "rounds with a failed append, staged again: " << aborted.load() << "\n";
}

// The whole cluster down with appends in flight: the first is UNAVAILABLE
// once retry_timeout passes and the later ones fail with it, in doubt; once
// the cluster is back, whatever of them was stored is applied from the
// stream and appending goes on.
TEST_F(NatsJournalTest, TheWholeClusterDownWithAppendsInFlight) {
  NatsJournalOptions options = Options("a.db");
  options.retry_timeout = absl::Seconds(2);
  options.request_timeout = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<NatsJournal>> opened = NatsJournal::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  NatsJournal* a = opened->get();
  ASSERT_TRUE(a->CatchUp(kCatchUp).ok());
  ASSERT_TRUE(a->Append(FactEvents(1, 2)).ok());
  for (int node = 0; node < 3; ++node) cluster_->Kill(node);
  std::vector<std::unique_ptr<PendingAppend>> pending;
  for (uint64_t i = 0; i < 3; ++i) {
    pending.push_back(a->BeginAppend(TaggedEvents(3 + 2 * i, 2, absl::StrCat("down", i)), {}));
  }
  const absl::Time start = absl::Now();
  EXPECT_THAT(pending[0]->Wait(), StatusIs(absl::StatusCode::kUnavailable));
  for (size_t i = 1; i < pending.size(); ++i) {
    EXPECT_THAT(pending[i]->Wait(), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("in doubt")));
  }
  std::cerr << "appends in flight failed after " << absl::Now() - start << "\n";
  EXPECT_EQ(a->last_sequence(), 2u);
  ASSERT_TRUE(cluster_->RestartAll().ok());
  RawClient raw(cluster_->url());
  ASSERT_TRUE(raw.WaitStreamCurrent("KESSAN", absl::Seconds(30)));
  a->ResumeAppends();
  absl::Status appended;
  for (int attempt = 0; attempt < 20; ++attempt) {
    ASSERT_TRUE(a->CatchUp(kCatchUp).ok());
    const uint64_t next = a->last_sequence() + 1;
    appended = a->Append(TaggedEvents(next, 2, "after"));
    if (appended.ok()) break;
    a->ResumeAppends();
  }
  ASSERT_TRUE(appended.ok()) << appended;
  // In doubt means at most once: what was stored is applied once, in order.
  NatsJournal* b = Replica("b.db");
  ASSERT_NE(b, nullptr);
  ExpectSameJournal(*a, *b);
  std::cerr << "of the 3 appends in doubt, " << (a->last_sequence() - 4) / 2 << " were stored\n";
}

TEST_F(NatsJournalTest, ABatchAppendedOnOneReplicaIsFoundOnAnother) {
  NatsJournal* a = Replica("a.db");
  NatsJournal* b = Replica("b.db");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Append(FactEvents(1, 4), {{"pub", "k1", 42, 1, 4}}).ok());
  ASSERT_TRUE(b->CatchUp(kCatchUp).ok());
  absl::StatusOr<std::optional<BatchLocation>> found = b->FindBatch("pub", "k1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->first_sequence, 1u);
  EXPECT_EQ((*found)->count, 4u);
  EXPECT_EQ((*found)->fingerprint, 42u);
}

// A replica reopened with its cache applies only what the stream got since.
TEST_F(NatsJournalTest, ARestartedReplicaAppliesOnlyTheNewMessages) {
  NatsJournal* a = Replica("a.db");
  ASSERT_NE(a, nullptr);
  for (uint64_t s = 1; s <= 10; s += 2) ASSERT_TRUE(a->Append(FactEvents(s, 2)).ok());
  NatsJournal* b = Replica("b.db");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->tail_applied_batches(), 5u);
  Close(b);
  ASSERT_TRUE(a->Append(FactEvents(11, 3)).ok());
  ASSERT_TRUE(a->Append(FactEvents(14, 1)).ok());
  b = Replica("b.db");
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->rebuilt_cache());
  EXPECT_EQ(b->tail_applied_batches(), 2u);
  ExpectSameJournal(*a, *b);
}

// Chunk 0 of 2 published by a writer that then died: never applied; the
// next append lands after it with the sequences it would have taken.
TEST_F(NatsJournalTest, AnOrphanPartialBatchIsSkippedByEveryReplica) {
  NatsJournal* a = Replica("a.db");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->Append(FactEvents(1, 2)).ok());
  RawClient raw(cluster_->url());
  EXPECT_EQ(raw.Publish(a->subject(), "half of a batch", {{"Kessan-Batch", "3"}, {"Kessan-Chunk", "0/2"}}),
            2u);
  NatsJournal* b = Replica("b.db");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->last_sequence(), 2u);
  EXPECT_EQ(b->stream_sequence(), 2u);
  ASSERT_TRUE(a->CatchUp(kCatchUp).ok());
  ASSERT_TRUE(a->Append(TaggedEvents(3, 2, "after")).ok());
  ASSERT_TRUE(b->CatchUp(kCatchUp).ok());
  ExpectSameJournal(*a, *b);
  EXPECT_EQ(b->last_sequence(), 4u);
  EXPECT_EQ(b->stream_sequence(), 3u);
  // A replica built from scratch agrees.
  NatsJournal* c = Replica("c.db");
  ASSERT_NE(c, nullptr);
  ExpectSameJournal(*a, *c);
}

// R3: with one node of three down, appends are still acknowledged (by the
// other two), and a replica on the remaining nodes reads them.
TEST_F(NatsJournalTest, AppendsGoOnWithOneNodeOfThreeDown) {
  NatsJournal* a = Replica("a.db");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->Append(FactEvents(1, 2)).ok());
  RawClient raw(cluster_->url());
  for (int down = 0; down < 3; ++down) {
    SCOPED_TRACE(absl::StrCat("node ", down, " killed"));
    cluster_->Kill(down);
    const uint64_t next = a->last_sequence() + 1;
    const absl::Time start = absl::Now();
    absl::Status appended = a->Append(FactEvents(next, 2));
    ASSERT_TRUE(appended.ok()) << appended;
    std::cerr << "append with node " << down << " down: " << absl::Now() - start << "\n";
    ASSERT_TRUE(cluster_->Restart(down).ok());
    ASSERT_TRUE(raw.WaitStreamCurrent("KESSAN", absl::Seconds(30)));
  }
  cluster_->Kill(1);
  NatsJournalOptions options = Options("b.db");
  options.url = absl::StrCat(cluster_->node_url(0), ",", cluster_->node_url(2));
  absl::StatusOr<std::unique_ptr<NatsJournal>> b = NatsJournal::Open(options);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE((*b)->CatchUp(kCatchUp).ok());
  ExpectSameJournal(*a, **b);
  EXPECT_EQ((*b)->last_sequence(), 8u);
}

class NatsJournalOneNodeTest : public NatsJournalTest {
 protected:
  int nodes() const override { return 1; }
};

TEST_F(NatsJournalOneNodeTest, AStreamThatCannotHoldTheJournalIsRefused) {
  RawClient raw(cluster_->url());
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = "ELSEWHERE";
  const char* subjects[] = {"elsewhere.>"};
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  ASSERT_EQ(js_AddStream(nullptr, raw.js(), &config, nullptr, nullptr), NATS_OK);
  NatsJournalOptions options = Options("a.db");
  options.stream = "ELSEWHERE";
  EXPECT_THAT(NatsJournal::Open(options).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("nats stream ELSEWHERE cannot hold the journal: it does not "
                                 "take subject ELSEWHERE.events")));
}

TEST_F(NatsJournalOneNodeTest, NoServerIsUnavailableNamingTheUrl) {
  NatsJournalOptions options = Options("a.db");
  cluster_->Kill(0);
  options.request_timeout = absl::Seconds(1);
  EXPECT_THAT(NatsJournal::Open(options).status(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr(absl::StrCat("cannot connect to ", cluster_->url()))));
}

// A cache made from another stream of the same name (deleted and created
// again) is dropped and rebuilt from the stream there now.
TEST_F(NatsJournalOneNodeTest, ACacheOfAnotherStreamIsRebuilt) {
  NatsJournal* a = Replica("a.db");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->Append(FactEvents(1, 3)).ok());
  Close(a);
  {
    RawClient raw(cluster_->url());
    ASSERT_EQ(js_DeleteStream(raw.js(), "KESSAN", nullptr, nullptr), NATS_OK);
  }
  NatsJournal* b = Replica("b.db");
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->Append(TaggedEvents(1, 1, "new")).ok());
  a = Replica("a.db");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->rebuilt_cache());
  ExpectSameJournal(*a, *b);
  EXPECT_EQ(a->last_sequence(), 1u);
}

// A cache that is not an SQLite journal any more, or whose side file is
// gone, is rebuilt from the stream.
TEST_F(NatsJournalOneNodeTest, ADamagedCacheIsRebuilt) {
  NatsJournal* a = Replica("a.db");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->Append(FactEvents(1, 3)).ok());
  ASSERT_TRUE(a->Append(FactEvents(4, 2)).ok());
  NatsJournal* b = Replica("b.db");
  ASSERT_NE(b, nullptr);
  Close(b);
  std::filesystem::remove(dir_.File("b.db.stream-seq"));
  b = Replica("b.db");
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->rebuilt_cache());
  EXPECT_EQ(b->tail_applied_batches(), 2u);
  ExpectSameJournal(*a, *b);
  Close(b);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(dir_.File(absl::StrCat("b.db", suffix)));
  }
  dir_.WriteFile("b.db", std::string(4096, 'x'));
  b = Replica("b.db");
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->rebuilt_cache());
  ExpectSameJournal(*a, *b);
}

// The cache's commits are not synced (the stream is the durable copy): after
// a power loss it may have lost its last commits. Lost alone, or with its
// -acked file, the loss is found and the cache rebuilt; lost with its side
// file too, the replica goes on from that older point. Either way the same
// history, and the next append takes the next number.
TEST_F(NatsJournalOneNodeTest, ACacheThatLostItsTailIsRebuiltOrCaughtUp) {
  NatsJournal* a = Replica("a.db");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->Append(FactEvents(1, 3)).ok());
  ASSERT_TRUE(a->Append(FactEvents(4, 2)).ok());
  NatsJournal* b = Replica("b.db");
  ASSERT_NE(b, nullptr);
  Close(b);  // the last close checkpoints: b.db alone holds 1-5
  const std::vector<std::string> files = {"b.db", "b.db-acked", "b.db.stream-seq"};
  for (const std::string& f : files) std::filesystem::copy_file(dir_.File(f), dir_.File(f + ".before"));
  ASSERT_TRUE(a->Append(FactEvents(6, 2)).ok());
  ASSERT_TRUE(a->Append(FactEvents(8, 1)).ok());
  for (size_t lost = 1; lost <= files.size(); ++lost) {
    SCOPED_TRACE(absl::StrCat("files that lost their tail: ", lost));
    b = Replica("b.db");
    ASSERT_NE(b, nullptr);
    ASSERT_EQ(b->last_sequence(), 8u);
    Close(b);
    for (const char* suffix : {"-wal", "-shm"})
      std::filesystem::remove(dir_.File(absl::StrCat("b.db", suffix)));
    for (size_t i = 0; i < lost; ++i) {
      std::filesystem::copy_file(dir_.File(files[i] + ".before"), dir_.File(files[i]),
                                 std::filesystem::copy_options::overwrite_existing);
    }
    b = Replica("b.db");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->rebuilt_cache(), lost < files.size());
    if (lost == files.size()) {
      EXPECT_EQ(b->tail_applied_batches(), 2u);
    }
    ExpectSameJournal(*a, *b);
    Close(b);
  }
  b = Replica("b.db");
  ASSERT_NE(b, nullptr);
  EXPECT_THAT(b->Append(FactEvents(8, 1)),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("sequence 8 is taken")));
  ASSERT_TRUE(b->Append(FactEvents(9, 1)).ok());
  ASSERT_TRUE(a->CatchUp(kCatchUp).ok());
  EXPECT_EQ(a->last_sequence(), 9u);
  ExpectSameJournal(*a, *b);
}

// The side file is overwritten in place with a hash: one whose bytes do not
// match their hash (a torn write) makes the cache rebuilt; the older format
// (version 1, written by rename) is still read.
TEST_F(NatsJournalOneNodeTest, ATornSideFileIsFoundAndAnOlderOneRead) {
  NatsJournal* a = Replica("a.db");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->Append(FactEvents(1, 3)).ok());
  ASSERT_TRUE(a->Append(FactEvents(4, 2)).ok());
  Close(a);
  const std::string side = dir_.File("a.db.stream-seq");
  std::vector<std::string> lines;
  {
    std::ifstream in(side);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "kessan-nats-cache 2");
  EXPECT_EQ(lines[3], "00000000000000000002");  // stream sequence
  EXPECT_EQ(lines[4], "00000000000000000005");  // event sequence
  {
    std::ofstream out(side, std::ios::trunc);
    out << "kessan-nats-cache 1\n" << lines[1] << "\n" << lines[2] << "\n2\n5\n";
  }
  a = Replica("a.db");
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(a->rebuilt_cache());
  EXPECT_EQ(a->tail_applied_batches(), 0u);
  ASSERT_TRUE(a->Append(FactEvents(6, 1)).ok());  // written anew, in version 2
  Close(a);
  std::string torn;
  {
    std::ifstream in(side);
    torn.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_TRUE(absl::StartsWith(torn, "kessan-nats-cache 2\n")) << torn;
  const size_t at = torn.find("00000000000000000003");
  ASSERT_NE(at, std::string::npos) << torn;
  torn[at + 19] = '2';  // stream sequence 2: parses, but the hash no longer matches
  dir_.WriteFile("a.db.stream-seq", torn);
  a = Replica("a.db");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->rebuilt_cache());
  EXPECT_EQ(a->last_sequence(), 6u);
  EXPECT_EQ(a->tail_applied_batches(), 3u);
}

// A new replica builds its cache from 1,000 batches (20,000 events); the
// rate is printed (README figures), the result checked.
TEST_F(NatsJournalOneNodeTest, ANewReplicaCatchesUpWithAThousandBatches) {
  NatsJournal* a = Replica("a.db");
  ASSERT_NE(a, nullptr);
  for (uint64_t s = 1; s <= 20000; s += 20) ASSERT_TRUE(a->Append(FactEvents(s, 20)).ok());
  const absl::Time start = absl::Now();
  NatsJournal* b = Replica("b.db");
  ASSERT_NE(b, nullptr);
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(b->tail_applied_batches(), 1000u);
  ExpectSameJournal(*a, *b);
  std::cerr << "catch-up of 20000 events in 1000 batches: " << took << ", "
            << static_cast<int64_t>(20000 / absl::ToDoubleSeconds(took)) << " events/s\n";
}

}  // namespace
}  // namespace kessan
