// ServerProcess: a kessand started by the bench on 127.0.0.1 (port chosen
// by the kernel, read from its "listening on port" line) with a scratch
// data directory, stopped by PID.
#pragma once

#include <sys/types.h>

#include <string>
#include <thread>
#include <vector>

namespace kessan::bench {

// Not thread-safe. The destructor stops the server and removes the scratch
// directory (unless keep_data).
class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts `binary` with --listen 127.0.0.1:0 --data_dir <mkdtemp under
  // scratch_parent> and `extra_args`; waits up to `timeout_s` for the port.
  // Returns false (with a message on stderr) when it does not come up.
  bool Start(const std::string& binary, const std::string& scratch_parent,
             const std::vector<std::string>& extra_args, int timeout_s);
  // SIGTERM, then SIGKILL after 10 s; reaps the process.
  void Stop();

  int pid() const { return pid_; }
  int port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  void set_keep_data(bool keep) { keep_data_ = keep; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int stdout_fd_ = -1;
  // Copies kessand's stdout (the audit log among it) to a file, so a full
  // pipe never blocks the server.
  std::thread drain_;
  std::string data_dir_;
  bool keep_data_ = false;
};

}  // namespace kessan::bench
