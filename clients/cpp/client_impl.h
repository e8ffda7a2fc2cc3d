// client_impl.h: the state behind kessan::Client, shared by the files that
// implement its methods. Internal to kessan_client.

#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "kessan/client.h"
#include "kessan/v1/feed.grpc.pb.h"

namespace kessan {

struct Client::Impl {
  explicit Impl(ClientOptions options_in);

  // One server: its channel and stub.
  struct Endpoint {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::FeedService::Stub> stub;
  };

  size_t size() const { return endpoints.size(); }
  // The index of the server in use.
  size_t Current() const { return current.load(); }
  // Moves the client from server `failed` to the next one, unless another
  // call already moved it; reports the move to options.on_failover.
  void Failover(size_t failed, const absl::Status& status);

  // Before a retry on server `server`, whose own backoff has just passed:
  // lets its channel reconnect at once (not after gRPC's backoff) and waits
  // until it is connected, or `deadline`. Returns UNAVAILABLE if it is not.
  // With several servers, one failed connection attempt is enough (the next
  // server may be up). (A channel in TRANSIENT_FAILURE fails calls at once
  // while nothing drives its reconnect; waiting for the connection drives
  // it.)
  absl::Status Reconnect(size_t server, absl::Time deadline);

  // One call to server `server`, with `deadline` (InfiniteFuture: none).
  absl::StatusOr<v1::PublishResponse> PublishOn(size_t server, const v1::PublishRequest& request,
                                                absl::Time deadline);
  absl::StatusOr<v1::GetSnapshotResponse> SnapshotOn(size_t server, const v1::GetSnapshotRequest& request,
                                                     absl::Time deadline);

  const ClientOptions options;
  // INVALID_ARGUMENT for a bad server list: every call returns it.
  absl::Status config_status;
  std::vector<std::string> addresses;
  std::vector<Endpoint> endpoints;
  std::atomic<size_t> current{0};
};

namespace internal {

// Sets the deadline of `context` from `call`.
void ApplyCallOptions(const CallOptions& call, grpc::ClientContext& context);

// The channel arguments of `options` (message size, keepalive, reconnect
// backoff).
grpc::ChannelArguments ChannelArgumentsOf(const ClientOptions& options);

// Whether a call that failed with `status` moves the client to the next
// server: a transport failure (UNAVAILABLE), not a refusal.
bool FailsOver(const absl::Status& status);

}  // namespace internal
}  // namespace kessan
