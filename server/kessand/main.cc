// kessand: the Kessan feed daemon.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "kessan/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "host:port to serve on");
ABSL_FLAG(std::string, data_dir, "kessan-data", "directory of the journal (kessan.db)");
ABSL_FLAG(std::string, seed, "",
          "data set file (kessan.v1.DataSet, text format or .json) loaded into an "
          "empty journal on first start");
ABSL_FLAG(uint64_t, retain_events, 0,
          "resume window: keep every event of the last N (older superseded revisions "
          "are pruned; an older resume gets a resync and a snapshot); 0 keeps all");
ABSL_FLAG(uint64_t, max_queued_events, 65536, "bound of each subscriber's queue");
ABSL_FLAG(int32_t, heartbeat_ms, 5000,
          "heartbeat interval for subscribers that ask for none (100-60000)");

ABSL_FLAG(std::string, plugin_dir, "",
          "directory of scenario plugins (*.so); default: the bundled plugins of this "
          "build or install; \"none\": no plugins");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("kessand --listen HOST:PORT --data_dir DIR [--seed FILE]");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil checks every lock order at run time; a measurable cost on
  // the fan-out path (lock order is kept by design, see feed/feed.h).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Block the stop signals before any thread starts, then wait for them here.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  kessan::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.seed_path = absl::GetFlag(FLAGS_seed);
  options.retain_events = absl::GetFlag(FLAGS_retain_events);
  options.max_queued_events = absl::GetFlag(FLAGS_max_queued_events);
  options.default_heartbeat = absl::Milliseconds(absl::GetFlag(FLAGS_heartbeat_ms));
  options.plugin_dir = absl::GetFlag(FLAGS_plugin_dir);
  absl::StatusOr<std::unique_ptr<kessan::Server>> server = kessan::Server::Start(options);
  if (!server.ok()) {
    spdlog::error("kessand: {}", server.status().ToString());
    return 1;
  }
  // A line scripts can wait for.
  std::printf("kessand listening on port %d\n", (*server)->port());
  std::fflush(stdout);

  int signal = 0;
  sigwait(&stop, &signal);
  spdlog::info("signal {}: shutting down", signal);
  (*server)->Shutdown();
  return 0;
}
