#include "kessan/scenario_client.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "grpc_status.h"
#include "kessan/v1/scenario.grpc.pb.h"
#include "secure_channel.h"

namespace kessan {
namespace {

void Apply(const CallOptions& call, grpc::ClientContext& context) {
  if (call.timeout != absl::InfiniteDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + call.timeout));
  }
}

}  // namespace

struct ScenarioClient::Impl {
  explicit Impl(const ClientOptions& options) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
    stub = v1::ScenarioService::NewStub(internal::CreateChannel(options, args));
  }
  std::unique_ptr<v1::ScenarioService::Stub> stub;
};

ScenarioClient::ScenarioClient(std::string address)
    : ScenarioClient(ClientOptions{.address = std::move(address)}) {}
ScenarioClient::ScenarioClient(ClientOptions options) : impl_(std::make_unique<Impl>(options)) {}
ScenarioClient::~ScenarioClient() = default;

absl::StatusOr<v1::ListScenariosResponse> ScenarioClient::List(const CallOptions& call) {
  grpc::ClientContext context;
  Apply(call, context);
  v1::ListScenariosResponse response;
  grpc::Status s = impl_->stub->ListScenarios(&context, v1::ListScenariosRequest(), &response);
  if (!s.ok()) return internal::FromGrpcStatus(s);
  return response;
}

absl::StatusOr<v1::RunScenarioResponse> ScenarioClient::Run(const v1::RunScenarioRequest& request,
                                                            const CallOptions& call) {
  grpc::ClientContext context;
  Apply(call, context);
  v1::RunScenarioResponse response;
  grpc::Status s = impl_->stub->RunScenario(&context, request, &response);
  if (!s.ok()) return internal::FromGrpcStatus(s);
  return response;
}

absl::Status ScenarioClient::Watch(const v1::WatchScenarioRequest& request, ResultCallback on_result,
                                   const CallOptions& call) {
  grpc::ClientContext context;
  Apply(call, context);
  std::unique_ptr<grpc::ClientReader<v1::WatchScenarioResponse>> reader =
      impl_->stub->WatchScenario(&context, request);
  v1::WatchScenarioResponse response;
  while (reader->Read(&response)) {
    if (!on_result(response)) {
      context.TryCancel();
      while (reader->Read(&response)) {
      }
      (void)reader->Finish();
      return absl::OkStatus();
    }
  }
  return internal::FromGrpcStatus(reader->Finish());
}

}  // namespace kessan
