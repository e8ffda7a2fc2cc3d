// The one place that converts between absl::Status and grpc::Status.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace kessan {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// INVALID_ARGUMENT for request bytes that are not a `type` (or no request).
grpc::Status NotARequest(absl::string_view type);

// Parses a raw method's request bytes into `request`: false when they are
// not one.
bool ParseRequest(const grpc::ByteBuffer& raw, google::protobuf::Message* request);

}  // namespace kessan
