// The server side of one Subscribe stream.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "feed/feed.h"

namespace kessan {

// Starts the stream for an accepted subscription. The returned reactor
// deletes itself when the RPC is done.
grpc::ServerWriteReactor<grpc::ByteBuffer>* StartSubscribeStream(
    Feed& feed, std::shared_ptr<Subscription> subscription);

// A reactor that finishes at once with `status` (a refused subscription).
grpc::ServerWriteReactor<grpc::ByteBuffer>* RefuseStream(const grpc::Status& status);

}  // namespace kessan
