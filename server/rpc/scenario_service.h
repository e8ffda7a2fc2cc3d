// ScenarioServiceImpl: kessan.v1.ScenarioService over a ScenarioEngine.
#pragma once

#include "kessan/v1/scenario.grpc.pb.h"
#include "plugin/scenario_engine.h"
#include "plugin/scenario_watch.h"
#include "rpc/call_guard.h"

namespace kessan {

// ListScenarios and RunScenario run on gRPC's synchronous pool (a run waits
// for its plugin's worker), streamed (and WatchScenario raw) so that bytes
// that are not a request are INVALID_ARGUMENT like any bad input. WatchScenario is a callback stream over a
// ScenarioWatcher watch (the scenario layer re-runs it as its inputs
// change); its reactor keeps one write in flight and only the newest
// pending result. Every call is authorized by the CallGuard (role analyst);
// a run reads only the caller's entitled inputs. The engine and the guard
// must outlive the service; destroying the service waits for the watches'
// runs under way.
class ScenarioServiceImpl final
    : public v1::ScenarioService::WithStreamedUnaryMethod_ListScenarios<
          v1::ScenarioService::WithStreamedUnaryMethod_RunScenario<
              v1::ScenarioService::WithRawCallbackMethod_WatchScenario<
                  v1::ScenarioService::Service>>> {
 public:
  ScenarioServiceImpl(ScenarioEngine& engine, CallGuard& guard)
      : engine_(engine), guard_(guard), watcher_(engine) {}
  ~ScenarioServiceImpl() override;

  grpc::Status StreamedListScenarios(
      grpc::ServerContext* context,
      grpc::ServerUnaryStreamer<v1::ListScenariosRequest, v1::ListScenariosResponse>* stream)
      override;
  grpc::Status StreamedRunScenario(
      grpc::ServerContext* context,
      grpc::ServerUnaryStreamer<v1::RunScenarioRequest, v1::RunScenarioResponse>* stream) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchScenario(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* raw) override;

  // Ends every watch (UNAVAILABLE) and refuses new ones. Idempotent.
  void Stop();

 private:
  grpc::Status ListScenariosFor(grpc::ServerContext* context, v1::ListScenariosResponse* response);
  grpc::Status RunScenarioFor(const auth::Principal& principal, const v1::RunScenarioRequest& request,
                           v1::RunScenarioResponse* response);

  ScenarioEngine& engine_;
  CallGuard& guard_;
  ScenarioWatcher watcher_;
};

}  // namespace kessan
