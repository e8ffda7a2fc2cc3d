#include "rpc/subscribe_stream.h"

#include "rpc/metrics_interceptor.h"
#include "rpc/status_util.h"
#include "rpc/wire.h"

namespace kessan {
namespace {

// A message holds a whole 500-event publish of 200-byte events (the
// figures behind the bound: tests/bench/README.md).
constexpr size_t kMaxEventsPerMessage = 1024;
constexpr size_t kMaxBytesPerMessage = 256 * 1024;

class SubscribeReactor;

// StreamCore is the stream's state shared with the Subscription (as its
// Waker), so a wake-up that races the end of the RPC finds it still alive.
// Every StartWrite and Finish happens with writing_ false and finished_
// false, decided under mu_; the reactor is deleted only after Finish.
class StreamCore final : public Waker {
 public:
  StreamCore(std::shared_ptr<Subscription> subscription, SubscribeReactor* reactor,
             const metrics::RpcMetrics::Series& series)
      : subscription_(std::move(subscription)), reactor_(reactor), metrics_(series) {
    metrics_.Received();
  }

  void Wake() override;
  void OnWriteDone(bool ok);
  void OnCancel();

 private:
  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<Subscription> subscription_;
  SubscribeReactor* const reactor_;
  CallMetrics metrics_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ByteBuffer buffer_ ABSL_GUARDED_BY(mu_);
  WireBuilder wire_ ABSL_GUARDED_BY(mu_);
};

class SubscribeReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  SubscribeReactor(std::unique_ptr<FeedStream> stream, const metrics::RpcMetrics::Series& series)
      : stream_(std::move(stream)),
        core_(std::make_shared<StreamCore>(stream_->shared_subscription(), this, series)) {}

  void Start() {
    stream_->subscription().SetWaker(core_);
    core_->Wake();
  }
  void OnWriteDone(bool ok) override { core_->OnWriteDone(ok); }
  void OnCancel() override { core_->OnCancel(); }
  void OnDone() override { delete this; }  // ~FeedStream ends the subscription

 private:
  const std::unique_ptr<FeedStream> stream_;
  const std::shared_ptr<StreamCore> core_;
};

void StreamCore::Wake() {
  mu_.Lock();
  if (writing_ || finished_) {
    mu_.Unlock();
    return;
  }
  std::vector<WireRunPtr> runs;
  std::vector<EventPtr> events = subscription_->Take(kMaxEventsPerMessage, kMaxBytesPerMessage, &runs);
  if (events.empty()) {
    if (std::optional<absl::Status> done = subscription_->Finished()) {
      FinishLocked(ToGrpcStatus(*done));
    }
    mu_.Unlock();
    return;
  }
  wire_.Build(std::move(events), std::move(runs), &buffer_);
  writing_ = true;
  mu_.Unlock();
  // Safe unlocked: while writing_ is set nobody calls Finish, so the
  // reactor cannot be done; buffer_ is not touched until OnWriteDone.
  metrics_.Sent();
  reactor_->StartWrite(&buffer_);
}

void StreamCore::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    // gRPC is done with the response: its events go now, not at the next
    // write, so an idle stream holds none.
    buffer_.Clear();
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
  }
  Wake();
}

void StreamCore::OnCancel() {
  subscription_->Close(absl::CancelledError("cancelled by the client"));
  absl::MutexLock lock(&mu_);
  if (!writing_) FinishLocked(grpc::Status::CANCELLED);
}

void StreamCore::FinishLocked(grpc::Status status) {
  if (finished_) return;
  finished_ = true;
  metrics_.Handled(status);
  reactor_->Finish(std::move(status));
}

class RefusedReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  // `received`: the request was read (a refusal of what it asks).
  RefusedReactor(const grpc::Status& status, const metrics::RpcMetrics::Series& series, bool received)
      : metrics_(series) {
    if (received) metrics_.Received();
    Finish(metrics_.Handled(status));
  }
  void OnDone() override { delete this; }

 private:
  CallMetrics metrics_;
};

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* StartSubscribeStream(std::unique_ptr<FeedStream> stream,
                                                                 const metrics::RpcMetrics::Series& series) {
  auto* reactor = new SubscribeReactor(std::move(stream), series);
  reactor->Start();
  return reactor;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* RefuseStream(const grpc::Status& status,
                                                         const metrics::RpcMetrics::Series& series,
                                                         bool received) {
  return new RefusedReactor(status, series, received);
}

}  // namespace kessan
