// One streamed-unary call, as FeedServiceImpl and ScenarioServiceImpl serve
// them (streamed so that bytes that are not a request are answered like any
// bad input).
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "metrics/rpc_metrics.h"
#include "rpc/grpc_caller.h"
#include "rpc/metrics_interceptor.h"
#include "rpc/status_util.h"
#include "service/services.h"

namespace kessan {

// `read()` reads the request; when it fails, that is INVALID_ARGUMENT once
// the caller is admitted to `method` (else its refusal). `serve(caller)`
// gives the response, which `write(response)` writes. Every step is counted
// in `series`.
template <typename Read, typename Write, typename Serve>
grpc::Status ServeUnaryCall(grpc::ServerContext& context, Read read, Write write,
                            absl::string_view request_type, Services& services, const char* method,
                            const metrics::RpcMetrics::Series& series, Serve serve) {
  CallMetrics metrics(series);
  const Caller caller = GrpcCaller(context, services.wants_certificate_names());
  if (!read()) {
    if (absl::Status admitted = services.Admit(caller, method); !admitted.ok()) {
      return metrics.Handled(ToGrpcStatus(admitted));
    }
    return metrics.Handled(NotARequest(request_type));
  }
  metrics.Received();
  auto response = serve(caller);
  if (!response.ok()) return metrics.Handled(ToGrpcStatus(response.status()));
  metrics.Sent();
  if (!write(*response)) {
    return metrics.Handled(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the caller went away"));
  }
  return metrics.Handled(grpc::Status::OK);
}

// ServeUnaryCall reading `*request` from `stream`.
template <typename Request, typename Response, typename Serve>
grpc::Status ServeUnary(grpc::ServerContext& context, grpc::ServerUnaryStreamer<Request, Response>& stream,
                        Request* request, Services& services, const char* method,
                        const metrics::RpcMetrics::Series& series, Serve serve) {
  return ServeUnaryCall(
      context, [&] { return stream.Read(request); }, [&](const Response& r) { return stream.Write(r); },
      Request::descriptor()->full_name(), services, method, series, serve);
}

// ServeUnaryCall on a stream of bytes: the request is parsed here from the
// message's slices, which `serve(caller, pieces)` is given (views of them,
// in order, valid until it returns).
template <typename Request, typename Response, typename Serve>
grpc::Status ServeUnaryBytes(grpc::ServerContext& context,
                             grpc::ServerUnaryStreamer<grpc::ByteBuffer, grpc::ByteBuffer>& stream,
                             Request* request, Services& services, const char* method,
                             const metrics::RpcMetrics::Series& series, Serve serve) {
  grpc::ByteBuffer raw;
  std::vector<grpc::Slice> slices;
  std::vector<absl::string_view> pieces;
  auto read = [&] {
    if (!stream.Read(&raw) || !raw.Dump(&slices).ok()) return false;
    pieces.reserve(slices.size());
    for (const grpc::Slice& s : slices) {
      pieces.emplace_back(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    if (pieces.size() == 1)
      return request->ParseFromArray(pieces[0].data(), static_cast<int>(pieces[0].size()));
    grpc::ProtoBufferReader reader(&raw);
    return reader.status().ok() && request->ParseFromZeroCopyStream(&reader);
  };
  auto write = [&](const Response& response) {
    grpc::ByteBuffer out;
    bool own = false;
    return grpc::SerializationTraits<Response>::Serialize(response, &out, &own).ok() && stream.Write(out);
  };
  return ServeUnaryCall(context, read, write, Request::descriptor()->full_name(), services, method, series,
                        [&](const Caller& caller) { return serve(caller, absl::MakeConstSpan(pieces)); });
}

}  // namespace kessan
