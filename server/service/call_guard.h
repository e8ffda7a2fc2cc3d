// CallGuard: the one place that asks who is calling, whether they may, what
// they may see and whether they are within their limits; and where the
// audit log is written. Every call of Services (service/services.h), over
// any transport, is authorized here first.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "auth/entitlement.h"
#include "auth/limits.h"
#include "auth/open_streams.h"
#include "auth/principal.h"
#include "auth/token_store.h"
#include "feed/feed.h"
#include "service/caller.h"

namespace kessan {

struct CallGuardOptions {
  // Bearer tokens and certificate principals; nullptr: no token file.
  std::shared_ptr<auth::TokenStore> tokens;
  // Clients present verified certificates (mTLS): their common name is an
  // identity. Without a token file, every such client has every role.
  bool client_certificates = false;
  // Limits (0: none, except max_batch_items).
  int max_batch_items = 1000;
  double publish_rate = 0;   // items per second per principal
  double publish_burst = 0;  // items; 0: one second's worth
  size_t max_subscriptions_per_connection = 1000;
  size_t max_concurrent_scenario_runs = 16;
};

// CallGuard is thread-safe; the Feed must outlive it. Authentication is on
// when there is a token file or client certificates; otherwise every call
// is the principal "anonymous" with every role and no restriction.
class CallGuard {
 public:
  CallGuard(Feed& feed, CallGuardOptions options);
  ~CallGuard();

  bool enabled() const { return options_.tokens != nullptr || options_.client_certificates; }
  // Whether a client certificate's name identifies a caller (mTLS).
  bool client_certificates() const { return options_.client_certificates; }

  // The caller, if it may call a method needing `role`: UNAUTHENTICATED
  // without valid credentials, PERMISSION_DENIED without the role. A
  // refusal is audited. `method` is "/kessan.v1.FeedService/Publish".
  absl::StatusOr<auth::Principal> Authorize(const Caller& caller, auth::Role role, absl::string_view method);

  // Entitlements (see auth/entitlement.h), resolving issuer aliases in the feed.
  absl::StatusOr<v1::Filter> Entitle(const auth::Principal& principal, const v1::Filter& filter);
  absl::StatusOr<std::string> EntitleIssuer(const auth::Principal& principal, const std::string& issuer);

  // Batch size, entitlement and publish rate of a publish.
  absl::Status CheckPublish(const auth::Principal& principal, const v1::PublishRequest& request);

  // A Subscribe or WatchScenario stream on the caller's connection, held
  // until the lease is dropped.
  absl::StatusOr<auth::Lease> AcquireSubscription(const Caller& caller);
  // One scenario run at a time per lease.
  absl::StatusOr<auth::Lease> AcquireScenarioRun();

  // Ends the open stream (`end`, audited) at the reload of the principals
  // file that takes away its principal, credential, `role` or entitlements;
  // until the handle is dropped. Null when authentication is off.
  std::shared_ptr<void> TrackStream(const auth::Principal& principal, auth::Role role,
                                    absl::string_view method, auth::OpenStreams::End end);

  // One audit line: principal, method, outcome and `detail` ("items=3").
  void Audit(const auth::Principal& principal, absl::string_view method, const absl::Status& outcome,
             absl::string_view detail = "");
  // Audits a refusal and returns it: the outcome of a call refused after
  // Authorize (entitlement, limits).
  absl::Status Refuse(const auth::Principal& principal, absl::string_view method, const absl::Status& status);

 private:
  absl::StatusOr<auth::Principal> Authenticate(const Caller& caller);
  std::string ResolveIssuer(const std::string& id_or_alias);

  Feed& feed_;
  const CallGuardOptions options_;
  auth::RateLimiter publish_rate_;
  auth::LeaseCounter subscriptions_;
  auth::LeaseCounter scenario_runs_;
  auth::OpenStreams streams_;
  int tokens_listener_ = -1;
};

}  // namespace kessan
