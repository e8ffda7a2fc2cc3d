// A subscriber worker process of kessan-bench: holds its share of the
// Subscribe streams over a few channels, decodes every FeedEvent, checks
// that each stream's sequences go up by exactly 1, and records latency.
#pragma once

#include <string>

#include "shared_state.h"

namespace kessan::bench {

struct WorkerOptions {
  int index = 0;    // slot in SharedState::workers
  int streams = 1;  // Subscribe streams of this worker
  int streams_per_channel = 32;
  std::string host = "127.0.0.1";
  uint32_t heartbeat_ms = 0;  // 0: the server's default
  int timeout_s = 120;
};

// Runs in a child forked before any gRPC state exists; never returns.
[[noreturn]] void RunSubscriberWorker(SharedState* shared, const WorkerOptions& options);

}  // namespace kessan::bench
