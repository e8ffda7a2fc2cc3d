// ScenarioServiceImpl: kessan.v1.ScenarioService over gRPC, calling Services.
#pragma once

#include "kessan/v1/scenario.grpc.pb.h"
#include "service/services.h"

namespace kessan {

// ListScenarios and RunScenario run on gRPC's synchronous pool (a run waits
// for its plugin's worker), streamed (and WatchScenario raw) so that bytes
// that are not a request are INVALID_ARGUMENT like any bad input.
// WatchScenario is a callback stream over a Services watch; its reactor
// keeps one write in flight and only the newest pending result. Services
// must outlive it.
class ScenarioServiceImpl final
    : public v1::ScenarioService::WithStreamedUnaryMethod_ListScenarios<
          v1::ScenarioService::WithStreamedUnaryMethod_RunScenario<
              v1::ScenarioService::WithRawCallbackMethod_WatchScenario<v1::ScenarioService::Service>>> {
 public:
  explicit ScenarioServiceImpl(Services& services) : services_(services) {}

  grpc::Status StreamedListScenarios(
      grpc::ServerContext* context,
      grpc::ServerUnaryStreamer<v1::ListScenariosRequest, v1::ListScenariosResponse>* stream) override;
  grpc::Status StreamedRunScenario(
      grpc::ServerContext* context,
      grpc::ServerUnaryStreamer<v1::RunScenarioRequest, v1::RunScenarioResponse>* stream) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchScenario(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* raw) override;

 private:
  Services& services_;
};

}  // namespace kessan
