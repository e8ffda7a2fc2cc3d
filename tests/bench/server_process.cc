#include "server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "bench_util.h"

extern char** environ;

namespace kessan::bench {

ServerProcess::~ServerProcess() {
  Stop();
  if (!data_dir_.empty() && !keep_data_) {
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
  }
}

bool ServerProcess::Start(const std::string& binary, const std::string& scratch_parent,
                          const std::vector<std::string>& extra_args, int timeout_s) {
  std::error_code ec;
  std::filesystem::create_directories(scratch_parent, ec);
  std::string tmpl = scratch_parent + "/kessan-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror(("mkdtemp " + tmpl).c_str());
    return false;
  }
  data_dir_ = tmpl;
  std::vector<std::string> args = {binary, "--listen", "127.0.0.1:0", "--data_dir", data_dir_};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return false;
  std::string log = data_dir_ + "/kessand.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strcmp(*e, kMallocTunables) != 0) env.push_back(*e);
  }
  env.push_back(nullptr);
  int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (rc != 0) {
    std::fprintf(stderr, "kessan-bench: cannot start %s: %s\n", binary.c_str(), std::strerror(rc));
    close(out[0]);
    pid_ = -1;
    return false;
  }
  stdout_fd_ = out[0];
  std::string seen;
  uint64_t deadline = NowNs() + static_cast<uint64_t>(timeout_s) * 1000000000ull;
  while (NowNs() < deadline) {
    pollfd p{stdout_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[256];
      ssize_t n = read(stdout_fd_, buf, sizeof buf);
      if (n <= 0) break;
      seen.append(buf, static_cast<size_t>(n));
      if (const char* at = std::strstr(seen.c_str(), "listening on port ")) {
        if (std::strchr(at, '\n')) {
          port_ = std::atoi(at + std::strlen("listening on port "));
          drain_ = std::thread([fd = stdout_fd_, out = data_dir_ + "/kessand.out", seen] {
            FILE* f = std::fopen(out.c_str(), "w");
            if (f) std::fwrite(seen.data(), 1, seen.size(), f);
            char chunk[65536];
            ssize_t got;
            while ((got = read(fd, chunk, sizeof chunk)) > 0) {
              if (f) std::fwrite(chunk, 1, static_cast<size_t>(got), f);
            }
            if (f) std::fclose(f);
          });
          return port_ > 0;
        }
      }
    }
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
  }
  std::fprintf(stderr, "kessan-bench: kessand did not come up; its log: %s\n", log.c_str());
  Stop();
  return false;
}

void ServerProcess::Stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    uint64_t deadline = NowNs() + 10000000000ull;
    bool reaped = false;
    while (NowNs() < deadline) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        reaped = true;
        break;
      }
      usleep(10000);
    }
    if (!reaped) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  // The server is gone: the drain thread sees end of file.
  if (drain_.joinable()) drain_.join();
  if (stdout_fd_ >= 0) {
    close(stdout_fd_);
    stdout_fd_ = -1;
  }
}

}  // namespace kessan::bench
