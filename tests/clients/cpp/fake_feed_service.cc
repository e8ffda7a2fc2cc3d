#include "fake_feed_service.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"

namespace kessan::fakes {

grpc::Status FakeFeedService::Publish(grpc::ServerContext*, const v1::PublishRequest* request,
                                      v1::PublishResponse* response) {
  last_publish = *request;
  size_t call;
  {
    absl::MutexLock lock(&mu_);
    call = publish_requests_.size();
    publish_requests_.push_back(*request);
  }
  if (call < publish_failures.size()) return publish_failures[call];
  if (!publish_status.ok()) return publish_status;
  *response = publish_response;
  return grpc::Status::OK;
}

grpc::Status FakeFeedService::GetSnapshot(grpc::ServerContext*, const v1::GetSnapshotRequest* request,
                                          v1::GetSnapshotResponse* response) {
  last_snapshot = *request;
  if (!snapshot_status.ok()) return snapshot_status;
  *response = snapshot_response;
  return grpc::Status::OK;
}

grpc::Status FakeFeedService::Subscribe(grpc::ServerContext*, const v1::SubscribeRequest* request,
                                        grpc::ServerWriter<v1::SubscribeResponse>* writer) {
  last_subscribe = *request;
  size_t call;
  {
    absl::MutexLock lock(&mu_);
    call = subscribe_requests_.size();
    subscribe_requests_.push_back(*request);
  }
  if (!subscribe_script.empty()) {
    const SubscribeCall& script = subscribe_script[std::min(call, subscribe_script.size() - 1)];
    for (const v1::SubscribeResponse& response : script.responses) {
      if (!writer->Write(response)) return grpc::Status::CANCELLED;
    }
    return PlayEnd(script.end, script.status, writer);
  }
  for (const v1::SubscribeResponse& response : subscribe_responses) {
    if (!writer->Write(response)) return grpc::Status::CANCELLED;
  }
  return PlayEnd(subscribe_end, subscribe_status, writer);
}

std::vector<v1::SubscribeRequest> FakeFeedService::subscribe_requests() const {
  absl::MutexLock lock(&mu_);
  return subscribe_requests_;
}

std::vector<v1::PublishRequest> FakeFeedService::publish_requests() const {
  absl::MutexLock lock(&mu_);
  return publish_requests_;
}

grpc::Status FakeFeedService::PlayEnd(StreamEnd end, const grpc::Status& status,
                                      grpc::ServerWriter<v1::SubscribeResponse>* writer) {
  switch (end) {
    case StreamEnd::kFinish:
      return status;
    case StreamEnd::kEndless:
      // Far more than flow control lets the transport buffer: a client
      // that stops reading blocks the writes well before the cap, and one
      // that never cancels gets an error instead of an endless stream.
      for (uint64_t n = 0; n < kEndlessCap; ++n) {
        v1::SubscribeResponse response;
        *response.add_events() = FactEvent(1001 + n, "IIJ", "revenue");
        if (!writer->Write(response)) {
          subscribe_cancelled.Notify();
          return grpc::Status::CANCELLED;
        }
      }
      return grpc::Status(grpc::StatusCode::ABORTED, "fake: the client never cancelled the stream");
    case StreamEnd::kHang:
      release_.WaitForNotification();
      return grpc::Status::CANCELLED;
  }
  return grpc::Status(grpc::StatusCode::INTERNAL, "unreachable");
}

FakeServer::FakeServer() {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    std::cerr << "FakeServer: cannot listen on 127.0.0.1:0\n";
    std::abort();
  }
  address_ = absl::StrCat("127.0.0.1:", port);
}

FakeServer::~FakeServer() {
  service_.ReleaseHangingCalls();
  server_->Shutdown();
  server_->Wait();
}

v1::FeedEvent FactEvent(uint64_t sequence, const std::string& issuer, const std::string& concept_id) {
  v1::FeedEvent event;
  event.set_sequence(sequence);
  event.mutable_time()->set_seconds(1053000000);
  v1::Fact* fact = event.mutable_fact();
  fact->mutable_key()->set_issuer(issuer);
  fact->mutable_key()->set_concept_id(concept_id);
  fact->mutable_key()->mutable_period()->set_fiscal_year(2002);
  fact->mutable_key()->mutable_period()->set_kind(v1::PERIOD_KIND_FULL_YEAR);
  v1::Money* money = fact->mutable_value()->mutable_money();
  money->set_currency_code("JPY");
  money->set_units(static_cast<int64_t>(sequence) * 1000000000);
  fact->mutable_value()->mutable_precision()->set_decimals(-9);
  fact->set_revision(1);
  return event;
}

}  // namespace kessan::fakes
