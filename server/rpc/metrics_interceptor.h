// The gRPC server metrics (metrics/rpc_metrics.h), recorded by a server
// interceptor, except for the methods whose handlers record their own
// (StreamMetrics): gRPC's interception costs each message written a few
// thousand instructions, as much as the rest of a small write.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "metrics/rpc_metrics.h"

namespace kessan {

// An interceptor per call: started when the call starts, a message
// received or sent per message, handled (with the status code and the time
// since the start) when the status is sent; a call that ends without
// sending one counts as CANCELLED. Calls to the methods in `self_recorded`
// ("/kessan.v1.FeedService/Subscribe") get none. `metrics` must outlive the
// server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeMetricsInterceptorFactory(
    const metrics::RpcMetrics& metrics, std::vector<std::string> self_recorded = {});

// What the interceptor records, for a server stream that records its own:
// started and its request received at construction, Sent per message
// written, Handled by the status it finishes with (the first call counts);
// destroyed unhandled, CANCELLED.
class StreamMetrics {
 public:
  explicit StreamMetrics(const metrics::RpcMetrics::Series& series)
      : series_(series), start_(std::chrono::steady_clock::now()) {
    series_.Started();
    series_.Received();
  }
  ~StreamMetrics() { Handled(grpc::StatusCode::CANCELLED); }
  StreamMetrics(const StreamMetrics&) = delete;
  StreamMetrics& operator=(const StreamMetrics&) = delete;

  void Sent() const { series_.Sent(); }
  void Handled(grpc::StatusCode code) {
    if (handled_.exchange(true, std::memory_order_relaxed)) return;
    series_.Handled(static_cast<absl::StatusCode>(code), std::chrono::steady_clock::now() - start_);
  }

 private:
  const metrics::RpcMetrics::Series& series_;
  const std::chrono::steady_clock::time_point start_;
  std::atomic<bool> handled_{false};
};

// The methods of `services` ("kessan.v1.FeedService", ...) from the
// generated descriptor pool, with their streaming types; a service not in
// the pool is left out.
std::vector<metrics::RpcMethod> RpcMethodsOf(const std::vector<std::string>& services);

}  // namespace kessan
