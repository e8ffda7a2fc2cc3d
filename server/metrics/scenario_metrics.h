// ScenarioMetrics: scenario runs by outcome, plugin worker restarts and
// quarantines.
#pragma once

#include <array>
#include <string>

#include "absl/status/status.h"
#include "metrics/instruments.h"
#include "metrics/registry.h"

namespace kessan::metrics {

// Thread-safe. A plugin's series are made when the host loads it (its
// name from the plugin directory: bounded by the operator, not callers).
class ScenarioMetrics {
 public:
  explicit ScenarioMetrics(Registry& registry);

  // kessan_scenario_runs_total{outcome}: a run of the engine ended with
  // `code` ("OK", "DEADLINE_EXCEEDED", ...; a code's series shows once it
  // has counted).
  void RunEnded(absl::StatusCode code) const;

  struct Plugin {
    Counter* worker_restarts;  // kessan_plugin_worker_restarts_total{plugin}
    Counter* quarantines;      // kessan_plugin_quarantines_total{plugin}
  };
  Plugin ForPlugin(const std::string& name);

 private:
  Registry& registry_;
  std::array<Counter*, 17> runs_;
};

}  // namespace kessan::metrics
