// The server side of one Subscribe stream.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "metrics/rpc_metrics.h"
#include "service/services.h"

namespace kessan {

// Starts the gRPC stream of an accepted subscription. The returned reactor
// deletes itself, and `stream`, when the RPC is done. Either records the
// call into `series` (StreamMetrics), which must outlive it.
grpc::ServerWriteReactor<grpc::ByteBuffer>* StartSubscribeStream(std::unique_ptr<FeedStream> stream,
                                                                 const metrics::RpcMetrics::Series& series);

// A reactor that finishes at once with `status` (a refused subscription;
// `received`: its request was read).
grpc::ServerWriteReactor<grpc::ByteBuffer>* RefuseStream(const grpc::Status& status,
                                                         const metrics::RpcMetrics::Series& series,
                                                         bool received);

}  // namespace kessan
