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

#include "../integration/feed_test_util.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kessan/v1/feed.grpc.pb.h"
#include "kessan/v1/scenario.grpc.pb.h"

namespace kessan::testing_security {

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

// A Subscribe stream read on its own thread, as `token`'s principal.
class Stream : public StreamCollector {
 public:
  Stream(v1::FeedService::Stub& stub, const std::string& token, const v1::SubscribeRequest& request)
      : StreamCollector(stub, request, token) {}
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
