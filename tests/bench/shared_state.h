// SharedState: what the bench's processes share (anonymous shared memory,
// mapped before fork): the start signal, delivery counters, per-worker
// statistics and latency histograms.
#pragma once

#include <atomic>
#include <cstdint>

#include "bench_util.h"

namespace kessan::bench {

inline constexpr int kMaxWorkers = 256;

// One subscriber worker's figures; written by that worker only.
struct WorkerSlot {
  std::atomic<uint64_t> received;      // counted deliveries (journaled events)
  std::atomic<uint64_t> gaps;          // sequences missing or out of order
  std::atomic<uint64_t> errors;        // streams that ended early
  std::atomic<uint64_t> last_recv_ns;  // time of the last counted delivery
  std::atomic<uint64_t> first_start_ns;
  std::atomic<uint64_t> event_bytes;  // serialized size of one delivered FeedEvent
  Histogram hist;                     // publish-to-receive latency, us
};

// Zero-filled memory is a valid initial state (all counters 0).
struct SharedState {
  std::atomic<int> go;  // parent: server ready, subscribe now
  std::atomic<int> port;
  std::atomic<int> abort;  // parent: stop now
  std::atomic<int> ready;  // streams that received their first event
  std::atomic<int> workers_done;
  std::atomic<uint64_t> from_sequence;   // subscribe with START_MODE_FROM_SEQUENCE
  std::atomic<uint64_t> target;          // deliveries each stream must count (0: unbounded)
  std::atomic<uint64_t> received_total;  // all workers, for the publisher's window
  WorkerSlot workers[kMaxWorkers];
};

// Maps a zero-filled SharedState shared with children forked later.
SharedState* MapSharedState();

}  // namespace kessan::bench
