// Real processes for the integration tests, on 127.0.0.1: a free port,
// posix_spawn with output to files, and KessandProcess, a kessand that tests
// kill and restart.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "kessan/v1/feed.grpc.pb.h"

extern char** environ;

namespace kessan {

// A port on 127.0.0.1 that was free a moment ago; 0 if none could be had.
inline int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return 0;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// Starts argv[0] with stdin from /dev/null and stdout and stderr appended to
// the files (an empty path: the test's own); returns its pid, or -1.
inline pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path = "",
                   const std::string& err_path = "") {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (!out_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  if (!err_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Not thread-safe. The destructor kills the process.
class KessandProcess {
 public:
  // `log`: the file for kessand's stdout and stderr (empty: the test's own).
  KessandProcess(std::string binary, std::vector<std::string> args, std::string log = "")
      : binary_(std::move(binary)), args_(std::move(args)), log_(std::move(log)) {}
  ~KessandProcess() { Kill(); }

  // Starts kessand and waits until it answers GetSnapshot (at most `wait`);
  // false if it exited or did not answer in time.
  bool Start(const std::string& address, absl::Duration wait = absl::Seconds(30)) {
    std::vector<std::string> argv{binary_};
    argv.insert(argv.end(), args_.begin(), args_.end());
    pid_ = Spawn(argv, log_, log_);
    if (pid_ < 0) return false;
    // Probe with fresh channels: none has a reconnect backoff to wait out.
    const absl::Time end = absl::Now() + wait;
    while (absl::Now() < end) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      auto stub = v1::FeedService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
      v1::GetSnapshotRequest request;
      request.mutable_filter()->add_event_kinds(v1::EVENT_KIND_ISSUER);
      v1::GetSnapshotResponse response;
      if (stub->GetSnapshot(&context, request, &response).ok()) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  // SIGKILL, then reap: no shutdown path runs.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  const std::string& log() const { return log_; }

 private:
  std::string binary_;
  std::vector<std::string> args_;
  std::string log_;
  pid_t pid_ = -1;
};

}  // namespace kessan
