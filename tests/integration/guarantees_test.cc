// The feed's guarantees over gRPC on 127.0.0.1: heartbeats, slow consumers
// (disconnect or conflate, without delaying others), idempotent publish,
// resume past the retention horizon, restatements in point-in-time views.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "feed_test_util.h"
#include "google/protobuf/util/time_util.h"

namespace kessan {
namespace {

using google::protobuf::util::TimeUtil;

// A fact of `concept_id` for quarter `key` (QuarterItem), padded to about
// `pad` bytes so a few thousand of them fill a stalled stream.
v1::PublishItem PaddedItem(const std::string& concept_id, int key, int64_t units, size_t pad) {
  v1::PublishItem item = QuarterItem(key, units);
  item.mutable_fact()->mutable_key()->set_concept_id(concept_id);
  item.mutable_fact()->mutable_provenance()->set_note(std::string(pad, 'x'));
  return item;
}

// Publishes `batches` batches of `per_batch` revisions cycling over `keys`
// quarters; values count up from 1 so the last value per key is known. A
// batch holds an item once: per_batch must not exceed keys.
void PublishRevisions(v1::FeedService::Stub& stub, const std::string& concept_id, int batches, int per_batch,
                      int keys, size_t pad) {
  ASSERT_LE(per_batch, keys);
  int64_t value = 0;
  for (int b = 0; b < batches; ++b) {
    std::vector<v1::PublishItem> items;
    for (int i = 0; i < per_batch; ++i) {
      ++value;
      items.push_back(PaddedItem(concept_id, static_cast<int>(value % keys), value, pad));
    }
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::PublishResponse response;
    grpc::Status status = stub.Publish(&context, Batch(std::move(items)), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
}

// The quarter a fact is for, as one number (2002 Q4: 20024).
int QuarterOf(const v1::FeedEvent& e) {
  return e.fact().key().period().fiscal_year() * 10 + e.fact().key().period().number();
}

// A stub on its own channel whose receive window stays small (no BDP
// probing), so a subscriber that does not read stalls the server's writes.
std::unique_ptr<v1::FeedService::Stub> StallingStub(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  return v1::FeedService::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args));
}

// Reads `reader` until its (empty) snapshot has ended: from then on the
// subscription is registered, and the caller may stop reading.
void ReadThroughSnapshot(grpc::ClientReader<v1::SubscribeResponse>& reader) {
  v1::SubscribeResponse response;
  bool ended = false;
  while (!ended && reader.Read(&response)) {
    for (const auto& e : response.events()) ended = ended || e.has_snapshot_end();
  }
  ASSERT_TRUE(ended);
}

class GuaranteesTest : public FeedServerTest {
 protected:
  void Adjust(ServerOptions& options) override {
    // Above one publish batch (500), far below a burst (10,000).
    options.max_queued_events = 2048;
    options.retain_events = retain_events_;
  }
  uint64_t retain_events_ = 0;
};

TEST_F(GuaranteesTest, IdleStreamGetsHeartbeatsCarryingTheLastSequence) {
  uint64_t head = server_->last_sequence();
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_LIVE_ONLY);
  request.set_heartbeat_interval_ms(150);
  StreamCollector stream(*stub_, request);
  std::vector<v1::FeedEvent> seen = stream.WaitFor(2);
  ASSERT_GE(seen.size(), 2u);
  for (const auto& e : seen) {
    ASSERT_TRUE(e.has_heartbeat());
    EXPECT_EQ(e.sequence(), 0u);
    EXPECT_EQ(e.heartbeat().last_sequence(), head);
  }
}

TEST_F(GuaranteesTest, StalledSubscriberIsDisconnectedWithResumePointAndOthersGetAll) {
  constexpr int kBatches = 20, kPerBatch = 500;
  uint64_t head = server_->last_sequence();
  // Snapshot first (empty: no "burst" fact yet), so that its end proves the
  // subscription is registered.
  v1::SubscribeRequest live;
  live.mutable_filter()->add_concepts("burst");
  // The stalled subscriber: a stream nobody reads until the burst is over.
  auto stalling_stub = StallingStub(server_->port());
  grpc::ClientContext stalled_context;
  stalled_context.set_deadline(Deadline());
  auto stalled = stalling_stub->Subscribe(&stalled_context, live);
  ReadThroughSnapshot(*stalled);
  // The healthy subscriber reads all along.
  StreamCollector healthy(*stub_, live);
  ASSERT_EQ(healthy.WaitFor(2).size(), 2u);

  PublishRevisions(*stub_, "burst", kBatches, kPerBatch, kPerBatch, 1000);
  const size_t total = kBatches * kPerBatch;
  std::vector<v1::FeedEvent> seen = healthy.WaitFor(2 + total);
  ASSERT_EQ(seen.size(), 2 + total);
  for (size_t i = 0; i < total; ++i) ASSERT_EQ(seen[2 + i].sequence(), head + 1 + i);

  // Now the stalled one reads: what it got, in order, then the end with
  // the sequence to resume from.
  v1::SubscribeResponse response;
  uint64_t last = head;
  while (stalled->Read(&response)) {
    for (const auto& e : response.events()) {
      ASSERT_EQ(e.sequence(), last + 1);
      last = e.sequence();
    }
  }
  grpc::Status status = stalled->Finish();
  ASSERT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_LT(last, head + total);
  EXPECT_NE(status.error_message().find(absl::StrCat("from_sequence=", last)), std::string::npos)
      << status.error_message() << " last received " << last;

  // Resuming from there yields the rest, without a gap.
  v1::SubscribeRequest resume;
  resume.set_start(v1::START_MODE_FROM_SEQUENCE);
  resume.set_from_sequence(last);
  resume.mutable_filter()->add_concepts("burst");
  StreamCollector rest(*stub_, resume);
  std::vector<v1::FeedEvent> missed = rest.WaitFor(head + total - last);
  ASSERT_EQ(missed.size(), head + total - last);
  EXPECT_EQ(missed.front().sequence(), last + 1);
  EXPECT_EQ(missed.back().sequence(), head + total);
}

TEST_F(GuaranteesTest, ConflatingSubscriberKeepsTheLatestPerKeyAndSaysSo) {
  constexpr int kKeys = 500;  // each revised 20 times
  v1::SubscribeRequest request;
  request.set_slow_consumer_policy(v1::SLOW_CONSUMER_POLICY_CONFLATE);
  request.mutable_filter()->add_concepts("burst");
  auto stalling_stub = StallingStub(server_->port());
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  auto stalled = stalling_stub->Subscribe(&context, request);
  ReadThroughSnapshot(*stalled);

  PublishRevisions(*stub_, "burst", 20, 500, kKeys, 1000);
  v1::GetSnapshotRequest snapshot_request;
  snapshot_request.mutable_filter()->add_concepts("burst");
  v1::GetSnapshotResponse final_state;
  {
    grpc::ClientContext c;
    ASSERT_TRUE(stub_->GetSnapshot(&c, snapshot_request, &final_state).ok());
  }
  std::map<int, int64_t> want;  // quarter -> last value
  for (const auto& e : final_state.events()) {
    want[QuarterOf(e)] = e.fact().value().money().units();
  }

  // Read until every key shows its final value; count the conflation marks.
  std::map<int, int64_t> got;
  uint64_t conflated = 0, events = 0, last = 0;
  v1::SubscribeResponse response;
  while (got != want && stalled->Read(&response)) {
    for (const auto& e : response.events()) {
      if (e.has_conflated()) {
        conflated = e.conflated().conflated_count();
        continue;
      }
      ASSERT_TRUE(e.has_fact());
      ASSERT_GT(e.sequence(), last) << "conflation must keep sequence order";
      last = e.sequence();
      ++events;
      got[QuarterOf(e)] = e.fact().value().money().units();
    }
  }
  EXPECT_EQ(got, want);
  EXPECT_GT(conflated, 0u);
  EXPECT_LT(events, 20u * 500);
  context.TryCancel();
  stalled->Finish();
}

TEST_F(GuaranteesTest, RetriedPublishIsAppliedOnce) {
  v1::PublishRequest request = Batch({RevenueItem(2020, 1), RevenueItem(2021, 2)});
  request.set_publisher_id("desk-7");
  request.set_batch_key("batch-0001");
  v1::PublishResponse first, again;
  ASSERT_TRUE(Publish(request, &first).ok());
  uint64_t head = server_->last_sequence();
  ASSERT_TRUE(Publish(request, &again).ok());
  EXPECT_TRUE(again.duplicate());
  EXPECT_FALSE(first.duplicate());
  ASSERT_EQ(again.sequences_size(), 2);
  EXPECT_EQ(again.sequences(0), first.sequences(0));
  EXPECT_EQ(again.sequences(1), first.sequences(1));
  EXPECT_EQ(again.events(1).SerializeAsString(), first.events(1).SerializeAsString());
  EXPECT_EQ(server_->last_sequence(), head);

  // The same key for other items is refused, not silently deduplicated.
  v1::PublishRequest other = request;
  other.mutable_items(0)->mutable_fact()->mutable_value()->mutable_money()->set_units(99);
  v1::PublishResponse refused;
  EXPECT_EQ(Publish(other, &refused).error_code(), grpc::StatusCode::ALREADY_EXISTS);

  // And across a restart.
  RestartServer();
  ASSERT_TRUE(Publish(request, &again).ok());
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.sequences(0), first.sequences(0));
  EXPECT_EQ(server_->last_sequence(), head);
}

TEST_F(GuaranteesTest, PublishesWhoseResponsesWereLostAreAppliedOnceOnRetry) {
  constexpr int kBatches = 20;
  uint64_t head = server_->last_sequence();
  auto request = [](int i) {
    v1::PublishRequest r = Batch({RevenueItem(2100 + i, 1000 + i)});
    r.set_publisher_id("desk-9");
    r.set_batch_key(absl::StrCat("timeout-", i));
    return r;
  };
  // A deadline too short for the answer: the batch may or may not be applied.
  for (int i = 0; i < kBatches; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::microseconds(200));
    v1::PublishResponse lost;
    stub_->Publish(&context, request(i), &lost).ok();
  }
  for (int i = 0; i < kBatches; ++i) {
    v1::PublishResponse response;
    ASSERT_TRUE(Publish(request(i), &response).ok());
  }
  EXPECT_EQ(server_->last_sequence(), head + kBatches);
  v1::SubscribeRequest replay;
  replay.set_start(v1::START_MODE_FROM_SEQUENCE);
  replay.set_from_sequence(head);
  StreamCollector stream(*stub_, replay);
  std::vector<v1::FeedEvent> seen = stream.WaitFor(kBatches);
  ASSERT_EQ(seen.size(), static_cast<size_t>(kBatches));
  std::set<int> years;
  for (const auto& e : seen) years.insert(e.fact().key().period().fiscal_year());
  EXPECT_EQ(years.size(), static_cast<size_t>(kBatches));
}

class RetentionTest : public GuaranteesTest {
 protected:
  void SetUp() override {
    retain_events_ = 40;
    GuaranteesTest::SetUp();
  }
};

TEST_F(RetentionTest, ResumeFromBeforeTheHorizonGetsResyncThenSnapshot) {
  PublishRevisions(*stub_, "churn", 60, 5, 5, 10);
  uint64_t head = server_->last_sequence();

  v1::SubscribeRequest old;
  old.set_start(v1::START_MODE_FROM_SEQUENCE);
  old.set_from_sequence(3);
  StreamCollector stream(*stub_, old);
  std::vector<v1::FeedEvent> seen = stream.WaitFor(2);
  ASSERT_GE(seen.size(), 2u);
  ASSERT_TRUE(seen[0].has_resync()) << seen[0].DebugString();
  EXPECT_EQ(seen[0].resync().requested_sequence(), 3u);
  EXPECT_GT(seen[0].resync().oldest_available_sequence(), 4u);
  EXPECT_LE(seen[0].resync().oldest_available_sequence(), head - 40 + 1);
  ASSERT_TRUE(seen[1].has_snapshot_begin());
  while (!seen.back().has_snapshot_end()) {
    size_t before = seen.size();
    seen = stream.WaitFor(before + 1);
    ASSERT_GT(seen.size(), before);
  }
  // The snapshot holds the latest of the 5 churned keys.
  int churn = 0;
  for (const auto& e : seen) {
    if (e.has_fact() && e.fact().key().concept_id() == "churn") ++churn;
  }
  EXPECT_EQ(churn, 5);

  // Inside the window: exactly the events after the point asked for.
  v1::SubscribeRequest recent;
  recent.set_start(v1::START_MODE_FROM_SEQUENCE);
  recent.set_from_sequence(head - 10);
  StreamCollector exact(*stub_, recent);
  std::vector<v1::FeedEvent> tail = exact.WaitFor(10);
  ASSERT_EQ(tail.size(), 10u);
  for (size_t i = 0; i < tail.size(); ++i) EXPECT_EQ(tail[i].sequence(), head - 9 + i);

  // A restart keeps the latest revision of every item.
  v1::GetSnapshotResponse before = Snapshot();
  RestartServer();
  EXPECT_EQ(Snapshot().SerializeAsString(), before.SerializeAsString());
}

TEST_F(GuaranteesTest, RestatementsAnswerFirstReportedLatestAndAsOf) {
  v1::PublishResponse r1, r2, r3;
  ASSERT_TRUE(Publish(Batch({RevenueItem(2030, 100)}), &r1).ok());
  ASSERT_TRUE(Publish(Batch({RevenueItem(2030, 200)}), &r2).ok());
  ASSERT_TRUE(Publish(Batch({RevenueItem(2030, 300)}), &r3).ok());
  auto known_at = [](const v1::PublishResponse& r) { return r.events(0).fact().known_at(); };

  auto value_in = [&](v1::RevisionView view, const google::protobuf::Timestamp* as_of) {
    v1::GetSnapshotRequest request;
    request.mutable_filter()->add_concepts("revenue");
    request.mutable_point_in_time()->set_view(view);
    if (as_of) *request.mutable_point_in_time()->mutable_as_of() = *as_of;
    grpc::ClientContext context;
    v1::GetSnapshotResponse response;
    EXPECT_TRUE(stub_->GetSnapshot(&context, request, &response).ok());
    for (const auto& e : response.events()) {
      if (e.fact().key().period().fiscal_year() == 2030) return e.fact().value().money().units();
    }
    return int64_t{-1};
  };
  EXPECT_EQ(value_in(v1::REVISION_VIEW_FIRST_REPORTED, nullptr), 100);
  EXPECT_EQ(value_in(v1::REVISION_VIEW_LATEST, nullptr), 300);
  auto t2 = known_at(r2);
  EXPECT_EQ(value_in(v1::REVISION_VIEW_AS_OF, &t2), 200);
  auto before_first = TimeUtil::NanosecondsToTimestamp(TimeUtil::TimestampToNanoseconds(known_at(r1)) - 1);
  EXPECT_EQ(value_in(v1::REVISION_VIEW_AS_OF, &before_first), -1);

  // A retraction is an event too: it leaves LATEST, not the history.
  v1::SubscribeRequest live;
  live.set_start(v1::START_MODE_LIVE_ONLY);
  live.mutable_filter()->add_event_kinds(v1::EVENT_KIND_FACT);
  StreamCollector stream(*stub_, live);
  PublishRevisions(*stub_, "marker", 1, 1, 1, 1);
  ASSERT_EQ(stream.WaitFor(1).size(), 1u);

  v1::PublishItem retract;
  *retract.mutable_retraction()->mutable_item()->mutable_fact() = r3.events(0).fact().key();
  retract.mutable_retraction()->set_reason("figure published in error");
  v1::PublishResponse retracted;
  ASSERT_TRUE(Publish(Batch({retract}), &retracted).ok());
  EXPECT_EQ(retracted.events(0).retraction().revision(), 4);
  EXPECT_EQ(retracted.events(0).retraction().supersedes_sequence(), r3.sequences(0));
  std::vector<v1::FeedEvent> seen = stream.WaitFor(2);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[1].has_retraction());

  EXPECT_EQ(value_in(v1::REVISION_VIEW_LATEST, nullptr), -1);
  EXPECT_EQ(value_in(v1::REVISION_VIEW_FIRST_REPORTED, nullptr), 100);
  auto t3 = known_at(r3);
  EXPECT_EQ(value_in(v1::REVISION_VIEW_AS_OF, &t3), 300);
  // Retracting again names the rule.
  v1::PublishResponse twice;
  grpc::Status status = Publish(Batch({retract}), &twice);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("items[0].retraction.item"), std::string::npos);
}

}  // namespace
}  // namespace kessan
