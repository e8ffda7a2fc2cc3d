// cli/security_flags.h: the `kessan` flags that reach a secured kessand,
// common to every command: --tls_ca, --tls_cert, --tls_key, --token (or
// the environment variable KESSAN_TOKEN). Dashes work too (--tls-ca).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kessan/client.h"

namespace kessan::cli {

// Removes the security flags from `argv` into `options` (its tls_* and
// token fields) and returns the other arguments. options->token defaults
// to $KESSAN_TOKEN. INVALID_ARGUMENT for a flag without a value.
absl::StatusOr<std::vector<std::string>> TakeSecurityFlags(const std::vector<std::string>& argv,
                                                           ClientOptions* options);

// The usage lines of these flags.
std::string SecurityUsage();

}  // namespace kessan::cli
