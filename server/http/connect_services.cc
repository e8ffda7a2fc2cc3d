#include "http/connect_services.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "event/wire_run.h"

namespace kessan::http {
namespace {

using google::protobuf::Message;

// Per response, as gRPC's Subscribe (rpc/subscribe_stream.cc).
constexpr size_t kMaxEventsPerMessage = 1024;
constexpr size_t kMaxBytesPerMessage = 256 * 1024;

Caller ToCaller(const HttpCall& call) { return Caller{call.authorization, "", call.peer}; }

class FunctionWaker final : public Waker {
 public:
  explicit FunctionWaker(std::function<void()> wake) : wake_(std::move(wake)) {}
  void Wake() override { wake_(); }

 private:
  const std::function<void()> wake_;
};

// A Subscribe: each response is the frames of the events taken, back to back.
class SubscribeMessages final : public MessageStream {
 public:
  explicit SubscribeMessages(std::unique_ptr<FeedStream> stream) : stream_(std::move(stream)) {}
  ~SubscribeMessages() override { stream_->subscription().SetWaker(nullptr); }

  void Start(std::function<void()> wake) override {
    stream_->subscription().SetWaker(std::make_shared<FunctionWaker>(wake));
    wake();
  }
  bool Next(std::string* out) override {
    std::vector<WireRunPtr> runs;
    std::vector<EventPtr> events =
        stream_->subscription().Take(kMaxEventsPerMessage, kMaxBytesPerMessage, &runs);
    if (events.empty()) return false;
    ranges_.clear();
    PlanWire(events, runs, &ranges_);
    for (absl::string_view r : ranges_) out->append(r.data(), r.size());
    return true;
  }
  std::optional<absl::Status> Finished() override { return stream_->subscription().Finished(); }

 private:
  const std::unique_ptr<FeedStream> stream_;
  std::vector<absl::string_view> ranges_;
};

// A WatchScenario's sink and stream: as gRPC's, only the newest result not
// yet taken is kept.
class WatchMessages final : public MessageStream {
 public:
  class Sink final : public WatchSink {
   public:
    void OnResult(v1::WatchScenarioResponse response) override {
      std::function<void()> wake;
      {
        absl::MutexLock lock(&mu_);
        if (end_.has_value()) return;
        latest_ = response.SerializeAsString();
        wake = wake_;
      }
      if (wake) wake();
    }
    void OnEnd(const absl::Status& status) override {
      std::function<void()> wake;
      {
        absl::MutexLock lock(&mu_);
        if (end_.has_value()) return;
        end_ = status;
        wake = wake_;
      }
      if (wake) wake();
    }

   private:
    friend class WatchMessages;
    absl::Mutex mu_;
    std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
    std::optional<std::string> latest_ ABSL_GUARDED_BY(mu_);
    std::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);
  };

  WatchMessages(std::shared_ptr<Sink> sink, std::unique_ptr<WatchHandle> handle)
      : sink_(std::move(sink)), handle_(std::move(handle)) {}
  ~WatchMessages() override {
    handle_.reset();  // cancels the watch
    absl::MutexLock lock(&sink_->mu_);
    sink_->wake_ = nullptr;
  }

  void Start(std::function<void()> wake) override {
    {
      absl::MutexLock lock(&sink_->mu_);
      sink_->wake_ = wake;
    }
    wake();
  }
  bool Next(std::string* out) override {
    absl::MutexLock lock(&sink_->mu_);
    if (!sink_->latest_.has_value()) return false;
    out->append(*sink_->latest_);
    sink_->latest_.reset();
    return true;
  }
  std::optional<absl::Status> Finished() override {
    absl::MutexLock lock(&sink_->mu_);
    if (sink_->latest_.has_value()) return std::nullopt;
    return sink_->end_;
  }

 private:
  const std::shared_ptr<Sink> sink_;
  std::unique_ptr<WatchHandle> handle_;
};

// `call(caller, request, wire)`: `wire` as HttpCall's.
template <typename Request, typename Response>
Procedure Unary(Services& services, const char* method,
                std::function<absl::StatusOr<Response>(const Caller&, Request&, absl::string_view)> call) {
  Procedure p;
  p.admit = [&services, method](const HttpCall& c) { return services.Admit(ToCaller(c), method); };
  p.request_prototype = &Request::default_instance();
  p.response_prototype = &Response::default_instance();
  p.unary = [call = std::move(call)](const HttpCall& c,
                                     Message& m) -> absl::StatusOr<std::unique_ptr<Message>> {
    absl::StatusOr<Response> response = call(ToCaller(c), static_cast<Request&>(m), c.wire);
    if (!response.ok()) return response.status();
    return std::unique_ptr<Message>(new Response(*std::move(response)));
  };
  return p;
}

}  // namespace

std::map<std::string, Procedure> ServiceProcedures(Services& services) {
  std::map<std::string, Procedure> procedures;
  procedures[kPublishMethod] = Unary<v1::PublishRequest, v1::PublishResponse>(
      services, kPublishMethod, [&services](const Caller& c, v1::PublishRequest& r, absl::string_view wire) {
        const std::vector<ItemBody> bodies = PublishItemBodies(wire);
        return services.Publish(c, &r, &bodies);
      });
  procedures[kGetSnapshotMethod] = Unary<v1::GetSnapshotRequest, v1::GetSnapshotResponse>(
      services, kGetSnapshotMethod,
      [&services](const Caller& c, v1::GetSnapshotRequest& r, absl::string_view) {
        return services.GetSnapshot(c, std::move(r));
      });
  procedures[kListScenariosMethod] = Unary<v1::ListScenariosRequest, v1::ListScenariosResponse>(
      services, kListScenariosMethod,
      [&services](const Caller& c, v1::ListScenariosRequest& r, absl::string_view) {
        return services.ListScenarios(c, r);
      });
  procedures[kRunScenarioMethod] = Unary<v1::RunScenarioRequest, v1::RunScenarioResponse>(
      services, kRunScenarioMethod,
      [&services](const Caller& c, v1::RunScenarioRequest& r, absl::string_view) {
        return services.RunScenario(c, r);
      });

  Procedure subscribe;
  subscribe.admit = [&services](const HttpCall& c) { return services.Admit(ToCaller(c), kSubscribeMethod); };
  subscribe.request_prototype = &v1::SubscribeRequest::default_instance();
  subscribe.response_prototype = &v1::SubscribeResponse::default_instance();
  subscribe.stream = [&services](const HttpCall& c,
                                 Message& m) -> absl::StatusOr<std::unique_ptr<MessageStream>> {
    absl::StatusOr<std::unique_ptr<FeedStream>> stream =
        services.Subscribe(ToCaller(c), std::move(static_cast<v1::SubscribeRequest&>(m)));
    if (!stream.ok()) return stream.status();
    return std::unique_ptr<MessageStream>(new SubscribeMessages(*std::move(stream)));
  };
  procedures[kSubscribeMethod] = std::move(subscribe);

  Procedure watch;
  watch.admit = [&services](const HttpCall& c) { return services.Admit(ToCaller(c), kWatchScenarioMethod); };
  watch.request_prototype = &v1::WatchScenarioRequest::default_instance();
  watch.response_prototype = &v1::WatchScenarioResponse::default_instance();
  watch.stream = [&services](const HttpCall& c,
                             Message& m) -> absl::StatusOr<std::unique_ptr<MessageStream>> {
    auto sink = std::make_shared<WatchMessages::Sink>();
    absl::StatusOr<std::unique_ptr<WatchHandle>> handle =
        services.WatchScenario(ToCaller(c), static_cast<v1::WatchScenarioRequest&>(m), sink);
    if (!handle.ok()) return handle.status();
    return std::unique_ptr<MessageStream>(new WatchMessages(std::move(sink), *std::move(handle)));
  };
  procedures[kWatchScenarioMethod] = std::move(watch);
  return procedures;
}

}  // namespace kessan::http
