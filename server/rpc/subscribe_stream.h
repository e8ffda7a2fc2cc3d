// The server side of one Subscribe stream.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "feed/feed.h"

namespace kessan {

// Starts the stream for an accepted subscription. The returned reactor
// deletes itself when the RPC is done, and drops `lease` (a limit's count,
// see auth/limits.h; may be null) then.
grpc::ServerWriteReactor<grpc::ByteBuffer>* StartSubscribeStream(
    Feed& feed, std::shared_ptr<Subscription> subscription, std::shared_ptr<void> lease = nullptr);

// A reactor that finishes at once with `status` (a refused subscription).
grpc::ServerWriteReactor<grpc::ByteBuffer>* RefuseStream(const grpc::Status& status);

}  // namespace kessan
