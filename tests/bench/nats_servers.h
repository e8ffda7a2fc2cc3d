// NatsServers: a cluster of nats-server processes with JetStream for
// kessan-bench --journal nats, on 127.0.0.1, with their stores and logs in
// a scratch directory of their own (the approach of
// tests/server/testing/nats_cluster.h, which keeps its stores under /tmp).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace kessan::bench {

// Not thread-safe: start and stop from the thread that will outlive the
// servers (each gets SIGKILL when that thread dies, PR_SET_PDEATHSIG).
// The destructor stops every server (SIGTERM, SIGKILL after 5 s), reaps
// them and removes the scratch directory.
class NatsServers {
 public:
  NatsServers() = default;
  ~NatsServers();
  NatsServers(const NatsServers&) = delete;
  NatsServers& operator=(const NatsServers&) = delete;

  // `nodes` servers (routes between all, cluster name kessan-bench) of
  // `binary`, each with -js and its store under <mkdtemp in
  // scratch_parent>; waits at most `timeout_s` until every node answers a
  // JetStream request and a stream of `nodes` replicas can be created.
  // Returns false (with the servers' logs on stderr) otherwise.
  bool Start(const std::string& binary, const std::string& scratch_parent, int nodes,
             int timeout_s);
  void Stop();

  // Every node's client URL, comma-separated.
  std::string url() const;
  std::vector<pid_t> pids() const;
  const std::string& dir() const { return dir_; }

 private:
  struct Node {
    std::string name;
    int client_port = 0;
    int cluster_port = 0;
    pid_t pid = -1;
  };
  bool Launch(size_t i, const std::string& binary);
  bool Probe(const std::string& url, bool cluster, std::string* error) const;
  void DumpLogs() const;

  std::string dir_;
  std::vector<Node> nodes_;
};

}  // namespace kessan::bench
