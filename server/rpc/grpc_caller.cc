#include "rpc/grpc_caller.h"

namespace kessan {

Caller GrpcCaller(const grpc::ServerContextBase& context, bool certificate_name) {
  Caller caller;
  const auto& metadata = context.client_metadata();
  if (auto header = metadata.find("authorization"); header != metadata.end()) {
    caller.authorization.assign(header->second.data(), header->second.size());
  }
  caller.peer = context.peer();
  if (certificate_name && caller.authorization.empty()) {
    std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    if (auth != nullptr) {
      std::vector<grpc::string_ref> names = auth->FindPropertyValues("x509_common_name");
      if (!names.empty()) caller.certificate_name.assign(names.front().data(), names.front().size());
    }
  }
  return caller;
}

}  // namespace kessan
