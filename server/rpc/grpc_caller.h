// The Caller of a gRPC call.
#pragma once

#include <grpcpp/grpcpp.h>

#include "service/caller.h"

namespace kessan {

// Its "authorization" metadata and peer; with `certificate_name`, the
// common name of its verified client certificate (mTLS).
Caller GrpcCaller(const grpc::ServerContextBase& context, bool certificate_name);

}  // namespace kessan
