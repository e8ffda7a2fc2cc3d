// KessandProcess: a real kessand, started with posix_spawn on 127.0.0.1, for
// tests that kill and restart it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "kessan/v1/feed.grpc.pb.h"

extern char** environ;

namespace kessan {

// A port on 127.0.0.1 that was free a moment ago.
inline int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
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

// Not thread-safe. The destructor kills the process.
class KessandProcess {
 public:
  KessandProcess(std::string binary, std::vector<std::string> args)
      : binary_(std::move(binary)), args_(std::move(args)) {}
  ~KessandProcess() { Kill(); }

  // Starts kessand and waits until it answers GetSnapshot (at most `wait`).
  bool Start(const std::string& address, absl::Duration wait = absl::Seconds(30)) {
    std::vector<char*> argv{binary_.data()};
    for (std::string& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, binary_.c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return false;
    }
    auto stub = v1::FeedService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    absl::Time end = absl::Now() + wait;
    while (absl::Now() < end) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
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

 private:
  std::string binary_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
};

}  // namespace kessan
