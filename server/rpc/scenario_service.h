// ScenarioServiceImpl: kessan.v1.ScenarioService over a ScenarioEngine.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "kessan/v1/scenario.grpc.pb.h"
#include "plugin/scenario_engine.h"
#include "rpc/call_guard.h"

namespace kessan {

class WatchSession;

// ListScenarios and RunScenario run on gRPC's synchronous pool (a run waits
// for its plugin's worker). WatchScenario is a callback stream: each watch
// has a thread that waits on an in-process live-only Feed subscription to
// the scenario's input kinds (woken by the fan-out, never polling), re-runs
// the scenario when an input item changes and hands the result to the
// stream's reactor, which keeps one write in flight and only the newest
// pending result. Every call is authorized by the CallGuard (role analyst);
// a run reads only the caller's entitled inputs. The engine and the guard
// must outlive the service; destroying the service stops and joins every
// watch thread.
class ScenarioServiceImpl final
    : public v1::ScenarioService::WithCallbackMethod_WatchScenario<v1::ScenarioService::Service> {
 public:
  ScenarioServiceImpl(ScenarioEngine& engine, CallGuard& guard) : engine_(engine), guard_(guard) {}
  ~ScenarioServiceImpl() override;

  grpc::Status ListScenarios(grpc::ServerContext* context, const v1::ListScenariosRequest* request,
                             v1::ListScenariosResponse* response) override;
  grpc::Status RunScenario(grpc::ServerContext* context, const v1::RunScenarioRequest* request,
                           v1::RunScenarioResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchScenarioResponse>* WatchScenario(
      grpc::CallbackServerContext* context, const v1::WatchScenarioRequest* request) override;

  // Ends every watch (UNAVAILABLE) and joins their threads. Idempotent.
  void Stop();

 private:
  ScenarioEngine& engine_;
  CallGuard& guard_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::shared_ptr<WatchSession>> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kessan
