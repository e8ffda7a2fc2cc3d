// Helpers of the security tests: certificates made at test time with
// deploy/tls/make-certs.sh, TLS channels, calls with a bearer token, and a
// Subscribe stream read on its own thread.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kessan/v1/feed.grpc.pb.h"
#include "kessan/v1/scenario.grpc.pb.h"

namespace kessan::testing_security {

inline constexpr absl::Duration kWait = absl::Seconds(30);

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes `text` to `path` atomically (a new file renamed over the old).
inline void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(tmp, path);
}

// Runs deploy/tls/make-certs.sh into `dir` for the client CNs given.
inline bool MakeCerts(const std::filesystem::path& dir, const std::string& clients) {
  std::string command = absl::StrCat(KESSAN_MAKE_CERTS, " ", dir.string(), " ", clients, " >/dev/null");
  return std::system(command.c_str()) == 0;
}

// TLS channel credentials trusting `ca_dir`/ca.pem, with the client
// certificate `client_dir`/<client>.pem when `client` is not empty.
inline std::shared_ptr<grpc::ChannelCredentials> TlsCredentials(const std::filesystem::path& ca_dir,
                                                                const std::filesystem::path& client_dir = {},
                                                                const std::string& client = "") {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(ca_dir / "ca.pem");
  if (!client.empty()) {
    ssl.pem_cert_chain = ReadFile(client_dir / (client + ".pem"));
    ssl.pem_private_key = ReadFile(client_dir / (client + ".key"));
  }
  return grpc::SslCredentials(ssl);
}

// A channel of its own (its own TCP connection).
inline std::shared_ptr<grpc::Channel> Channel(int port, std::shared_ptr<grpc::ChannelCredentials> credentials,
                                              int id = 0) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("kessan_test.channel_id", id);
  args.SetMaxSendMessageSize(64 << 20);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), credentials, args);
}

// A client context with a deadline and, if given, a bearer token.
inline void Prepare(grpc::ClientContext& context, const std::string& token,
                    absl::Duration deadline = absl::Seconds(10)) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
}

inline grpc::Status Snapshot(v1::FeedService::Stub& stub, const std::string& token, const v1::Filter& filter,
                             v1::GetSnapshotResponse* response) {
  grpc::ClientContext context;
  Prepare(context, token);
  v1::GetSnapshotRequest request;
  *request.mutable_filter() = filter;
  return stub.GetSnapshot(&context, request, response);
}

inline grpc::Status Publish(v1::FeedService::Stub& stub, const std::string& token,
                            const v1::PublishRequest& request, v1::PublishResponse* response = nullptr) {
  grpc::ClientContext context;
  Prepare(context, token);
  v1::PublishResponse ignored;
  return stub.Publish(&context, request, response != nullptr ? response : &ignored);
}

// Reads a Subscribe stream on its own thread and collects its events.
class Stream {
 public:
  Stream(v1::FeedService::Stub& stub, const std::string& token, const v1::SubscribeRequest& request) {
    Prepare(context_, token, kWait);
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
  ~Stream() {
    context_.TryCancel();
    thread_.join();
  }
  // Waits until `pred(events)` holds or the stream ended; returns the events.
  template <typename Pred>
  std::vector<v1::FeedEvent> WaitUntil(Pred pred) {
    absl::MutexLock lock(&mu_);
    auto ready = [&] { return done_ || pred(events_); };
    mu_.AwaitWithTimeout(absl::Condition(&ready), kWait);
    return events_;
  }
  grpc::Status WaitDone() {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), kWait);
    return done_ ? status_ : grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "still open");
  }
  bool done() {
    absl::MutexLock lock(&mu_);
    return done_;
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

// Whether the snapshot's end (or any event with sequence >= `sequence`) has come.
inline bool HasSnapshotEnd(const std::vector<v1::FeedEvent>& events) {
  for (const auto& e : events) {
    if (e.has_snapshot_end()) return true;
  }
  return false;
}

inline bool HasSequence(const std::vector<v1::FeedEvent>& events, uint64_t sequence) {
  for (const auto& e : events) {
    if (e.sequence() >= sequence) return true;
  }
  return false;
}

}  // namespace kessan::testing_security
