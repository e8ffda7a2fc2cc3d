// RpcMetrics: the go-grpc-prometheus server metrics, for any transport.
//
//   grpc_server_started_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
//   grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method} (histogram)
//   grpc_server_msg_received_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_msg_sent_total{grpc_type,grpc_service,grpc_method}
//
// Over gRPC, kessan's handlers record their own calls and an interceptor
// the rest (rpc/metrics_interceptor.h); another transport serving the same
// methods records into the same series.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "metrics/registry.h"

namespace kessan::metrics {

enum class RpcType { kUnary, kClientStream, kServerStream, kBidiStream };

struct RpcMethod {
  std::string service;  // "kessan.v1.FeedService"
  std::string method;   // "Publish"
  RpcType type = RpcType::kUnary;
};

// RpcMetrics is thread-safe. Its series are made at construction, one set
// per method: a call to a method not listed counts as grpc_service and
// grpc_method "unknown", so callers cannot add series. handled_total's
// series of a code show once it has counted a call.
class RpcMetrics {
 public:
  // One method's series. Recording is lock-free.
  class Series {
   public:
    void Started() const { started_->Increment(); }
    void Received() const { received_->Increment(); }
    void Sent() const { sent_->Increment(); }
    void Handled(absl::StatusCode code, std::chrono::steady_clock::duration took) const;

   private:
    friend class RpcMetrics;
    Counter* started_;
    Counter* received_;
    Counter* sent_;
    std::array<Counter*, 17> handled_;  // by absl::StatusCode (== grpc code)
    Histogram* seconds_;
  };

  RpcMetrics(Registry& registry, const std::vector<RpcMethod>& methods);

  // The series of "/service/method" (the HTTP/2 path), or the unknown ones.
  const Series& Find(absl::string_view path) const;

 private:
  Series Make(const RpcMethod& method);

  Registry& registry_;
  absl::flat_hash_map<std::string, std::unique_ptr<Series>> by_path_;  // read-only once made
  Series unknown_;
};

// "unary", "client_stream", "server_stream", "bidi_stream".
absl::string_view RpcTypeName(RpcType type);

}  // namespace kessan::metrics
