// kessan::Server: the embeddable Kessan feed server.
//
// A Server journals published facts in an SQLite file under
// ServerOptions::data_dir and serves kessan.v1.FeedService (with gRPC health
// and reflection) on ServerOptions::listen. Start, then Wait or Shutdown:
//
//   kessan::ServerOptions options;
//   options.listen = "127.0.0.1:0";
//   options.data_dir = "/var/lib/kessan";
//   absl::StatusOr<std::unique_ptr<kessan::Server>> server =
//       kessan::Server::Start(options);
//   if (!server.ok()) ...;
//   int port = (*server)->port();
//
// This header includes no gRPC or Protobuf header.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kessan {

struct ServerOptions {
  // host:port to listen on; port 0 picks a free one (see Server::port()).
  std::string listen = "127.0.0.1:50051";
  // Directory of the journal (kessan.db); created if missing.
  std::string data_dir = "kessan-data";
  // A data set file (kessan.v1.DataSet, text format or .json) published
  // when the journal is empty, i.e. on the first start. Empty: none.
  std::string seed_path;
  // Directory of scenario plugins (*.so), each run in its own worker
  // process. Empty: the bundled plugins of the build or install this
  // library belongs to (none if there are none). "none": no plugins.
  std::string plugin_dir;
  // Resume window: the journal keeps every event of the last retain_events
  // (older superseded revisions are pruned; a resume from before the window
  // gets a resync and a snapshot). 0 keeps everything.
  uint64_t retain_events = 0;
  // Bound of each subscriber's queue (see SlowConsumerPolicy).
  size_t max_queued_events = 65536;
  // Heartbeat interval of a subscriber that asks for 0.
  absl::Duration default_heartbeat = absl::Seconds(5);
};

// Server is thread-safe. Destroying it shuts it down.
class Server {
 public:
  // Opens the journal, rebuilds the state, loads the seed into an empty
  // journal and starts serving. Fails if the journal cannot be opened, the
  // seed is invalid (nothing of it is stored) or the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();

  // The port bound.
  int port() const;
  // The highest sequence in the journal.
  uint64_t last_sequence() const;

  // Ends subscriptions (UNAVAILABLE, so clients resume elsewhere or later),
  // lets calls in flight finish within `grace`, then stops. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));
  // Blocks until Shutdown has completed.
  void Wait();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kessan
