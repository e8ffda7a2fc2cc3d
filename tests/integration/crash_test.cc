// kill -9 of a real kessand during a burst from concurrent publishers: after
// a restart every acknowledged event is there exactly once, sequences are
// contiguous, retried batches apply once, and a resumed subscriber sees no
// gap and no duplicate.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "feed_test_util.h"
#include "kessand_process.h"

namespace kessan {
namespace {

constexpr int kPublishers = 4;
constexpr int kPerBatch = 5;

// Item i of batch b of publisher p: a revision of the publisher's own fact
// i (a batch holds an item once), with a value unique to (p, b, i).
int64_t ValueOf(int p, int b, int i) { return p * 1'000'000'000LL + b * 100 + i; }

v1::PublishRequest PublisherBatch(int p, int b) {
  std::vector<v1::PublishItem> items;
  for (int i = 0; i < kPerBatch; ++i) {
    items.push_back(RevenueItem(2040 + p * kPerBatch + i, ValueOf(p, b, i)));
    items.back().mutable_fact()->mutable_key()->set_concept_id("crash_burst");
  }
  v1::PublishRequest request = Batch(std::move(items));
  request.set_publisher_id(absl::StrCat("publisher-", p));
  request.set_batch_key(absl::StrCat("batch-", b));
  return request;
}

// Every journaled event up to `head`, read by a FROM_SEQUENCE 0 stream.
std::vector<v1::FeedEvent> ReadJournal(v1::FeedService::Stub& stub, uint64_t head) {
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_FROM_SEQUENCE);
  StreamCollector stream(stub, request);
  std::vector<v1::FeedEvent> events = stream.WaitFor(head);
  events.resize(std::min<size_t>(events.size(), head));
  return events;
}

class CrashTest : public testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = std::filesystem::path(testing::TempDir()) / absl::StrCat("kessan_crash_", getpid());
    std::filesystem::remove_all(data_dir_);
    int port = PickFreePort();
    ASSERT_NE(port, 0);
    address_ = absl::StrCat("127.0.0.1:", port);
    args_ = {"--listen",          address_,       "--data_dir", data_dir_.string(), "--seed",
             KESSAN_DATASET_FILE, "--plugin_dir", "none"};
  }
  void TearDown() override {
    process_.reset();
    std::filesystem::remove_all(data_dir_);
  }
  void StartKessand() {
    process_ = std::make_unique<KessandProcess>(KESSAND_BINARY, args_);
    ASSERT_TRUE(process_->Start(address_)) << "kessand did not start on " << address_;
  }
  std::unique_ptr<v1::FeedService::Stub> NewStub() {
    return v1::FeedService::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }
  uint64_t Head(v1::FeedService::Stub& stub) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::GetSnapshotRequest request;
    request.mutable_filter()->add_event_kinds(v1::EVENT_KIND_ISSUER);
    v1::GetSnapshotResponse response;
    EXPECT_TRUE(stub.GetSnapshot(&context, request, &response).ok());
    return response.sequence();
  }

  std::filesystem::path data_dir_;
  std::string address_;
  std::vector<std::string> args_;
  std::unique_ptr<KessandProcess> process_;
};

TEST_F(CrashTest, AcknowledgedEventsSurviveKillNineExactlyOnce) {
  StartKessand();
  auto stub = NewStub();
  const uint64_t seeded = Head(*stub);

  // A subscriber reading live all along, to resume after the restart.
  v1::SubscribeRequest from_start;
  from_start.set_start(v1::START_MODE_FROM_SEQUENCE);
  auto subscriber = std::make_unique<StreamCollector>(*stub, from_start);

  // Publishers, each on its own channel, until a call fails (the kill).
  std::atomic<int> acked_events{0};
  std::map<uint64_t, int64_t> acked[kPublishers];  // sequence -> value
  int in_doubt[kPublishers];                       // the batch that failed
  std::vector<std::thread> publishers;
  for (int p = 0; p < kPublishers; ++p) {
    publishers.emplace_back([&, p] {
      auto own = NewStub();
      for (int b = 0;; ++b) {
        grpc::ClientContext context;
        context.set_deadline(Deadline());
        v1::PublishResponse response;
        if (!own->Publish(&context, PublisherBatch(p, b), &response).ok()) {
          in_doubt[p] = b;
          return;
        }
        for (int i = 0; i < kPerBatch; ++i) acked[p][response.sequences(i)] = ValueOf(p, b, i);
        acked_events += kPerBatch;
      }
    });
  }
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (acked_events < 400 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
  process_->Kill();
  for (auto& t : publishers) t.join();
  ASSERT_GE(acked_events.load(), 400);
  std::vector<v1::FeedEvent> before_kill = subscriber->WaitFor(0);
  subscriber.reset();

  StartKessand();
  stub = NewStub();
  const uint64_t head = Head(*stub);
  std::vector<v1::FeedEvent> journal = ReadJournal(*stub, head);
  ASSERT_EQ(journal.size(), head);
  std::map<int64_t, int> copies;  // value -> how many events carry it
  for (size_t i = 0; i < journal.size(); ++i) {
    ASSERT_EQ(journal[i].sequence(), i + 1) << "sequences must be contiguous";
    if (journal[i].fact().key().concept_id() == "crash_burst") {
      ++copies[journal[i].fact().value().money().units()];
    }
  }
  size_t checked = 0;
  for (int p = 0; p < kPublishers; ++p) {
    for (const auto& [sequence, value] : acked[p]) {
      ASSERT_LE(sequence, head) << "acknowledged event lost";
      EXPECT_EQ(journal[sequence - 1].fact().value().money().units(), value);
      EXPECT_EQ(copies[value], 1);
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<size_t>(acked_events.load()));
  EXPECT_EQ(head, seeded + copies.size()) << "an event nobody published";

  // The batches in doubt at the kill, retried: each applied exactly once.
  for (int p = 0; p < kPublishers; ++p) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::PublishResponse response;
    ASSERT_TRUE(stub->Publish(&context, PublisherBatch(p, in_doubt[p]), &response).ok());
  }
  const uint64_t after_retry = Head(*stub);
  journal = ReadJournal(*stub, after_retry);
  ASSERT_EQ(journal.size(), after_retry);
  for (int p = 0; p < kPublishers; ++p) {
    for (int i = 0; i < kPerBatch; ++i) {
      int found = 0;
      for (const auto& e : journal) {
        found += e.has_fact() && e.fact().value().money().units() == ValueOf(p, in_doubt[p], i);
      }
      EXPECT_EQ(found, 1) << "publisher " << p << " batch " << in_doubt[p] << " item " << i;
    }
  }

  // The subscriber of before the kill resumes from its last sequence.
  uint64_t last = 0;
  for (const auto& e : before_kill) {
    ASSERT_EQ(e.sequence(), last + 1);
    last = e.sequence();
  }
  v1::SubscribeRequest resume;
  resume.set_start(v1::START_MODE_FROM_SEQUENCE);
  resume.set_from_sequence(last);
  StreamCollector resumed(*stub, resume);
  std::vector<v1::FeedEvent> rest = resumed.WaitFor(after_retry - last);
  ASSERT_EQ(rest.size(), after_retry - last);
  for (size_t i = 0; i < rest.size(); ++i) {
    ASSERT_EQ(rest[i].SerializeAsString(), journal[last + i].SerializeAsString());
  }
}

}  // namespace
}  // namespace kessan
