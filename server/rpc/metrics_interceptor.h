// The gRPC server metrics (metrics/rpc_metrics.h), recorded by a server
// interceptor: no handler records anything itself.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>
#include <vector>

#include "metrics/rpc_metrics.h"

namespace kessan {

// An interceptor per call: started when the call starts, a message
// received or sent per message, handled (with the status code and the time
// since the start) when the status is sent; a call that ends without
// sending one counts as CANCELLED. `metrics` must outlive the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeMetricsInterceptorFactory(
    const metrics::RpcMetrics& metrics);

// The methods of `services` ("kessan.v1.FeedService", ...) from the
// generated descriptor pool, with their streaming types; a service not in
// the pool is left out.
std::vector<metrics::RpcMethod> RpcMethodsOf(const std::vector<std::string>& services);

}  // namespace kessan
