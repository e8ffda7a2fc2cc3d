#include "auth/principal.h"

#include <algorithm>

namespace kessan::auth {
namespace {

bool Allows(const std::vector<std::string>& allowed, absl::string_view value) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kSubscriber:
      return "subscriber";
    case Role::kPublisher:
      return "publisher";
    case Role::kAnalyst:
      return "analyst";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

absl::optional<Role> ParseRole(absl::string_view name) {
  for (Role r : {Role::kSubscriber, Role::kPublisher, Role::kAnalyst, Role::kAdmin}) {
    if (name == RoleName(r)) return r;
  }
  return absl::nullopt;
}

bool Principal::MayAccessIssuer(absl::string_view issuer) const { return Allows(issuers, issuer); }

bool Principal::MayAccessConcept(absl::string_view concept_id) const { return Allows(concepts, concept_id); }

Principal Principal::Anonymous() {
  Principal p;
  p.name = "anonymous";
  p.roles = static_cast<uint32_t>(Role::kAdmin);
  return p;
}

}  // namespace kessan::auth
