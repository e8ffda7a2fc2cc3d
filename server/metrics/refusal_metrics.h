// RefusalMetrics: calls the CallGuard refused, by status code and reason.
#pragma once

#include <array>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "metrics/instruments.h"
#include "metrics/registry.h"

namespace kessan::metrics {

// Why a call was refused (the label "reason").
enum class Refusal {
  kCredentials,                 // "credentials": none, malformed, unknown or revoked
  kRole,                        // "role": the principal lacks the method's role
  kEntitlement,                 // "entitlement": an issuer or concept it may not see or publish
  kBatchSize,                   // "batch_size": more items than max_batch_items
  kPublishRate,                 // "publish_rate": over max_publish_rate
  kSubscriptionsPerConnection,  // "subscriptions_per_connection"
  kScenarioRuns,                // "scenario_runs": max_concurrent_scenario_runs reached
  kRevoked,                     // "revoked": an open stream ended by a reload of the principals
};
inline constexpr size_t kRefusalCount = 8;
absl::string_view RefusalName(Refusal reason);

// kessan_refused_calls_total{code,reason}: series made once, each shown
// once it has counted. Thread-safe; Refused is lock-free.
class RefusalMetrics {
 public:
  explicit RefusalMetrics(Registry& registry);
  void Refused(Refusal reason, absl::StatusCode code) const;

 private:
  std::array<std::array<Counter*, 17>, kRefusalCount> counters_;
};

}  // namespace kessan::metrics
