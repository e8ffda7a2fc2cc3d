// Helpers of the integration tests: test facts, and a Subscribe stream read
// on its own thread.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/text_format.h"
#include "kessan/server.h"
#include "kessan/v1/feed.grpc.pb.h"

namespace kessan {

inline constexpr absl::Duration kWait = absl::Seconds(30);

inline std::chrono::system_clock::time_point Deadline() { return absl::ToChronoTime(absl::Now() + kWait); }

template <typename T>
T ParseText(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message)) << text;
  return message;
}

// A revenue fact of IIJ for the fourth quarter of `fiscal_year`.
inline v1::PublishItem RevenueItem(int fiscal_year, int64_t units) {
  return ParseText<v1::PublishItem>(absl::StrCat(R"pb(
    fact {
      key {
        issuer: "IIJ"
        concept_id: "revenue"
        period { fiscal_year: )pb",
                                                 fiscal_year, R"pb( kind: PERIOD_KIND_QUARTER number: 4 }
      }
      value {
        money { currency_code: "JPY" units: )pb",
                                                 units, R"pb( }
        precision { decimals: -8 qualifier: QUALIFIER_EQUAL }
      }
      provenance {
        document: "integration-test"
        line_start: 1
        line_end: 1
        quote: "test figure"
      }
    })pb"));
}

// A revenue fact of IIJ for quarter `key` counted from FY1900's first: a
// distinct item for each key up to 1,200 (a batch may hold an item once).
inline v1::PublishItem QuarterItem(int key, int64_t units) {
  v1::PublishItem item = RevenueItem(1900 + key / 4, units);
  item.mutable_fact()->mutable_key()->mutable_period()->set_number(key % 4 + 1);
  return item;
}

inline v1::PublishRequest Batch(std::vector<v1::PublishItem> items) {
  v1::PublishRequest request;
  for (auto& item : items) *request.add_items() = std::move(item);
  return request;
}

// Reads a Subscribe stream on its own thread and collects its events; with
// a `token`, the call carries it as a bearer token.
class StreamCollector {
 public:
  StreamCollector(v1::FeedService::Stub& stub, const v1::SubscribeRequest& request,
                  const std::string& token = "") {
    context_.set_deadline(Deadline());
    if (!token.empty()) context_.AddMetadata("authorization", "Bearer " + token);
    reader_ = stub.Subscribe(&context_, request);
    thread_ = std::thread([this] {
      v1::SubscribeResponse response;
      while (reader_->Read(&response)) {
        absl::MutexLock lock(&mu_);
        for (const auto& e : response.events()) events_.push_back(e);
      }
      grpc::Status status = reader_->Finish();
      absl::MutexLock lock(&mu_);
      status_ = status;
      done_ = true;
    });
  }
  ~StreamCollector() {
    context_.TryCancel();
    thread_.join();
  }

  // Waits until `n` events arrived or the stream ended; returns a copy.
  std::vector<v1::FeedEvent> WaitFor(size_t n) {
    return WaitUntil([n](const std::vector<v1::FeedEvent>& events) { return events.size() >= n; });
  }
  // Waits until `pred(events)` holds or the stream ended; returns a copy.
  template <typename Pred>
  std::vector<v1::FeedEvent> WaitUntil(Pred pred) {
    absl::MutexLock lock(&mu_);
    auto ready = [&] {
      mu_.AssertHeld();
      return done_ || pred(events_);
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), kWait);
    return events_;
  }
  bool done() {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  // Waits for the end of the stream and returns its status.
  grpc::Status WaitDone() {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), kWait);
    return done_ ? status_ : grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "still open");
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<v1::FeedEvent> events_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

// Starts a kessan::Server on 127.0.0.1:0 over a fresh data dir seeded with
// the IIJ data set; subclasses adjust the options.
class FeedServerTest : public testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = std::filesystem::path(testing::TempDir()) /
                absl::StrCat("kessan_it_", getpid(), "_",
                             testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(data_dir_);
    StartServer();
  }
  void TearDown() override {
    stub_.reset();
    server_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  virtual void Adjust(ServerOptions& options) {}

  void StartServer() {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.data_dir = data_dir_.string();
    options.seed_path = KESSAN_DATASET_FILE;
    options.plugin_dir = "none";
    Adjust(options);
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials());
    stub_ = v1::FeedService::NewStub(channel);
  }
  void RestartServer() {
    stub_.reset();
    server_.reset();
    StartServer();
  }

  v1::GetSnapshotResponse Snapshot(const std::string& filter_text = "") {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::GetSnapshotRequest request;
    *request.mutable_filter() = ParseText<v1::Filter>(filter_text);
    v1::GetSnapshotResponse response;
    grpc::Status status = stub_->GetSnapshot(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Publish(const v1::PublishRequest& request, v1::PublishResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    return stub_->Publish(&context, request, response);
  }

  std::filesystem::path data_dir_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<v1::FeedService::Stub> stub_;
};

}  // namespace kessan
