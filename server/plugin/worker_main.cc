// kessan-plugin-worker: runs one scenario plugin outside kessand.
//
//   kessan-plugin-worker --plugin PATH [--memory_bytes N]
//
// kessand starts it with posix_spawn, its end of a socketpair on fd 3
// (worker_protocol.h). The worker limits its address space (RLIMIT_AS)
// before it loads the plugin, checks the plugin's ABI version, sends the
// handshake, then serves requests one at a time; before each run it sets
// RLIMIT_CPU to the CPU time used so far plus the call's budget. It exits
// when the socket closes, and dies with kessand (PR_SET_PDEATHSIG).
#include <dlfcn.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "kessan/plugin.h"
#include "plugin/worker_protocol.h"

namespace {

namespace wire = kessan::plugin_wire;
const int kFd = wire::kWorkerFd;

bool WriteAll(const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = send(kFd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool ReadAll(char* p, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = read(kFd, p + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

void Reply(int32_t status, const std::string& message, const std::string& payload = "") {
  if (!WriteAll(wire::EncodeReply(status, message, payload))) _exit(0);
}

[[noreturn]] void OutOfMemory() { _exit(wire::kExitOutOfMemory); }

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".so") == 0) name.resize(name.size() - 3);
  return name;
}

std::string Version(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

void SetCpuBudget(uint32_t seconds) {
  if (seconds == 0) return;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  rlim_t used = static_cast<rlim_t>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + 1;
  rlimit limit{used + seconds, used + seconds + 2};
  setrlimit(RLIMIT_CPU, &limit);
}

}  // namespace

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
// Under AddressSanitizer a plugin's crash stays a crash: the signal kills
// the worker (as the host expects), instead of an ASan report and abort.
extern "C" const char* __asan_default_options() {
  return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0";
}
#endif
#endif

int main(int argc, char** argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 0;
  std::string path;
  unsigned long long memory = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--plugin") == 0) path = argv[i + 1];
    if (std::strcmp(argv[i], "--memory_bytes") == 0) memory = std::strtoull(argv[i + 1], nullptr, 10);
  }
  const std::string name = BaseName(path);
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
  // An AddressSanitizer build reserves terabytes of address space for its
  // shadow memory: an RLIMIT_AS would fail every allocation. The memory
  // limit is not enforced there (make test-sanitize skips its test).
  memory = 0;
#endif
#endif
  if (memory > 0) {
    rlimit limit{memory, memory};
    setrlimit(RLIMIT_AS, &limit);
  }
  std::set_new_handler(&OutOfMemory);

  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* e = dlerror();
    Reply(KESSAN_STATUS_FAILED_PRECONDITION,
          "plugin '" + name + "' cannot be loaded: " + (e != nullptr ? e : "dlopen failed"));
    return 0;
  }
  auto entry = reinterpret_cast<kessan_plugin_entry_fn>(dlsym(handle, KESSAN_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr) {
    Reply(KESSAN_STATUS_FAILED_PRECONDITION,
          "plugin '" + name + "' exports no " KESSAN_PLUGIN_ENTRY_SYMBOL "(): not a Kessan plugin");
    return 0;
  }
  kessan_host_info host{sizeof(kessan_host_info), KESSAN_PLUGIN_ABI_MAJOR, KESSAN_PLUGIN_ABI_MINOR};
  kessan_plugin plugin;
  std::memset(&plugin, 0, sizeof(plugin));
  int32_t entered = entry(&host, &plugin);
  const std::string theirs = Version(plugin.abi_major, plugin.abi_minor);
  const std::string ours = Version(KESSAN_PLUGIN_ABI_MAJOR, KESSAN_PLUGIN_ABI_MINOR);
  if (plugin.abi_major != KESSAN_PLUGIN_ABI_MAJOR) {
    Reply(KESSAN_STATUS_FAILED_PRECONDITION, "plugin '" + name + "' built for ABI " + theirs + ", host speaks " +
                                                 ours + ": major differs (rebuild it against this kessan/plugin.h)",
          theirs);
    return 0;
  }
  if (plugin.abi_minor > KESSAN_PLUGIN_ABI_MINOR) {
    Reply(KESSAN_STATUS_FAILED_PRECONDITION, "plugin '" + name + "' built for ABI " + theirs + ", host speaks " +
                                                 ours + ": the plugin's minor is newer than the host's",
          theirs);
    return 0;
  }
  if (plugin.struct_size < sizeof(kessan_plugin)) {
    Reply(KESSAN_STATUS_FAILED_PRECONDITION,
          "plugin '" + name + "' (ABI " + theirs + ") has struct_size " + std::to_string(plugin.struct_size) +
              ", ABI " + ours + " needs at least " + std::to_string(sizeof(kessan_plugin)),
          theirs);
    return 0;
  }
  if (entered != KESSAN_STATUS_OK || plugin.describe == nullptr || plugin.run == nullptr ||
      plugin.free_result == nullptr) {
    Reply(entered != KESSAN_STATUS_OK ? entered : KESSAN_STATUS_INTERNAL,
          "plugin '" + name + "': " + KESSAN_PLUGIN_ENTRY_SYMBOL + "() failed with status " + std::to_string(entered) +
              (entered == KESSAN_STATUS_OK ? " but left describe/run/free_result unset" : ""),
          theirs);
    return 0;
  }
  Reply(KESSAN_STATUS_OK, "", theirs);

  std::string body;
  for (;;) {
    char head[4];
    if (!ReadAll(head, 4)) break;
    uint32_t size = wire::GetU32(head);
    if (size < 5 || size > wire::kMaxFrameBytes) break;
    body.resize(size);
    if (!ReadAll(body.data(), size)) break;
    wire::RequestView request;
    if (!wire::DecodeRequest(body, &request)) break;
    const uint8_t op = request.op;
    const uint32_t cpu = request.cpu_seconds;
    const auto* input = reinterpret_cast<const uint8_t*>(request.payload);
    kessan_result result;
    std::memset(&result, 0, sizeof(result));
    int32_t status;
    if (op == wire::kDescribe) {
      SetCpuBudget(cpu);
      status = plugin.describe(plugin.state, input, request.payload_size, &result);
    } else if (op == wire::kRun) {
      SetCpuBudget(cpu);
      status = plugin.run(plugin.state, input, request.payload_size, &result);
    } else {
      Reply(KESSAN_STATUS_INTERNAL, "unknown op " + std::to_string(op));
      continue;
    }
    std::string message = result.message != nullptr ? result.message : "";
    std::string payload;
    if (status == KESSAN_STATUS_OK && result.data != nullptr) {
      payload.assign(reinterpret_cast<const char*>(result.data), result.size);
    }
    plugin.free_result(plugin.state, &result);
    Reply(status, message, payload);
  }
  if (plugin.destroy != nullptr) plugin.destroy(plugin.state);
  return 0;
}
