// grpc_status.h: the one place the client turns grpc::Status into
// absl::Status. Internal to kessan_client.

#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace kessan::internal {

// FromGrpcStatus()
//
// Returns an absl::Status with the same code and message as `status`. The
// two share the canonical code numbering; a code outside it becomes
// UNKNOWN.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace kessan::internal
