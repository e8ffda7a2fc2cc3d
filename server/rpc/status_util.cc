#include "rpc/status_util.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kessan {

// The numeric codes of absl::StatusCode and grpc::StatusCode are the same
// (both are google.rpc.Code).
grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

grpc::Status NotARequest(absl::string_view type) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("no request, or bytes that are not a ", type));
}

bool ParseRequest(const grpc::ByteBuffer& raw, google::protobuf::Message* request) {
  std::vector<grpc::Slice> slices;
  if (!raw.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return request->ParseFromString(bytes);
}

}  // namespace kessan
