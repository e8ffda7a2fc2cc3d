// ScenarioEngine: runs scenarios against the feed. Checks parameters
// against a plugin's descriptor, gathers the plugin's input items from the
// feed's state (current or as of a time), runs the plugin in the host and
// builds the result.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "feed/feed.h"
#include "kessan/v1/scenario.pb.h"
#include "metrics/scenario_metrics.h"
#include "plugin/plugin_host.h"

namespace kessan {

// A run, checked and ready: what the engine needs to run it, again and again.
struct PreparedScenario {
  v1::ScenarioDescriptor descriptor;
  std::string issuer;  // resolved id; may be empty (any single issuer)
  google::protobuf::Map<std::string, v1::ParameterValue> parameters;  // converted, defaults filled
  // Journaled events of these kinds may be inputs (for subscriptions).
  std::vector<v1::EventKind> event_kinds;
  // What the caller may see (its entitlement): inputs come only from these
  // issuers (when `issuer` is empty) and concepts. Empty lists: any.
  v1::Filter scope;
};

// Converts `given` to the declared types, checks bounds and required
// parameters, fills defaults. INVALID_ARGUMENT names the parameter.
absl::StatusOr<google::protobuf::Map<std::string, v1::ParameterValue>> CheckParameters(
    const v1::ScenarioDescriptor& descriptor,
    const google::protobuf::Map<std::string, v1::ParameterValue>& given);

// Does this journaled event match one of the descriptor's inputs?
bool IsInput(const v1::ScenarioDescriptor& descriptor, const v1::FeedEvent& event);

// The result of a run from what the plugin returned: its outputs, and the
// inputs of `request` it says it used; naming a sequence it was not given
// is INTERNAL. The caller sets as_of and computed_at.
absl::StatusOr<v1::ScenarioResult> ResultOf(const v1::ScenarioDescriptor& descriptor,
                                            const v1::PluginRunRequest& request,
                                            const v1::PluginRunResponse& response, uint64_t state_sequence);

// ScenarioEngine is thread-safe; Feed and PluginHost must outlive it.
class ScenarioEngine {
 public:
  // `metrics` (unowned, may be null) counts runs by outcome.
  ScenarioEngine(Feed& feed, PluginHost& host, const metrics::ScenarioMetrics* metrics = nullptr)
      : feed_(feed), host_(host), metrics_(metrics) {}

  absl::StatusOr<PreparedScenario> Prepare(
      const std::string& name, const std::string& issuer,
      const google::protobuf::Map<std::string, v1::ParameterValue>& parameters);

  // Runs on the current state, or on the state as the feed knew it at
  // `as_of` (when not absl::InfiniteFuture()).
  absl::StatusOr<v1::ScenarioResult> Run(const PreparedScenario& prepared,
                                         absl::Time as_of = absl::InfiniteFuture());

  Feed& feed() { return feed_; }
  PluginHost& host() { return host_; }

 private:
  // The latest revision of every input item, and the sequence the state is
  // consistent at.
  absl::Status Gather(const PreparedScenario& prepared, absl::Time as_of, std::vector<v1::FeedEvent>* inputs,
                      uint64_t* sequence);

  absl::StatusOr<v1::ScenarioResult> RunOnce(const PreparedScenario& prepared, absl::Time as_of);

  Feed& feed_;
  PluginHost& host_;
  const metrics::ScenarioMetrics* const metrics_;
};

}  // namespace kessan
