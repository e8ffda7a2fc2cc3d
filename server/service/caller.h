// Caller: who calls, as the transport (gRPC, HTTP, in-process) saw it.
#pragma once

#include <string>

namespace kessan {

struct Caller {
  // The "authorization" header as sent ("Bearer <token>"); empty: none.
  std::string authorization;
  // The common name of a verified client certificate; empty: none.
  std::string certificate_name;
  // The connection ("ipv4:127.0.0.1:41234"): per-connection limits, audit.
  std::string peer;
};

}  // namespace kessan
