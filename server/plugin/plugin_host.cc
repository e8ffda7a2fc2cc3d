#include "plugin/plugin_host.h"

#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/log.h"
#include "util/status_macros.h"

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

// A name a plugin gave, in a message: clean and short, as its own messages.
std::string Quoted(const std::string& name) { return BoundedPluginMessage(name, 64); }

// Checks what a plugin said about itself.
absl::Status CheckDescriptor(const v1::ScenarioDescriptor& d) {
  if (!ValidName(d.name()))
    return absl::InternalError(absl::StrCat("describes an invalid name '", Quoted(d.name()), "'"));
  std::vector<std::string> seen;
  for (const v1::ParameterSpec& p : d.parameters()) {
    if (!ValidName(p.name())) {
      return absl::InternalError(
          absl::StrCat("describes a parameter with an invalid name '", Quoted(p.name()), "'"));
    }
    if (p.type() == v1::PARAMETER_TYPE_UNSPECIFIED) {
      return absl::InternalError(absl::StrCat("describes parameter '", p.name(), "' without a type"));
    }
    for (const std::string& s : seen) {
      if (s == p.name())
        return absl::InternalError(absl::StrCat("describes parameter '", p.name(), "' twice"));
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
      return absl::InternalError(absl::StrCat("returned output '", Quoted(o.name()), "' without a value"));
    }
  }
  return absl::OkStatus();
}

// Describes run on at most this many threads at once.
constexpr size_t kMaxParallelLoads = 16;

// The uid and gid of `user`.
absl::Status LookUpUser(const std::string& user, int64_t* uid, int64_t* gid) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  int rc = getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0 || found == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("plugin_user '", user, "': no such user"));
  }
  if (found->pw_uid == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin_user '", user, "' is root: plugin workers must run unprivileged"));
  }
  *uid = found->pw_uid;
  *gid = found->pw_gid;
  return absl::OkStatus();
}

}  // namespace

std::string BoundedPluginMessage(absl::string_view message, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(message.size(), max_bytes));
  size_t i = 0;
  for (; i < message.size() && out.size() < max_bytes; ++i) {
    auto c = static_cast<unsigned char>(message[i]);
    // C0 controls and DEL; C1 controls (U+0080..U+009F, UTF-8 C2 80..9F).
    if (c < 0x20 || c == 0x7f) {
      out.push_back(' ');
    } else if (c == 0xc2 && i + 1 < message.size() && static_cast<unsigned char>(message[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(message[i + 1]) <= 0x9f) {
      out.push_back(' ');
      ++i;
    } else {
      out.push_back(message[i]);
    }
  }
  if (i >= message.size()) return out;
  // Cut at a character boundary: drop a trailing incomplete UTF-8 sequence.
  size_t end = out.size();
  size_t lead = end;
  while (lead > 0 && end - lead < 4 && (static_cast<unsigned char>(out[lead - 1]) & 0xc0) == 0x80) --lead;
  if (lead > 0 && static_cast<unsigned char>(out[lead - 1]) >= 0xc0) {
    auto c = static_cast<unsigned char>(out[lead - 1]);
    size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    if (end - (lead - 1) < need) out.resize(lead - 1);
  }
  absl::StrAppend(&out, " [cut: ", message.size(), " bytes in all]");
  return out;
}

absl::StatusOr<std::unique_ptr<PluginHost>> PluginHost::Create(PluginHostOptions options) {
  std::unique_ptr<PluginHost> host(new PluginHost(std::move(options)));
  if (host->options_.plugin_dir.empty()) {
    absl::MutexLock lock(&host->load_mu_);
    host->loaded_ = true;
    return host;
  }
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
  if (geteuid() == 0 && !host->options_.plugin_user.empty()) {
    RETURN_IF_ERROR(LookUpUser(host->options_.plugin_user, &host->uid_, &host->gid_));
  } else if (geteuid() == 0) {
    Log().warn("plugin host: no plugin_user; plugin workers run as root");
  }
  // An empty working directory for the workers, which they may enter but
  // neither list nor write.
  std::string work_dir = (std::filesystem::temp_directory_path(ec) / "kessan-plugins-XXXXXX").string();
  if (!ec && mkdtemp(work_dir.data()) != nullptr && chmod(work_dir.c_str(), 0111) == 0) {
    host->work_dir_ = work_dir;
  } else {
    Log().warn("plugin host: no empty working directory for the workers ({}); they start in /",
               std::strerror(errno));
    host->work_dir_ = "/";
  }
  std::vector<std::unique_ptr<Plugin>> pending;
  for (const auto& path : paths) {
    auto plugin = std::make_unique<Plugin>();
    plugin->path = path.string();
    plugin->name = Stem(path);
    pending.push_back(std::move(plugin));
  }
  PluginHost* raw = host.get();
  host->loader_ =
      std::thread([raw, pending = std::move(pending)]() mutable { raw->LoadAll(std::move(pending)); });
  return host;
}

void PluginHost::LoadAll(std::vector<std::unique_ptr<Plugin>> pending) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < std::min(pending.size(), kMaxParallelLoads); ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < pending.size(); i = next++) Load(*pending[i]);
    });
  }
  for (std::thread& t : threads) t.join();
  for (std::unique_ptr<Plugin>& plugin : pending) {
    std::string name;
    {
      absl::MutexLock lock(&plugin->mu);
      if (plugin->load_error.empty()) name = plugin->descriptor.name();
    }
    if (name.empty()) name = plugin->name;
    if (plugins_.count(name) > 0) {
      Log().warn("plugin {}: name '{}' already taken by {}; ignored", plugin->path, name,
                 plugins_[name]->path);
      continue;
    }
    plugin->name = name;
    if (options_.metrics != nullptr) plugin->counters = options_.metrics->ForPlugin(name);
    plugins_[name] = std::move(plugin);
  }
  Log().info("plugin host: {} plugin(s) in {}, run by {}", plugins_.size(), options_.plugin_dir,
             options_.worker_path);
  absl::MutexLock lock(&load_mu_);
  loaded_ = true;
}

void PluginHost::WaitUntilLoaded() {
  absl::MutexLock lock(&load_mu_);
  load_mu_.Await(absl::Condition(&loaded_));
}

PluginHost::~PluginHost() {
  if (loader_.joinable()) loader_.join();
  plugins_.clear();  // their workers first
  if (!work_dir_.empty() && work_dir_ != "/") rmdir(work_dir_.c_str());
}

void PluginHost::Load(Plugin& plugin) {
  absl::MutexLock call(&plugin.call_mu);
  absl::Status started = EnsureWorker(plugin);
  if (!started.ok()) {
    absl::MutexLock lock(&plugin.mu);
    plugin.load_error = std::string(started.message());
    Log().warn("{}", plugin.load_error);
    return;
  }
  absl::StatusOr<wire::Reply> reply =
      Call(plugin, wire::kDescribe, v1::PluginDescribeRequest().SerializeAsString());
  v1::PluginDescribeResponse described;
  absl::Status status;
  if (!reply.ok()) {
    status = reply.status();
  } else if (reply->status != 0) {
    status = absl::Status(absl::StatusCode::kInternal,
                          absl::StrCat("describe failed: ", BoundedPluginMessage(reply->message)));
  } else if (!described.ParseFromString(reply->payload)) {
    status = absl::InternalError("describe returned bytes that are not a kessan.v1.PluginDescribeResponse");
  } else {
    status = CheckDescriptor(described.scenario());
  }
  absl::MutexLock lock(&plugin.mu);
  plugin.failures.clear();  // a failed describe is a load error, not a strike
  if (!status.ok()) {
    plugin.load_error = std::string(
        status.message().find("plugin '") == 0 ? status.message() : Prefix(plugin.name, status).message());
    plugin.worker.reset();
    Log().warn("{}", plugin.load_error);
    return;
  }
  plugin.descriptor = described.scenario();
  Log().info("plugin '{}' {} (ABI {}) from {}", plugin.descriptor.name(), plugin.descriptor.version(),
             plugin.abi_version, plugin.path);
}

absl::Status PluginHost::EnsureWorker(Plugin& plugin) {
  if (plugin.worker != nullptr && plugin.worker->alive()) return absl::OkStatus();
  plugin.worker.reset();
  std::string abi;
  WorkerOptions worker_options;
  worker_options.worker_path = options_.worker_path;
  worker_options.plugin_path = plugin.path;
  worker_options.name = plugin.name;
  worker_options.limits = options_.limits;
  worker_options.uid = uid_;
  worker_options.gid = gid_;
  worker_options.work_dir = work_dir_;
  absl::StatusOr<std::unique_ptr<WorkerProcess>> worker =
      WorkerProcess::Start(worker_options, options_.call_timeout, &abi);
  if (!abi.empty()) {
    absl::MutexLock lock(&plugin.mu);
    plugin.abi_version = abi;
  }
  if (!worker.ok()) {
    // The worker's handshake messages already name the plugin.
    absl::Status s(worker.status().code(), BoundedPluginMessage(worker.status().message()));
    if (s.message().find("plugin '") == 0) return s;
    return Prefix(plugin.name, s);
  }
  plugin.worker = *std::move(worker);
  if (plugin.started && plugin.counters.worker_restarts != nullptr)
    plugin.counters.worker_restarts->Increment();
  plugin.started = true;
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
  absl::Time now = options_.now();
  plugin.failures.push_back(now);
  while (!plugin.failures.empty() && plugin.failures.front() < now - options_.failure_window) {
    plugin.failures.pop_front();
  }
  plugin.last_failure = std::string(status.message());
  Log().warn("{}", plugin.last_failure);
  if (static_cast<int>(plugin.failures.size()) >= options_.max_failures) {
    plugin.quarantined_until = now + options_.quarantine_time;
    if (plugin.counters.quarantines != nullptr) plugin.counters.quarantines->Increment();
    plugin.failures.clear();
    Log().error("plugin '{}' quarantined for {} after {} failures within {}", plugin.name,
                absl::FormatDuration(options_.quarantine_time), options_.max_failures,
                absl::FormatDuration(options_.failure_window));
  }
}

PluginHost::Plugin* PluginHost::Find(const std::string& name) {
  WaitUntilLoaded();
  auto it = plugins_.find(name);
  return it == plugins_.end() ? nullptr : it->second.get();
}

absl::Status PluginHost::Ready(Plugin& plugin) {
  if (!plugin.load_error.empty()) return absl::FailedPreconditionError(plugin.load_error);
  if (options_.now() < plugin.quarantined_until) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plugin '", plugin.name, "' is quarantined until ", absl::FormatTime(plugin.quarantined_until),
        " after ", options_.max_failures, " failures within ", absl::FormatDuration(options_.failure_window),
        "; last: ", plugin.last_failure));
  }
  return absl::OkStatus();
}

std::vector<v1::ScenarioInfo> PluginHost::List() {
  WaitUntilLoaded();
  std::vector<v1::ScenarioInfo> out;
  for (auto& [name, plugin] : plugins_) {
    absl::MutexLock lock(&plugin->mu);
    v1::ScenarioInfo info;
    *info.mutable_scenario() = plugin->descriptor;
    if (info.scenario().name().empty()) info.mutable_scenario()->set_name(name);
    info.set_path(plugin->path);
    info.set_abi_version(plugin->abi_version);
    absl::Status ready = Ready(*plugin);
    info.set_state(
        ready.ok() ? v1::PLUGIN_STATE_READY
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
    return absl::NotFoundError(absl::StrCat(
        "no scenario '", name, "'; known: ", names.empty() ? "none" : absl::StrJoin(names, ", ")));
  }
  absl::MutexLock lock(&plugin->mu);
  if (absl::Status s = Ready(*plugin); !s.ok()) return s;
  return plugin->descriptor;
}

absl::StatusOr<v1::PluginRunResponse> PluginHost::Run(const std::string& name,
                                                      const v1::PluginRunRequest& request) {
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
  return DecodeRunReply(name, *reply);
}

absl::StatusOr<v1::PluginRunResponse> DecodeRunReply(const std::string& name,
                                                     const plugin_wire::Reply& reply) {
  if (reply.status != 0) {
    absl::StatusCode code = static_cast<absl::StatusCode>(reply.status);
    if (reply.status < 0 || reply.status > 16) code = absl::StatusCode::kInternal;
    return absl::Status(code, absl::StrCat("plugin '", name, "': ", BoundedPluginMessage(reply.message)));
  }
  v1::PluginRunResponse response;
  if (!response.ParseFromString(reply.payload)) {
    return absl::InternalError(absl::StrCat("plugin '", name, "' returned ", reply.payload.size(),
                                            " bytes that are not a kessan.v1.PluginRunResponse"));
  }
  if (absl::Status s = CheckOutput(response); !s.ok()) return Prefix(name, s);
  return response;
}

}  // namespace kessan
