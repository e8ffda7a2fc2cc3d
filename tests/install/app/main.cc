// An app that embeds kessan::Server and talks to it with kessan::Client:
//   embed_app DATA_DIR DATA_SET_FILE
// starts a server on 127.0.0.1:0 (the install's bundled plugins), publishes
// the data set through the client, reads it back as a snapshot (and in
// process, kessan/local.h), waits for the plugins and runs one. Prints what it saw; exits non-zero on any
// error.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "kessan/client.h"
#include "kessan/local.h"
#include "kessan/publish_file.h"
#include "kessan/scenario_client.h"
#include "kessan/server.h"

namespace {

int Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "embed_app: %s: %s\n", what.c_str(), status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: embed_app DATA_DIR DATA_SET_FILE\n");
    return 2;
  }
  kessan::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.data_dir = argv[1];
  absl::StatusOr<std::unique_ptr<kessan::Server>> server = kessan::Server::Start(options);
  if (!server.ok()) return Fail("Server::Start", server.status());
  const std::string address = "127.0.0.1:" + std::to_string((*server)->port());

  absl::StatusOr<std::vector<kessan::v1::PublishRequest>> batches =
      kessan::LoadPublishBatchesFromFile(argv[2], 1000);
  if (!batches.ok()) return Fail("LoadPublishBatchesFromFile", batches.status());
  kessan::Client client(address);
  int items = 0;
  for (const kessan::v1::PublishRequest& batch : *batches) {
    absl::StatusOr<kessan::v1::PublishResponse> published = client.Publish(batch);
    if (!published.ok()) return Fail("Publish", published.status());
    items += published->sequences_size();
  }
  absl::StatusOr<kessan::v1::GetSnapshotResponse> snapshot = client.GetSnapshot(kessan::v1::Filter());
  if (!snapshot.ok()) return Fail("GetSnapshot", snapshot.status());
  std::printf("published %d items, snapshot of %d events at sequence %llu\n", items, snapshot->events_size(),
              static_cast<unsigned long long>(snapshot->sequence()));
  if (items == 0 || snapshot->events_size() != items) return 1;
  // The same state through the in-process API (kessan/local.h).
  std::unique_ptr<kessan::LocalClient> local = (*server)->Local();
  absl::StatusOr<kessan::v1::GetSnapshotResponse> local_snapshot = local->GetSnapshot({});
  if (!local_snapshot.ok()) return Fail("LocalClient::GetSnapshot", local_snapshot.status());
  std::printf("in-process snapshot of %d events\n", local_snapshot->events_size());
  if (local_snapshot->events_size() != items) return 1;

  // The bundled plugins load in the background: wait for dilution.
  kessan::ScenarioClient scenarios(address);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  bool ready = false;
  while (!ready && absl::Now() < deadline) {
    absl::StatusOr<kessan::v1::ListScenariosResponse> list = scenarios.List();
    if (!list.ok()) return Fail("ListScenarios", list.status());
    for (const kessan::v1::ScenarioInfo& info : list->scenarios()) {
      if (info.scenario().name() == "dilution" && info.state() == kessan::v1::PLUGIN_STATE_READY) {
        std::printf("plugin dilution from %s\n", info.path().c_str());
        ready = true;
      }
    }
    if (!ready) absl::SleepFor(absl::Milliseconds(100));  // polls a condition, bounded by deadline
  }
  if (!ready) return Fail("plugins", absl::DeadlineExceededError("dilution is not ready after 60 s"));
  kessan::v1::RunScenarioRequest run;
  run.set_name("dilution");
  (*run.mutable_parameters())["shares_outstanding_before"].set_text("48000");
  absl::StatusOr<kessan::v1::RunScenarioResponse> result = scenarios.Run(run);
  if (!result.ok()) return Fail("RunScenario", result.status());
  for (const kessan::v1::Output& output : result->result().outputs()) {
    if (output.name() == "gross_proceeds") {
      std::printf("dilution gross_proceeds %lld %s\n", static_cast<long long>(output.money().units()),
                  output.money().currency_code().c_str());
    }
  }
  (*server)->Shutdown(absl::Seconds(5));
  std::printf("embed_app: OK\n");
  return 0;
}
