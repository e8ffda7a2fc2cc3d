// secure_channel.h: the gRPC channel of a ClientOptions, with TLS and the
// bearer token. Internal to kessan_client.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "kessan/client.h"

namespace kessan::internal {

// A channel to `address` (or options.address): TLS (and a client certificate) when
// options.tls_ca_file is set, plaintext otherwise; options.token, if any,
// goes with every call as "authorization: Bearer <token>" (an interceptor,
// so also over plaintext to a loopback kessand).
std::shared_ptr<grpc::Channel> CreateChannel(const ClientOptions& options, const std::string& address,
                                             const grpc::ChannelArguments& args);
std::shared_ptr<grpc::Channel> CreateChannel(const ClientOptions& options,
                                             const grpc::ChannelArguments& args);

}  // namespace kessan::internal
