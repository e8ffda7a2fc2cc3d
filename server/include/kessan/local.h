// The in-process API of a running kessan::Server: publish, snapshot,
// subscribe with a callback and run scenarios without a network hop, with
// the same validation, durability, sequences, entitlements, limits, audit
// and errors as over gRPC (both call the same services).
//
//   std::unique_ptr<kessan::LocalClient> local = server->Local();
//   absl::StatusOr<kessan::v1::PublishResponse> ack = local->Publish(batch);
//   kessan::SubscribeCallbacks on;
//   on.on_event = [](const kessan::v1::FeedEvent& e) { ... };
//   on.on_end = [](const absl::Status& s) { ... };
//   auto subscription = local->Subscribe(request, std::move(on));
//
// This header includes the generated kessan.v1 messages (Protobuf), no
// gRPC header.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kessan/v1/feed.pb.h"
#include "kessan/v1/scenario.pb.h"

namespace kessan {

// Who an in-process caller is. With authentication on (a principals file or
// client certificates), a caller without a valid token is UNAUTHENTICATED,
// as over gRPC; its roles and entitlements apply.
struct LocalCredentials {
  // The bearer token, as a remote client sends it after "Bearer ".
  std::string bearer_token;
  // The caller's connection in the audit log and for the per-connection
  // subscription limit: each LocalClient is one connection.
  std::string name = "in-process";
};

// What a subscription calls. Both run on the server's delivery threads
// (a small pool shared by every in-process subscription), never on the
// caller's or a publisher's thread; the callbacks of one subscription never
// run at once, and come in sequence order. They must return promptly: while
// one runs, its subscription's queue fills (its SubscribeRequest's
// slow_consumer_policy applies) and a delivery thread is taken from the
// others. They may call the LocalClient (a blocking Publish or RunScenario
// included, at that cost), and may destroy their own LocalSubscription.
struct SubscribeCallbacks {
  // Each event in order: journaled events (issuer, fact, ... with their
  // sequence) and control events (snapshot_begin/_end, heartbeat, resync,
  // conflated: sequence 0), exactly as a gRPC subscriber receives them.
  std::function<void(const v1::FeedEvent& event)> on_event;
  // Once, at the end: RESOURCE_EXHAUSTED (slow consumer, naming the sequence
  // to resume from), UNAVAILABLE (server shutting down), PERMISSION_DENIED
  // or UNAUTHENTICATED (a reload of the principals file revoked the caller).
  // Not called after the subscription is destroyed or cancelled.
  std::function<void(const absl::Status& status)> on_end;
};

// One subscription. Destroying it (or Cancel) ends it: when it returns, no
// callback runs or will run, unless it was called from this subscription's
// own callback (which then finishes first).
class LocalSubscription {
 public:
  virtual ~LocalSubscription() = default;
  virtual void Cancel() = 0;
  // The sequence of the last journaled event delivered (0: none yet): what
  // to resume from (START_MODE_FROM_SEQUENCE) with incarnation().
  virtual uint64_t last_sequence() const = 0;
  // The journal incarnation the sequences belong to, once known (from
  // snapshot_begin or a heartbeat).
  virtual std::string incarnation() const = 0;
};

// An in-process connection. Thread-safe. Must not outlive its Server; a
// subscription that does ends (without on_end) when the Server is destroyed.
class LocalClient {
 public:
  virtual ~LocalClient() = default;

  // Acknowledged once journaled (fsync included), as over gRPC; blocks.
  virtual absl::StatusOr<v1::PublishResponse> Publish(v1::PublishRequest request) = 0;
  virtual absl::StatusOr<v1::GetSnapshotResponse> GetSnapshot(const v1::GetSnapshotRequest& request) = 0;
  // Errors (bad filter, no role, limits) come here, not through on_end.
  virtual absl::StatusOr<std::unique_ptr<LocalSubscription>> Subscribe(const v1::SubscribeRequest& request,
                                                                       SubscribeCallbacks callbacks) = 0;
  virtual absl::StatusOr<v1::ListScenariosResponse> ListScenarios() = 0;
  // Blocks while the scenario's plugin runs in its worker process.
  virtual absl::StatusOr<v1::RunScenarioResponse> RunScenario(const v1::RunScenarioRequest& request) = 0;
};

}  // namespace kessan
