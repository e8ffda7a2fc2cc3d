// fake_feed_service.h: an in-process FeedService with canned answers, for
// client and CLI tests. Listens on 127.0.0.1 with a port of the kernel's
// choosing.

#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "kessan/v1/feed.grpc.pb.h"

namespace kessan::fakes {

// FakeFeedService
//
// Answers each RPC from the public fields below and records what it was
// asked. Not locked: a test sets the canned fields before the call that
// reads them and reads the recorded fields after that call returned (the
// RPC orders the two).
class FakeFeedService final : public v1::FeedService::Service {
 public:
  // How Subscribe behaves after writing `subscribe_responses`.
  enum class StreamEnd {
    kFinish,   // Return `subscribe_status`.
    kEndless,  // Write events with sequences 1001, 1002, ... until the
               // client cancels, then notify `subscribe_cancelled`; after
               // kEndlessCap events, fail with ABORTED.
    kHang,     // Block until ReleaseHangingCalls() (for deadline tests).
  };

  static constexpr uint64_t kEndlessCap = 1'000'000;

  // Lets kHang handlers return; FakeServer calls it before shutting down.
  void ReleaseHangingCalls() { release_.Notify(); }

  grpc::Status Publish(grpc::ServerContext* context, const v1::PublishRequest* request,
                       v1::PublishResponse* response) override;
  grpc::Status GetSnapshot(grpc::ServerContext* context, const v1::GetSnapshotRequest* request,
                           v1::GetSnapshotResponse* response) override;
  grpc::Status Subscribe(grpc::ServerContext* context, const v1::SubscribeRequest* request,
                         grpc::ServerWriter<v1::SubscribeResponse>* writer) override;

  // One Subscribe call of a script: its responses, then its end.
  struct SubscribeCall {
    std::vector<v1::SubscribeResponse> responses;
    grpc::Status status = grpc::Status::OK;
    StreamEnd end = StreamEnd::kFinish;
  };

  // Canned answers.
  // The first publish calls fail with these statuses, in turn.
  std::vector<grpc::Status> publish_failures;
  grpc::Status publish_status = grpc::Status::OK;
  v1::PublishResponse publish_response;
  grpc::Status snapshot_status = grpc::Status::OK;
  v1::GetSnapshotResponse snapshot_response;
  std::vector<v1::SubscribeResponse> subscribe_responses;
  StreamEnd subscribe_end = StreamEnd::kFinish;
  grpc::Status subscribe_status = grpc::Status::OK;
  // When not empty, Subscribe call i plays subscribe_script[i] (the last
  // entry again for the calls after it) instead of the three fields above.
  std::vector<SubscribeCall> subscribe_script;

  // Recorded requests.
  std::optional<v1::PublishRequest> last_publish;
  std::optional<v1::GetSnapshotRequest> last_snapshot;
  std::optional<v1::SubscribeRequest> last_subscribe;
  absl::Notification subscribe_cancelled;
  // Every request, in call order (locked: safe to read once the client
  // call that made them returned).
  std::vector<v1::SubscribeRequest> subscribe_requests() const;
  std::vector<v1::PublishRequest> publish_requests() const;

 private:
  grpc::Status PlayEnd(StreamEnd end, const grpc::Status& status,
                       grpc::ServerWriter<v1::SubscribeResponse>* writer);

  absl::Notification release_;  // Lets kHang handlers return.
  mutable absl::Mutex mu_;
  std::vector<v1::SubscribeRequest> subscribe_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::PublishRequest> publish_requests_ ABSL_GUARDED_BY(mu_);
};

// FakeServer
//
// Runs a FakeFeedService on 127.0.0.1:0 for the lifetime of the object.
class FakeServer {
 public:
  FakeServer();
  ~FakeServer();

  FakeFeedService& service() { return service_; }
  // "127.0.0.1:PORT".
  const std::string& address() const { return address_; }

 private:
  FakeFeedService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

// Returns a FeedEvent carrying a fact for `issuer`/`concept` at `sequence`.
v1::FeedEvent FactEvent(uint64_t sequence, const std::string& issuer, const std::string& concept_id);

}  // namespace kessan::fakes
