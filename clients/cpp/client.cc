#include "kessan/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client_impl.h"
#include "grpc_status.h"
#include "kessan/v1/feed.grpc.pb.h"
#include "secure_channel.h"

namespace kessan {
namespace internal {

grpc::ChannelArguments ChannelArgumentsOf(const ClientOptions& options) {
  auto ms = [](absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); };
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  if (options.keepalive_time > absl::ZeroDuration()) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, ms(options.keepalive_time));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(options.keepalive_timeout));
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    // Keep pinging a quiet connection (gRPC stops after 2 pings by default).
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, ms(options.reconnect_backoff_initial));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, ms(options.reconnect_backoff_max));
  return args;
}

void ApplyCallOptions(const CallOptions& call, grpc::ClientContext& context) {
  if (call.timeout != absl::InfiniteDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + call.timeout));
  }
}

bool FailsOver(const absl::Status& status) { return status.code() == absl::StatusCode::kUnavailable; }

}  // namespace internal

namespace {

absl::Time DeadlineOf(const CallOptions& call) {
  return call.timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + call.timeout;
}

void SetDeadline(absl::Time deadline, grpc::ClientContext& context) {
  if (deadline != absl::InfiniteFuture()) {
    context.set_deadline(absl::ToChronoTime(deadline));
  }
}

// How long a failover waits for the next server's connection at most.
constexpr absl::Duration kFailoverConnectWait = absl::Seconds(5);

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseServerList(absl::string_view list) {
  std::vector<std::string> servers;
  for (absl::string_view server : absl::StrSplit(list, ',')) {
    server = absl::StripAsciiWhitespace(server);
    if (server.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("server list \"", list, "\" has an empty server"));
    }
    servers.emplace_back(server);
  }
  return servers;
}

Client::Impl::Impl(ClientOptions options_in) : options(std::move(options_in)) {
  addresses = options.servers.empty() ? std::vector<std::string>{options.address} : options.servers;
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (absl::StripAsciiWhitespace(addresses[i]).empty()) {
      config_status = absl::InvalidArgumentError(
          options.servers.empty() ? std::string("ClientOptions: the server address is empty")
                                  : absl::StrCat("ClientOptions: servers[", i, "] is empty"));
      return;
    }
  }
  const grpc::ChannelArguments args = internal::ChannelArgumentsOf(options);
  for (const std::string& address : addresses) {
    Endpoint endpoint{.address = address, .channel = internal::CreateChannel(options, address, args)};
    endpoint.stub = v1::FeedService::NewStub(endpoint.channel);
    endpoints.push_back(std::move(endpoint));
  }
}

void Client::Impl::Failover(size_t failed, const absl::Status& status) {
  if (size() < 2) return;
  const size_t next = (failed + 1) % size();
  size_t expected = failed;
  if (!current.compare_exchange_strong(expected, next)) return;
  if (options.on_failover) {
    options.on_failover(addresses[failed], addresses[next], status);
  }
}

absl::Status Client::Impl::Reconnect(size_t server, absl::Time deadline) {
  grpc::Channel& channel = *endpoints[server].channel;
  grpc::experimental::ChannelResetConnectionBackoff(&channel);
  const std::string& address = addresses[server];
  if (size() == 1) {
    if (channel.WaitForConnected(absl::ToChronoTime(deadline))) {
      return absl::OkStatus();
    }
    return absl::UnavailableError(absl::StrCat("cannot connect to ", address));
  }
  // Several servers: the first failed attempt gives up on this one. A
  // channel that failed stays in TRANSIENT_FAILURE while it retries, so a
  // fresh probe channel (its own connection) shows the attempt's outcome.
  const absl::Status unavailable = absl::UnavailableError(absl::StrCat("cannot connect to ", address));
  grpc::ChannelArguments probe_args = internal::ChannelArgumentsOf(options);
  probe_args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::Channel> probe = internal::CreateChannel(options, address, probe_args);
  // A fresh channel is in TRANSIENT_FAILURE only after a failed attempt.
  grpc_connectivity_state state = probe->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN ||
        !probe->WaitForStateChange(state, absl::ToChronoTime(deadline))) {
      return unavailable;
    }
    state = probe->GetState(/*try_to_connect=*/true);
  }
  // The server is up: the channel reconnects now, not after its backoff.
  grpc::experimental::ChannelResetConnectionBackoff(&channel);
  if (channel.WaitForConnected(absl::ToChronoTime(deadline))) {
    return absl::OkStatus();
  }
  return unavailable;
}

absl::StatusOr<v1::PublishResponse> Client::Impl::PublishOn(size_t server, const v1::PublishRequest& request,
                                                            absl::Time deadline) {
  grpc::ClientContext context;
  SetDeadline(deadline, context);
  v1::PublishResponse response;
  grpc::Status status = endpoints[server].stub->Publish(&context, request, &response);
  if (!status.ok()) return internal::FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::GetSnapshotResponse> Client::Impl::SnapshotOn(size_t server,
                                                                 const v1::GetSnapshotRequest& request,
                                                                 absl::Time deadline) {
  grpc::ClientContext context;
  SetDeadline(deadline, context);
  v1::GetSnapshotResponse response;
  grpc::Status status = endpoints[server].stub->GetSnapshot(&context, request, &response);
  if (!status.ok()) return internal::FromGrpcStatus(status);
  return response;
}

Client::Client(std::string address) : Client(ClientOptions{.address = std::move(address)}) {}

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Client::~Client() = default;

const std::string& Client::address() const { return impl_->addresses[impl_->Current()]; }

const std::vector<std::string>& Client::servers() const { return impl_->addresses; }

absl::StatusOr<v1::PublishResponse> Client::Publish(const v1::PublishRequest& request,
                                                    const CallOptions& call) {
  if (!impl_->config_status.ok()) return impl_->config_status;
  const size_t server = impl_->Current();
  absl::StatusOr<v1::PublishResponse> response = impl_->PublishOn(server, request, DeadlineOf(call));
  if (!response.ok() && internal::FailsOver(response.status())) {
    impl_->Failover(server, response.status());
  }
  return response;
}

absl::StatusOr<v1::GetSnapshotResponse> Client::GetSnapshot(const v1::Filter& filter,
                                                            const CallOptions& call) {
  v1::GetSnapshotRequest request;
  *request.mutable_filter() = filter;
  return GetSnapshot(request, call);
}

// A read: safe to ask each server once.
absl::StatusOr<v1::GetSnapshotResponse> Client::GetSnapshot(const v1::GetSnapshotRequest& request,
                                                            const CallOptions& call) {
  if (!impl_->config_status.ok()) return impl_->config_status;
  const absl::Time deadline = DeadlineOf(call);
  for (size_t tried = 0;; ++tried) {
    const size_t server = impl_->Current();
    if (tried > 0) {
      impl_->Reconnect(server, std::min(deadline, absl::Now() + kFailoverConnectWait))
          .IgnoreError();  // The call below says what is wrong.
    }
    absl::StatusOr<v1::GetSnapshotResponse> response = impl_->SnapshotOn(server, request, deadline);
    if (response.ok() || !internal::FailsOver(response.status())) return response;
    impl_->Failover(server, response.status());
    if (tried + 1 >= impl_->size() || absl::Now() >= deadline) return response;
  }
}

absl::Status Client::Subscribe(const v1::SubscribeRequest& request, EventCallback on_event,
                               const CallOptions& call) {
  if (!impl_->config_status.ok()) return impl_->config_status;
  const size_t server = impl_->Current();
  grpc::ClientContext context;
  internal::ApplyCallOptions(call, context);
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
      impl_->endpoints[server].stub->Subscribe(&context, request);
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
  absl::Status status = internal::FromGrpcStatus(reader->Finish());
  if (internal::FailsOver(status)) impl_->Failover(server, status);
  return status;
}

}  // namespace kessan
