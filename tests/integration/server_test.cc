// End-to-end tests of kessan::Server over gRPC on 127.0.0.1: the IIJ data
// set served from its seed, live delivery, bad input, restart and resume.
#include "kessan/server.h"

#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "feed_test_util.h"
#include "google/protobuf/text_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "kessan/v1/feed.grpc.pb.h"

namespace kessan {
namespace {

class ServerTest : public FeedServerTest {};

const v1::Fact* FindFact(const v1::GetSnapshotResponse& snapshot, const std::string& concept_id,
                         int fiscal_year, v1::PeriodKind kind, int number) {
  for (const auto& e : snapshot.events()) {
    if (!e.has_fact()) continue;
    const v1::FactKey& key = e.fact().key();
    if (key.concept_id() == concept_id && key.period().fiscal_year() == fiscal_year &&
        key.period().kind() == kind && key.period().number() == number && key.segment().empty() &&
        !key.has_comparison_period()) {
      return &e.fact();
    }
  }
  return nullptr;
}

TEST_F(ServerTest, ServesTheIijDataSetFromItsSeed) {
  v1::GetSnapshotResponse snapshot = Snapshot();
  ASSERT_GT(snapshot.sequence(), 0u);
  ASSERT_EQ(static_cast<uint64_t>(snapshot.events_size()), snapshot.sequence());

  const v1::Fact* revenue = FindFact(snapshot, "revenue", 2002, v1::PERIOD_KIND_QUARTER, 4);
  ASSERT_NE(revenue, nullptr);
  EXPECT_EQ(revenue->key().issuer(), "IIJ");
  EXPECT_EQ(revenue->value().money().currency_code(), "JPY");
  EXPECT_EQ(revenue->value().money().units(), 13'000'000'000);
  EXPECT_EQ(revenue->value().precision().decimals(), -9);
  EXPECT_EQ(revenue->revision(), 1);
  EXPECT_EQ(revenue->key().period().start_date().month(), 1);
  EXPECT_EQ(revenue->key().period().end_date().year(), 2003);

  const v1::Fact* loss = FindFact(snapshot, "operating_income", 2002, v1::PERIOD_KIND_FULL_YEAR, 0);
  ASSERT_NE(loss, nullptr);
  EXPECT_EQ(loss->value().money().units(), -1'700'000'000);

  int placements = 0;
  for (const auto& e : snapshot.events()) {
    if (!e.has_capital_action()) continue;
    const v1::PrivatePlacement& pp = e.capital_action().private_placement();
    EXPECT_EQ(pp.shares(), 8400);
    EXPECT_EQ(pp.issue_price().units(), 418'200);
    EXPECT_EQ(pp.amount_not_credited_per_share().units(), 209'100);
    ++placements;
  }
  EXPECT_EQ(placements, 1);

  // Filters select: facts of one concept, by an OCR alias of the issuer.
  v1::GetSnapshotResponse filtered = Snapshot(R"pb(issuers: "11J" concepts: "adjusted_ebitda")pb");
  ASSERT_GT(filtered.events_size(), 0);
  for (const auto& e : filtered.events()) {
    ASSERT_TRUE(e.has_fact());
    EXPECT_EQ(e.fact().key().concept_id(), "adjusted_ebitda");
  }
}

TEST_F(ServerTest, SubscriberSeesSnapshotThenRevisionLive) {
  uint64_t head = Snapshot().sequence();
  v1::SubscribeRequest request;
  request.mutable_filter()->add_concepts("revenue");
  StreamCollector stream(*stub_, request);

  std::vector<v1::FeedEvent> seen = stream.WaitFor(1);
  ASSERT_FALSE(seen.empty());
  ASSERT_TRUE(seen.front().has_snapshot_begin());
  EXPECT_EQ(seen.front().snapshot_begin().sequence(), head);
  size_t snapshot_size = 0;
  while (seen.empty() || !seen.back().has_snapshot_end()) {
    size_t before = seen.size();
    seen = stream.WaitFor(seen.size() + 1);
    ASSERT_GT(seen.size(), before) << "snapshot did not end";
  }
  snapshot_size = seen.size() - 2;
  EXPECT_EQ(seen.back().snapshot_end().item_count(), snapshot_size);
  EXPECT_GT(snapshot_size, 0u);
  uint64_t original = 0;
  for (size_t i = 1; i + 1 < seen.size(); ++i) {
    ASSERT_EQ(seen[i].fact().key().concept_id(), "revenue");
    if (seen[i].fact().key().period().fiscal_year() == 2002 && seen[i].fact().key().period().number() == 4 &&
        !seen[i].fact().key().has_comparison_period()) {
      original = seen[i].sequence();
    }
  }
  ASSERT_NE(original, 0u);

  v1::PublishResponse published;
  ASSERT_TRUE(Publish(Batch({RevenueItem(2002, 13'100'000'000)}), &published).ok());
  ASSERT_EQ(published.sequences_size(), 1);
  EXPECT_EQ(published.sequences(0), head + 1);

  seen = stream.WaitFor(seen.size() + 1);
  const v1::FeedEvent& live = seen.back();
  ASSERT_TRUE(live.has_fact());
  EXPECT_EQ(live.sequence(), head + 1);
  EXPECT_EQ(live.fact().revision(), 2);
  EXPECT_EQ(live.fact().supersedes_sequence(), original);
  EXPECT_EQ(live.fact().value().money().units(), 13'100'000'000);

  // The snapshot now holds the revision only.
  const v1::GetSnapshotResponse snapshot = Snapshot();  // FindFact points into it
  const v1::Fact* latest = FindFact(snapshot, "revenue", 2002, v1::PERIOD_KIND_QUARTER, 4);
  ASSERT_NE(latest, nullptr);
  EXPECT_EQ(latest->revision(), 2);
}

TEST_F(ServerTest, InvalidBatchIsRefusedWholeAndChangesNothing) {
  uint64_t head = Snapshot().sequence();
  v1::PublishItem bad = RevenueItem(2002, 1);
  bad.mutable_fact()->mutable_value()->mutable_money()->set_nanos(5);
  v1::PublishResponse response;
  grpc::Status status = Publish(Batch({RevenueItem(2003, 5), bad}), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("items[1].fact.value.money.nanos"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(Snapshot().sequence(), head);
  EXPECT_EQ(FindFact(Snapshot(), "revenue", 2003, v1::PERIOD_KIND_QUARTER, 4), nullptr);

  // The server keeps serving, and a good batch then gets the next sequence.
  ASSERT_TRUE(Publish(Batch({RevenueItem(2003, 5)}), &response).ok());
  EXPECT_EQ(response.sequences(0), head + 1);
}

// Bytes that are not a request: INVALID_ARGUMENT naming the request type,
// on each of the six methods, and nothing changes.
TEST_F(ServerTest, EveryMethodAnswersUndecodableBytesWithInvalidArgument) {
  uint64_t head = Snapshot().sequence();
  grpc::GenericStub generic(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  for (const char* method :
       {"/kessan.v1.FeedService/Publish", "/kessan.v1.FeedService/GetSnapshot",
        "/kessan.v1.FeedService/Subscribe", "/kessan.v1.ScenarioService/ListScenarios",
        "/kessan.v1.ScenarioService/RunScenario", "/kessan.v1.ScenarioService/WatchScenario"}) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    grpc::CompletionQueue cq;
    grpc::Slice garbage(std::string("\x0a\xff\xff\xff\xff\x0f", 6));  // a length past the end
    grpc::ByteBuffer request(&garbage, 1), response;
    auto call = generic.PrepareUnaryCall(&context, method, request, &cq);
    call->StartCall();
    grpc::Status status;
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << method << ": " << status.error_message();
    const std::string type = std::string(method).substr(std::string(method).rfind('/') + 1);
    EXPECT_NE(status.error_message().find(absl::StrCat("kessan.v1.", type, "Request")), std::string::npos)
        << method << ": " << status.error_message();
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
  }
  EXPECT_EQ(Snapshot().sequence(), head);
}

// One batch revises an item once: the same key twice, also when one names
// the issuer by its OCR alias, is refused naming both, and nothing is stored.
TEST_F(ServerTest, TheSameKeyTwiceInOneBatchIsRefused) {
  const uint64_t head = server_->last_sequence();
  v1::PublishItem alias = RevenueItem(2002, 13'200'000'000);
  alias.mutable_fact()->mutable_key()->set_issuer("11J");
  v1::PublishResponse response;
  grpc::Status status =
      Publish(Batch({RevenueItem(2002, 13'100'000'000), RevenueItem(2003, 1), alias}), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("items[2]: has the same key fact:IIJ/revenue/FY2002Q4 as items[0]"),
            std::string::npos)
      << status.error_message();
  EXPECT_EQ(server_->last_sequence(), head);
  const v1::GetSnapshotResponse snapshot = Snapshot();  // FindFact points into it
  EXPECT_EQ(snapshot.sequence(), head);
  const v1::Fact* revenue = FindFact(snapshot, "revenue", 2002, v1::PERIOD_KIND_QUARTER, 4);
  ASSERT_NE(revenue, nullptr);
  EXPECT_EQ(revenue->revision(), 1);
}

// A health watcher of a service sees it SERVING, then NOT_SERVING when the
// server shuts down.
TEST_F(ServerTest, HealthTurnsNotServingAtShutdown) {
  using grpc::health::v1::HealthCheckResponse;
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("kessan.v1.FeedService");
  auto watch = health->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  std::thread stop([this] { server_->Shutdown(absl::Seconds(10)); });
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  context.TryCancel();  // the server waits for open calls
  stop.join();
}

// With a Server started, libprotobuf's own errors are spdlog lines, not raw
// lines on stderr beside spdlog's.
TEST_F(ServerTest, ProtobufLogsAreSpdlogLines) {
  std::ostringstream lines;
  auto capture =
      std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(lines));
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  spdlog::set_default_logger(capture);
  testing::internal::CaptureStderr();
  v1::Filter filter;
  // Bad text: libprotobuf logs "Error parsing text-format kessan.v1.Filter".
  const bool parsed = google::protobuf::TextFormat::ParseFromString("issuers: 7 7", &filter);
  const std::string stderr_text = testing::internal::GetCapturedStderr();
  spdlog::set_default_logger(previous);
  EXPECT_FALSE(parsed);
  EXPECT_THAT(lines.str(),
              testing::AllOf(testing::HasSubstr("protobuf: "), testing::HasSubstr("text_format.cc:"),
                             testing::HasSubstr("Error parsing text-format kessan.v1.Filter")));
  EXPECT_THAT(stderr_text, testing::Not(testing::HasSubstr("Error parsing text-format")));
}

TEST_F(ServerTest, SubscriptionNamingNothingValidIsRefused) {
  v1::SubscribeRequest request;
  request.mutable_filter()->add_issuers("NOPE");
  StreamCollector stream(*stub_, request);
  grpc::Status status = stream.WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("filter.issuers[0]"), std::string::npos);

  v1::SubscribeRequest beyond;
  beyond.set_start(v1::START_MODE_FROM_SEQUENCE);
  beyond.set_from_sequence(Snapshot().sequence() + 10);
  StreamCollector late(*stub_, beyond);
  EXPECT_EQ(late.WaitDone().error_code(), grpc::StatusCode::OUT_OF_RANGE);
}

TEST_F(ServerTest, StateAndSequencesSurviveRestartAndResumeHasNoGap) {
  v1::PublishResponse response;
  for (int year = 2003; year < 2008; ++year) {
    ASSERT_TRUE(Publish(Batch({RevenueItem(year, year)}), &response).ok());
  }
  v1::GetSnapshotResponse before = Snapshot();
  RestartServer();
  v1::GetSnapshotResponse after = Snapshot();
  ASSERT_EQ(after.sequence(), before.sequence());
  ASSERT_EQ(after.events_size(), before.events_size());
  for (int i = 0; i < after.events_size(); ++i) {
    EXPECT_EQ(after.events(i).SerializeAsString(), before.events(i).SerializeAsString());
  }
  // The seed is not loaded again into a journal that has events.
  uint64_t head = after.sequence();

  ASSERT_TRUE(Publish(Batch({RevenueItem(2003, 42)}), &response).ok());
  EXPECT_EQ(response.sequences(0), head + 1);
  EXPECT_EQ(response.events(0).fact().revision(), 2);

  const uint64_t k = head - 3;
  v1::SubscribeRequest resume;
  resume.set_start(v1::START_MODE_FROM_SEQUENCE);
  resume.set_from_sequence(k);
  StreamCollector stream(*stub_, resume);
  std::vector<v1::FeedEvent> seen = stream.WaitFor(head + 1 - k);
  ASSERT_EQ(seen.size(), head + 1 - k);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].sequence(), k + 1 + i);

  ASSERT_TRUE(Publish(Batch({RevenueItem(2004, 43)}), &response).ok());
  seen = stream.WaitFor(head + 2 - k);
  ASSERT_EQ(seen.size(), head + 2 - k);
  EXPECT_EQ(seen.back().sequence(), head + 2);
}

TEST_F(ServerTest, ConcurrentSubscribersReceiveTheSameOrderedEvents) {
  constexpr int kSubscribers = 4;
  constexpr int kBatches = 50;
  constexpr int kPerBatch = 4;
  uint64_t head = Snapshot().sequence();
  // An empty snapshot (no fact has this concept yet) proves each stream is
  // registered before the burst: SnapshotBegin, SnapshotEnd.
  v1::SubscribeRequest request;
  request.mutable_filter()->add_concepts("burst_revenue");
  std::vector<std::unique_ptr<StreamCollector>> streams;
  for (int i = 0; i < kSubscribers; ++i) {
    streams.push_back(std::make_unique<StreamCollector>(*stub_, request));
  }
  for (auto& s : streams) {
    std::vector<v1::FeedEvent> seen = s->WaitFor(2);
    ASSERT_EQ(seen.size(), 2u);
    ASSERT_TRUE(seen[1].has_snapshot_end());
  }
  std::thread publisher([&] {
    for (int b = 0; b < kBatches; ++b) {
      std::vector<v1::PublishItem> items;
      for (int i = 0; i < kPerBatch; ++i) {
        items.push_back(RevenueItem(2011 + i, b));
        items.back().mutable_fact()->mutable_key()->set_concept_id("burst_revenue");
      }
      v1::PublishResponse r;
      EXPECT_TRUE(Publish(Batch(std::move(items)), &r).ok());
    }
  });
  publisher.join();
  const size_t expected = 2 + kBatches * kPerBatch;
  for (auto& s : streams) {
    std::vector<v1::FeedEvent> seen = s->WaitFor(expected);
    ASSERT_EQ(seen.size(), expected);
    for (size_t i = 2; i < seen.size(); ++i) {
      ASSERT_EQ(seen[i].sequence(), head + i - 1);
      ASSERT_EQ(seen[i].fact().revision(), static_cast<int>((i - 2) / kPerBatch) + 1);
    }
  }
}

// A backlog is sent in messages of several events, each bounded in count
// and in bytes, in order and without a gap.
TEST_F(ServerTest, ABacklogComesInMessagesBoundedInCountAndBytes) {
  constexpr size_t kMaxEvents = 1024;
  constexpr size_t kMaxBytes = 256 * 1024;
  const uint64_t head = Snapshot().sequence();
  size_t published = 0;
  for (int b = 0; b < 3; ++b) {  // small events: the count binds
    std::vector<v1::PublishItem> items;
    for (int i = 0; i < 1000; ++i) items.push_back(QuarterItem(i, b * 1000 + i));
    v1::PublishResponse r;
    ASSERT_TRUE(Publish(Batch(std::move(items)), &r).ok());
    published += 1000;
  }
  for (int b = 0; b < 2; ++b) {  // 4 KB events: the bytes bind
    std::vector<v1::PublishItem> items;
    for (int i = 0; i < 150; ++i) {
      items.push_back(QuarterItem(i, i));
      items.back().mutable_fact()->mutable_provenance()->set_note(std::string(4000, 'n'));
    }
    v1::PublishResponse r;
    ASSERT_TRUE(Publish(Batch(std::move(items)), &r).ok());
    published += 150;
  }
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_FROM_SEQUENCE);
  request.set_from_sequence(head);
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  auto reader = stub_->Subscribe(&context, request);
  v1::SubscribeResponse response;
  uint64_t next = head + 1;
  size_t most_events = 0, most_bytes = 0, messages = 0;
  while (next <= head + published && reader->Read(&response)) {
    ++messages;
    size_t largest = 0;
    for (const v1::FeedEvent& e : response.events()) {
      if (e.sequence() == 0) continue;  // a heartbeat
      ASSERT_EQ(e.sequence(), next);
      ++next;
      largest = std::max(largest, e.ByteSizeLong());
    }
    EXPECT_LE(static_cast<size_t>(response.events_size()), kMaxEvents);
    // The event that crosses the bound is the message's last.
    EXPECT_LE(response.ByteSizeLong(), kMaxBytes + largest + 8);
    most_events = std::max(most_events, static_cast<size_t>(response.events_size()));
    most_bytes = std::max(most_bytes, response.ByteSizeLong());
  }
  context.TryCancel();
  EXPECT_EQ(next, head + published + 1);
  // Batched, not one message per event, and the bytes bound was reached.
  EXPECT_GT(most_events, 256u);
  EXPECT_GT(most_bytes, kMaxBytes / 2);
  EXPECT_LT(messages, published / 50);
}

}  // namespace
}  // namespace kessan
