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

// WatchStream: one WatchScenario call, the sink of its watch. Results come
// from the watcher's threads, completions from gRPC's; one write in flight,
// and only the newest pending result is kept.
class WatchStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                          public WatchSink {
 public:
  // The stream ends itself once done: OnDone releases the last reference.
  static std::shared_ptr<WatchStream> Make(CallGuard& guard, auth::Principal principal,
                                           auth::Lease lease, std::string scenario) {
    std::shared_ptr<WatchStream> stream(new WatchStream(guard, std::move(principal),
                                                        std::move(lease), std::move(scenario)));
    stream->self_ = stream;
    return stream;
  }

  // Ends the stream with `status` and its watch: the caller was revoked.
  void Revoke(const absl::Status& status) {
    std::shared_ptr<Watch> watch;
    {
      absl::MutexLock lock(&mu_);
      watch = watch_;
    }
    if (watch) watch->Cancel();
    End(ToGrpcStatus(status));
  }
  void SetTracked(std::shared_ptr<void> tracked) {
    absl::MutexLock lock(&mu_);
    tracked_ = std::move(tracked);
  }

  void SetWatch(std::shared_ptr<Watch> watch) {
    absl::MutexLock lock(&mu_);
    if (done_) {
      watch->Cancel();
      return;
    }
    watch_ = std::move(watch);
  }

  void OnResult(v1::WatchScenarioResponse response) override {
    grpc::ByteBuffer bytes;
    bool own = false;
    if (!grpc::SerializationTraits<v1::WatchScenarioResponse>::Serialize(response, &bytes, &own)
             .ok()) {
      End(grpc::Status(grpc::StatusCode::INTERNAL, "cannot serialize a scenario result"));
      return;
    }
    absl::MutexLock lock(&mu_);
    if (finished_ || finish_after_.has_value()) return;
    if (writing_) {
      pending_.Swap(&bytes);
      has_pending_ = true;
      return;
    }
    current_.Swap(&bytes);
    writing_ = true;
    StartWrite(&current_);
  }
  void OnRunFailed(const absl::Status& status, uint64_t trigger) override {
    guard_.Audit(principal_, kWatchScenario, status,
                 absl::StrCat("scenario=", scenario_, " trigger=", trigger));
  }
  void OnEnd(const absl::Status& status) override { End(ToGrpcStatus(status)); }

  // Ends the stream once what is in flight is written.
  void End(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (finished_ || finish_after_.has_value()) return;
    if (writing_) {
      finish_after_ = status;
      return;
    }
    finished_ = true;
    Finish(status);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (finished_) return;
    if (!ok) {
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    if (has_pending_) {
      current_.Swap(&pending_);
      pending_.Clear();
      has_pending_ = false;
      writing_ = true;
      StartWrite(&current_);
    } else if (finish_after_.has_value()) {
      finished_ = true;
      Finish(*finish_after_);
    }
  }

  void OnCancel() override {
    std::shared_ptr<Watch> watch;
    {
      absl::MutexLock lock(&mu_);
      watch = watch_;
      if (!finished_ && !writing_) {
        finished_ = true;
        Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      } else if (!finished_) {
        finish_after_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      }
    }
    if (watch) watch->Cancel();
  }

  void OnDone() override {
    std::shared_ptr<Watch> watch;
    std::shared_ptr<WatchStream> self;
    std::shared_ptr<void> tracked;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      watch = std::move(watch_);
      self = std::move(self_);
      tracked = std::move(tracked_);
    }
    if (watch) watch->Cancel();
    // `self` goes last: the watcher may still hold the sink a while.
  }

 private:
  WatchStream(CallGuard& guard, auth::Principal principal, auth::Lease lease,
              std::string scenario)
      : guard_(guard),
        principal_(std::move(principal)),
        lease_(std::move(lease)),
        scenario_(std::move(scenario)) {}

  CallGuard& guard_;
  const auth::Principal principal_;
  const auth::Lease lease_;  // a subscription on the caller's connection
  const std::string scenario_;
  absl::Mutex mu_;
  std::shared_ptr<WatchStream> self_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Watch> watch_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<void> tracked_ ABSL_GUARDED_BY(mu_);  // CallGuard::TrackStream
  grpc::ByteBuffer current_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer pending_ ABSL_GUARDED_BY(mu_);  // the newest result not yet written
  bool has_pending_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_after_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

ScenarioServiceImpl::~ScenarioServiceImpl() { Stop(); }

void ScenarioServiceImpl::Stop() {
  watcher_.Stop(absl::UnavailableError("server shutting down"));
}

grpc::Status ScenarioServiceImpl::StreamedListScenarios(
    grpc::ServerContext* context,
    grpc::ServerUnaryStreamer<v1::ListScenariosRequest, v1::ListScenariosResponse>* stream) {
  v1::ListScenariosRequest request;
  v1::ListScenariosResponse response;
  grpc::Status status = ListScenariosFor(context, &response);
  if (!status.ok()) return status;
  if (!stream->Read(&request)) return NotARequest("kessan.v1.ListScenariosRequest");
  if (!stream->Write(response)) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the caller went away");
  return grpc::Status::OK;
}

grpc::Status ScenarioServiceImpl::StreamedRunScenario(
    grpc::ServerContext* context,
    grpc::ServerUnaryStreamer<v1::RunScenarioRequest, v1::RunScenarioResponse>* stream) {
  absl::StatusOr<auth::Principal> principal = guard_.Authorize(*context, auth::Role::kAnalyst, kRunScenario);
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  v1::RunScenarioRequest request;
  if (!stream->Read(&request)) return NotARequest("kessan.v1.RunScenarioRequest");
  v1::RunScenarioResponse response;
  grpc::Status status = RunScenarioFor(*principal, request, &response);
  if (!status.ok()) return status;
  if (!stream->Write(response)) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the caller went away");
  return grpc::Status::OK;
}

grpc::Status ScenarioServiceImpl::ListScenariosFor(grpc::ServerContext* context,
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

grpc::Status ScenarioServiceImpl::RunScenarioFor(const auth::Principal& caller,
                                              const v1::RunScenarioRequest& run,
                                              v1::RunScenarioResponse* response) {
  const auth::Principal* principal = &caller;
  const v1::RunScenarioRequest* request = &run;
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
class RefusedWatch final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit RefusedWatch(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};
}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* ScenarioServiceImpl::WatchScenario(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw) {
  absl::StatusOr<auth::Principal> principal = guard_.Authorize(*context, auth::Role::kAnalyst, kWatchScenario);
  if (!principal.ok()) return new RefusedWatch(ToGrpcStatus(principal.status()));
  v1::WatchScenarioRequest parsed;
  if (!ParseRequest(*raw, &parsed)) return new RefusedWatch(NotARequest("kessan.v1.WatchScenarioRequest"));
  const v1::WatchScenarioRequest* request = &parsed;
  absl::StatusOr<Entitled> entitled = EntitleRun(guard_, *principal, request->issuer());
  if (!entitled.ok()) return new RefusedWatch(guard_.Refuse(*principal, kWatchScenario, entitled.status()));
  absl::StatusOr<auth::Lease> lease = guard_.AcquireSubscription(*context);
  if (!lease.ok()) return new RefusedWatch(guard_.Refuse(*principal, kWatchScenario, lease.status()));
  absl::StatusOr<PreparedScenario> prepared =
      engine_.Prepare(request->name(), entitled->issuer, request->parameters());
  if (!prepared.ok()) return new RefusedWatch(ToGrpcStatus(prepared.status()));
  prepared->scope = std::move(entitled->scope);
  auto stream = WatchStream::Make(guard_, *principal, *std::move(lease),
                                  prepared->descriptor.name());
  // A reload of the principals file that revokes the caller ends the stream.
  std::weak_ptr<WatchStream> weak = stream;
  stream->SetTracked(guard_.TrackStream(*principal, auth::Role::kAnalyst, kWatchScenario,
                                        [weak](const absl::Status& status) {
                                          if (auto s = weak.lock()) s->Revoke(status);
                                        }));
  absl::StatusOr<std::shared_ptr<Watch>> watch = watcher_.Start(*std::move(prepared), stream);
  if (!watch.ok()) {
    stream->End(ToGrpcStatus(watch.status()));
  } else {
    stream->SetWatch(*std::move(watch));
  }
  return stream.get();
}

}  // namespace kessan
