// One streamed-unary call, as FeedServiceImpl and ScenarioServiceImpl serve
// them (streamed so that bytes that are not a request are answered like any
// bad input).
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "metrics/rpc_metrics.h"
#include "rpc/grpc_caller.h"
#include "rpc/metrics_interceptor.h"
#include "rpc/status_util.h"
#include "service/services.h"

namespace kessan {

// Reads `*request`; bytes that are not one are INVALID_ARGUMENT, once the
// caller is admitted to `method` (else its refusal). `serve(caller)` gives
// the response, which is written. Every step is counted in `series`.
template <typename Request, typename Response, typename Serve>
grpc::Status ServeUnary(grpc::ServerContext& context, grpc::ServerUnaryStreamer<Request, Response>& stream,
                        Request* request, Services& services, const char* method,
                        const metrics::RpcMetrics::Series& series, Serve serve) {
  CallMetrics metrics(series);
  const Caller caller = GrpcCaller(context, services.wants_certificate_names());
  if (!stream.Read(request)) {
    if (absl::Status admitted = services.Admit(caller, method); !admitted.ok()) {
      return metrics.Handled(ToGrpcStatus(admitted));
    }
    return metrics.Handled(NotARequest(Request::descriptor()->full_name()));
  }
  metrics.Received();
  absl::StatusOr<Response> response = serve(caller);
  if (!response.ok()) return metrics.Handled(ToGrpcStatus(response.status()));
  metrics.Sent();
  if (!stream.Write(*response)) {
    return metrics.Handled(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the caller went away"));
  }
  return metrics.Handled(grpc::Status::OK);
}

}  // namespace kessan
