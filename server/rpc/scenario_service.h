// ScenarioServiceImpl: kessan.v1.ScenarioService over a ScenarioEngine.
#pragma once

#include "kessan/v1/scenario.grpc.pb.h"
#include "plugin/scenario_engine.h"
#include "plugin/scenario_watch.h"
#include "rpc/call_guard.h"

namespace kessan {

// ListScenarios and RunScenario run on gRPC's synchronous pool (a run waits
// for its plugin's worker). WatchScenario is a callback stream over a
// ScenarioWatcher watch (the scenario layer re-runs it as its inputs
// change); its reactor keeps one write in flight and only the newest
// pending result. Every call is authorized by the CallGuard (role analyst);
// a run reads only the caller's entitled inputs. The engine and the guard
// must outlive the service; destroying the service waits for the watches'
// runs under way.
class ScenarioServiceImpl final
    : public v1::ScenarioService::WithCallbackMethod_WatchScenario<v1::ScenarioService::Service> {
 public:
  ScenarioServiceImpl(ScenarioEngine& engine, CallGuard& guard)
      : engine_(engine), guard_(guard), watcher_(engine) {}
  ~ScenarioServiceImpl() override;

  grpc::Status ListScenarios(grpc::ServerContext* context, const v1::ListScenariosRequest* request,
                             v1::ListScenariosResponse* response) override;
  grpc::Status RunScenario(grpc::ServerContext* context, const v1::RunScenarioRequest* request,
                           v1::RunScenarioResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchScenarioResponse>* WatchScenario(
      grpc::CallbackServerContext* context, const v1::WatchScenarioRequest* request) override;

  // Ends every watch (UNAVAILABLE) and refuses new ones. Idempotent.
  void Stop();

 private:
  ScenarioEngine& engine_;
  CallGuard& guard_;
  ScenarioWatcher watcher_;
};

}  // namespace kessan
