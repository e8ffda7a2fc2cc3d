#include "plugin/scenario_watch.h"

#include <optional>
#include <vector>

namespace kessan {

class ScenarioWatcher::WatchImpl final : public Watch, public std::enable_shared_from_this<WatchImpl> {
 public:
  WatchImpl(ScenarioWatcher& watcher, PreparedScenario prepared, std::shared_ptr<WatchSink> sink,
            std::shared_ptr<Subscription> subscription)
      : watcher_(watcher),
        prepared_(std::move(prepared)),
        sink_(std::move(sink)),
        subscription_(std::move(subscription)) {}

  // The fan-out's wake: schedules a run (or one more after the current).
  class Waker final : public kessan::Waker {
   public:
    explicit Waker(std::weak_ptr<WatchImpl> watch) : watch_(std::move(watch)) {}
    void Wake() override {
      if (std::shared_ptr<WatchImpl> w = watch_.lock()) w->Schedule();
    }

   private:
    std::weak_ptr<WatchImpl> watch_;
  };

  void Begin() {
    subscription_->SetWaker(std::make_shared<Waker>(weak_from_this()));
    {
      absl::MutexLock lock(&mu_);
      first_run_ = true;
    }
    Schedule();
  }

  void Schedule() {
    {
      absl::MutexLock lock(&mu_);
      if (ended_) return;
      if (running_) {
        again_ = true;
        return;
      }
      running_ = true;
    }
    watcher_.pool_.Post([w = weak_from_this()] {
      if (std::shared_ptr<WatchImpl> self = w.lock()) self->Run();
    });
  }

  void Cancel() override { End(std::nullopt); }

  // Ends the watch; with a status, tells the sink.
  void End(std::optional<absl::Status> status) {
    {
      absl::MutexLock lock(&mu_);
      if (ended_) return;
      ended_ = true;
    }
    subscription_->SetWaker(nullptr);
    subscription_->Close(absl::CancelledError("watch ended"));
    watcher_.engine_.feed().Unsubscribe(subscription_.get());
    if (status.has_value()) sink_->OnEnd(*status);
    watcher_.Forget(this);
  }

 private:
  // One pass on a pool thread: takes what the subscription has, runs the
  // scenario if an input changed (or for the first time), sends the result.
  void Run() {
    bool first;
    {
      absl::MutexLock lock(&mu_);
      if (ended_) return;
      first = first_run_;
      first_run_ = false;
      again_ = false;
    }
    uint64_t trigger = 0;
    for (;;) {
      std::vector<EventPtr> events = subscription_->Take(1024, 16 << 20);
      if (events.empty()) break;
      for (const EventPtr& e : events) {
        if (e->sequence() > 0 && IsInput(prepared_.descriptor, e->event())) trigger = e->sequence();
      }
    }
    if (first || trigger > 0) {
      absl::StatusOr<v1::ScenarioResult> result = watcher_.engine_.Run(prepared_);
      if (!result.ok()) {
        {
          absl::MutexLock lock(&mu_);
          if (ended_) return;
        }
        sink_->OnRunFailed(result.status(), trigger);
        End(result.status());
        return;
      }
      v1::WatchScenarioResponse response;
      *response.mutable_result() = *std::move(result);
      response.set_trigger_sequence(trigger);
      {
        absl::MutexLock lock(&mu_);
        if (ended_) return;
      }
      sink_->OnResult(std::move(response));
    }
    if (std::optional<absl::Status> finished = subscription_->Finished()) {
      End(*finished);
      return;
    }
    bool again;
    {
      absl::MutexLock lock(&mu_);
      running_ = false;
      again = again_ && !ended_;
    }
    if (again) Schedule();
  }

  ScenarioWatcher& watcher_;
  const PreparedScenario prepared_;
  const std::shared_ptr<WatchSink> sink_;
  const std::shared_ptr<Subscription> subscription_;

  absl::Mutex mu_;
  bool first_run_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool again_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

ScenarioWatcher::ScenarioWatcher(ScenarioEngine& engine, int threads) : engine_(engine), pool_(threads) {}

ScenarioWatcher::~ScenarioWatcher() { Stop(absl::UnavailableError("scenario watches stopped")); }

absl::StatusOr<std::shared_ptr<Watch>> ScenarioWatcher::Start(PreparedScenario prepared,
                                                              std::shared_ptr<WatchSink> sink) {
  // Subscribed before the first run, so no change between them is missed;
  // only to what the caller may see, so nothing else triggers a run.
  v1::SubscribeRequest subscribe;
  subscribe.set_start(v1::START_MODE_LIVE_ONLY);
  if (!prepared.issuer.empty()) {
    subscribe.mutable_filter()->add_issuers(prepared.issuer);
  } else {
    *subscribe.mutable_filter()->mutable_issuers() = prepared.scope.issuers();
  }
  *subscribe.mutable_filter()->mutable_concepts() = prepared.scope.concepts();
  for (v1::EventKind k : prepared.event_kinds) subscribe.mutable_filter()->add_event_kinds(k);
  // A withdrawn input changes the result too.
  if (!prepared.event_kinds.empty()) {
    subscribe.mutable_filter()->add_event_kinds(v1::EVENT_KIND_RETRACTION);
  }
  absl::StatusOr<std::shared_ptr<Subscription>> subscription = engine_.feed().Subscribe(subscribe);
  if (!subscription.ok()) return subscription.status();
  auto watch = std::make_shared<WatchImpl>(*this, std::move(prepared), std::move(sink), *subscription);
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) {
      engine_.feed().Unsubscribe(subscription->get());
      return absl::UnavailableError("scenario watches stopped: the server is shutting down");
    }
    watches_.emplace(watch.get(), watch);
  }
  watch->Begin();
  return watch;
}

void ScenarioWatcher::Forget(WatchImpl* watch) {
  absl::MutexLock lock(&mu_);
  watches_.erase(watch);
}

void ScenarioWatcher::Stop(const absl::Status& status) {
  std::vector<std::shared_ptr<WatchImpl>> watches;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    for (const auto& [ptr, watch] : watches_) watches.push_back(watch);
  }
  for (const std::shared_ptr<WatchImpl>& w : watches) w->End(status);
}

size_t ScenarioWatcher::watch_count() {
  absl::MutexLock lock(&mu_);
  return watches_.size();
}

}  // namespace kessan
