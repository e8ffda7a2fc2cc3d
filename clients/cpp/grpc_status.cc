#include "grpc_status.h"

namespace kessan::internal {

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const int code = static_cast<int>(status.error_code());
  // OK (0) cannot carry an error; grpc::StatusCode ends at UNAUTHENTICATED.
  if (code <= static_cast<int>(grpc::StatusCode::OK) ||
      code > static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)) {
    return absl::UnknownError(status.error_message());
  }
  return absl::Status(static_cast<absl::StatusCode>(code), status.error_message());
}

}  // namespace kessan::internal
