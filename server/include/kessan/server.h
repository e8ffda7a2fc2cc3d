// kessan::Server: the embeddable Kessan feed server.
//
// A Server journals published facts in an SQLite file under
// ServerOptions::data_dir and serves kessan.v1.FeedService (with gRPC health
// and reflection) on ServerOptions::listen. Start, then Wait or Shutdown:
//
//   kessan::ServerOptions options;
//   options.listen = "127.0.0.1:0";
//   options.data_dir = "/var/lib/kessan";
//   absl::StatusOr<std::unique_ptr<kessan::Server>> server =
//       kessan::Server::Start(options);
//   if (!server.ok()) ...;
//   int port = (*server)->port();
//
// This header includes no gRPC or Protobuf header. Several Servers may run
// in one process (each its own data_dir and port). Start registers health
// and reflection on this server only; but libgrpc++_reflection, which this
// library loads, offers reflection on every gRPC server of the process.
// What a Server does to the whole process (docs/embedding.md): it routes
// libprotobuf's logs to spdlog (RouteProtobufLogsToSpdlog), logs with
// spdlog's default logger, turns gRPC's default health service switch on
// during its own build only (under a lock; a gRPC server the app builds on
// another thread at that moment may get the health service too), starts
// plugin workers as child processes it reaps itself (SIGCHLD must not be
// SIG_IGN), and its libraries hold the kessan.v1 and grpc.health.v1
// descriptors (an app must not link its own copies of those protos).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kessan {

struct ServerOptions {
  // host:port to listen on; port 0 picks a free one (see Server::port()).
  std::string listen = "127.0.0.1:50051";
  // Directory of the journal (kessan.db); created if missing.
  std::string data_dir = "kessan-data";
  // The journal: "sqlite" (kessan.db in data_dir) or "nats" (a NATS
  // JetStream stream, the record of truth, with a local cache
  // kessan-cache.db in data_dir; docs/cluster.md). With "nats": the
  // servers (comma-separated nats:// URLs), the stream, and the replicas of
  // a stream Start creates (0: min(3, servers)). Start catches up with the
  // stream before it serves. One replica may write for now: another's
  // appends make this one's publishes fail (ABORTED) until it restarts.
  std::string journal = "sqlite";
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string nats_stream = "KESSAN";
  int nats_replicas = 0;
  // How long a NATS journal retries an append while no server or stream
  // leader answers, before the publish fails with UNAVAILABLE.
  absl::Duration nats_retry_timeout = absl::Seconds(30);
  // An SQLite journal that lost acknowledged events (its -acked file says
  // more than it holds) is refused with DATA_LOSS; with this, it goes on as
  // a new incarnation and subscribers resuming with the old one resync.
  bool accept_journal_loss = false;
  // A data set file (kessan.v1.DataSet, text format or .json) published
  // when the journal is empty, i.e. on the first start. Empty: none.
  std::string seed_path;
  // Directory of scenario plugins (*.so), each run in its own worker
  // process. Empty: the bundled plugins of the build or install this
  // library belongs to (none if there are none). "none": no plugins.
  std::string plugin_dir;
  // When kessand runs as root, plugin workers run as this user (README
  // "Security"). Empty: as root.
  std::string plugin_user = "nobody";
  // HTTP/1.1 with the Connect protocol (docs/http.md): host:port of a second
  // port serving the same services as gRPC to curl and browsers, with GET
  // /metrics and static files. Empty: none; port 0 picks a free one (see
  // Server::http_port()). Plaintext: with auth_tokens, mTLS or TLS on, it
  // must be a loopback address (a TLS-terminating proxy may front it).
  std::string http_listen;
  // Directory whose files GET serves on the HTTP port ("/" is index.html).
  // Empty: none.
  std::string http_static_dir;
  // Resume window: the journal keeps every event of the last retain_events
  // (older superseded revisions are pruned; a resume from before the window
  // gets a resync and a snapshot). 0 keeps everything.
  uint64_t retain_events = 0;
  // Bound of each subscriber's queue (see SlowConsumerPolicy).
  size_t max_queued_events = 65536;
  // Heartbeat interval of a subscriber that asks for 0.
  absl::Duration default_heartbeat = absl::Seconds(5);

  // Security (README "Security"). The defaults serve plaintext without
  // authentication, which Start refuses on a non-loopback address once
  // bearer tokens are on.
  //
  // TLS: PEM files of the server's certificate (chain) and private key;
  // both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
  // mTLS: PEM file of the CA(s) whose client certificates are accepted;
  // every client must present a valid one (needs tls_cert_file). The
  // certificate's common name is the caller's identity.
  std::string tls_client_ca_file;
  // The principals file (bearer tokens hashed, certificate names, roles,
  // entitlements; format in README). Empty: no tokens. Reloaded when it
  // changes (checked every auth_reload_interval; zero: only by
  // Server::ReloadAuthTokens). With neither this nor tls_client_ca_file,
  // every call has every role.
  std::string auth_tokens_file;
  absl::Duration auth_reload_interval = absl::Seconds(1);

  // Limits; a breach is RESOURCE_EXHAUSTED naming the limit.
  // Largest request message, in bytes.
  int max_message_bytes = 4 << 20;
  // Items per Publish batch (at most 1000).
  int max_batch_items = 1000;
  // Published items per second per principal (token bucket holding
  // publish_burst items; 0 burst: one second's worth). 0: no limit.
  double max_publish_rate = 0;
  double publish_burst = 0;
  // Subscribe and WatchScenario streams open at once on one connection.
  // 0: no limit.
  size_t max_subscriptions_per_connection = 1000;
  // RunScenario calls running at once. 0: no limit.
  size_t max_concurrent_scenario_runs = 16;
};

class LocalClient;
struct LocalCredentials;

// Server is thread-safe. Destroying it shuts it down.
class Server {
 public:
  // Opens the journal, rebuilds the state, loads the seed into an empty
  // journal and starts serving. Fails if the journal cannot be opened, the
  // seed is invalid (nothing of it is stored) or the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();

  // The port bound.
  int port() const;
  // The HTTP port bound; 0 without ServerOptions::http_listen.
  int http_port() const;
  // The highest sequence in the journal.
  uint64_t last_sequence() const;

  // An in-process client of this server (kessan/local.h): the same
  // services as over gRPC, without a network hop.
  std::unique_ptr<LocalClient> Local();
  std::unique_ptr<LocalClient> Local(const LocalCredentials& credentials);

  // The server's metrics in the Prometheus text format (version 0.0.4):
  // gRPC calls, the feed, scenarios, refusals and the process
  // (docs/operations.md "Metrics"). Thread-safe; cheap enough to scrape
  // every few seconds.
  std::string MetricsText() const;

  // Rereads ServerOptions::auth_tokens_file now (kessand calls it on
  // SIGHUP). On error the previous principals stay in force.
  absl::Status ReloadAuthTokens();

  // Ends subscriptions (UNAVAILABLE, so clients resume elsewhere or later),
  // lets calls in flight finish within `grace`, then stops. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));
  // Blocks until Shutdown has completed.
  void Wait();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Where libkessan's log lines go: its operations log ("kessan") and its
// audit log ("audit": one line per refused call and per publish). By
// default both write where spdlog's default logger writes (the audit lines
// to the application's own spdlog logger named "audit", if it registered
// one). A handler receives every line instead, from any thread, and must
// be thread-safe and quick. Process-wide (every Server of the process);
// null restores the default.
enum class LogLevel { kTrace, kDebug, kInfo, kWarning, kError, kCritical };
using LogHandler = std::function<void(LogLevel level, std::string_view logger, std::string_view message)>;
void SetLogHandler(LogHandler handler);

// RouteProtobufLogsToSpdlog makes libprotobuf's warnings and errors spdlog
// lines of spdlog's default logger ("protobuf: FILE:LINE: message") instead
// of its own lines on stderr. Process-wide and idempotent; Server::Start
// calls it. libprotobuf's handler is not thread-safe to set: an embedder
// calls it first, before its threads use protobuf.
void RouteProtobufLogsToSpdlog();

// What VerifyJournal found.
struct JournalVerification {
  uint64_t rows = 0;
  uint64_t events = 0;
  // Damaged events, rows and gaps: one per line reported.
  uint64_t damaged = 0;
};

// VerifyJournal checks the journal of `data_dir` (`kessand --verify`)
// without changing it, a running kessand or not: each row's checksums and
// structure, each event parsed whole, sequences without gaps. Calls
// `report` with one line per damaged event or row. An error when the file
// cannot be read at all (missing, not a database, no schema).
absl::StatusOr<JournalVerification> VerifyJournal(const std::string& data_dir,
                                                  const std::function<void(const std::string& line)>& report);

}  // namespace kessan
