// Principal: who is calling, what they may do (roles) and what they may see
// (entitlements). Pure data; no gRPC.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace kessan::auth {

// Role
//
// What a principal may call. kAdmin implies every other role.
//   subscriber: FeedService.Subscribe, FeedService.GetSnapshot
//   publisher:  FeedService.Publish
//   analyst:    ScenarioService.ListScenarios, RunScenario, WatchScenario
enum class Role : uint32_t {
  kSubscriber = 1u << 0,
  kPublisher = 1u << 1,
  kAnalyst = 1u << 2,
  kAdmin = 1u << 3,
};

// The role's name as written in the token file ("subscriber", ...).
const char* RoleName(Role role);
// The role named `name`, or nullopt.
absl::optional<Role> ParseRole(absl::string_view name);

// Principal
//
// An authenticated caller. Empty `issuers` (or `concepts`) means every
// issuer (concept); otherwise the principal sees and publishes only those:
// canonical issuer ids, concept ids. Copyable value type.
struct Principal {
  std::string name;
  uint32_t roles = 0;  // bitwise OR of Role values
  std::vector<std::string> issuers;
  std::vector<std::string> concepts;
  // The credential it was found by, as the principals file gives it
  // ("sha256:<hex>" or "x509:<common name>"); empty for Anonymous. Never
  // logged: it identifies the entry a reload must still hold.
  std::string credential;

  bool Has(Role role) const {
    return (roles & static_cast<uint32_t>(Role::kAdmin)) != 0 || (roles & static_cast<uint32_t>(role)) != 0;
  }
  bool restricted() const { return !issuers.empty() || !concepts.empty(); }
  bool MayAccessIssuer(absl::string_view issuer) const;
  bool MayAccessConcept(absl::string_view concept_id) const;

  // Every role, no restriction: the caller when authentication is off.
  static Principal Anonymous();
};

}  // namespace kessan::auth
