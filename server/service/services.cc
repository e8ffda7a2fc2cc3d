#include "service/services.h"

#include <google/protobuf/util/time_util.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace kessan {
namespace {

// What a caller may run a scenario over: the issuer it names (checked,
// canonical) and the scope of its inputs (its entitlement).
struct Entitled {
  std::string issuer;
  v1::Filter scope;
};

absl::StatusOr<Entitled> EntitleRun(CallGuard& guard, const auth::Principal& principal,
                                    const std::string& issuer) {
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

auth::Role RoleOf(absl::string_view method) {
  if (method == kPublishMethod) return auth::Role::kPublisher;
  if (method == kGetSnapshotMethod || method == kSubscribeMethod) return auth::Role::kSubscriber;
  return auth::Role::kAnalyst;
}

}  // namespace

FeedStream::FeedStream(Feed& feed, std::shared_ptr<Subscription> subscription, std::shared_ptr<void> held)
    : feed_(feed), subscription_(std::move(subscription)), held_(std::move(held)) {}

FeedStream::~FeedStream() {
  subscription_->SetWaker(nullptr);
  subscription_->Close(absl::CancelledError("stream done"));
  feed_.Unsubscribe(subscription_.get());
}

// The sink the watcher calls: audits failed runs and forwards to the
// transport's sink until cancelled. Never calls the sink under mu.
struct WatchHandle::State final : WatchSink {
  State(CallGuard& g, auth::Principal p, auth::Lease l, std::string s, std::shared_ptr<WatchSink> to)
      : guard(g), principal(std::move(p)), lease(std::move(l)), scenario(std::move(s)), sink(std::move(to)) {}

  void OnResult(v1::WatchScenarioResponse response) override {
    if (!Live()) return;
    sink->OnResult(std::move(response));
  }
  void OnRunFailed(const absl::Status& status, uint64_t trigger) override {
    guard.Audit(principal, kWatchScenarioMethod, status,
                absl::StrCat("scenario=", scenario, " trigger=", trigger));
    if (Live()) sink->OnRunFailed(status, trigger);
  }
  void OnEnd(const absl::Status& status) override {
    {
      absl::MutexLock lock(&mu);
      if (ended || cancelled) return;
      ended = true;
    }
    sink->OnEnd(status);
  }
  // The caller was revoked: the watch stops and the sink hears `status`.
  void Revoke(const absl::Status& status) {
    std::shared_ptr<Watch> w;
    {
      absl::MutexLock lock(&mu);
      w = watch;
    }
    if (w) w->Cancel();
    OnEnd(status);
  }
  // A watch that began after Cancel is cancelled at once.
  void SetWatch(std::shared_ptr<Watch> w) {
    {
      absl::MutexLock lock(&mu);
      if (!cancelled) {
        watch = std::move(w);
        return;
      }
    }
    w->Cancel();
  }
  void Cancel() {
    std::shared_ptr<Watch> w;
    std::shared_ptr<void> t;
    {
      absl::MutexLock lock(&mu);
      cancelled = true;
      w = std::move(watch);
      t = std::move(tracked);
    }
    if (w) w->Cancel();
  }
  bool Live() {
    absl::MutexLock lock(&mu);
    return !cancelled && !ended;
  }

  CallGuard& guard;
  const auth::Principal principal;
  const auth::Lease lease;  // a subscription on the caller's connection
  const std::string scenario;
  const std::shared_ptr<WatchSink> sink;
  absl::Mutex mu;
  std::shared_ptr<Watch> watch ABSL_GUARDED_BY(mu);
  std::shared_ptr<void> tracked ABSL_GUARDED_BY(mu);  // CallGuard::TrackStream
  bool cancelled ABSL_GUARDED_BY(mu) = false;
  bool ended ABSL_GUARDED_BY(mu) = false;
};

WatchHandle::~WatchHandle() { state_->Cancel(); }

Services::Services(Feed& feed, ScenarioEngine& engine, CallGuard& guard)
    : feed_(feed), engine_(engine), guard_(guard), watcher_(engine) {}

Services::~Services() { Stop(); }

void Services::Stop() { watcher_.Stop(absl::UnavailableError("server shutting down")); }

absl::Status Services::Admit(const Caller& caller, absl::string_view method) {
  return guard_.Authorize(caller, RoleOf(method), method).status();
}

absl::StatusOr<v1::PublishResponse> Services::Publish(const Caller& caller, v1::PublishRequest* request,
                                                      const std::vector<ItemBody>* bodies) {
  absl::StatusOr<auth::Principal> principal =
      guard_.Authorize(caller, auth::Role::kPublisher, kPublishMethod);
  if (!principal.ok()) return principal.status();
  const std::string items = absl::StrCat("items=", request->items_size());
  if (absl::Status allowed = guard_.CheckPublish(*principal, *request); !allowed.ok()) {
    guard_.Audit(*principal, kPublishMethod, allowed, items);
    return allowed;
  }
  absl::StatusOr<v1::PublishResponse> result =
      feed_.Publish(request, guard_.enabled() ? absl::string_view(principal->name) : "", bodies);
  guard_.Audit(*principal, kPublishMethod, result.status(), items);
  return result;
}

absl::StatusOr<v1::GetSnapshotResponse> Services::GetSnapshot(const Caller& caller,
                                                              v1::GetSnapshotRequest request) {
  absl::StatusOr<auth::Principal> principal =
      guard_.Authorize(caller, auth::Role::kSubscriber, kGetSnapshotMethod);
  if (!principal.ok()) return principal.status();
  absl::StatusOr<v1::Filter> filter = guard_.Entitle(*principal, request.filter());
  if (!filter.ok()) return guard_.Refuse(*principal, kGetSnapshotMethod, filter.status());
  *request.mutable_filter() = *std::move(filter);
  return feed_.Snapshot(request);
}

absl::StatusOr<std::unique_ptr<FeedStream>> Services::Subscribe(const Caller& caller,
                                                                v1::SubscribeRequest request) {
  absl::StatusOr<auth::Principal> principal =
      guard_.Authorize(caller, auth::Role::kSubscriber, kSubscribeMethod);
  if (!principal.ok()) return principal.status();
  // The entitled filter also governs a resume: the subscription filters the
  // journal's backlog by it.
  absl::StatusOr<v1::Filter> filter = guard_.Entitle(*principal, request.filter());
  if (!filter.ok()) return guard_.Refuse(*principal, kSubscribeMethod, filter.status());
  *request.mutable_filter() = *std::move(filter);
  absl::StatusOr<auth::Lease> lease = guard_.AcquireSubscription(caller);
  if (!lease.ok()) return guard_.Refuse(*principal, kSubscribeMethod, lease.status());
  absl::StatusOr<std::shared_ptr<Subscription>> subscription = feed_.Subscribe(request);
  if (!subscription.ok()) return subscription.status();
  // A reload of the principals file that revokes the caller ends the stream.
  std::weak_ptr<Subscription> weak = *subscription;
  std::shared_ptr<void> tracked = guard_.TrackStream(*principal, auth::Role::kSubscriber, kSubscribeMethod,
                                                     [weak](const absl::Status& status) {
                                                       if (std::shared_ptr<Subscription> s = weak.lock()) {
                                                         s->Close(status);
                                                         s->Wake();
                                                       }
                                                     });
  auto held =
      std::make_shared<std::pair<auth::Lease, std::shared_ptr<void>>>(*std::move(lease), std::move(tracked));
  return std::make_unique<FeedStream>(feed_, *std::move(subscription), std::move(held));
}

absl::StatusOr<v1::ListScenariosResponse> Services::ListScenarios(const Caller& caller,
                                                                  const v1::ListScenariosRequest&) {
  absl::StatusOr<auth::Principal> principal =
      guard_.Authorize(caller, auth::Role::kAnalyst, kListScenariosMethod);
  if (!principal.ok()) return principal.status();
  v1::ListScenariosResponse response;
  for (v1::ScenarioInfo& info : engine_.host().List()) *response.add_scenarios() = std::move(info);
  return response;
}

absl::StatusOr<v1::RunScenarioResponse> Services::RunScenario(const Caller& caller,
                                                              const v1::RunScenarioRequest& request) {
  absl::StatusOr<auth::Principal> principal =
      guard_.Authorize(caller, auth::Role::kAnalyst, kRunScenarioMethod);
  if (!principal.ok()) return principal.status();
  absl::StatusOr<Entitled> entitled = EntitleRun(guard_, *principal, request.issuer());
  if (!entitled.ok()) return guard_.Refuse(*principal, kRunScenarioMethod, entitled.status());
  absl::StatusOr<auth::Lease> lease = guard_.AcquireScenarioRun();
  if (!lease.ok()) return guard_.Refuse(*principal, kRunScenarioMethod, lease.status());
  absl::StatusOr<PreparedScenario> prepared =
      engine_.Prepare(request.name(), entitled->issuer, request.parameters());
  if (!prepared.ok()) return prepared.status();
  prepared->scope = std::move(entitled->scope);
  absl::Time as_of = absl::InfiniteFuture();
  if (request.has_as_of()) {
    as_of = absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(request.as_of()));
  }
  absl::StatusOr<v1::ScenarioResult> result = engine_.Run(*prepared, as_of);
  if (!result.ok()) {
    guard_.Audit(*principal, kRunScenarioMethod, result.status(), absl::StrCat("scenario=", request.name()));
    return result.status();
  }
  v1::RunScenarioResponse response;
  *response.mutable_result() = *std::move(result);
  return response;
}

absl::StatusOr<std::unique_ptr<WatchHandle>> Services::WatchScenario(const Caller& caller,
                                                                     const v1::WatchScenarioRequest& request,
                                                                     std::shared_ptr<WatchSink> sink) {
  absl::StatusOr<auth::Principal> principal =
      guard_.Authorize(caller, auth::Role::kAnalyst, kWatchScenarioMethod);
  if (!principal.ok()) return principal.status();
  absl::StatusOr<Entitled> entitled = EntitleRun(guard_, *principal, request.issuer());
  if (!entitled.ok()) return guard_.Refuse(*principal, kWatchScenarioMethod, entitled.status());
  absl::StatusOr<auth::Lease> lease = guard_.AcquireSubscription(caller);
  if (!lease.ok()) return guard_.Refuse(*principal, kWatchScenarioMethod, lease.status());
  absl::StatusOr<PreparedScenario> prepared =
      engine_.Prepare(request.name(), entitled->issuer, request.parameters());
  if (!prepared.ok()) return prepared.status();
  prepared->scope = std::move(entitled->scope);
  auto state = std::make_shared<WatchHandle::State>(guard_, *principal, *std::move(lease),
                                                    prepared->descriptor.name(), std::move(sink));
  // A reload of the principals file that revokes the caller ends the watch.
  std::weak_ptr<WatchHandle::State> weak = state;
  std::shared_ptr<void> tracked = guard_.TrackStream(*principal, auth::Role::kAnalyst, kWatchScenarioMethod,
                                                     [weak](const absl::Status& status) {
                                                       if (auto s = weak.lock()) s->Revoke(status);
                                                     });
  {
    absl::MutexLock lock(&state->mu);
    state->tracked = std::move(tracked);
  }
  absl::StatusOr<std::shared_ptr<Watch>> watch = watcher_.Start(*std::move(prepared), state);
  if (!watch.ok()) return watch.status();
  state->SetWatch(*std::move(watch));
  return std::make_unique<WatchHandle>(std::move(state));
}

}  // namespace kessan
