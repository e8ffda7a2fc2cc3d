#include "secure_channel.h"

#include <grpcpp/support/client_interceptor.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace kessan::internal {
namespace {

// The file's bytes; unreadable: a PEM that fails every handshake.
std::string ReadPem(const std::string& path) {
  std::ifstream in(path);
  if (!in.is_open()) return "-----unreadable " + path + "-----";
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class BearerInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(std::string header) : header_(std::move(header)) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", header_});
    }
    methods->Proceed();
  }

 private:
  const std::string header_;
};

class BearerFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerFactory(const std::string& token) : header_("Bearer " + token) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo*) override {
    return new BearerInterceptor(header_);
  }

 private:
  // Outlives the interceptors: the channel owns the factory.
  const std::string header_;
};

}  // namespace

std::shared_ptr<grpc::Channel> CreateChannel(const ClientOptions& options,
                                             const grpc::ChannelArguments& args) {
  return CreateChannel(options, options.address, args);
}

std::shared_ptr<grpc::Channel> CreateChannel(const ClientOptions& options, const std::string& address,
                                             const grpc::ChannelArguments& args) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadPem(options.tls_ca_file);
    if (!options.tls_cert_file.empty()) ssl.pem_cert_chain = ReadPem(options.tls_cert_file);
    if (!options.tls_key_file.empty()) ssl.pem_private_key = ReadPem(options.tls_key_file);
    credentials = grpc::SslCredentials(ssl);
  }
  if (options.token.empty()) return grpc::CreateCustomChannel(address, credentials, args);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<BearerFactory>(options.token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(address, credentials, args,
                                                                 std::move(interceptors));
}

}  // namespace kessan::internal
