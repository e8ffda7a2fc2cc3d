#include "metrics/refusal_metrics.h"

#include <string>

namespace kessan::metrics {

absl::string_view RefusalName(Refusal reason) {
  switch (reason) {
    case Refusal::kCredentials:
      return "credentials";
    case Refusal::kRole:
      return "role";
    case Refusal::kEntitlement:
      return "entitlement";
    case Refusal::kBatchSize:
      return "batch_size";
    case Refusal::kPublishRate:
      return "publish_rate";
    case Refusal::kSubscriptionsPerConnection:
      return "subscriptions_per_connection";
    case Refusal::kScenarioRuns:
      return "scenario_runs";
    case Refusal::kRevoked:
      return "revoked";
  }
  return "unknown";
}

RefusalMetrics::RefusalMetrics(Registry& registry) {
  for (size_t r = 0; r < kRefusalCount; ++r) {
    for (size_t code = 0; code < counters_[r].size(); ++code) {
      counters_[r][code] =
          &registry.AddCounter("kessan_refused_calls_total",
                               "Calls (or open streams) refused by authentication, entitlements or limits.",
                               {{"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(code))},
                                {"reason", std::string(RefusalName(static_cast<Refusal>(r)))}},
                               /*hide_zero=*/true);
    }
  }
}

void RefusalMetrics::Refused(Refusal reason, absl::StatusCode code) const {
  const size_t r = static_cast<size_t>(reason);
  const size_t c = static_cast<size_t>(code);
  if (r >= kRefusalCount) return;
  counters_[r][c < 17 ? c : static_cast<size_t>(absl::StatusCode::kUnknown)]->Increment();
}

}  // namespace kessan::metrics
