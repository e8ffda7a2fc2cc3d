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

// WorkerProcess is not thread-safe: one caller at a time. Started with
// posix_spawn (never fork: kessand is a threaded gRPC process); the child
// gets only its end of a socketpair (fd 3) and /dev/null for stdin, and
// closes every other inherited descriptor. Destroying it kills the child.
class WorkerProcess {
 public:
  // Starts a worker for `plugin_path` and waits up to `timeout` for the
  // handshake. The handshake's status (an ABI mismatch, a missing entry
  // point) is returned as-is; `abi_version` gets the plugin's "major.minor"
  // when known.
  static absl::StatusOr<std::unique_ptr<WorkerProcess>> Start(const std::string& worker_path,
                                                              const std::string& plugin_path,
                                                              const WorkerLimits& limits,
                                                              absl::Duration timeout,
                                                              std::string* abi_version);
  ~WorkerProcess();

  // Sends one request and waits for its reply until `deadline`. A non-OK
  // status means the worker is gone (alive() is false): DEADLINE_EXCEEDED
  // (killed at the deadline), RESOURCE_EXHAUSTED (memory or CPU limit),
  // INTERNAL (crashed, or broke the protocol). A plugin's own error comes
  // back as an OK StatusOr holding a Reply with that status.
  absl::StatusOr<plugin_wire::Reply> Call(plugin_wire::Op op, const std::string& payload, absl::Time deadline);

  bool alive() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

 private:
  WorkerProcess(pid_t pid, int fd, WorkerLimits limits) : pid_(pid), fd_(fd), limits_(limits) {}
  // Reads one reply frame until `deadline`.
  absl::StatusOr<plugin_wire::Reply> ReadReply(absl::Time deadline);
  // Kills (if asked) and reaps the child; returns why it ended.
  absl::Status Reap(bool kill_first, const std::string& doing);

  pid_t pid_;
  int fd_;
  WorkerLimits limits_;
};

}  // namespace kessan
