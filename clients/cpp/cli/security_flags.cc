#include "cli/security_flags.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace kessan::cli {

absl::StatusOr<std::vector<std::string>> TakeSecurityFlags(const std::vector<std::string>& argv,
                                                           ClientOptions* options) {
  if (const char* token = std::getenv("KESSAN_TOKEN"); token != nullptr) options->token = token;
  std::vector<std::string> rest;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (!absl::StartsWith(arg, "--")) {
      rest.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    name = absl::StrReplaceAll(name, {{"-", "_"}});
    std::string* field = name == "tls_ca"     ? &options->tls_ca_file
                         : name == "tls_cert" ? &options->tls_cert_file
                         : name == "tls_key"  ? &options->tls_key_file
                         : name == "token"    ? &options->token
                                              : nullptr;
    if (field == nullptr) {
      rest.push_back(arg);
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argv.size()) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = argv[++i];
    }
    if (value.empty()) return absl::InvalidArgumentError(absl::StrCat("--", name, " is empty"));
    *field = value;
  }
  if (options->tls_cert_file.empty() != options->tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (!options->tls_cert_file.empty() && options->tls_ca_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert needs --tls_ca (the CA of the server's certificate)");
  }
  return rest;
}

std::string SecurityUsage() {
  return "Security (a kessand with --tls_cert, --tls_client_ca, --auth_tokens):\n"
         "  --tls_ca FILE         PEM CA of the server's certificate: use TLS\n"
         "  --tls_cert FILE --tls_key FILE  this client's certificate (mTLS)\n"
         "  --token TOKEN         bearer token (default: $KESSAN_TOKEN)\n";
}

}  // namespace kessan::cli
