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

  const ClientOptions options;
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
