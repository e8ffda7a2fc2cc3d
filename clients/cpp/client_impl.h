// client_impl.h: the state behind kessan::Client, shared by the files that
// implement its methods. Internal to kessan_client.

#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "kessan/client.h"
#include "kessan/v1/feed.grpc.pb.h"

namespace kessan {

struct Client::Impl {
  explicit Impl(ClientOptions options_in);

  // Before a retry, whose own backoff has just passed: lets the channel
  // reconnect at once (not after gRPC's backoff) and waits until it is
  // connected, or `deadline`. Returns UNAVAILABLE if it is not. (A channel
  // in TRANSIENT_FAILURE fails calls at once while nothing drives its
  // reconnect; waiting for the connection drives it.)
  absl::Status Reconnect(absl::Time deadline);

  const ClientOptions options;
  const std::shared_ptr<grpc::Channel> channel;
  const std::unique_ptr<v1::FeedService::Stub> stub;
};

namespace internal {

// Sets the deadline of `context` from `call`.
void ApplyCallOptions(const CallOptions& call, grpc::ClientContext& context);

// The channel arguments of `options` (message size, keepalive, reconnect
// backoff).
grpc::ChannelArguments ChannelArgumentsOf(const ClientOptions& options);

}  // namespace internal
}  // namespace kessan
