// PluginHost: the scenario plugins of a directory, each run in its own
// kessan-plugin-worker process.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kessan/v1/plugin.pb.h"
#include "kessan/v1/scenario.pb.h"
#include "metrics/scenario_metrics.h"
#include "plugin/worker_process.h"

namespace kessan {

struct PluginHostOptions {
  // Directory scanned (not recursively) for plugins: every "*.so" file.
  std::string plugin_dir;
  // The kessan-plugin-worker executable.
  std::string worker_path;
  WorkerLimits limits;
  // Wall-clock deadline of one call (a run or a describe), and of the
  // worker's start-up handshake.
  absl::Duration call_timeout = absl::Seconds(5);
  // When kessand runs as root, workers switch to this user (and its group)
  // before they load a plugin. Empty: they stay root (not recommended).
  std::string plugin_user = "nobody";
  // A plugin whose worker dies (crash, deadline, limits) max_failures times
  // within failure_window is quarantined for quarantine_time.
  int max_failures = 3;
  absl::Duration failure_window = absl::Minutes(1);
  absl::Duration quarantine_time = absl::Minutes(1);
  // The clock of failure_window and quarantine_time (tests inject one).
  std::function<absl::Time()> now = [] { return absl::Now(); };
  // Where worker restarts and quarantines are counted, per plugin
  // (unowned, outlives the host; null: not counted).
  metrics::ScenarioMetrics* metrics = nullptr;
};

// A plugin's message (its error, its describe failure) as clients and the
// log get it: control characters as blanks, at most `max_bytes` bytes (cut
// at a UTF-8 character boundary), and when cut, a note saying so.
inline constexpr size_t kMaxPluginMessageBytes = 1024;
std::string BoundedPluginMessage(absl::string_view message, size_t max_bytes = kMaxPluginMessageBytes);

// What the host takes from plugin `name`'s reply to a run: the plugin's
// error (its code if a google.rpc code, else INTERNAL; its message bounded),
// or its PluginRunResponse, every output named and valued (else INTERNAL).
absl::StatusOr<v1::PluginRunResponse> DecodeRunReply(const std::string& name,
                                                     const plugin_wire::Reply& reply);

// PluginHost is thread-safe. Calls to one plugin are serialized (one worker
// per plugin, reused across calls and respawned after it dies); calls to
// different plugins run in parallel. Kessand never loads a plugin itself.
class PluginHost {
 public:
  // Lists the plugins of options.plugin_dir and returns; a thread then
  // describes them in parallel, each under its own deadline (call_timeout
  // for the worker's start and again for describe()), so a hanging plugin
  // delays no one. Until all are described, the methods below wait. A
  // plugin that fails to load is kept with its error (see List()). Fails
  // if the directory cannot be read or plugin_user does not exist.
  static absl::StatusOr<std::unique_ptr<PluginHost>> Create(PluginHostOptions options);
  ~PluginHost();

  // Waits until every plugin has been described (or has failed to be).
  void WaitUntilLoaded();

  // Every plugin found, sorted by name.
  std::vector<v1::ScenarioInfo> List();

  // The descriptor of a ready plugin: NOT_FOUND for an unknown name,
  // FAILED_PRECONDITION for one that failed to load or is quarantined.
  absl::StatusOr<v1::ScenarioDescriptor> Describe(const std::string& name);

  // Runs a plugin. The plugin's own error codes pass through; a dead worker
  // gives INTERNAL / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED; output that is
  // not a valid PluginRunResponse gives INTERNAL. Messages name the plugin.
  absl::StatusOr<v1::PluginRunResponse> Run(const std::string& name, const v1::PluginRunRequest& request);

  const PluginHostOptions& options() const { return options_; }
  // The pid of a plugin's live worker, or 0 (for tests and diagnostics).
  int worker_pid(const std::string& name);

 private:
  struct Plugin {
    std::string path;
    std::string name;
    // Serializes calls to the plugin; guards its worker. Taken before mu.
    absl::Mutex call_mu;
    std::unique_ptr<WorkerProcess> worker ABSL_GUARDED_BY(call_mu);
    // A worker was started before: the next start is a restart.
    bool started ABSL_GUARDED_BY(call_mu) = false;
    // Set before the plugin is published in plugins_, then read-only.
    metrics::ScenarioMetrics::Plugin counters{nullptr, nullptr};
    // Guards the state List() reads, so listing never waits for a call.
    absl::Mutex mu ABSL_ACQUIRED_AFTER(call_mu);
    std::string abi_version ABSL_GUARDED_BY(mu);
    v1::ScenarioDescriptor descriptor ABSL_GUARDED_BY(mu);
    std::string load_error ABSL_GUARDED_BY(mu);
    std::deque<absl::Time> failures ABSL_GUARDED_BY(mu);
    absl::Time quarantined_until ABSL_GUARDED_BY(mu) = absl::InfinitePast();
    std::string last_failure ABSL_GUARDED_BY(mu);
  };

  explicit PluginHost(PluginHostOptions options) : options_(std::move(options)) {}
  // Describes `pending` in parallel, then publishes them in plugins_.
  void LoadAll(std::vector<std::unique_ptr<Plugin>> pending);
  void Load(Plugin& plugin);
  Plugin* Find(const std::string& name);
  // Starts the worker if needed; the error is final for this call.
  absl::Status EnsureWorker(Plugin& plugin) ABSL_EXCLUSIVE_LOCKS_REQUIRED(plugin.call_mu);
  absl::Status Ready(Plugin& plugin) ABSL_EXCLUSIVE_LOCKS_REQUIRED(plugin.mu);
  absl::StatusOr<plugin_wire::Reply> Call(Plugin& plugin, plugin_wire::Op op, const std::string& payload)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(plugin.call_mu);
  // Drops the worker; may quarantine the plugin.
  void RecordFailure(Plugin& plugin, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(plugin.call_mu);

  const PluginHostOptions options_;
  // The workers' user and group (-1: kessand's), and their empty working
  // directory.
  int64_t uid_ = -1;
  int64_t gid_ = -1;
  std::string work_dir_;
  // Built once by LoadAll before loaded_ is set, then read-only; each
  // Plugin has its own lock.
  std::map<std::string, std::unique_ptr<Plugin>> plugins_;
  absl::Mutex load_mu_;
  bool loaded_ ABSL_GUARDED_BY(load_mu_) = false;
  std::thread loader_;
};

}  // namespace kessan
