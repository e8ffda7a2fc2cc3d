// NatsCluster: real nats-server processes with JetStream for the tests, on
// 127.0.0.1, in a temporary directory of their own.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kessan::test {

// NatsCluster starts one nats-server (`nodes` = 1) or a cluster of them
// (routes between all, cluster name kessan-test, servers n1, n2, ...), each
// with JetStream (-js) and its store and log under dir(). Ports are ones
// that were free on 127.0.0.1 a moment before; a node keeps its ports and
// store across Kill and Restart. Every server gets SIGKILL when the parent
// thread that started it dies (PR_SET_PDEATHSIG), and in the destructor
// (also when a test fails), which reaps them and removes dir(). Not
// thread-safe; start and stop nodes from one thread (the death signal
// follows the thread that forked).
class NatsCluster {
 public:
  // Starts the servers and waits, at most `wait`, until JetStream is ready
  // (see WaitReady). The error carries the servers' logs.
  // `parent_dir`: where its directory is made (empty: the temp directory);
  // `binary`: the nats-server to run (empty: the one CMake found).
  static absl::StatusOr<std::unique_ptr<NatsCluster>> Start(int nodes,
                                                            absl::Duration wait = absl::Seconds(30),
                                                            const std::string& parent_dir = "",
                                                            const std::string& binary = "");
  ~NatsCluster();
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  int size() const { return static_cast<int>(nodes_.size()); }
  // Every node's client URL, comma-separated: what a client connects to.
  std::string url() const;
  // Node i's client URL.
  std::string node_url(int i) const;
  const std::string& dir() const { return dir_; }

  // Bounded polling until every running node answers a JetStream account
  // request and, for a cluster, a stream of as many replicas as running
  // nodes can be created (a meta leader is elected and the peers are there).
  absl::Status WaitReady(absl::Duration wait = absl::Seconds(30));

  // SIGKILL to node i, reaped: no shutdown path runs.
  void Kill(int i);
  // SIGTERM to node i, reaped (SIGKILL after `wait`).
  void Stop(int i, absl::Duration wait = absl::Seconds(10));
  // Starts node i again (same ports, same store) and waits until it answers
  // a JetStream request.
  absl::Status Restart(int i, absl::Duration wait = absl::Seconds(30));
  // Starts every stopped node again, then waits as WaitReady: the way back
  // from the whole cluster down, where no node alone answers JetStream.
  absl::Status RestartAll(absl::Duration wait = absl::Seconds(30));
  bool running(int i) const { return nodes_[i].pid > 0; }
  pid_t pid(int i) const { return nodes_[i].pid; }

  // The servers' logs, each headed by its file name; the last `max_bytes`
  // of each.
  std::string Logs(size_t max_bytes = 8192) const;

 private:
  struct Node {
    std::string name;
    int client_port = 0;
    int cluster_port = 0;
    std::string store_dir;
    std::string log_path;
    pid_t pid = -1;
  };
  NatsCluster() = default;
  absl::Status Launch(int i);
  // One JetStream account request to node i.
  absl::Status Probe(int i) const;

  std::string dir_;
  std::string binary_;
  std::vector<Node> nodes_;
};

}  // namespace kessan::test
