// Services: kessan.v1.FeedService and ScenarioService, whatever the
// transport. gRPC (rpc/), HTTP/Connect (http/) and the in-process API call
// these, so every caller gets the same authentication, roles,
// entitlements, limits, validation, audit and errors.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "feed/feed.h"
#include "kessan/v1/feed.pb.h"
#include "kessan/v1/scenario.pb.h"
#include "plugin/scenario_engine.h"
#include "plugin/scenario_watch.h"
#include "service/call_guard.h"
#include "service/caller.h"

namespace kessan {

// Method names, as gRPC and Connect route them and the audit log names them.
inline constexpr char kPublishMethod[] = "/kessan.v1.FeedService/Publish";
inline constexpr char kGetSnapshotMethod[] = "/kessan.v1.FeedService/GetSnapshot";
inline constexpr char kSubscribeMethod[] = "/kessan.v1.FeedService/Subscribe";
inline constexpr char kListScenariosMethod[] = "/kessan.v1.ScenarioService/ListScenarios";
inline constexpr char kRunScenarioMethod[] = "/kessan.v1.ScenarioService/RunScenario";
inline constexpr char kWatchScenarioMethod[] = "/kessan.v1.ScenarioService/WatchScenario";

// One accepted Subscribe. The transport drains subscription() (SetWaker,
// Take, Finished: feed/subscription.h); each taken event's frame() is one
// element of SubscribeResponse.events, so a response is the concatenation
// of frames. Destroying it ends the subscription and releases its limits.
class FeedStream {
 public:
  FeedStream(Feed& feed, std::shared_ptr<Subscription> subscription, std::shared_ptr<void> held);
  ~FeedStream();
  FeedStream(const FeedStream&) = delete;
  FeedStream& operator=(const FeedStream&) = delete;

  Subscription& subscription() const { return *subscription_; }
  const std::shared_ptr<Subscription>& shared_subscription() const { return subscription_; }

 private:
  Feed& feed_;
  const std::shared_ptr<Subscription> subscription_;
  const std::shared_ptr<void> held_;  // leases, the revocation tracker
};

// One accepted WatchScenario. Destroying it cancels the watch: the sink
// hears nothing more after the destructor returns, except an OnEnd already
// under way.
class WatchHandle {
 public:
  struct State;
  explicit WatchHandle(std::shared_ptr<State> state) : state_(std::move(state)) {}
  ~WatchHandle();
  WatchHandle(const WatchHandle&) = delete;
  WatchHandle& operator=(const WatchHandle&) = delete;

 private:
  const std::shared_ptr<State> state_;
};

// Thread-safe. The Feed, the engine and the guard outlive it; destroying it
// stops every watch and waits for their runs under way.
class Services {
 public:
  Services(Feed& feed, ScenarioEngine& engine, CallGuard& guard);
  ~Services();

  // The caller may call `method` (one of the k*Method names): its
  // credentials and role, before its request is read. A transport that
  // cannot parse a request reports this error rather than the parse error.
  absl::Status Admit(const Caller& caller, absl::string_view method);
  // Whether transports should pass Caller::certificate_name (mTLS is on).
  bool wants_certificate_names() const { return guard_.client_certificates(); }

  // `request` may live on an arena; it is consumed.
  // `bodies`: the items' bytes, when known (Feed::Publish).
  absl::StatusOr<v1::PublishResponse> Publish(const Caller& caller, v1::PublishRequest* request,
                                              const std::vector<ItemBody>* bodies = nullptr);
  absl::StatusOr<v1::GetSnapshotResponse> GetSnapshot(const Caller& caller, v1::GetSnapshotRequest request);
  absl::StatusOr<std::unique_ptr<FeedStream>> Subscribe(const Caller& caller, v1::SubscribeRequest request);

  absl::StatusOr<v1::ListScenariosResponse> ListScenarios(const Caller& caller,
                                                          const v1::ListScenariosRequest& request);
  // Waits for the plugin's worker: not on an event loop.
  absl::StatusOr<v1::RunScenarioResponse> RunScenario(const Caller& caller,
                                                      const v1::RunScenarioRequest& request);
  // Results go to `sink` (see WatchSink: from the watcher's threads, must
  // not block) until OnEnd: a failed run, the end of the feed, a revoked
  // caller, Stop().
  absl::StatusOr<std::unique_ptr<WatchHandle>> WatchScenario(const Caller& caller,
                                                             const v1::WatchScenarioRequest& request,
                                                             std::shared_ptr<WatchSink> sink);

  // Ends every watch (UNAVAILABLE) and refuses new ones. Idempotent.
  void Stop();

  Feed& feed() { return feed_; }
  CallGuard& guard() { return guard_; }

 private:
  Feed& feed_;
  ScenarioEngine& engine_;
  CallGuard& guard_;
  ScenarioWatcher watcher_;
};

}  // namespace kessan
