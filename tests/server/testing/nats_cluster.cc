#include "testing/nats_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

#ifndef KESSAN_NATS_SERVER
#define KESSAN_NATS_SERVER "/usr/sbin/nats-server"
#endif

namespace kessan::test {
namespace {

// Polling interval of the readiness checks.
constexpr absl::Duration kPoll = absl::Milliseconds(20);

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

std::string Tail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  return s.size() > max_bytes ? "..." + s.substr(s.size() - max_bytes) : s;
}

// A connection and JetStream context for one request, closed with it.
struct Client {
  natsOptions* options = nullptr;
  natsConnection* conn = nullptr;
  jsCtx* js = nullptr;
  ~Client() {
    jsCtx_Destroy(js);
    natsConnection_Destroy(conn);
    natsOptions_Destroy(options);
  }
  absl::Status Connect(const std::string& url) {
    std::vector<std::string> urls = absl::StrSplit(url, ',');
    std::vector<const char*> servers;
    for (const std::string& u : urls) servers.push_back(u.c_str());
    natsStatus s = natsOptions_Create(&options);
    if (s == NATS_OK) {
      s = natsOptions_SetServers(options, servers.data(), static_cast<int>(servers.size()));
    }
    if (s == NATS_OK) s = natsOptions_SetTimeout(options, 1000);
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(options, false);
    if (s == NATS_OK) s = natsConnection_Connect(&conn, options);
    if (s == NATS_OK) s = natsConnection_JetStream(&js, conn, nullptr);
    if (s != NATS_OK) {
      return absl::UnavailableError(absl::StrCat(url, ": ", natsStatus_GetText(s)));
    }
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<NatsCluster>> NatsCluster::Start(int nodes, absl::Duration wait,
                                                                const std::string& parent_dir,
                                                                const std::string& binary) {
  std::unique_ptr<NatsCluster> cluster(new NatsCluster());
  cluster->binary_ = binary.empty() ? KESSAN_NATS_SERVER : binary;
  const std::filesystem::path parent =
      parent_dir.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(parent_dir);
  std::string tmpl = (parent / "kessan-nats-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  cluster->dir_ = tmpl;
  for (int i = 0; i < nodes; ++i) {
    Node node;
    node.name = absl::StrCat("n", i + 1);
    node.client_port = FreePort();
    node.cluster_port = nodes > 1 ? FreePort() : 0;
    node.store_dir = absl::StrCat(cluster->dir_, "/", node.name);
    node.log_path = absl::StrCat(cluster->dir_, "/", node.name, ".log");
    if (node.client_port == 0 || (nodes > 1 && node.cluster_port == 0)) {
      return absl::UnavailableError("no free port on 127.0.0.1");
    }
    cluster->nodes_.push_back(node);
  }
  for (int i = 0; i < nodes; ++i) {
    absl::Status launched = cluster->Launch(i);
    if (!launched.ok()) return launched;
  }
  absl::Status ready = cluster->WaitReady(wait);
  if (!ready.ok()) {
    return absl::Status(ready.code(), absl::StrCat(ready.message(), "\n", cluster->Logs()));
  }
  return cluster;
}

NatsCluster::~NatsCluster() {
  for (int i = 0; i < size(); ++i) Kill(i);
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string NatsCluster::node_url(int i) const {
  return absl::StrCat("nats://127.0.0.1:", nodes_[i].client_port);
}

std::string NatsCluster::url() const {
  std::vector<std::string> urls;
  for (int i = 0; i < size(); ++i) urls.push_back(node_url(i));
  return absl::StrJoin(urls, ",");
}

absl::Status NatsCluster::Launch(int i) {
  const Node& node = nodes_[i];
  std::vector<std::string> argv = {binary_,
                                   "-a",
                                   "127.0.0.1",
                                   "-p",
                                   absl::StrCat(node.client_port),
                                   "--server_name",
                                   node.name,
                                   "-js",
                                   "-sd",
                                   node.store_dir,
                                   "-l",
                                   node.log_path};
  if (size() > 1) {
    std::vector<std::string> routes;
    for (int j = 0; j < size(); ++j) {
      if (j != i) routes.push_back(absl::StrCat("nats://127.0.0.1:", nodes_[j].cluster_port));
    }
    argv.insert(argv.end(), {"--cluster", absl::StrCat("nats://127.0.0.1:", node.cluster_port),
                             "--cluster_name", "kessan-test", "--routes", absl::StrJoin(routes, ",")});
  }
  // Everything the child needs, made before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const std::string out_path = node.log_path + ".out";
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
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
  return absl::OkStatus();
}

absl::Status NatsCluster::Probe(int i) const {
  Client client;
  if (absl::Status connected = client.Connect(node_url(i)); !connected.ok()) return connected;
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = 1000;
  jsAccountInfo* info = nullptr;
  jsErrCode error = static_cast<jsErrCode>(0);
  natsStatus s = js_GetAccountInfo(&info, client.js, &options, &error);
  jsAccountInfo_Destroy(info);
  if (s != NATS_OK) {
    return absl::UnavailableError(
        absl::StrCat(nodes_[i].name, ": account info: ", natsStatus_GetText(s), " (", error, ")"));
  }
  return absl::OkStatus();
}

absl::Status NatsCluster::WaitReady(absl::Duration wait) {
  const absl::Time deadline = absl::Now() + wait;
  absl::Status last = absl::OkStatus();
  auto exited = [&](int i) {
    int status = 0;
    if (nodes_[i].pid > 0 && waitpid(nodes_[i].pid, &status, WNOHANG) == nodes_[i].pid) {
      nodes_[i].pid = -1;
      return true;
    }
    return false;
  };
  for (int i = 0; i < size(); ++i) {
    if (!running(i)) continue;
    while (!(last = Probe(i)).ok()) {
      if (exited(i)) return absl::InternalError(absl::StrCat(nodes_[i].name, " exited"));
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat("nats not ready: ", last.message()));
      }
      absl::SleepFor(kPoll);
    }
  }
  if (size() == 1) return absl::OkStatus();
  // A stream replicated on every running node: needs the meta leader and peers.
  int replicas = 0;
  std::vector<std::string> urls;
  for (int i = 0; i < size(); ++i) {
    if (running(i)) {
      ++replicas;
      urls.push_back(node_url(i));
    }
  }
  const std::string joined = absl::StrJoin(urls, ",");
  while (true) {
    Client client;
    last = client.Connect(joined);
    if (last.ok()) {
      jsStreamConfig config;
      jsStreamConfig_Init(&config);
      config.Name = "KESSAN_READY_PROBE";
      const char* subjects[] = {"kessan-ready-probe"};
      config.Subjects = subjects;
      config.SubjectsLen = 1;
      config.Storage = js_MemoryStorage;
      config.Replicas = replicas;
      jsOptions options;
      jsOptions_Init(&options);
      options.Wait = 2000;
      jsErrCode error = static_cast<jsErrCode>(0);
      natsStatus s = js_AddStream(nullptr, client.js, &config, &options, &error);
      if (s == NATS_OK || error == JSStreamNameExistErr) {
        js_DeleteStream(client.js, "KESSAN_READY_PROBE", &options, nullptr);
        return absl::OkStatus();
      }
      last = absl::UnavailableError(absl::StrCat("probe stream: ", natsStatus_GetText(s), " (", error, ")"));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("nats cluster not ready: ", last.message()));
    }
    absl::SleepFor(kPoll);
  }
}

void NatsCluster::Kill(int i) {
  if (nodes_[i].pid <= 0) return;
  kill(nodes_[i].pid, SIGKILL);
  waitpid(nodes_[i].pid, nullptr, 0);
  nodes_[i].pid = -1;
}

void NatsCluster::Stop(int i, absl::Duration wait) {
  if (nodes_[i].pid <= 0) return;
  kill(nodes_[i].pid, SIGTERM);
  const absl::Time deadline = absl::Now() + wait;
  while (absl::Now() < deadline) {
    if (waitpid(nodes_[i].pid, nullptr, WNOHANG) == nodes_[i].pid) {
      nodes_[i].pid = -1;
      return;
    }
    absl::SleepFor(kPoll);
  }
  Kill(i);
}

absl::Status NatsCluster::Restart(int i, absl::Duration wait) {
  if (running(i)) return absl::FailedPreconditionError(absl::StrCat(nodes_[i].name, " runs"));
  if (absl::Status launched = Launch(i); !launched.ok()) return launched;
  const absl::Time deadline = absl::Now() + wait;
  absl::Status last;
  while (!(last = Probe(i)).ok()) {
    int status = 0;
    if (waitpid(nodes_[i].pid, &status, WNOHANG) == nodes_[i].pid) {
      nodes_[i].pid = -1;
      return absl::InternalError(absl::StrCat(nodes_[i].name, " exited\n", Logs()));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(last.message(), "\n", Logs()));
    }
    absl::SleepFor(kPoll);
  }
  return absl::OkStatus();
}

absl::Status NatsCluster::RestartAll(absl::Duration wait) {
  for (int i = 0; i < size(); ++i) {
    if (running(i)) continue;
    if (absl::Status launched = Launch(i); !launched.ok()) return launched;
  }
  return WaitReady(wait);
}

std::string NatsCluster::Logs(size_t max_bytes) const {
  std::string out;
  for (const Node& node : nodes_) {
    for (const std::string& path : {node.log_path, node.log_path + ".out"}) {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) continue;
      absl::StrAppend(&out, "==== ", path, "\n", Tail(path, max_bytes), "\n");
    }
  }
  return out;
}

}  // namespace kessan::test
