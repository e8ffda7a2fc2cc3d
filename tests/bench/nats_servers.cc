#include "nats_servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nats/nats.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bench_util.h"

namespace kessan::bench {
namespace {

// A port on 127.0.0.1 that was free a moment ago; 0 if none could be had.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

}  // namespace

NatsServers::~NatsServers() { Stop(); }

bool NatsServers::Start(const std::string& binary, const std::string& scratch_parent, int nodes,
                        int timeout_s) {
  std::error_code ec;
  std::filesystem::create_directories(scratch_parent, ec);
  std::string tmpl = scratch_parent + "/kessan-bench-nats-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror(("mkdtemp " + tmpl).c_str());
    return false;
  }
  dir_ = tmpl;
  for (int i = 0; i < nodes; ++i) {
    Node node;
    node.name = "n" + std::to_string(i + 1);
    node.client_port = FreePort();
    node.cluster_port = nodes > 1 ? FreePort() : 0;
    if (node.client_port == 0 || (nodes > 1 && node.cluster_port == 0)) {
      std::fprintf(stderr, "kessan-bench: no free port on 127.0.0.1 for nats-server\n");
      return false;
    }
    nodes_.push_back(node);
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!Launch(i, binary)) return false;
  }
  const uint64_t deadline = NowNs() + static_cast<uint64_t>(timeout_s) * 1000000000ull;
  std::string error;
  for (size_t i = 0; i <= nodes_.size(); ++i) {
    // Each node alone, then all of them: a stream of `nodes` replicas.
    const bool all = i == nodes_.size();
    const std::string u = all ? url() : "nats://127.0.0.1:" + std::to_string(nodes_[i].client_port);
    while (!Probe(u, all && nodes > 1, &error)) {
      for (Node& n : nodes_) {
        if (n.pid > 0 && waitpid(n.pid, nullptr, WNOHANG) == n.pid) {
          n.pid = -1;
          std::fprintf(stderr, "kessan-bench: nats-server %s exited\n", n.name.c_str());
          DumpLogs();
          return false;
        }
      }
      if (NowNs() > deadline) {
        std::fprintf(stderr, "kessan-bench: nats not ready after %d s: %s\n", timeout_s,
                     error.c_str());
        DumpLogs();
        return false;
      }
      usleep(20000);
    }
    if (nodes == 1) break;
  }
  return true;
}

bool NatsServers::Launch(size_t i, const std::string& binary) {
  const Node& node = nodes_[i];
  const std::string log = dir_ + "/" + node.name + ".log";
  std::vector<std::string> argv = {binary, "-a", "127.0.0.1", "-p", std::to_string(node.client_port),
                                   "--server_name", node.name, "-js", "-sd", dir_ + "/" + node.name,
                                   "-l", log};
  if (nodes_.size() > 1) {
    std::vector<std::string> routes;
    for (size_t j = 0; j < nodes_.size(); ++j) {
      if (j != i) routes.push_back("nats://127.0.0.1:" + std::to_string(nodes_[j].cluster_port));
    }
    argv.insert(argv.end(), {"--cluster", "nats://127.0.0.1:" + std::to_string(node.cluster_port),
                             "--cluster_name", "kessan-bench", "--routes", Join(routes)});
  }
  // Everything the child needs, made before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const std::string out_path = log + ".out";
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    return false;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in >= 0) dup2(in, 0);
    if (out >= 0) {
      dup2(out, 1);
      dup2(out, 2);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  nodes_[i].pid = pid;
  return true;
}

bool NatsServers::Probe(const std::string& u, bool cluster, std::string* error) const {
  natsOptions* options = nullptr;
  natsConnection* conn = nullptr;
  jsCtx* js = nullptr;
  std::vector<std::string> urls;
  std::stringstream in(u);
  for (std::string part; std::getline(in, part, ',');) urls.push_back(part);
  std::vector<const char*> servers;
  for (const std::string& s : urls) servers.push_back(s.c_str());
  natsStatus s = natsOptions_Create(&options);
  if (s == NATS_OK) s = natsOptions_SetServers(options, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetTimeout(options, 1000);
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(options, false);
  if (s == NATS_OK) s = natsConnection_Connect(&conn, options);
  if (s == NATS_OK) s = natsConnection_JetStream(&js, conn, nullptr);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 2000;
  if (s == NATS_OK && !cluster) {
    jsAccountInfo* info = nullptr;
    s = js_GetAccountInfo(&info, js, &jo, &jerr);
    jsAccountInfo_Destroy(info);
  } else if (s == NATS_OK) {
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = "KESSAN_BENCH_READY_PROBE";
    const char* subjects[] = {"kessan-bench-ready-probe"};
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_MemoryStorage;
    config.Replicas = static_cast<int64_t>(nodes_.size());
    s = js_AddStream(nullptr, js, &config, &jo, &jerr);
    if (s == NATS_OK || jerr == JSStreamNameExistErr) {
      js_DeleteStream(js, "KESSAN_BENCH_READY_PROBE", &jo, nullptr);
      s = NATS_OK;
    }
  }
  if (s != NATS_OK) {
    *error = u + ": " + natsStatus_GetText(s) + " (" + std::to_string(jerr) + ")";
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(conn);
  natsOptions_Destroy(options);
  return s == NATS_OK;
}

void NatsServers::Stop() {
  for (Node& n : nodes_) {
    if (n.pid > 0) kill(n.pid, SIGTERM);
  }
  const uint64_t deadline = NowNs() + 5000000000ull;
  for (Node& n : nodes_) {
    if (n.pid <= 0) continue;
    while (waitpid(n.pid, nullptr, WNOHANG) != n.pid) {
      if (NowNs() > deadline) {
        kill(n.pid, SIGKILL);
        waitpid(n.pid, nullptr, 0);
        break;
      }
      usleep(10000);
    }
    n.pid = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

std::string NatsServers::url() const {
  std::vector<std::string> urls;
  for (const Node& n : nodes_) urls.push_back("nats://127.0.0.1:" + std::to_string(n.client_port));
  return Join(urls);
}

std::vector<pid_t> NatsServers::pids() const {
  std::vector<pid_t> out;
  for (const Node& n : nodes_) out.push_back(n.pid);
  return out;
}

void NatsServers::DumpLogs() const {
  for (const Node& n : nodes_) {
    for (const std::string& path : {dir_ + "/" + n.name + ".log", dir_ + "/" + n.name + ".log.out"}) {
      std::ifstream in(path);
      if (!in) continue;
      std::stringstream text;
      text << in.rdbuf();
      std::string s = text.str();
      if (s.size() > 4096) s = "..." + s.substr(s.size() - 4096);
      std::fprintf(stderr, "==== %s\n%s\n", path.c_str(), s.c_str());
    }
  }
}

}  // namespace kessan::bench
