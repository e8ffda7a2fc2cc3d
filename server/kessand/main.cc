// kessand: the Kessan feed daemon.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "kessan/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "host:port to serve on");
ABSL_FLAG(std::string, http_listen, "",
          "host:port of the HTTP/Connect port (curl, browsers; docs/http.md); empty: none");
ABSL_FLAG(std::string, http_static_dir, "", "directory of files GET serves on the HTTP port; empty: none");
ABSL_FLAG(std::string, data_dir, "kessan-data", "directory of the journal (kessan.db)");
ABSL_FLAG(std::string, journal, "sqlite",
          "sqlite: kessan.db in --data_dir; nats: a NATS JetStream stream (--nats_url, "
          "--nats_stream), cached in --data_dir/kessan-cache.db (docs/cluster.md)");
ABSL_FLAG(std::string, nats_url, "nats://127.0.0.1:4222",
          "with --journal nats: the NATS servers, comma-separated nats:// URLs");
ABSL_FLAG(std::string, nats_stream, "KESSAN", "with --journal nats: the JetStream stream");
ABSL_FLAG(int32_t, nats_replicas, 0,
          "with --journal nats: replicas of the stream if kessand creates it; 0: min(3, servers)");
ABSL_FLAG(absl::Duration, nats_retry_timeout, absl::Seconds(30),
          "with --journal nats: how long an append is retried while no NATS server or stream "
          "leader answers, before the publish fails with UNAVAILABLE");
ABSL_FLAG(bool, accept_journal_loss, false,
          "start on an SQLite journal that lost acknowledged events (e.g. its -wal file), as a "
          "new incarnation: subscribers resync instead of getting new events under old numbers");
ABSL_FLAG(std::string, seed, "",
          "data set file (kessan.v1.DataSet, text format or .json) loaded into an "
          "empty journal on first start");
ABSL_FLAG(uint64_t, retain_events, 0,
          "resume window: keep every event of the last N (older superseded revisions "
          "are pruned; an older resume gets a resync and a snapshot); 0 keeps all");
ABSL_FLAG(uint64_t, max_queued_events, 65536, "bound of each subscriber's queue");
ABSL_FLAG(int32_t, heartbeat_ms, 5000, "heartbeat interval for subscribers that ask for none (100-60000)");

ABSL_FLAG(std::string, plugin_dir, "",
          "directory of scenario plugins (*.so); default: the bundled plugins of this "
          "build or install; \"none\": no plugins");
ABSL_FLAG(std::string, plugin_user, "nobody",
          "when kessand runs as root, plugin workers run as this user (and its group)");

// Security (README "Security").
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate (chain) of the server: serve TLS (with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: require client certificates signed by it (mTLS); the certificate's "
          "common name is the caller's identity");
ABSL_FLAG(std::string, auth_tokens, "",
          "principals file (bearer token hashes, certificate names, roles, entitlements); "
          "reloaded when it changes and on SIGHUP");
ABSL_FLAG(int32_t, max_message_bytes, 4 << 20, "largest request message accepted, in bytes");
ABSL_FLAG(int32_t, max_batch_items, 1000, "items per Publish batch (1-1000)");
ABSL_FLAG(double, max_publish_rate, 0, "published items per second per principal; 0: no limit");
ABSL_FLAG(double, publish_burst, 0, "publish token bucket size in items; 0: one second's worth");
ABSL_FLAG(uint64_t, max_subscriptions_per_connection, 1000,
          "Subscribe and WatchScenario streams open at once on one connection; 0: no limit");
ABSL_FLAG(uint64_t, max_concurrent_scenario_runs, 16, "RunScenario calls running at once; 0: no limit");
ABSL_FLAG(bool, verify, false,
          "check the journal of --data_dir read-only and exit (the server is not started): one "
          "line per damaged event, then a summary; exit 0 if sound, 1 if damaged, 2 if unreadable");

namespace {

// kessand --verify: the exit code.
int Verify(const std::string& data_dir) {
  absl::StatusOr<kessan::JournalVerification> result =
      kessan::VerifyJournal(data_dir, [](const std::string& line) { std::printf("%s\n", line.c_str()); });
  if (!result.ok()) {
    std::fprintf(stderr, "kessand --verify: %s\n", result.status().ToString().c_str());
    return 2;
  }
  std::printf("verified %llu events in %llu rows: %llu damaged\n",
              static_cast<unsigned long long>(result->events), static_cast<unsigned long long>(result->rows),
              static_cast<unsigned long long>(result->damaged));
  return result->damaged == 0 ? 0 : 1;
}

}  // namespace

namespace {

// A file of kessand's own, where its flags are defined.
bool IsKessandFile(absl::string_view file) { return absl::StrContains(file, "kessand/"); }

// --help, -help, --helpshort, -helpshort before any "--".
bool HelpAsked(int argc, char** argv) {
  for (int i = 1; i < argc && absl::string_view(argv[i]) != "--"; ++i) {
    absl::string_view a = argv[i];
    if (a == "--help" || a == "-help" || a == "--helpshort" || a == "-helpshort") return true;
  }
  return false;
}

// The usage message and kessand's flags, to stdout. Abseil's own --help
// looks for flags in files named after the binary (none: "No flags
// matched") and exits 1; asking for help is no error.
void PrintHelp() {
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (IsKessandFile(flag->Filename())) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(), [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
  std::printf("kessand: %s\n\n", std::string(absl::ProgramUsageMessage()).c_str());
  for (const absl::CommandLineFlag* flag : flags) {
    const char* quote = flag->IsOfType<std::string>() ? "\"" : "";
    std::printf("  --%s (%s); default: %s%s%s\n", std::string(flag->Name()).c_str(), flag->Help().c_str(),
                quote, flag->DefaultValue().c_str(), quote);
  }
}

}  // namespace

int main(int argc, char** argv) {
  kessan::RouteProtobufLogsToSpdlog();
  absl::SetProgramUsageMessage(
      "the Kessan feed daemon: serves kessan.v1.FeedService and ScenarioService over gRPC.\n"
      "  kessand --listen HOST:PORT --data_dir DIR [--seed FILE]\n"
      "  kessand --verify --data_dir DIR");
  if (HelpAsked(argc, argv)) {
    PrintHelp();
    return 0;
  }
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_verify)) return Verify(absl::GetFlag(FLAGS_data_dir));
  // Debian's Abseil checks every lock order at run time; a measurable cost on
  // the fan-out path (lock order is kept by design, see feed/feed.h).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Block the stop signals before any thread starts, then wait for them here.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGHUP);  // reload --auth_tokens
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  kessan::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.http_listen = absl::GetFlag(FLAGS_http_listen);
  options.http_static_dir = absl::GetFlag(FLAGS_http_static_dir);
  options.journal = absl::GetFlag(FLAGS_journal);
  if (options.journal != "sqlite" && options.journal != "nats") {
    std::fprintf(stderr, "kessand: --journal %s: sqlite or nats\n", options.journal.c_str());
    return 2;
  }
  options.nats_url = absl::GetFlag(FLAGS_nats_url);
  options.nats_stream = absl::GetFlag(FLAGS_nats_stream);
  options.nats_replicas = absl::GetFlag(FLAGS_nats_replicas);
  options.nats_retry_timeout = absl::GetFlag(FLAGS_nats_retry_timeout);
  options.accept_journal_loss = absl::GetFlag(FLAGS_accept_journal_loss);
  options.seed_path = absl::GetFlag(FLAGS_seed);
  options.retain_events = absl::GetFlag(FLAGS_retain_events);
  options.max_queued_events = absl::GetFlag(FLAGS_max_queued_events);
  options.default_heartbeat = absl::Milliseconds(absl::GetFlag(FLAGS_heartbeat_ms));
  options.plugin_dir = absl::GetFlag(FLAGS_plugin_dir);
  options.plugin_user = absl::GetFlag(FLAGS_plugin_user);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.auth_tokens_file = absl::GetFlag(FLAGS_auth_tokens);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.max_batch_items = absl::GetFlag(FLAGS_max_batch_items);
  options.max_publish_rate = absl::GetFlag(FLAGS_max_publish_rate);
  options.publish_burst = absl::GetFlag(FLAGS_publish_burst);
  options.max_subscriptions_per_connection = absl::GetFlag(FLAGS_max_subscriptions_per_connection);
  options.max_concurrent_scenario_runs = absl::GetFlag(FLAGS_max_concurrent_scenario_runs);
  absl::StatusOr<std::unique_ptr<kessan::Server>> server = kessan::Server::Start(options);
  if (!server.ok()) {
    // Damage: one line, and where to see all of it.
    const bool damaged = server.status().code() == absl::StatusCode::kDataLoss;
    spdlog::error(
        "kessand: {}{}", server.status().ToString(),
        damaged ? "; `kessand --verify --data_dir " + options.data_dir + "` lists every damaged event" : "");
    return 1;
  }
  // A line scripts can wait for.
  std::printf("kessand listening on port %d\n", (*server)->port());
  if ((*server)->http_port() != 0) std::printf("kessand HTTP on port %d\n", (*server)->http_port());
  std::fflush(stdout);

  int signal = 0;
  for (;;) {
    sigwait(&stop, &signal);
    if (signal != SIGHUP) break;
    absl::Status reloaded = (*server)->ReloadAuthTokens();
    if (!reloaded.ok()) spdlog::warn("SIGHUP: {}", reloaded.ToString());
  }
  spdlog::info("signal {}: shutting down", signal);
  (*server)->Shutdown();
  return 0;
}
