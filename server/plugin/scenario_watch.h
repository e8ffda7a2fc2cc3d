// ScenarioWatcher: scenarios re-run as their inputs change, without a
// thread per watch.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "feed/job_pool.h"
#include "kessan/v1/scenario.pb.h"
#include "plugin/scenario_engine.h"

namespace kessan {

// Where a watch's results go (a transport's stream). Called from the
// watcher's threads (OnEnd also from Stop's caller): thread-safe, and must
// not block.
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  // A new result of the scenario; trigger_sequence is the input event that
  // caused the run (0 for the first run).
  virtual void OnResult(v1::WatchScenarioResponse response) = 0;
  // A run failed (`status`), after the input event `trigger`; OnEnd follows.
  virtual void OnRunFailed(const absl::Status& status, uint64_t trigger) {}
  // The watch is over: a run failed, its subscription ended, or the
  // watcher stopped. Nothing follows.
  virtual void OnEnd(const absl::Status& status) = 0;
};

// One watched scenario. Cancel ends it without a call to the sink.
class Watch {
 public:
  virtual ~Watch() = default;
  virtual void Cancel() = 0;
};

// ScenarioWatcher runs each watched scenario once, then again whenever an
// input item the caller may see changes: a live-only Feed subscription to
// the scenario's inputs wakes the watch (never polling), and the run goes
// to a small pool of threads shared by every watch. A watch has at most one
// run at a time; changes that arrive during a run cause one more run.
// Thread-safe. The engine (and its Feed) must outlive it.
class ScenarioWatcher {
 public:
  explicit ScenarioWatcher(ScenarioEngine& engine, int threads = 4);
  // Stop(), then waits for the runs under way.
  ~ScenarioWatcher();

  // Starts watching `prepared` (its scope applied: only inputs the caller
  // may see trigger a run) and sends results to `sink`.
  absl::StatusOr<std::shared_ptr<Watch>> Start(PreparedScenario prepared, std::shared_ptr<WatchSink> sink);

  // Ends every watch with `status` (OnEnd) and refuses new ones.
  void Stop(const absl::Status& status);

  size_t watch_count();

 private:
  class WatchImpl;
  friend class WatchImpl;
  void Forget(WatchImpl* watch);

  ScenarioEngine& engine_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<WatchImpl*, std::shared_ptr<WatchImpl>> watches_ ABSL_GUARDED_BY(mu_);
  // Last: destroyed first, while the watches' engine is still there.
  JobPool pool_;
};

}  // namespace kessan
