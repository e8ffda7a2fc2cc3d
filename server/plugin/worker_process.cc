#include "plugin/worker_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

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

}  // namespace

absl::StatusOr<std::unique_ptr<WorkerProcess>> WorkerProcess::Start(const std::string& worker_path,
                                                                    const std::string& plugin_path,
                                                                    const WorkerLimits& limits,
                                                                    absl::Duration timeout,
                                                                    std::string* abi_version) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return Errno("socketpair");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears FD_CLOEXEC on the copy; everything else kessand holds is
  // closed in the child, O_CLOEXEC or not (its listening sockets above all).
  posix_spawn_file_actions_adddup2(&actions, fds[1], wire::kWorkerFd);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, wire::kWorkerFd + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The child starts with default signal handlers and an empty mask
  // (kessand blocks SIGINT/SIGTERM in every thread).
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::string memory = std::to_string(limits.memory_bytes);
  std::vector<char*> argv = {const_cast<char*>(worker_path.c_str()), const_cast<char*>("--plugin"),
                             const_cast<char*>(plugin_path.c_str()), const_cast<char*>("--memory_bytes"),
                             memory.data(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, worker_path.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start plugin worker ", worker_path, ": ", std::strerror(rc)));
  }
  std::unique_ptr<WorkerProcess> worker(new WorkerProcess(pid, fds[0], limits));
  absl::StatusOr<wire::Reply> hello = worker->ReadReply(absl::Now() + timeout);
  if (!hello.ok()) return hello.status();
  if (abi_version != nullptr) *abi_version = hello->payload;
  if (hello->status != 0) return FromPluginStatus(*hello);
  return worker;
}

WorkerProcess::~WorkerProcess() {
  if (pid_ > 0) Reap(true, "").IgnoreError();
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<wire::Reply> WorkerProcess::Call(wire::Op op, const std::string& payload, absl::Time deadline) {
  if (pid_ <= 0) return absl::InternalError("plugin worker is not running");
  const std::string frame = wire::EncodeRequest(op, limits_.cpu_seconds, payload);
  size_t done = 0;
  while (done < frame.size()) {
    pollfd p{fd_, POLLOUT, 0};
    int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return Reap(true, "took too long to accept its input");
    int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1 << 30)));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) continue;
    ssize_t w = send(fd_, frame.data() + done, frame.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (w <= 0) return Reap(false, "went away");
    done += static_cast<size_t>(w);
  }
  return ReadReply(deadline);
}

absl::StatusOr<wire::Reply> WorkerProcess::ReadReply(absl::Time deadline) {
  std::string buffer;
  size_t want = 4;
  bool have_header = false;
  char chunk[65536];
  while (buffer.size() < want) {
    pollfd p{fd_, POLLIN, 0};
    int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return Reap(true, "did not answer in time");
    int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1 << 30)));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) continue;
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
  return reply;
}

absl::Status WorkerProcess::Reap(bool kill_first, const std::string& doing) {
  if (pid_ <= 0) return absl::InternalError("worker already gone");
  if (kill_first) kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (kill_first) {
    return absl::DeadlineExceededError(absl::StrCat(doing, "; its worker was killed"));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == wire::kExitOutOfMemory) {
    return absl::ResourceExhaustedError(
        absl::StrCat("ran out of memory (limit ", limits_.memory_bytes >> 20, " MiB); its worker exited"));
  }
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU) {
    return absl::ResourceExhaustedError(
        absl::StrCat("exceeded its CPU limit of ", limits_.cpu_seconds, " s; its worker was killed"));
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return absl::InternalError(
        absl::StrCat("crashed (signal ", sig, ", SIG", name != nullptr ? name : "?",
                     "); its worker will be restarted"));
  }
  return absl::InternalError(absl::StrCat("exited with status ",
                                          WIFEXITED(status) ? WEXITSTATUS(status) : -1, " without answering"));
}

}  // namespace kessan
