#include "plugin/worker_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "util/log.h"

extern char** environ;

namespace kessan {
namespace {

namespace wire = plugin_wire;

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

absl::Status FromPluginStatus(const wire::Reply& reply) {
  absl::StatusCode code = static_cast<absl::StatusCode>(reply.status);
  if (reply.status <= 0 || reply.status > 16) code = absl::StatusCode::kInternal;
  return absl::Status(code, reply.message);
}

// Runs `spawn` on one thread that lives as long as the process: a worker's
// PR_SET_PDEATHSIG fires when the thread that started it ends, and
// kessand's threads (gRPC's pool, the plugin loader's) come and go.
int OnSpawnerThread(std::function<int()> spawn) {
  struct Task {
    std::function<int()> spawn;
    int result = 0;
    bool done = false;
  };
  struct Spawner {
    absl::Mutex mu;
    std::deque<Task*> queue ABSL_GUARDED_BY(mu);
  };
  static Spawner* spawner = [] {
    auto* s = new Spawner;  // never destroyed: its thread runs until exit
    std::thread([s] {
      for (;;) {
        Task* task;
        {
          absl::MutexLock lock(&s->mu);
          s->mu.Await(absl::Condition(
              +[](std::deque<Task*>* q) { return !q->empty(); }, &s->queue));
          task = s->queue.front();
          s->queue.pop_front();
        }
        int result = task->spawn();
        absl::MutexLock lock(&s->mu);
        task->result = result;
        task->done = true;
      }
    }).detach();
    return s;
  }();
  Task task{std::move(spawn)};
  absl::MutexLock lock(&spawner->mu);
  spawner->queue.push_back(&task);
  spawner->mu.Await(absl::Condition(&task.done));
  return task.result;
}

// The environment a worker gets: only what the dynamic loader, the
// sanitizers and the locale read (nothing of kessand's own settings).
std::vector<std::string> WorkerEnvironment() {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    absl::string_view v(*e);
    for (absl::string_view keep :
         {"LD_LIBRARY_PATH=", "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=", "TZ=", "LANG=", "LC_"}) {
      if (absl::StartsWith(v, keep)) {
        out.emplace_back(v);
        break;
      }
    }
  }
  return out;
}

// Printable ASCII as is; everything else (newlines, escapes, bytes of
// UTF-8), '"' and '\\' as \xNN: a plugin's output cannot start or fake a
// line of kessand's log.
std::string EscapeOutput(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// A reply's plugin-supplied name of a system call: [a-z0-9_ ] only.
std::string SyscallName(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 40)) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ' ') out.push_back(c);
  }
  return out.empty() ? "?" : out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<WorkerProcess>> WorkerProcess::Start(const WorkerOptions& options,
                                                                    absl::Duration timeout,
                                                                    std::string* abi_version) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return Errno("socketpair");
  int output[2];
  if (pipe2(output, O_CLOEXEC) != 0) {
    absl::Status s = Errno("pipe");
    close(fds[0]);
    close(fds[1]);
    return s;
  }
  fcntl(output[0], F_SETFL, O_NONBLOCK);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears FD_CLOEXEC on the copy; everything else kessand holds is
  // closed in the child, O_CLOEXEC or not (its listening sockets above all).
  posix_spawn_file_actions_adddup2(&actions, fds[1], wire::kWorkerFd);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, output[1], 1);
  posix_spawn_file_actions_adddup2(&actions, output[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, wire::kWorkerFd + 1);
  if (!options.work_dir.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.work_dir.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The child starts with default signal handlers and an empty mask
  // (kessand blocks SIGINT/SIGTERM in every thread), in a new process group.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  std::vector<std::string> args = {options.worker_path, "--plugin", options.plugin_path, "--memory_bytes",
                                   std::to_string(options.limits.memory_bytes)};
  if (options.uid >= 0) {
    args.insert(args.end(), {"--uid", std::to_string(options.uid), "--gid", std::to_string(options.gid)});
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = WorkerEnvironment();
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = OnSpawnerThread([&] {
    return posix_spawn(&pid, options.worker_path.c_str(), &actions, &attr, argv.data(), envp.data());
  });
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(fds[1]);
  close(output[1]);
  if (rc != 0) {
    close(fds[0]);
    close(output[0]);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start plugin worker ", options.worker_path, ": ", std::strerror(rc)));
  }
  std::unique_ptr<WorkerProcess> worker(new WorkerProcess(pid, fds[0], output[0], options));
  absl::StatusOr<wire::Reply> hello = worker->ReadReply(absl::Now() + timeout);
  worker->FinishOutput();
  if (!hello.ok()) return hello.status();
  if (abi_version != nullptr) *abi_version = hello->payload;
  if (hello->status != 0) return FromPluginStatus(*hello);
  return worker;
}

WorkerProcess::~WorkerProcess() {
  if (pid_ > 0) Reap(true, "").IgnoreError();
  if (fd_ >= 0) close(fd_);
  if (output_fd_ >= 0) close(output_fd_);
}

absl::StatusOr<wire::Reply> WorkerProcess::Call(wire::Op op, const std::string& payload,
                                                absl::Time deadline) {
  if (pid_ <= 0) return absl::InternalError("plugin worker is not running");
  const std::string frame = wire::EncodeRequest(op, options_.limits.cpu_seconds, payload);
  size_t done = 0;
  absl::StatusOr<wire::Reply> reply;
  while (done < frame.size()) {
    pollfd p[2] = {{fd_, POLLOUT, 0}, {output_fd_, POLLIN, 0}};
    int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) {
      reply = Reap(true, "took too long to accept its input");
      break;
    }
    int n = poll(p, output_fd_ >= 0 ? 2 : 1, static_cast<int>(std::min<int64_t>(ms, 1 << 30)));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) continue;
    if (output_fd_ >= 0 && p[1].revents != 0) ReadOutput();
    if (p[0].revents == 0) continue;
    ssize_t w = send(fd_, frame.data() + done, frame.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (w <= 0) {
      reply = Reap(false, "went away");
      break;
    }
    done += static_cast<size_t>(w);
  }
  if (done == frame.size()) reply = ReadReply(deadline);
  FinishOutput();
  return reply;
}

absl::StatusOr<wire::Reply> WorkerProcess::ReadReply(absl::Time deadline) {
  std::string buffer;
  size_t want = 4;
  bool have_header = false;
  char chunk[65536];
  while (buffer.size() < want) {
    pollfd p[2] = {{fd_, POLLIN, 0}, {output_fd_, POLLIN, 0}};
    int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return Reap(true, "did not answer in time");
    int n = poll(p, output_fd_ >= 0 ? 2 : 1, static_cast<int>(std::min<int64_t>(ms, 1 << 30)));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) continue;
    if (output_fd_ >= 0 && p[1].revents != 0) ReadOutput();
    if (p[0].revents == 0) continue;
    ssize_t r = read(fd_, chunk, std::min(sizeof(chunk), want - buffer.size()));
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (r <= 0) return Reap(false, "ended");
    buffer.append(chunk, static_cast<size_t>(r));
    if (!have_header && buffer.size() == 4) {
      uint32_t size = wire::GetU32(buffer.data());
      if (size > wire::kMaxFrameBytes) {
        Reap(true, "").IgnoreError();
        return absl::InternalError(absl::StrCat("sent a reply of ", size, " bytes, above the limit of ",
                                                wire::kMaxFrameBytes, "; worker killed"));
      }
      have_header = true;
      want = 4 + size;
      buffer.clear();
      want -= 4;
    }
  }
  wire::Reply reply;
  if (!wire::DecodeReply(buffer, &reply)) {
    Reap(true, "").IgnoreError();
    return absl::InternalError("sent a malformed reply frame; worker killed");
  }
  if (reply.status == wire::kStatusForbiddenSyscall) {
    Reap(true, "").IgnoreError();
    return absl::InternalError(absl::StrCat("made a forbidden system call: ", SyscallName(reply.message),
                                            "; its worker will be restarted"));
  }
  ReadOutput();  // what it wrote before it answered
  return reply;
}

absl::Status WorkerProcess::Reap(bool killed, const std::string& doing) {
  if (pid_ <= 0) return absl::InternalError("worker already gone");
  // The group, before the child is reaped: its id cannot be reused yet.
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  while (ReadOutput()) {
  }
  if (killed) {
    return absl::DeadlineExceededError(absl::StrCat(doing, "; its worker was killed"));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == wire::kExitOutOfMemory) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "ran out of memory (limit ", options_.limits.memory_bytes >> 20, " MiB); its worker exited"));
  }
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU) {
    return absl::ResourceExhaustedError(
        absl::StrCat("exceeded its CPU limit of ", options_.limits.cpu_seconds, " s; its worker was killed"));
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return absl::InternalError(absl::StrCat("crashed (signal ", sig, ", SIG", name != nullptr ? name : "?",
                                            "); its worker will be restarted"));
  }
  return absl::InternalError(absl::StrCat("exited with status ", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                                          " without answering"));
}

bool WorkerProcess::ReadOutput() {
  if (output_fd_ < 0) return false;
  char chunk[4096];
  // Bounded: a plugin that writes without pause cannot hold the host here.
  for (int round = 0; round < 16; ++round) {
    ssize_t r = read(output_fd_, chunk, sizeof(chunk));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return false;  // EAGAIN: nothing more for now
    if (r == 0) {
      close(output_fd_);
      output_fd_ = -1;
      return false;
    }
    for (ssize_t i = 0; i < r; ++i) {
      if (chunk[i] == '\n') {
        LogLine(line_);
        line_.clear();
      } else {
        line_.push_back(chunk[i]);
        if (line_.size() >= kMaxOutputLineBytes) {
          LogLine(line_ + " [line cut]");
          line_.clear();
        }
      }
    }
    if (static_cast<size_t>(r) < sizeof(chunk)) return true;
  }
  return true;
}

void WorkerProcess::LogLine(const std::string& line) {
  if (output_logged_ + line.size() > kMaxOutputBytesPerCall) {
    output_dropped_ += line.size() + 1;
    return;
  }
  output_logged_ += line.size() + 1;
  Log().info("plugin={} output: \"{}\"", EscapeOutput(options_.name), EscapeOutput(line));
}

void WorkerProcess::FinishOutput() {
  if (!line_.empty()) {
    LogLine(line_);
    line_.clear();
  }
  if (output_dropped_ > 0) {
    Log().warn("plugin={} output: {} more bytes dropped (at most {} logged per call)",
               EscapeOutput(options_.name), output_dropped_, kMaxOutputBytesPerCall);
  }
  output_logged_ = 0;
  output_dropped_ = 0;
}

}  // namespace kessan
