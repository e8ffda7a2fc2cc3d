#include "metrics/scenario_metrics.h"

namespace kessan::metrics {

ScenarioMetrics::ScenarioMetrics(Registry& registry) : registry_(registry) {
  for (size_t code = 0; code < runs_.size(); ++code) {
    runs_[code] = &registry.AddCounter(
        "kessan_scenario_runs_total", "Scenario runs (RunScenario and watches) by outcome.",
        {{"outcome", absl::StatusCodeToString(static_cast<absl::StatusCode>(code))}},
        /*hide_zero=*/code != 0);
  }
}

void ScenarioMetrics::RunEnded(absl::StatusCode code) const {
  const size_t i = static_cast<size_t>(code);
  runs_[i < runs_.size() ? i : static_cast<size_t>(absl::StatusCode::kUnknown)]->Increment();
}

ScenarioMetrics::Plugin ScenarioMetrics::ForPlugin(const std::string& name) {
  return {&registry_.AddCounter(
              "kessan_plugin_worker_restarts_total",
              "Plugin worker processes started again after one ended (crash, deadline, limits).",
              {{"plugin", name}}),
          &registry_.AddCounter("kessan_plugin_quarantines_total",
                                "Times a plugin was quarantined after repeated worker failures.",
                                {{"plugin", name}})};
}

}  // namespace kessan::metrics
