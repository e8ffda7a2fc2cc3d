// The in-process API (include/kessan/local.h) over Services.
#include "local.h"

#include <atomic>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kessan {

// One in-process subscription: the FeedStream's Waker, draining it on the
// hub's delivery threads. At most one drain runs at a time (running_); a
// wake during a drain makes it go round once more (again_).
class LocalStream final : public Waker, public std::enable_shared_from_this<LocalStream> {
 public:
  LocalStream(LocalHub& hub, SubscribeCallbacks callbacks) : hub_(&hub), callbacks_(std::move(callbacks)) {}

  void Start(std::unique_ptr<FeedStream> stream) {
    Subscription& subscription = stream->subscription();
    {
      absl::MutexLock lock(&mu_);
      stream_ = std::move(stream);
    }
    subscription.SetWaker(shared_from_this());
    Wake();
  }

  void Wake() override {
    absl::MutexLock lock(&mu_);
    if (cancelled_ || stream_ == nullptr) return;
    if (running_) {
      again_ = true;
      return;
    }
    if (scheduled_ || hub_ == nullptr) return;
    scheduled_ = true;
    std::weak_ptr<LocalStream> weak = weak_from_this();
    hub_->pool().Post([weak] {
      if (std::shared_ptr<LocalStream> self = weak.lock()) self->Drain();
    });
  }

  // Ends it without on_end; waits for a callback under way unless called
  // from one (the drain then ends it when the callback returns).
  void Cancel() {
    std::unique_ptr<FeedStream> stream;
    {
      cancel_requested_.store(true, std::memory_order_release);
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      if (running_ && running_thread_ == std::this_thread::get_id()) return;
      mu_.Await(absl::Condition(
          +[](bool* running) { return !*running; }, &running_));
      stream = std::move(stream_);
    }
    stream.reset();  // unsubscribes
  }

  uint64_t position() const { return position_.load(std::memory_order_acquire); }
  std::string incarnation() const {
    absl::MutexLock lock(&incarnation_mu_);
    return incarnation_;
  }

 private:
  void Drain() {
    Subscription* subscription;
    {
      absl::MutexLock lock(&mu_);
      scheduled_ = false;
      if (cancelled_ || stream_ == nullptr) return;
      running_ = true;
      again_ = false;
      running_thread_ = std::this_thread::get_id();
      subscription = &stream_->subscription();
    }
    std::optional<absl::Status> end;
    for (;;) {
      std::vector<EventPtr> events = subscription->Take(kBatch, kBatchBytes);
      if (events.empty()) {
        end = subscription->Finished();
        break;
      }
      for (const EventPtr& e : events) {
        if (Cancelled()) break;
        const v1::FeedEvent& event = e->event();
        Track(event);
        if (callbacks_.on_event) callbacks_.on_event(event);
      }
      if (Cancelled()) break;
    }
    if (end.has_value() && !Cancelled() && callbacks_.on_end) callbacks_.on_end(*end);
    std::unique_ptr<FeedStream> done;
    bool again = false;
    {
      absl::MutexLock lock(&mu_);
      running_ = false;
      running_thread_ = std::thread::id();
      if (cancelled_ || end.has_value()) {
        done = std::move(stream_);
      } else {
        again = again_;
      }
    }
    done.reset();  // unsubscribes
    if (again) Wake();
  }

  // Read per event without mu_: Cancel sets it before it waits.
  bool Cancelled() const { return cancel_requested_.load(std::memory_order_acquire); }

  // The resume point and the incarnation, as the clients' ResumeTracker.
  void Track(const v1::FeedEvent& event) {
    switch (event.body_case()) {
      case v1::FeedEvent::kSnapshotBegin:
        in_snapshot_ = true;
        SetIncarnation(event.snapshot_begin().incarnation());
        return;
      case v1::FeedEvent::kSnapshotEnd:
        in_snapshot_ = false;
        position_.store(event.snapshot_end().sequence(), std::memory_order_release);
        return;
      case v1::FeedEvent::kHeartbeat:
        SetIncarnation(event.heartbeat().incarnation());
        return;
      default:
        if (event.sequence() != 0 && !in_snapshot_)
          position_.store(event.sequence(), std::memory_order_release);
    }
  }
  void SetIncarnation(const std::string& incarnation) {
    if (incarnation.empty()) return;
    absl::MutexLock lock(&incarnation_mu_);
    incarnation_ = incarnation;
  }

  // A drain hands at most this much to the callbacks before it looks at the
  // subscription again.
  static constexpr size_t kBatch = 256;
  static constexpr size_t kBatchBytes = 1 << 20;

  friend class LocalHub;
  LocalHub* hub_ ABSL_GUARDED_BY(mu_);  // null once the server is gone
  const SubscribeCallbacks callbacks_;
  absl::Mutex mu_;
  std::unique_ptr<FeedStream> stream_ ABSL_GUARDED_BY(mu_);
  bool scheduled_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool again_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> cancel_requested_{false};  // cancelled_, for the drain's per-event check
  std::thread::id running_thread_ ABSL_GUARDED_BY(mu_);
  bool in_snapshot_ = false;  // the drain's
  std::atomic<uint64_t> position_{0};
  mutable absl::Mutex incarnation_mu_;
  std::string incarnation_ ABSL_GUARDED_BY(incarnation_mu_);
};

namespace {

class LocalSubscriptionImpl final : public LocalSubscription {
 public:
  LocalSubscriptionImpl(std::shared_ptr<LocalHub> hub, std::shared_ptr<LocalStream> stream)
      : hub_(std::move(hub)), stream_(std::move(stream)) {}
  ~LocalSubscriptionImpl() override { Cancel(); }

  void Cancel() override {
    stream_->Cancel();
    if (std::shared_ptr<LocalHub> hub = hub_.lock()) hub->Forget(stream_.get());
  }
  uint64_t last_sequence() const override { return stream_->position(); }
  std::string incarnation() const override { return stream_->incarnation(); }

 private:
  const std::weak_ptr<LocalHub> hub_;
  const std::shared_ptr<LocalStream> stream_;
};

absl::Status Gone() { return absl::UnavailableError("the kessan::Server of this LocalClient is gone"); }

class LocalClientImpl final : public LocalClient {
 public:
  LocalClientImpl(std::shared_ptr<LocalHub> hub, Caller caller)
      : hub_(std::move(hub)), caller_(std::move(caller)) {}

  absl::StatusOr<v1::PublishResponse> Publish(v1::PublishRequest request) override {
    std::shared_ptr<LocalHub> hub = hub_.lock();
    if (hub == nullptr) return Gone();
    return hub->services().Publish(caller_, &request);
  }
  absl::StatusOr<v1::GetSnapshotResponse> GetSnapshot(const v1::GetSnapshotRequest& request) override {
    std::shared_ptr<LocalHub> hub = hub_.lock();
    if (hub == nullptr) return Gone();
    return hub->services().GetSnapshot(caller_, request);
  }
  absl::StatusOr<std::unique_ptr<LocalSubscription>> Subscribe(const v1::SubscribeRequest& request,
                                                               SubscribeCallbacks callbacks) override {
    std::shared_ptr<LocalHub> hub = hub_.lock();
    if (hub == nullptr) return Gone();
    absl::StatusOr<std::unique_ptr<FeedStream>> stream = hub->services().Subscribe(caller_, request);
    if (!stream.ok()) return stream.status();
    auto local = std::make_shared<LocalStream>(*hub, std::move(callbacks));
    hub->Remember(local);
    local->Start(*std::move(stream));
    return std::make_unique<LocalSubscriptionImpl>(hub, std::move(local));
  }
  absl::StatusOr<v1::ListScenariosResponse> ListScenarios() override {
    std::shared_ptr<LocalHub> hub = hub_.lock();
    if (hub == nullptr) return Gone();
    return hub->services().ListScenarios(caller_, v1::ListScenariosRequest());
  }
  absl::StatusOr<v1::RunScenarioResponse> RunScenario(const v1::RunScenarioRequest& request) override {
    std::shared_ptr<LocalHub> hub = hub_.lock();
    if (hub == nullptr) return Gone();
    return hub->services().RunScenario(caller_, request);
  }

 private:
  const std::weak_ptr<LocalHub> hub_;
  const Caller caller_;
};

}  // namespace

LocalHub::LocalHub(Services& services, int threads) : services_(services), pool_(threads) {}

LocalHub::~LocalHub() {
  absl::flat_hash_map<LocalStream*, std::shared_ptr<LocalStream>> streams;
  {
    absl::MutexLock lock(&mu_);
    streams.swap(streams_);
  }
  for (auto& [ptr, stream] : streams) {
    stream->Cancel();
    absl::MutexLock lock(&stream->mu_);
    stream->hub_ = nullptr;
  }
}

void LocalHub::Remember(std::shared_ptr<LocalStream> stream) {
  absl::MutexLock lock(&mu_);
  streams_[stream.get()] = std::move(stream);
}

void LocalHub::Forget(LocalStream* stream) {
  std::shared_ptr<LocalStream> dropped;
  absl::MutexLock lock(&mu_);
  if (auto it = streams_.find(stream); it != streams_.end()) {
    dropped = std::move(it->second);
    streams_.erase(it);
  }
}

std::unique_ptr<LocalClient> LocalHub::Connect(const std::shared_ptr<LocalHub>& hub,
                                               const LocalCredentials& credentials) {
  static std::atomic<uint64_t> next_connection{1};
  Caller caller;
  if (!credentials.bearer_token.empty()) caller.authorization = "Bearer " + credentials.bearer_token;
  caller.peer = absl::StrCat("inproc:", credentials.name, "#", next_connection.fetch_add(1));
  return std::make_unique<LocalClientImpl>(hub, std::move(caller));
}

}  // namespace kessan
