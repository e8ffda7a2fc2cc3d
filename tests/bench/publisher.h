// Publisher: asynchronous Publish RPCs of bench facts on one channel, with
// several batches in flight; the caller drives it from one thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.h"
#include "kessan/v1/feed.grpc.pb.h"

namespace kessan::bench {

// Not thread-safe.
class Publisher {
 public:
  Publisher(std::shared_ptr<grpc::Channel> channel, int pad);
  ~Publisher();

  // Sends one batch: one fact per send time (CLOCK_MONOTONIC ns).
  void Send(const std::vector<uint64_t>& send_ns);
  // Sends `count` facts all stamped `send_ns`.
  void Send(size_t count, uint64_t send_ns);
  // Waits until `deadline_ns` (CLOCK_MONOTONIC) for one completion; true
  // when one was handled.
  bool Poll(uint64_t deadline_ns);
  // Waits for every batch in flight (up to timeout_s).
  void Drain(int timeout_s);

  int in_flight() const { return in_flight_; }
  uint64_t sent_events() const { return sent_; }
  uint64_t acked_events() const { return acked_; }
  uint64_t last_sequence() const { return last_sequence_; }
  uint64_t errors() const { return errors_; }
  uint64_t rpcs() const { return rpcs_; }
  // Send-to-ack latency of the batches, us.
  const Histogram& ack_latency() const { return *ack_hist_; }

 private:
  struct Call;
  void Start();

  std::unique_ptr<v1::FeedService::Stub> stub_;
  grpc::CompletionQueue cq_;
  const int pad_;
  v1::PublishRequest request_;
  uint64_t index_ = 0;
  int in_flight_ = 0;
  uint64_t sent_ = 0, acked_ = 0, errors_ = 0, rpcs_ = 0, last_sequence_ = 0;
  std::unique_ptr<Histogram> ack_hist_;
};

}  // namespace kessan::bench
