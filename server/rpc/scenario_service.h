// ScenarioServiceImpl: kessan.v1.ScenarioService over gRPC, calling Services.
#pragma once

#include "kessan/v1/scenario.grpc.pb.h"
#include "metrics/rpc_metrics.h"
#include "service/services.h"

namespace kessan {

// ListScenarios and RunScenario run on gRPC's synchronous pool (a run waits
// for its plugin's worker), streamed (and WatchScenario raw) so that bytes
// that are not a request are INVALID_ARGUMENT like any bad input.
// WatchScenario is a callback stream over a Services watch; its reactor
// keeps one write in flight and only the newest pending result. Each method
// records its own metrics (CallMetrics, without the interceptor:
// SelfRecordedMethods). Services and the metrics must outlive it.
class ScenarioServiceImpl final
    : public v1::ScenarioService::WithStreamedUnaryMethod_ListScenarios<
          v1::ScenarioService::WithStreamedUnaryMethod_RunScenario<
              v1::ScenarioService::WithRawCallbackMethod_WatchScenario<v1::ScenarioService::Service>>> {
 public:
  static std::vector<std::string> SelfRecordedMethods() {
    return {kListScenariosMethod, kRunScenarioMethod, kWatchScenarioMethod};
  }

  ScenarioServiceImpl(Services& services, const metrics::RpcMetrics& metrics)
      : services_(services),
        list_metrics_(metrics.Find(kListScenariosMethod)),
        run_metrics_(metrics.Find(kRunScenarioMethod)),
        watch_metrics_(metrics.Find(kWatchScenarioMethod)) {}

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
  const metrics::RpcMetrics::Series& list_metrics_;
  const metrics::RpcMetrics::Series& run_metrics_;
  const metrics::RpcMetrics::Series& watch_metrics_;
};

}  // namespace kessan
