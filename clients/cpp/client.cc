#include "kessan/client.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/strings/str_cat.h"

#include "client_impl.h"
#include "grpc_status.h"
#include "secure_channel.h"
#include "kessan/v1/feed.grpc.pb.h"

namespace kessan {
namespace internal {

grpc::ChannelArguments ChannelArgumentsOf(const ClientOptions& options) {
  auto ms = [](absl::Duration d) {
    return static_cast<int>(absl::ToInt64Milliseconds(d));
  };
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  if (options.keepalive_time > absl::ZeroDuration()) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, ms(options.keepalive_time));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(options.keepalive_timeout));
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    // Keep pinging a quiet connection (gRPC stops after 2 pings by default).
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              ms(options.reconnect_backoff_initial));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              ms(options.reconnect_backoff_max));
  return args;
}

void ApplyCallOptions(const CallOptions& call, grpc::ClientContext& context) {
  if (call.timeout != absl::InfiniteDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + call.timeout));
  }
}

}  // namespace internal

using internal::ApplyCallOptions;

Client::Impl::Impl(ClientOptions options_in)
    : options(std::move(options_in)),
      channel(internal::CreateChannel(options, internal::ChannelArgumentsOf(options))),
      stub(v1::FeedService::NewStub(channel)) {}

absl::Status Client::Impl::Reconnect(absl::Time deadline) {
  grpc::experimental::ChannelResetConnectionBackoff(channel.get());
  if (channel->WaitForConnected(absl::ToChronoTime(deadline))) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat("cannot connect to ", options.address));
}

Client::Client(std::string address)
    : Client(ClientOptions{.address = std::move(address)}) {}

Client::Client(ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

Client::~Client() = default;

const std::string& Client::address() const { return impl_->options.address; }

absl::StatusOr<v1::PublishResponse> Client::Publish(
    const v1::PublishRequest& request, const CallOptions& call) {
  grpc::ClientContext context;
  ApplyCallOptions(call, context);
  v1::PublishResponse response;
  grpc::Status status = impl_->stub->Publish(&context, request, &response);
  if (!status.ok()) return internal::FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::GetSnapshotResponse> Client::GetSnapshot(
    const v1::Filter& filter, const CallOptions& call) {
  v1::GetSnapshotRequest request;
  *request.mutable_filter() = filter;
  return GetSnapshot(request, call);
}

absl::StatusOr<v1::GetSnapshotResponse> Client::GetSnapshot(
    const v1::GetSnapshotRequest& request, const CallOptions& call) {
  grpc::ClientContext context;
  ApplyCallOptions(call, context);
  v1::GetSnapshotResponse response;
  grpc::Status status = impl_->stub->GetSnapshot(&context, request, &response);
  if (!status.ok()) return internal::FromGrpcStatus(status);
  return response;
}

absl::Status Client::Subscribe(const v1::SubscribeRequest& request,
                               EventCallback on_event,
                               const CallOptions& call) {
  grpc::ClientContext context;
  ApplyCallOptions(call, context);
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
      impl_->stub->Subscribe(&context, request);
  v1::SubscribeResponse response;
  bool stopped = false;
  while (!stopped && reader->Read(&response)) {
    for (const v1::FeedEvent& event : response.events()) {
      if (!on_event(event)) {
        stopped = true;
        break;
      }
    }
  }
  if (stopped) {
    context.TryCancel();
    // Drain what was in flight so Finish() sees a quiet stream.
    while (reader->Read(&response)) {
    }
    reader->Finish().IgnoreError();  // CANCELLED, by us.
    return absl::OkStatus();
  }
  return internal::FromGrpcStatus(reader->Finish());
}

}  // namespace kessan
