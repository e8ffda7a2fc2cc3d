// kessan/scenario_client.h: a C++ client of kessan.v1.ScenarioService.
//
// As kessan::Client, every failure comes back as an absl::Status with the
// server's code and message, and no gRPC header is needed to use it.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kessan/client.h"
#include "kessan/v1/scenario.pb.h"

namespace kessan {

// ScenarioClient: thread-safe; Watch blocks its calling thread until the
// stream ends.
//
//   kessan::ScenarioClient client("127.0.0.1:50051");
//   kessan::v1::RunScenarioRequest run;
//   run.set_name("dilution");
//   (*run.mutable_parameters())["shares_outstanding_before"].set_text("48000");
//   absl::StatusOr<kessan::v1::RunScenarioResponse> r = client.Run(run);
class ScenarioClient {
 public:
  // Called for each result of a watch; returning false ends the watch.
  using ResultCallback = std::function<bool(const v1::WatchScenarioResponse& response)>;

  explicit ScenarioClient(std::string address = kDefaultServerAddress);
  explicit ScenarioClient(ClientOptions options);
  ~ScenarioClient();

  absl::StatusOr<v1::ListScenariosResponse> List(const CallOptions& call = {});
  absl::StatusOr<v1::RunScenarioResponse> Run(const v1::RunScenarioRequest& request,
                                              const CallOptions& call = {});
  // Streams results until the server ends the stream (OK), `on_result`
  // returns false (OK), or an error.
  absl::Status Watch(const v1::WatchScenarioRequest& request, ResultCallback on_result,
                     const CallOptions& call = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kessan
