#include "plugin/plugin_host.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kessan {
namespace {

namespace wire = plugin_wire;

std::string Stem(const std::filesystem::path& path) { return path.stem().string(); }

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

absl::Status Prefix(const std::string& name, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("plugin '", name, "' ", status.message()));
}

// Checks what a plugin said about itself.
absl::Status CheckDescriptor(const v1::ScenarioDescriptor& d) {
  if (!ValidName(d.name())) return absl::InternalError(absl::StrCat("describes an invalid name '", d.name(), "'"));
  std::vector<std::string> seen;
  for (const v1::ParameterSpec& p : d.parameters()) {
    if (!ValidName(p.name())) {
      return absl::InternalError(absl::StrCat("describes a parameter with an invalid name '", p.name(), "'"));
    }
    if (p.type() == v1::PARAMETER_TYPE_UNSPECIFIED) {
      return absl::InternalError(absl::StrCat("describes parameter '", p.name(), "' without a type"));
    }
    for (const std::string& s : seen) {
      if (s == p.name()) return absl::InternalError(absl::StrCat("describes parameter '", p.name(), "' twice"));
    }
    seen.push_back(p.name());
  }
  return absl::OkStatus();
}

// Checks a run's output: every output named and valued.
absl::Status CheckOutput(const v1::PluginRunResponse& r) {
  for (int i = 0; i < r.outputs_size(); ++i) {
    const v1::Output& o = r.outputs(i);
    if (o.name().empty()) return absl::InternalError(absl::StrCat("returned output ", i, " without a name"));
    if (o.value_case() == v1::Output::VALUE_NOT_SET) {
      return absl::InternalError(absl::StrCat("returned output '", o.name(), "' without a value"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PluginHost>> PluginHost::Create(PluginHostOptions options) {
  std::unique_ptr<PluginHost> host(new PluginHost(std::move(options)));
  if (host->options_.plugin_dir.empty()) return host;
  std::error_code ec;
  std::filesystem::directory_iterator it(host->options_.plugin_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin_dir ", host->options_.plugin_dir, ": ", ec.message()));
  }
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : it) {
    if (entry.path().extension() == ".so" && !entry.is_directory()) paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& path : paths) {
    auto plugin = std::make_unique<Plugin>();
    plugin->path = path.string();
    plugin->name = Stem(path);
    host->Load(*plugin);
    std::string name;
    {
      absl::MutexLock lock(&plugin->mu);
      if (plugin->load_error.empty()) name = plugin->descriptor.name();
    }
    if (name.empty()) name = plugin->name;
    if (host->plugins_.count(name) > 0) {
      spdlog::warn("plugin {}: name '{}' already taken by {}; ignored", plugin->path, name,
                   host->plugins_[name]->path);
      continue;
    }
    plugin->name = name;
    host->plugins_[name] = std::move(plugin);
  }
  spdlog::info("plugin host: {} plugin(s) in {}", host->plugins_.size(), host->options_.plugin_dir);
  return host;
}

PluginHost::~PluginHost() = default;

void PluginHost::Load(Plugin& plugin) {
  absl::MutexLock call(&plugin.call_mu);
  absl::Status started = EnsureWorker(plugin);
  if (!started.ok()) {
    absl::MutexLock lock(&plugin.mu);
    plugin.load_error = std::string(started.message());
    spdlog::warn("{}", plugin.load_error);
    return;
  }
  absl::StatusOr<wire::Reply> reply = Call(plugin, wire::kDescribe, v1::PluginDescribeRequest().SerializeAsString());
  v1::PluginDescribeResponse described;
  absl::Status status;
  if (!reply.ok()) {
    status = reply.status();
  } else if (reply->status != 0) {
    status = absl::Status(absl::StatusCode::kInternal, absl::StrCat("describe failed: ", reply->message));
  } else if (!described.ParseFromString(reply->payload)) {
    status = absl::InternalError("describe returned bytes that are not a kessan.v1.PluginDescribeResponse");
  } else {
    status = CheckDescriptor(described.scenario());
  }
  absl::MutexLock lock(&plugin.mu);
  plugin.failures.clear();  // a failed describe is a load error, not a strike
  if (!status.ok()) {
    plugin.load_error = std::string(status.message().find("plugin '") == 0 ? status.message()
                                                                            : Prefix(plugin.name, status).message());
    plugin.worker.reset();
    spdlog::warn("{}", plugin.load_error);
    return;
  }
  plugin.descriptor = described.scenario();
  spdlog::info("plugin '{}' {} (ABI {}) from {}", plugin.descriptor.name(), plugin.descriptor.version(),
               plugin.abi_version, plugin.path);
}

absl::Status PluginHost::EnsureWorker(Plugin& plugin) {
  if (plugin.worker != nullptr && plugin.worker->alive()) return absl::OkStatus();
  plugin.worker.reset();
  std::string abi;
  absl::StatusOr<std::unique_ptr<WorkerProcess>> worker =
      WorkerProcess::Start(options_.worker_path, plugin.path, options_.limits, options_.call_timeout, &abi);
  if (!abi.empty()) {
    absl::MutexLock lock(&plugin.mu);
    plugin.abi_version = abi;
  }
  if (!worker.ok()) {
    // The worker's handshake messages already name the plugin.
    absl::Status s = worker.status();
    if (s.message().find("plugin '") == 0) return s;
    return Prefix(plugin.name, s);
  }
  plugin.worker = *std::move(worker);
  return absl::OkStatus();
}

absl::StatusOr<wire::Reply> PluginHost::Call(Plugin& plugin, wire::Op op, const std::string& payload) {
  absl::Time deadline = absl::Now() + options_.call_timeout;
  absl::StatusOr<wire::Reply> reply = plugin.worker->Call(op, payload, deadline);
  if (!reply.ok()) {
    absl::Status s = reply.status();
    if (s.code() == absl::StatusCode::kDeadlineExceeded) {
      s = absl::DeadlineExceededError(
          absl::StrCat(s.message(), " (deadline ", absl::FormatDuration(options_.call_timeout), ")"));
    }
    s = Prefix(plugin.name, s);
    RecordFailure(plugin, s);
    return s;
  }
  return reply;
}

void PluginHost::RecordFailure(Plugin& plugin, const absl::Status& status) {
  plugin.worker.reset();
  absl::MutexLock lock(&plugin.mu);
  absl::Time now = absl::Now();
  plugin.failures.push_back(now);
  while (!plugin.failures.empty() && plugin.failures.front() < now - options_.failure_window) {
    plugin.failures.pop_front();
  }
  plugin.last_failure = std::string(status.message());
  spdlog::warn("{}", plugin.last_failure);
  if (static_cast<int>(plugin.failures.size()) >= options_.max_failures) {
    plugin.quarantined_until = now + options_.quarantine_time;
    plugin.failures.clear();
    spdlog::error("plugin '{}' quarantined for {} after {} failures within {}", plugin.name,
                  absl::FormatDuration(options_.quarantine_time), options_.max_failures,
                  absl::FormatDuration(options_.failure_window));
  }
}

PluginHost::Plugin* PluginHost::Find(const std::string& name) {
  auto it = plugins_.find(name);
  return it == plugins_.end() ? nullptr : it->second.get();
}

absl::Status PluginHost::Ready(Plugin& plugin) {
  if (!plugin.load_error.empty()) return absl::FailedPreconditionError(plugin.load_error);
  if (absl::Now() < plugin.quarantined_until) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin '", plugin.name, "' is quarantined until ", absl::FormatTime(plugin.quarantined_until),
                     " after ", options_.max_failures, " failures within ",
                     absl::FormatDuration(options_.failure_window), "; last: ", plugin.last_failure));
  }
  return absl::OkStatus();
}

std::vector<v1::ScenarioInfo> PluginHost::List() {
  std::vector<v1::ScenarioInfo> out;
  for (auto& [name, plugin] : plugins_) {
    absl::MutexLock lock(&plugin->mu);
    v1::ScenarioInfo info;
    *info.mutable_scenario() = plugin->descriptor;
    if (info.scenario().name().empty()) info.mutable_scenario()->set_name(name);
    info.set_path(plugin->path);
    info.set_abi_version(plugin->abi_version);
    absl::Status ready = Ready(*plugin);
    info.set_state(ready.ok() ? v1::PLUGIN_STATE_READY
                              : (plugin->load_error.empty() ? v1::PLUGIN_STATE_QUARANTINED : v1::PLUGIN_STATE_FAILED));
    if (!ready.ok()) info.set_error(std::string(ready.message()));
    out.push_back(std::move(info));
  }
  return out;
}

int PluginHost::worker_pid(const std::string& name) {
  Plugin* plugin = Find(name);
  if (plugin == nullptr) return 0;
  absl::MutexLock lock(&plugin->call_mu);
  return plugin->worker != nullptr && plugin->worker->alive() ? plugin->worker->pid() : 0;
}

absl::StatusOr<v1::ScenarioDescriptor> PluginHost::Describe(const std::string& name) {
  Plugin* plugin = Find(name);
  if (plugin == nullptr) {
    std::vector<std::string> names;
    for (const auto& [n, p] : plugins_) names.push_back(n);
    return absl::NotFoundError(absl::StrCat("no scenario '", name, "'; known: ",
                                            names.empty() ? "none" : absl::StrJoin(names, ", ")));
  }
  absl::MutexLock lock(&plugin->mu);
  if (absl::Status s = Ready(*plugin); !s.ok()) return s;
  return plugin->descriptor;
}

absl::StatusOr<v1::PluginRunResponse> PluginHost::Run(const std::string& name, const v1::PluginRunRequest& request) {
  Plugin* plugin = Find(name);
  if (plugin == nullptr) return Describe(name).status();
  absl::MutexLock call(&plugin->call_mu);
  {
    absl::MutexLock lock(&plugin->mu);
    if (absl::Status s = Ready(*plugin); !s.ok()) return s;
  }
  if (absl::Status s = EnsureWorker(*plugin); !s.ok()) {
    RecordFailure(*plugin, s);
    return s;
  }
  absl::StatusOr<wire::Reply> reply = Call(*plugin, wire::kRun, request.SerializeAsString());
  if (!reply.ok()) return reply.status();
  if (reply->status != 0) {
    absl::StatusCode code = static_cast<absl::StatusCode>(reply->status);
    if (reply->status < 0 || reply->status > 16) code = absl::StatusCode::kInternal;
    return absl::Status(code, absl::StrCat("plugin '", name, "': ", reply->message));
  }
  v1::PluginRunResponse response;
  if (!response.ParseFromString(reply->payload)) {
    return absl::InternalError(absl::StrCat("plugin '", name, "' returned ", reply->payload.size(),
                                            " bytes that are not a kessan.v1.PluginRunResponse"));
  }
  if (absl::Status s = CheckOutput(response); !s.ok()) return Prefix(name, s);
  return response;
}

}  // namespace kessan
