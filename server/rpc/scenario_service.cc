#include "rpc/scenario_service.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <optional>

#include "absl/strings/str_cat.h"

#include "rpc/status_util.h"

namespace kessan {
namespace {

constexpr char kListScenarios[] = "/kessan.v1.ScenarioService/ListScenarios";
constexpr char kRunScenario[] = "/kessan.v1.ScenarioService/RunScenario";
constexpr char kWatchScenario[] = "/kessan.v1.ScenarioService/WatchScenario";

}  // namespace

// WatchReactor: the stream of one WatchScenario call. Thread-safe: results
// come from the session's thread, completions from gRPC's.
class WatchReactor final : public grpc::ServerWriteReactor<v1::WatchScenarioResponse> {
 public:
  explicit WatchReactor(std::shared_ptr<WatchSession> session) : session_(std::move(session)) {}
  // Queues a result; only the newest pending one is kept.
  void Offer(v1::WatchScenarioResponse response);
  // Ends the stream once what is in flight is written.
  void End(const grpc::Status& status);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  std::shared_ptr<WatchSession> session_;
  absl::Mutex mu_;
  v1::WatchScenarioResponse current_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::WatchScenarioResponse> pending_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> finish_after_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// WatchSession: the thread that re-runs one watched scenario.
class WatchSession : public std::enable_shared_from_this<WatchSession> {
 public:
  WatchSession(ScenarioEngine& engine, PreparedScenario prepared, std::shared_ptr<Subscription> subscription,
               CallGuard& guard, auth::Principal principal, auth::Lease lease)
      : engine_(engine), prepared_(std::move(prepared)), subscription_(std::move(subscription)),
        guard_(guard), principal_(std::move(principal)), lease_(std::move(lease)) {}

  void Start(WatchReactor* reactor);
  void Wake() {
    absl::MutexLock lock(&mu_);
    woken_ = true;
  }
  // Stops the thread; with `status`, ends the stream with it first.
  void RequestStop(std::optional<grpc::Status> status) {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    if (status.has_value() && reactor_ != nullptr) reactor_->End(*status);
  }
  // The reactor is gone (OnDone).
  void Detach() {
    absl::MutexLock lock(&mu_);
    reactor_ = nullptr;
    stop_ = true;
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  bool done() const { return done_.load(); }

 private:
  class SessionWaker : public Waker {
   public:
    explicit SessionWaker(std::weak_ptr<WatchSession> s) : session_(std::move(s)) {}
    void Wake() override {
      if (auto s = session_.lock()) s->Wake();
    }

   private:
    std::weak_ptr<WatchSession> session_;
  };

  void Loop();
  // Runs the scenario and sends the result; false when the stream ended.
  bool RunAndSend(uint64_t trigger);
  void EndStream(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (reactor_ != nullptr) reactor_->End(status);
  }

  ScenarioEngine& engine_;
  const PreparedScenario prepared_;
  const std::shared_ptr<Subscription> subscription_;
  CallGuard& guard_;
  const auth::Principal principal_;
  const auth::Lease lease_;  // a subscription on the caller's connection
  std::thread thread_;
  std::atomic<bool> done_{false};

  absl::Mutex mu_;
  WatchReactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
};

void WatchReactor::Offer(v1::WatchScenarioResponse response) {
  absl::MutexLock lock(&mu_);
  if (finished_ || finish_after_.has_value()) return;
  if (writing_) {
    pending_ = std::move(response);
    return;
  }
  current_ = std::move(response);
  writing_ = true;
  StartWrite(&current_);
}

void WatchReactor::End(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  if (finished_ || finish_after_.has_value()) return;
  if (writing_) {
    finish_after_ = status;
    return;
  }
  finished_ = true;
  Finish(status);
}

void WatchReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (finished_) return;
  if (!ok) {
    finished_ = true;
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
    return;
  }
  if (pending_.has_value()) {
    current_ = std::move(*pending_);
    pending_.reset();
    writing_ = true;
    StartWrite(&current_);
  } else if (finish_after_.has_value()) {
    finished_ = true;
    Finish(*finish_after_);
  }
}

void WatchReactor::OnCancel() {
  session_->RequestStop(std::nullopt);
  absl::MutexLock lock(&mu_);
  if (!finished_ && !writing_) {
    finished_ = true;
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  } else if (!finished_) {
    finish_after_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  }
}

void WatchReactor::OnDone() {
  session_->Detach();
  delete this;
}

void WatchSession::Start(WatchReactor* reactor) {
  {
    absl::MutexLock lock(&mu_);
    reactor_ = reactor;
  }
  subscription_->SetWaker(std::make_shared<SessionWaker>(weak_from_this()));
  thread_ = std::thread([self = shared_from_this()] { self->Loop(); });
}

bool WatchSession::RunAndSend(uint64_t trigger) {
  absl::StatusOr<v1::ScenarioResult> result = engine_.Run(prepared_);
  if (!result.ok()) {
    guard_.Audit(principal_, kWatchScenario, result.status(),
                 absl::StrCat("scenario=", prepared_.descriptor.name(), " trigger=", trigger));
  }
  absl::MutexLock lock(&mu_);
  if (reactor_ == nullptr) return false;
  if (!result.ok()) {
    reactor_->End(ToGrpcStatus(result.status()));
    return false;
  }
  v1::WatchScenarioResponse response;
  *response.mutable_result() = *std::move(result);
  response.set_trigger_sequence(trigger);
  reactor_->Offer(std::move(response));
  return true;
}

void WatchSession::Loop() {
  bool live = RunAndSend(0);
  while (live) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WatchSession* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) { return s->woken_ || s->stop_; }, this));
      if (stop_) break;
      woken_ = false;
    }
    uint64_t trigger = 0;
    for (;;) {
      std::vector<EventPtr> events = subscription_->Take(1024, 16 << 20);
      if (events.empty()) break;
      for (const EventPtr& e : events) {
        if (e->sequence() > 0 && IsInput(prepared_.descriptor, e->event())) trigger = e->sequence();
      }
    }
    if (trigger > 0) live = RunAndSend(trigger);
    if (std::optional<absl::Status> finished = subscription_->Finished(); live && finished.has_value()) {
      EndStream(finished->ok() ? grpc::Status::OK : ToGrpcStatus(*finished));
      live = false;
    }
  }
  engine_.feed().Unsubscribe(subscription_.get());
  done_.store(true);
}

ScenarioServiceImpl::~ScenarioServiceImpl() { Stop(); }

void ScenarioServiceImpl::Stop() {
  std::vector<std::shared_ptr<WatchSession>> sessions;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    sessions.swap(sessions_);
  }
  for (auto& s : sessions) {
    s->RequestStop(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
    s->Join();
  }
}

grpc::Status ScenarioServiceImpl::ListScenarios(grpc::ServerContext* context, const v1::ListScenariosRequest*,
                                                v1::ListScenariosResponse* response) {
  absl::StatusOr<auth::Principal> principal = guard_.Authorize(*context, auth::Role::kAnalyst, kListScenarios);
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  for (v1::ScenarioInfo& info : engine_.host().List()) *response->add_scenarios() = std::move(info);
  return grpc::Status::OK;
}

namespace {

// What a caller may run a scenario over: the issuer it names (checked,
// canonical) and the scope of its inputs (its entitlement).
struct Entitled {
  std::string issuer;
  v1::Filter scope;
};

absl::StatusOr<Entitled> EntitleRun(CallGuard& guard, const auth::Principal& principal, const std::string& issuer) {
  Entitled out;
  absl::StatusOr<std::string> id = guard.EntitleIssuer(principal, issuer);
  if (!id.ok()) return id.status();
  out.issuer = *std::move(id);
  if (principal.restricted()) {
    absl::StatusOr<v1::Filter> scope = guard.Entitle(principal, v1::Filter());
    if (!scope.ok()) return scope.status();
    out.scope = *std::move(scope);
  }
  return out;
}

}  // namespace

grpc::Status ScenarioServiceImpl::RunScenario(grpc::ServerContext* context, const v1::RunScenarioRequest* request,
                                              v1::RunScenarioResponse* response) {
  absl::StatusOr<auth::Principal> principal = guard_.Authorize(*context, auth::Role::kAnalyst, kRunScenario);
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  absl::StatusOr<Entitled> entitled = EntitleRun(guard_, *principal, request->issuer());
  if (!entitled.ok()) return guard_.Refuse(*principal, kRunScenario, entitled.status());
  absl::StatusOr<auth::Lease> lease = guard_.AcquireScenarioRun();
  if (!lease.ok()) return guard_.Refuse(*principal, kRunScenario, lease.status());
  absl::StatusOr<PreparedScenario> prepared =
      engine_.Prepare(request->name(), entitled->issuer, request->parameters());
  if (!prepared.ok()) return ToGrpcStatus(prepared.status());
  prepared->scope = std::move(entitled->scope);
  absl::Time as_of = absl::InfiniteFuture();
  if (request->has_as_of()) {
    as_of = absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(request->as_of()));
  }
  absl::StatusOr<v1::ScenarioResult> result = engine_.Run(*prepared, as_of);
  if (!result.ok()) {
    guard_.Audit(*principal, kRunScenario, result.status(), absl::StrCat("scenario=", request->name()));
    return ToGrpcStatus(result.status());
  }
  *response->mutable_result() = *std::move(result);
  return grpc::Status::OK;
}

namespace {
class RefusedWatch final : public grpc::ServerWriteReactor<v1::WatchScenarioResponse> {
 public:
  explicit RefusedWatch(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};
}  // namespace

grpc::ServerWriteReactor<v1::WatchScenarioResponse>* ScenarioServiceImpl::WatchScenario(
    grpc::CallbackServerContext* context, const v1::WatchScenarioRequest* request) {
  absl::StatusOr<auth::Principal> principal = guard_.Authorize(*context, auth::Role::kAnalyst, kWatchScenario);
  if (!principal.ok()) return new RefusedWatch(ToGrpcStatus(principal.status()));
  absl::StatusOr<Entitled> entitled = EntitleRun(guard_, *principal, request->issuer());
  if (!entitled.ok()) return new RefusedWatch(guard_.Refuse(*principal, kWatchScenario, entitled.status()));
  absl::StatusOr<auth::Lease> lease = guard_.AcquireSubscription(*context);
  if (!lease.ok()) return new RefusedWatch(guard_.Refuse(*principal, kWatchScenario, lease.status()));
  absl::StatusOr<PreparedScenario> prepared =
      engine_.Prepare(request->name(), entitled->issuer, request->parameters());
  if (!prepared.ok()) return new RefusedWatch(ToGrpcStatus(prepared.status()));
  prepared->scope = std::move(entitled->scope);
  // Subscribe before the first run, so no change between them is missed;
  // only to what the caller may see, so nothing else triggers a run.
  v1::SubscribeRequest subscribe;
  subscribe.set_start(v1::START_MODE_LIVE_ONLY);
  if (!prepared->issuer.empty()) subscribe.mutable_filter()->add_issuers(prepared->issuer);
  else *subscribe.mutable_filter()->mutable_issuers() = prepared->scope.issuers();
  *subscribe.mutable_filter()->mutable_concepts() = prepared->scope.concepts();
  for (v1::EventKind k : prepared->event_kinds) subscribe.mutable_filter()->add_event_kinds(k);
  // A withdrawn input changes the result too.
  if (!prepared->event_kinds.empty()) subscribe.mutable_filter()->add_event_kinds(v1::EVENT_KIND_RETRACTION);
  absl::StatusOr<std::shared_ptr<Subscription>> subscription = engine_.feed().Subscribe(subscribe);
  if (!subscription.ok()) return new RefusedWatch(ToGrpcStatus(subscription.status()));

  auto session = std::make_shared<WatchSession>(engine_, *std::move(prepared), *subscription, guard_,
                                                *std::move(principal), *std::move(lease));
  auto* reactor = new WatchReactor(session);
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) {
      engine_.feed().Unsubscribe(subscription->get());
      reactor->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
      return reactor;
    }
    // Reap finished watches.
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if ((*it)->done()) {
        (*it)->Join();
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
    sessions_.push_back(session);
  }
  session->Start(reactor);
  return reactor;
}

}  // namespace kessan
