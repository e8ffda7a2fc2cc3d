#include "rpc/scenario_service.h"

#include <optional>

#include "rpc/grpc_caller.h"
#include "rpc/metrics_interceptor.h"
#include "rpc/status_util.h"
#include "rpc/unary_call.h"

namespace kessan {

// WatchStream: one WatchScenario call, the sink of its watch. Results come
// from the watcher's threads, completions from gRPC's; one write in flight,
// and only the newest pending result is kept.
class WatchStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer>, public WatchSink {
 public:
  // The stream ends itself once done: OnDone releases the last reference.
  static std::shared_ptr<WatchStream> Make(const metrics::RpcMetrics::Series& series) {
    std::shared_ptr<WatchStream> stream(new WatchStream(series));
    stream->self_ = stream;
    return stream;
  }

  // The accepted watch; dropped (cancelled) when the call is done.
  void SetHandle(std::unique_ptr<WatchHandle> handle) {
    {
      absl::MutexLock lock(&mu_);
      if (!done_) {
        handle_ = std::move(handle);
        return;
      }
    }
    handle.reset();  // outside mu_: cancelling may wait for a run that writes here
  }

  void OnResult(v1::WatchScenarioResponse response) override {
    grpc::ByteBuffer bytes;
    bool own = false;
    if (!grpc::SerializationTraits<v1::WatchScenarioResponse>::Serialize(response, &bytes, &own).ok()) {
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
    metrics_.Sent();
    StartWrite(&current_);
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
    Finish(metrics_.Handled(status));
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (finished_) return;
    if (!ok) {
      finished_ = true;
      Finish(metrics_.Handled(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken")));
      return;
    }
    if (has_pending_) {
      current_.Swap(&pending_);
      pending_.Clear();
      has_pending_ = false;
      writing_ = true;
      metrics_.Sent();
      StartWrite(&current_);
    } else if (finish_after_.has_value()) {
      finished_ = true;
      Finish(metrics_.Handled(*finish_after_));
    }
  }

  void OnCancel() override {
    std::unique_ptr<WatchHandle> handle;
    {
      absl::MutexLock lock(&mu_);
      handle = std::move(handle_);
      if (!finished_ && !writing_) {
        finished_ = true;
        Finish(metrics_.Handled(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled")));
      } else if (!finished_) {
        finish_after_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      }
    }
  }

  void OnDone() override {
    std::unique_ptr<WatchHandle> handle;
    std::shared_ptr<WatchStream> self;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      handle = std::move(handle_);
      self = std::move(self_);
    }
    handle.reset();
    // `self` goes last: the watcher may still hold the sink a while.
  }

 private:
  explicit WatchStream(const metrics::RpcMetrics::Series& series) : metrics_(series) { metrics_.Received(); }

  CallMetrics metrics_;
  absl::Mutex mu_;
  std::shared_ptr<WatchStream> self_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<WatchHandle> handle_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer current_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer pending_ ABSL_GUARDED_BY(mu_);  // the newest result not yet written
  bool has_pending_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_after_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

grpc::Status ScenarioServiceImpl::StreamedListScenarios(
    grpc::ServerContext* context,
    grpc::ServerUnaryStreamer<v1::ListScenariosRequest, v1::ListScenariosResponse>* stream) {
  v1::ListScenariosRequest request;
  return ServeUnary(*context, *stream, &request, services_, kListScenariosMethod, list_metrics_,
                    [&](const Caller& caller) { return services_.ListScenarios(caller, request); });
}

grpc::Status ScenarioServiceImpl::StreamedRunScenario(
    grpc::ServerContext* context,
    grpc::ServerUnaryStreamer<v1::RunScenarioRequest, v1::RunScenarioResponse>* stream) {
  v1::RunScenarioRequest request;
  return ServeUnary(*context, *stream, &request, services_, kRunScenarioMethod, run_metrics_,
                    [&](const Caller& caller) { return services_.RunScenario(caller, request); });
}

namespace {
class RefusedWatch final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  RefusedWatch(const grpc::Status& status, const metrics::RpcMetrics::Series& series) : metrics_(series) {
    Finish(metrics_.Handled(status));
  }
  void OnDone() override { delete this; }

 private:
  CallMetrics metrics_;
};
}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* ScenarioServiceImpl::WatchScenario(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw) {
  const Caller caller = GrpcCaller(*context, services_.wants_certificate_names());
  v1::WatchScenarioRequest request;
  if (!ParseRequest(*raw, &request)) {
    if (absl::Status admitted = services_.Admit(caller, kWatchScenarioMethod); !admitted.ok()) {
      return new RefusedWatch(ToGrpcStatus(admitted), watch_metrics_);
    }
    return new RefusedWatch(NotARequest("kessan.v1.WatchScenarioRequest"), watch_metrics_);
  }
  std::shared_ptr<WatchStream> stream = WatchStream::Make(watch_metrics_);
  absl::StatusOr<std::unique_ptr<WatchHandle>> handle = services_.WatchScenario(caller, request, stream);
  if (!handle.ok()) {
    stream->End(ToGrpcStatus(handle.status()));
  } else {
    stream->SetHandle(*std::move(handle));
  }
  return stream.get();
}

}  // namespace kessan
