// WorkerProcess: one kessan-plugin-worker child running one plugin.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "plugin/worker_protocol.h"

namespace kessan {

// WorkerLimits: what a worker may use.
struct WorkerLimits {
  // RLIMIT_AS of the worker; 0: none.
  uint64_t memory_bytes = 512ull << 20;
  // CPU seconds per call (RLIMIT_CPU, reset before each call); 0: none.
  uint32_t cpu_seconds = 10;
};

// WorkerOptions: what to start and how.
struct WorkerOptions {
  // The kessan-plugin-worker executable and the plugin it loads.
  std::string worker_path;
  std::string plugin_path;
  // The plugin's name, for its output's log lines (plugin=NAME).
  std::string name;
  WorkerLimits limits;
  // The user and group the worker switches to before it loads the plugin
  // (only when kessand runs as root); -1: stay.
  int64_t uid = -1;
  int64_t gid = -1;
  // The worker's working directory (an empty one); "": kessand's.
  std::string work_dir;
};

// Bytes of a worker's output (its stdout and stderr) logged per call; the
// rest is counted and dropped. Each line is cut at kMaxOutputLineBytes.
inline constexpr size_t kMaxOutputBytesPerCall = 16 << 10;
inline constexpr size_t kMaxOutputLineBytes = 512;

// WorkerProcess is not thread-safe: one caller at a time. Started with
// posix_spawn (never fork: kessand is a threaded gRPC process) in a process
// group of its own; the child gets its end of a socketpair (fd 3),
// /dev/null for stdin and a pipe for stdout and stderr, which the host
// logs as escaped "plugin=NAME" lines, and no other descriptor. Destroying
// it kills the child's whole process group.
class WorkerProcess {
 public:
  // Starts a worker and waits up to `timeout` for the handshake. The
  // handshake's status (an ABI mismatch, a missing entry point) is returned
  // as-is; `abi_version` gets the plugin's "major.minor" when known.
  static absl::StatusOr<std::unique_ptr<WorkerProcess>> Start(const WorkerOptions& options,
                                                              absl::Duration timeout,
                                                              std::string* abi_version);
  ~WorkerProcess();

  // Sends one request and waits for its reply until `deadline`. A non-OK
  // status means the worker is gone (alive() is false): DEADLINE_EXCEEDED
  // (killed at the deadline), RESOURCE_EXHAUSTED (memory or CPU limit),
  // INTERNAL (crashed, made a forbidden system call, or broke the
  // protocol). A plugin's own error comes back as an OK StatusOr holding a
  // Reply with that status.
  absl::StatusOr<plugin_wire::Reply> Call(plugin_wire::Op op, const std::string& payload,
                                          absl::Time deadline);

  bool alive() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

 private:
  WorkerProcess(pid_t pid, int fd, int output_fd, WorkerOptions options)
      : pid_(pid), fd_(fd), output_fd_(output_fd), options_(std::move(options)) {}
  // Reads one reply frame until `deadline`, logging the worker's output
  // meanwhile.
  absl::StatusOr<plugin_wire::Reply> ReadReply(absl::Time deadline);
  // Kills the child's process group (always: nothing it started survives
  // it), reaps the child and returns why it ended. `killed`: the host ended
  // it, doing `doing`.
  absl::Status Reap(bool killed, const std::string& doing);
  // Reads what the worker wrote to stdout/stderr so far; false at its end.
  bool ReadOutput();
  // Logs the partial line, and how much output was dropped; a new budget.
  void FinishOutput();
  void LogLine(const std::string& line);

  pid_t pid_;
  int fd_;
  int output_fd_;
  WorkerOptions options_;
  std::string line_;          // output after the last newline
  size_t output_logged_ = 0;  // this call's
  size_t output_dropped_ = 0;
};

}  // namespace kessan
