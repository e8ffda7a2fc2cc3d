// The gRPC server metrics (metrics/rpc_metrics.h), recorded by a server
// interceptor, except for the methods whose handlers record their own
// (CallMetrics): a call with an interceptor costs gRPC a second pass of
// each finished batch through its completion queue (a thread hand-off) and
// each message written a few thousand instructions.
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

// What the interceptor records, for a call whose handler records its own:
// started at construction, Received per request message read, Sent per
// message written, Handled by the status the call ends with (the first
// call counts); destroyed unhandled, CANCELLED.
class CallMetrics {
 public:
  explicit CallMetrics(const metrics::RpcMetrics::Series& series)
      : series_(series), start_(std::chrono::steady_clock::now()) {
    series_.Started();
  }
  ~CallMetrics() { Handled(grpc::Status::CANCELLED); }
  CallMetrics(const CallMetrics&) = delete;
  CallMetrics& operator=(const CallMetrics&) = delete;

  void Received() const { series_.Received(); }
  void Sent() const { series_.Sent(); }
  // Returns `status`, so a handler can end with `return metrics.Handled(...)`.
  const grpc::Status& Handled(const grpc::Status& status) {
    if (!handled_.exchange(true, std::memory_order_relaxed)) {
      series_.Handled(static_cast<absl::StatusCode>(status.error_code()),
                      std::chrono::steady_clock::now() - start_);
    }
    return status;
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
