// kessan-plugin-worker: runs one scenario plugin outside kessand.
//
//   kessan-plugin-worker --plugin PATH [--memory_bytes N] [--uid U --gid G]
//
// kessand starts it with posix_spawn, its end of a socketpair on fd 3
// (worker_protocol.h), a pipe that kessand logs on fds 1 and 2, in its own
// process group and an empty working directory. Before it loads the
// plugin the worker sandboxes itself (Sandbox() below): it switches to
// --uid/--gid (kessand as root), limits its address space (RLIMIT_AS) and
// file sizes, restricts the files it can read with Landlock where the
// kernel has it, and installs a seccomp-bpf allowlist. Then it checks the
// plugin's ABI version, sends the handshake and serves requests one at a
// time; before each run it sets RLIMIT_CPU to the CPU time used so far
// plus the call's budget. It exits when the socket closes, and dies with
// kessand (PR_SET_PDEATHSIG).
#include <dlfcn.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

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

// Only the soft limit moves (SIGXCPU there): an unprivileged worker cannot
// raise a hard limit it lowered, and the host's deadline bounds the rest.
void SetCpuBudget(uint32_t seconds) {
  if (seconds == 0) return;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  rlim_t used = static_cast<rlim_t>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + 1;
  rlimit limit{};
  getrlimit(RLIMIT_CPU, &limit);
  limit.rlim_cur = used + seconds;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_cur > limit.rlim_max) limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_CPU, &limit);
}

// --- The sandbox. ---

// Names of the system calls by number, resolved before the filter is
// installed: the SIGSYS handler may only use async-signal-safe code.
constexpr int kSyscallNames = 512;
char g_syscall_names[kSyscallNames][32];

void ResolveSyscallNames() {
  for (int nr = 0; nr < kSyscallNames; ++nr) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (name != nullptr) {
      std::snprintf(g_syscall_names[nr], sizeof(g_syscall_names[nr]), "%s", name);
      std::free(name);
    }
  }
}

// A forbidden system call: one kStatusForbiddenSyscall reply naming it on
// the channel, then exit. Async-signal-safe.
void OnSigsys(int, siginfo_t* info, void*) {
  char name[48];
  size_t n = 0;
  int nr = info->si_syscall;
  if (nr >= 0 && nr < kSyscallNames && g_syscall_names[nr][0] != '\0') {
    n = strnlen(g_syscall_names[nr], sizeof(g_syscall_names[nr]));
    std::memcpy(name, g_syscall_names[nr], n);
  } else {  // "syscall <nr>"
    const char prefix[] = "syscall ";
    std::memcpy(name, prefix, sizeof(prefix) - 1);
    n = sizeof(prefix) - 1;
    char digits[12];
    int d = 0;
    unsigned v = static_cast<unsigned>(nr);
    do {
      digits[d++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0 && d < 11);
    while (d > 0) name[n++] = digits[--d];
  }
  char frame[64];
  auto put = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) frame[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  put(0, static_cast<uint32_t>(8 + n));
  put(4, static_cast<uint32_t>(wire::kStatusForbiddenSyscall));
  put(8, static_cast<uint32_t>(n));
  std::memcpy(frame + 12, name, n);
  size_t done = 0;
  while (done < 12 + n) {
    ssize_t w = write(kFd, frame + done, 12 + n - done);
    if (w <= 0) break;
    done += static_cast<size_t>(w);
  }
  _exit(wire::kExitForbiddenSyscall);
}

// Landlock (Linux 5.13+): the worker may read only the system's libraries,
// the plugin's own directory, a few devices and its own /proc entry, and
// write nowhere; with ABI 4+ it may not bind or connect TCP sockets, with
// ABI 6+ not signal a process outside its sandbox. Best effort: an older
// kernel keeps the other layers. The constants are the kernel's, spelled
// out for headers older than the running kernel.
constexpr uint64_t kLandlockFsExecute = 1ull << 0;
constexpr uint64_t kLandlockFsReadFile = 1ull << 2;
constexpr uint64_t kLandlockFsReadDir = 1ull << 3;
constexpr uint64_t kLandlockNetBindTcp = 1ull << 0;
constexpr uint64_t kLandlockNetConnectTcp = 1ull << 1;
constexpr uint64_t kLandlockScopeAbstractUnix = 1ull << 0;
constexpr uint64_t kLandlockScopeSignal = 1ull << 1;

struct LandlockRulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

// Returns the Landlock ABI applied, 0 if none.
int ApplyLandlock(const std::string& plugin_path) {
  long abi = syscall(__NR_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi <= 0) return 0;
  LandlockRulesetAttr attr{};
  // Every filesystem right of this ABI: EXECUTE .. MAKE_SYM (1), REFER (2),
  // TRUNCATE (3), IOCTL_DEV (5).
  int fs_bits = abi >= 5 ? 16 : abi >= 3 ? 15 : abi >= 2 ? 14 : 13;
  attr.handled_access_fs = (1ull << fs_bits) - 1;
  size_t size = sizeof(uint64_t);
  if (abi >= 4) {
    attr.handled_access_net = kLandlockNetBindTcp | kLandlockNetConnectTcp;
    size = 2 * sizeof(uint64_t);
  }
  if (abi >= 6) {
    attr.scoped = kLandlockScopeAbstractUnix | kLandlockScopeSignal;
    size = sizeof(attr);
  }
  int ruleset = static_cast<int>(syscall(__NR_landlock_create_ruleset, &attr, size, 0));
  if (ruleset < 0) return 0;
  auto allow = [&](const std::string& path) {
    int fd = open(path.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (fstat(fd, &st) == 0) {
      landlock_path_beneath_attr rule{};
      rule.allowed_access =
          kLandlockFsReadFile | kLandlockFsExecute | (S_ISDIR(st.st_mode) ? kLandlockFsReadDir : 0);
      rule.parent_fd = fd;
      syscall(__NR_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    }
    close(fd);
  };
  for (const char* path : {"/usr", "/lib", "/lib64", "/etc/ld.so.cache", "/etc/localtime", "/dev/null",
                           "/dev/zero", "/dev/urandom", "/sys/devices/system/cpu", "/proc/self"}) {
    allow(path);
  }
  // The plugin's directory (where its own libraries may be), by its real
  // path, and the directories of LD_LIBRARY_PATH.
  char* real = realpath(plugin_path.c_str(), nullptr);
  if (real != nullptr) {
    std::string dir(real);
    std::free(real);
    dir.resize(dir.rfind('/') == 0 ? 1 : dir.rfind('/'));
    allow(dir);
  }
  if (const char* paths = std::getenv("LD_LIBRARY_PATH"); paths != nullptr) {
    std::string list(paths);
    for (size_t start = 0; start <= list.size();) {
      size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      if (end > start) allow(list.substr(start, end - start));
      start = end + 1;
    }
  }
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  long restricted = syscall(__NR_landlock_restrict_self, ruleset, 0);
  close(ruleset);
  return restricted == 0 ? static_cast<int>(abi) : 0;
}

// The seccomp-bpf allowlist; anything else traps (SIGSYS, OnSigsys). What
// a plugin needs to compute: memory, time, reading files, its own signals,
// threads, and reading and writing the descriptors it has. Refused among
// others: socket, connect, fork and clone of a process, exec, kill of
// another process, ptrace, open for writing, unlink and rename,
// setuid and friends, io_uring, bpf.
bool InstallSeccomp(std::string* error) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
  if (ctx == nullptr) {
    *error = "seccomp_init failed";
    return false;
  }
  seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  int rc = 0;
  auto allow = [&](const char* name, unsigned count = 0, scmp_arg_cmp a = {}) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;
    int r = count == 0 ? seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)
                       : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, a);
    if (r != 0 && rc == 0) {
      rc = r;
      *error = std::string("seccomp rule for ") + name + ": " + std::strerror(-r);
    }
  };
  for (const char* name : {"read",
                           "readv",
                           "pread64",
                           "preadv",
                           "preadv2",
                           "write",
                           "writev",
                           "sendto",
                           "recvfrom",
                           "close",
                           "fstat",
                           "stat",
                           "lstat",
                           "newfstatat",
                           "statx",
                           "lseek",
                           "fcntl",
                           "getdents64",
                           "readlink",
                           "readlinkat",
                           "access",
                           "faccessat",
                           "faccessat2",
                           "getcwd",
                           "fadvise64",
                           "mmap",
                           "munmap",
                           "mprotect",
                           "mremap",
                           "madvise",
                           "mincore",
                           "brk",
                           "rt_sigprocmask",
                           "rt_sigreturn",
                           "sigaltstack",
                           "futex",
                           "set_robust_list",
                           "get_robust_list",
                           "rseq",
                           "set_tid_address",
                           "arch_prctl",
                           "sched_yield",
                           "sched_getaffinity",
                           "getcpu",
                           "nanosleep",
                           "clock_nanosleep",
                           "clock_gettime",
                           "clock_getres",
                           "gettimeofday",
                           "time",
                           "getpid",
                           "gettid",
                           "getppid",
                           "getuid",
                           "geteuid",
                           "getgid",
                           "getegid",
                           "getgroups",
                           "getresuid",
                           "getresgid",
                           "getrusage",
                           "getrlimit",
                           "times",
                           "uname",
                           "sysinfo",
                           "getrandom",
                           "membarrier",
                           "poll",
                           "ppoll",
                           "pause",
                           "exit",
                           "exit_group",
                           "restart_syscall"}) {
    allow(name);
  }
  const pid_t self = getpid();
  // Opening for reading only.
  const scmp_datum_t writing = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC;
  allow("open", 1, SCMP_A1(SCMP_CMP_MASKED_EQ, writing, 0));
  allow("openat", 1, SCMP_A2(SCMP_CMP_MASKED_EQ, writing, 0));
  // Threads, not processes; glibc falls back from clone3 (whose flags a
  // filter cannot see) to clone.
  allow("clone", 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
  seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), seccomp_syscall_resolve_name("clone3"), 0);
  seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), seccomp_syscall_resolve_name("openat2"), 0);
  // Signals to itself only (raise, abort).
  allow("kill", 1, SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(self)));
  allow("kill", 1, SCMP_A0(SCMP_CMP_EQ, 0));
  allow("tgkill", 1, SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(self)));
  // Its own limits (the CPU budget of each call).
  allow("prlimit64", 1, SCMP_A0(SCMP_CMP_EQ, 0));
  allow("setrlimit");
  // Any handler but SIGSYS's (OnSigsys stays) and SIGXCPU's (the CPU limit).
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig != SIGSYS && sig != SIGXCPU)
      allow("rt_sigaction", 1, SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(sig)));
  }
  for (scmp_datum_t request : {scmp_datum_t{TCGETS}, scmp_datum_t{TIOCGWINSZ}, scmp_datum_t{FIONREAD}}) {
    allow("ioctl", 1, SCMP_A1(SCMP_CMP_EQ, request));
  }
  for (scmp_datum_t option :
       {scmp_datum_t{PR_SET_NAME}, scmp_datum_t{PR_GET_NAME}, scmp_datum_t{PR_GET_DUMPABLE},
        scmp_datum_t{PR_GET_NO_NEW_PRIVS}, scmp_datum_t{PR_GET_SECCOMP}, scmp_datum_t{PR_GET_PDEATHSIG},
        scmp_datum_t{0x53564d41} /* PR_SET_VMA */}) {
    allow("prctl", 1, SCMP_A0(SCMP_CMP_EQ, option));
  }
  if (rc == 0) {
    rc = seccomp_load(ctx);
    if (rc != 0) *error = std::string("seccomp_load: ") + std::strerror(-rc);
  }
  seccomp_release(ctx);
  return rc == 0;
}

// Sandboxes the worker before the plugin is loaded; "" or what failed.
std::string Sandbox(const std::string& plugin_path, long uid, long gid, unsigned long long memory) {
  if (uid >= 0 && getuid() == 0) {
    // A network namespace of its own, without interfaces (root only; an
    // extra layer under the seccomp filter).
    unshare(CLONE_NEWNET);
    if (setgroups(0, nullptr) != 0 ||
        setresgid(static_cast<gid_t>(gid), static_cast<gid_t>(gid), static_cast<gid_t>(gid)) != 0 ||
        setresuid(static_cast<uid_t>(uid), static_cast<uid_t>(uid), static_cast<uid_t>(uid)) != 0) {
      return std::string("cannot switch to uid ") + std::to_string(uid) + ": " + std::strerror(errno);
    }
    if (setuid(0) == 0) return "switched to uid " + std::to_string(uid) + " but could switch back to root";
  }
  // A change of user clears the parent-death signal: set it after.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) _exit(0);
  if (memory > 0) {
    rlimit limit{memory, memory};
    setrlimit(RLIMIT_AS, &limit);
  }
  rlimit none{0, 0};
  setrlimit(RLIMIT_FSIZE, &none);  // writes no file, even through a descriptor it was given
  setrlimit(RLIMIT_CORE, &none);
  ApplyLandlock(plugin_path);
  ResolveSyscallNames();
  struct sigaction action {};
  action.sa_sigaction = &OnSigsys;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGSYS, &action, nullptr) != 0)
    return std::string("sigaction(SIGSYS): ") + std::strerror(errno);
  std::string error;
  if (!InstallSeccomp(&error)) return error;
  return "";
}

}  // namespace

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
// Under AddressSanitizer a plugin's crash stays a crash: the signal kills
// the worker (as the host expects), instead of an ASan report and abort.
extern "C" const char* __asan_default_options() {
  // No symbolizer process and no leak check at exit: the sandbox forbids
  // the fork and ptrace they need.
  return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0:symbolize=0:"
         "detect_leaks=0";
}
extern "C" const char* __ubsan_default_options() { return "symbolize=0"; }
#endif
#endif

int main(int argc, char** argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 0;
  std::string path;
  unsigned long long memory = 0;
  long uid = -1, gid = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--plugin") == 0) path = argv[i + 1];
    if (std::strcmp(argv[i], "--memory_bytes") == 0) memory = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--uid") == 0) uid = std::strtol(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--gid") == 0) gid = std::strtol(argv[i + 1], nullptr, 10);
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
  if (uid >= 0 && gid < 0) gid = uid;
  if (std::string error = Sandbox(path, uid, gid, memory); !error.empty()) {
    Reply(KESSAN_STATUS_FAILED_PRECONDITION, "plugin '" + name + "': cannot sandbox its worker: " + error);
    return 0;
  }
  std::set_new_handler(&OutOfMemory);

  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* e = dlerror();
    Reply(KESSAN_STATUS_FAILED_PRECONDITION,
          "plugin '" + name + "' cannot be loaded: " + (e != nullptr ? e : "dlopen failed") +
              (uid >= 0 && getuid() == static_cast<uid_t>(uid)
                   ? " (its worker runs as uid " + std::to_string(uid) + ": see --plugin_user)"
                   : ""));
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
    Reply(KESSAN_STATUS_FAILED_PRECONDITION,
          "plugin '" + name + "' built for ABI " + theirs + ", host speaks " + ours +
              ": major differs (rebuild it against this kessan/plugin.h)",
          theirs);
    return 0;
  }
  if (plugin.abi_minor > KESSAN_PLUGIN_ABI_MINOR) {
    Reply(KESSAN_STATUS_FAILED_PRECONDITION,
          "plugin '" + name + "' built for ABI " + theirs + ", host speaks " + ours +
              ": the plugin's minor is newer than the host's",
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
          "plugin '" + name + "': " + KESSAN_PLUGIN_ENTRY_SYMBOL + "() failed with status " +
              std::to_string(entered) +
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
    if (status == KESSAN_STATUS_OK && result.data == nullptr && result.size != 0) {
      status = KESSAN_STATUS_INTERNAL;
      message = "returned status OK with a null buffer of " + std::to_string(result.size) + " bytes";
    } else if (status == KESSAN_STATUS_OK && result.size > wire::kMaxFrameBytes - 8) {
      status = KESSAN_STATUS_INTERNAL;
      message = "returned " + std::to_string(result.size) + " bytes, above the limit of " +
                std::to_string(wire::kMaxFrameBytes - 8);
    } else if (status == KESSAN_STATUS_OK && result.data != nullptr) {
      payload.assign(reinterpret_cast<const char*>(result.data), result.size);
    }
    plugin.free_result(plugin.state, &result);
    Reply(status, message, payload);
  }
  if (plugin.destroy != nullptr) plugin.destroy(plugin.state);
  return 0;
}
