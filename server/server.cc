#include "kessan/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "auth/token_store.h"
#include "dataset/dataset.h"
#include "feed/feed.h"
#include "grpc/health/v1/health.pb.h"
#include "http/connect_services.h"
#include "http/http_server.h"
#include "journal/journal_verify.h"
#include "journal/nats_journal.h"
#include "journal/sqlite_journal.h"
#include "local.h"
#include "metrics/feed_metrics.h"
#include "metrics/process_metrics.h"
#include "metrics/refusal_metrics.h"
#include "metrics/registry.h"
#include "metrics/rpc_metrics.h"
#include "metrics/scenario_metrics.h"
#include "model/validate.h"
#include "plugin/paths.h"
#include "plugin/plugin_host.h"
#include "plugin/scenario_engine.h"
#include "rpc/feed_service.h"
#include "rpc/metrics_interceptor.h"
#include "rpc/scenario_service.h"
#include "service/call_guard.h"
#include "service/services.h"
#include "util/log.h"
#include "util/status_macros.h"

namespace kessan {
namespace {

// Long idle streams stay up: the server pings every 30 s, and accepts
// client keepalive pings as often as every 5 s, even without calls, so a
// client's keepalive never earns a GOAWAY "too_many_pings".
void AddKeepalive(grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
}

// Reflection for this server, without InitProtoReflectionServerBuilderPlugin
// (which would register it for every server). libgrpc++_reflection 1.51
// registers it so when it loads (docs/embedding.md): then the builder has
// the plugin already and gets no second one.
class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* args) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    auto reflection = std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>();
    for (const auto& plugin : *plugins) {
      if (plugin->name() == reflection->name()) return;
    }
    plugins->push_back(std::move(reflection));
  }
};

// BuildAndStart with gRPC's default health service. Its switch is global,
// read while a server is built: it is on for this build only, then as the
// app left it.
std::unique_ptr<grpc::Server> BuildAndStartWithHealth(grpc::ServerBuilder& builder) {
  ABSL_CONST_INIT static absl::Mutex mu(absl::kConstInit);
  absl::MutexLock lock(&mu);
  const bool was_enabled = grpc::DefaultHealthCheckServiceEnabled();
  grpc::EnableDefaultHealthCheckService(true);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  grpc::EnableDefaultHealthCheckService(was_enabled);
  return server;
}

absl::Status LoadSeed(Feed& feed, const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<v1::PublishRequest> batches, LoadPublishBatches(path, kMaxBatchItems));
  size_t count = 0;
  for (const v1::PublishRequest& batch : batches) {
    absl::StatusOr<v1::PublishResponse> published = feed.Publish(batch);
    if (!published.ok()) {
      return absl::Status(published.status().code(),
                          absl::StrCat("seed ", path, ": ", published.status().message()));
    }
    count += published->sequences_size();
  }
  Log().info("seeded the journal with {} items in {} batches from {}", count, batches.size(), path);
  return absl::OkStatus();
}

// --- Security: TLS credentials, the principals file, the limits. ---

absl::StatusOr<std::string> ReadFile(const std::string& what, const std::string& path) {
  std::ifstream in(path);
  if (!in.is_open()) return absl::NotFoundError(absl::StrCat(what, " ", path, ": cannot read the file"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// True for 127.0.0.0/8, ::1, localhost and unix sockets.
bool IsLoopback(const std::string& listen) {
  if (absl::StartsWith(listen, "unix:") || absl::StartsWith(listen, "unix-abstract:")) return true;
  std::string host = listen;
  if (absl::StartsWith(host, "[")) {
    host = host.substr(1, host.find(']') == std::string::npos ? std::string::npos : host.find(']') - 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

// The listening port's credentials: TLS (and mTLS) when configured.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const ServerOptions& o) {
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls_cert and tls_key: give both or neither");
  }
  if (!o.tls_client_ca_file.empty() && o.tls_cert_file.empty()) {
    return absl::InvalidArgumentError("tls_client_ca needs tls_cert and tls_key (mTLS is TLS first)");
  }
  if (o.tls_cert_file.empty()) {
    if (!o.auth_tokens_file.empty() && !IsLoopback(o.listen)) {
      return absl::FailedPreconditionError(
          absl::StrCat("auth_tokens on ", o.listen,
                       " without TLS would send bearer tokens in clear text over the network: "
                       "add tls_cert and tls_key, or listen on a loopback address"));
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadFile("tls_cert", o.tls_cert_file));
  ASSIGN_OR_RETURN(pair.private_key, ReadFile("tls_key", o.tls_key_file));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!o.tls_client_ca_file.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadFile("tls_client_ca", o.tls_client_ca_file));
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

// The HTTP port is plaintext: where security is on, only on loopback.
absl::Status CheckHttpListen(const ServerOptions& o) {
  if (o.http_listen.empty() || IsLoopback(o.http_listen)) return absl::OkStatus();
  if (!o.auth_tokens_file.empty() || !o.tls_cert_file.empty() || !o.tls_client_ca_file.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("http_listen ", o.http_listen,
                     " serves plaintext HTTP: with auth_tokens or TLS on it must be a loopback "
                     "address (put a TLS-terminating proxy in front of it for the network)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<CallGuardOptions> GuardOptions(const ServerOptions& o) {
  CallGuardOptions g;
  if (!o.auth_tokens_file.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<auth::TokenStore> store,
                     auth::TokenStore::Open(o.auth_tokens_file, o.auth_reload_interval));
    g.tokens = std::move(store);
  }
  g.client_certificates = !o.tls_client_ca_file.empty();
  if (o.max_batch_items < 1 || o.max_batch_items > kMaxBatchItems) {
    return absl::InvalidArgumentError(absl::StrCat("max_batch_items: 1..", kMaxBatchItems));
  }
  if (o.max_message_bytes < 1024) return absl::InvalidArgumentError("max_message_bytes: at least 1024");
  if (o.max_publish_rate < 0 || o.publish_burst < 0) {
    return absl::InvalidArgumentError("max_publish_rate and publish_burst cannot be negative");
  }
  g.max_batch_items = o.max_batch_items;
  g.publish_rate = o.max_publish_rate;
  g.publish_burst = o.publish_burst;
  g.max_subscriptions_per_connection = o.max_subscriptions_per_connection;
  g.max_concurrent_scenario_runs = o.max_concurrent_scenario_runs;
  return g;
}

}  // namespace

class Server::Impl {
 public:
  // Metrics first: every layer below records into them until it is gone.
  metrics::Registry registry;
  metrics::FeedMetrics feed_metrics{registry};
  metrics::ScenarioMetrics scenario_metrics{registry};
  metrics::RefusalMetrics refusal_metrics{registry};
  std::unique_ptr<metrics::RpcMetrics> rpc_metrics;
  // The Prometheus text of `registry`, for a transport serving /metrics.
  std::function<std::string()> metrics_text = [this] { return registry.Text(); };

  std::unique_ptr<Feed> feed;
  // Authentication, entitlements, limits, audit (after the feed, before
  // the services that use it).
  std::unique_ptr<CallGuard> guard;
  std::shared_ptr<auth::TokenStore> tokens;
  // Scenarios (declared after the feed, before the gRPC server: destroyed
  // after the server stops, before the feed).
  std::unique_ptr<PluginHost> plugin_host;
  std::unique_ptr<ScenarioEngine> scenario_engine;
  // What every transport calls.
  std::unique_ptr<Services> services;
  // In-process clients' subscriptions (before the services: ended first).
  std::shared_ptr<LocalHub> local;
  // The gRPC services over them.
  std::unique_ptr<FeedServiceImpl> service;
  std::unique_ptr<ScenarioServiceImpl> scenario_service;
  std::unique_ptr<grpc::Server> grpc_server;
  int port = 0;
  // HTTP/Connect over the same services (after them: stopped first).
  std::unique_ptr<http::HttpServer> http_server;

  absl::Mutex mu;
  bool shut_down ABSL_GUARDED_BY(mu) = false;
};

namespace {

// Threads that run in-process subscribers' callbacks.
constexpr int kLocalDeliveryThreads = 2;

// The plugin host (over options.plugin_dir or the bundled plugins) and the
// ScenarioService.
absl::Status StartScenarios(Server::Impl& impl, const ServerOptions& options) {
  PluginHostOptions host;
  host.plugin_dir = options.plugin_dir.empty() ? DefaultPluginDir() : options.plugin_dir;
  if (host.plugin_dir == "none") host.plugin_dir.clear();
  host.worker_path = DefaultWorkerPath();
  host.plugin_user = options.plugin_user;
  host.metrics = &impl.scenario_metrics;
  if (!host.plugin_dir.empty() && host.worker_path.empty()) {
    return absl::FailedPreconditionError("plugin_dir " + host.plugin_dir +
                                         ": kessan-plugin-worker not found next to the executable");
  }
  if (host.plugin_dir.empty()) Log().warn("no plugin directory: ScenarioService has no scenarios");
  ASSIGN_OR_RETURN(impl.plugin_host, PluginHost::Create(std::move(host)));
  impl.scenario_engine =
      std::make_unique<ScenarioEngine>(*impl.feed, *impl.plugin_host, &impl.scenario_metrics);
  impl.services = std::make_unique<Services>(*impl.feed, *impl.scenario_engine, *impl.guard);
  impl.local = std::make_shared<LocalHub>(*impl.services, kLocalDeliveryThreads);
  impl.scenario_service = std::make_unique<ScenarioServiceImpl>(*impl.services, *impl.rpc_metrics);
  impl.service = std::make_unique<FeedServiceImpl>(*impl.services, *impl.rpc_metrics);
  return absl::OkStatus();
}

// The series of every method served (gRPC's and the feed's own), and the
// figures read when scraped: the feed's head and subscriptions, /proc/self.
void AddServerMetrics(Server::Impl& impl) {
  impl.rpc_metrics = std::make_unique<metrics::RpcMetrics>(
      impl.registry,
      RpcMethodsOf({v1::FeedService::service_full_name(), v1::ScenarioService::service_full_name(),
                    "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}));
  Feed* feed = impl.feed.get();
  metrics::AddFeedReadings(impl.registry, {[feed] { return feed->last_sequence(); },
                                           [feed] { return static_cast<uint64_t>(feed->subscriber_count()); },
                                           [feed] { return feed->SubscriptionStats(); }});
  metrics::AddProcessMetrics(impl.registry);
}

// How long Start waits for a NATS journal's cache to catch up with the stream.
constexpr absl::Duration kNatsCatchUpTimeout = absl::Minutes(10);

// The journal options.journal names; `name` says which, for the logs.
absl::StatusOr<std::unique_ptr<Journal>> OpenJournal(const ServerOptions& options, std::string* name) {
  const std::filesystem::path dir(options.data_dir);
  if (options.journal == "sqlite") {
    *name = (dir / "kessan.db").string();
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteJournal> log,
                     SqliteJournal::Open(*name, {options.accept_journal_loss}));
    return std::unique_ptr<Journal>(std::move(log));
  }
  if (options.journal != "nats") {
    return absl::InvalidArgumentError(absl::StrCat("journal '", options.journal, "': sqlite or nats"));
  }
  NatsJournalOptions nats;
  nats.url = options.nats_url;
  nats.stream = options.nats_stream;
  nats.replicas = options.nats_replicas;
  nats.retry_timeout = options.nats_retry_timeout;
  nats.cache_path = (dir / "kessan-cache.db").string();
  *name = absl::StrCat("nats stream ", nats.stream, " at ", nats.url);
  ASSIGN_OR_RETURN(std::unique_ptr<NatsJournal> log, NatsJournal::Open(nats));
  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(log->CatchUp(kNatsCatchUpTimeout));
  Log().info("journal {}: caught up to stream sequence {} in {} ({} batches applied)", *name,
             log->stream_sequence(), absl::FormatDuration(absl::Now() - start), log->tail_applied_batches());
  return std::unique_ptr<Journal>(std::move(log));
}

}  // namespace

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  RouteProtobufLogsToSpdlog();
  std::error_code ec;
  // Created for kessand's user only: plugin workers run as another user.
  if (std::filesystem::create_directories(options.data_dir, ec)) {
    std::filesystem::permissions(options.data_dir, std::filesystem::perms::owner_all, ec);
  }
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat("data_dir ", options.data_dir, ": ", ec.message()));
  }
  // Security settings first: a misconfigured server does not start at all.
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials, ServerCredentials(options));
  ASSIGN_OR_RETURN(CallGuardOptions guard_options, GuardOptions(options));
  RETURN_IF_ERROR(CheckHttpListen(options));
  auto impl = std::make_unique<Impl>();
  std::string journal;
  ASSIGN_OR_RETURN(std::unique_ptr<Journal> log, OpenJournal(options, &journal));
  Feed::Options feed_options;
  feed_options.retain_events = options.retain_events;
  feed_options.max_queued_events = options.max_queued_events;
  feed_options.default_heartbeat = options.default_heartbeat;
  feed_options.metrics = &impl->feed_metrics;
  ASSIGN_OR_RETURN(impl->feed, Feed::Open(std::move(log), std::move(feed_options)));
  Log().info("journal {}: {} events", journal, impl->feed->last_sequence());
  if (impl->feed->last_sequence() == 0 && !options.seed_path.empty()) {
    RETURN_IF_ERROR(LoadSeed(*impl->feed, options.seed_path));
  }

  // Reflection describes what the generated pool holds: this links the
  // health protocol's descriptor in (libgrpc++ has none).
  grpc::health::v1::HealthCheckRequest::descriptor();
  impl->tokens = guard_options.tokens;
  guard_options.refusals = &impl->refusal_metrics;
  impl->guard = std::make_unique<CallGuard>(*impl->feed, std::move(guard_options));
  AddServerMetrics(*impl);
  RETURN_IF_ERROR(StartScenarios(*impl, options));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &impl->port);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  std::vector<std::string> self_recorded = FeedServiceImpl::SelfRecordedMethods();
  for (std::string& m : ScenarioServiceImpl::SelfRecordedMethods()) self_recorded.push_back(std::move(m));
  // Health and reflection (gRPC's own services) are counted by the interceptor.
  interceptors.push_back(MakeMetricsInterceptorFactory(*impl->rpc_metrics, std::move(self_recorded)));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  AddKeepalive(builder);
  // Publish (through the journal's fsync) and RunScenario hold a sync-pool
  // thread each. With gRPC's default of 2 idle pollers, two calls in flight
  // made the pool start and end a thread for nearly every call.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 8);
  builder.RegisterService(impl->service.get());
  builder.RegisterService(impl->scenario_service.get());
  builder.SetOption(std::make_unique<ReflectionOption>());
  impl->grpc_server = BuildAndStartWithHealth(builder);
  if (impl->grpc_server == nullptr || impl->port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  // Health answers for each service by name, as for the server (""); all
  // turn NOT_SERVING at Shutdown.
  for (const char* name : {v1::FeedService::service_full_name(), v1::ScenarioService::service_full_name()}) {
    impl->grpc_server->GetHealthCheckService()->SetServingStatus(name, true);
  }
  if (!options.http_listen.empty()) {
    http::HttpServerOptions http;
    http.listen = options.http_listen;
    http.procedures = http::ServiceProcedures(*impl->services);
    http.max_message_bytes = static_cast<size_t>(options.max_message_bytes);
    http.static_dir = options.http_static_dir;
    http.metrics = impl->metrics_text;
    ASSIGN_OR_RETURN(impl->http_server, http::HttpServer::Start(std::move(http)));
    Log().info("kessand serving HTTP/Connect on port {}", impl->http_server->port());
  }
  Log().info("kessand serving kessan.v1.FeedService on port {} ({}{})", impl->port,
             options.tls_cert_file.empty()        ? "plaintext"
             : options.tls_client_ca_file.empty() ? "TLS"
                                                  : "mTLS",
             impl->guard->enabled() ? ", authentication on" : ", no authentication");
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::port() const { return impl_->port; }

int Server::http_port() const { return impl_->http_server == nullptr ? 0 : impl_->http_server->port(); }

std::string Server::MetricsText() const { return impl_->metrics_text(); }

std::unique_ptr<LocalClient> Server::Local() { return Local(LocalCredentials()); }

std::unique_ptr<LocalClient> Server::Local(const LocalCredentials& credentials) {
  return LocalHub::Connect(impl_->local, credentials);
}

uint64_t Server::last_sequence() const { return impl_->feed->last_sequence(); }

absl::Status Server::ReloadAuthTokens() {
  if (impl_->tokens == nullptr) return absl::FailedPreconditionError("no auth_tokens file");
  return impl_->tokens->Reload();
}

void Server::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->shut_down) return;
    impl_->shut_down = true;
  }
  impl_->grpc_server->GetHealthCheckService()->Shutdown();  // all NOT_SERVING
  impl_->feed->CloseSubscriptions();
  if (impl_->http_server != nullptr) impl_->http_server->Shutdown();
  impl_->services->Stop();
  impl_->grpc_server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  impl_->grpc_server->Wait();
}

void Server::Wait() { impl_->grpc_server->Wait(); }

absl::StatusOr<JournalVerification> VerifyJournal(
    const std::string& data_dir, const std::function<void(const std::string& line)>& report) {
  std::error_code ec;
  std::filesystem::path path = std::filesystem::absolute(std::filesystem::path(data_dir) / "kessan.db", ec);
  if (ec) path = std::filesystem::path(data_dir) / "kessan.db";
  ASSIGN_OR_RETURN(const JournalFileCheck check, VerifyJournalFile(path.lexically_normal().string(), report));
  return JournalVerification{check.rows, check.events, check.damaged};
}

}  // namespace kessan
