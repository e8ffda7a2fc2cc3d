// Entitlements: what a principal limited to some issuers (and concepts)
// may ask for. Pure functions over the request messages; the RPC layer
// applies them before anything reaches the Feed or the ScenarioEngine.
//
// A restricted principal never learns about other issuers: naming an issuer
// it is not entitled to is PERMISSION_DENIED whether or not that issuer
// exists (the same message either way), and an empty list in its request
// becomes its entitlement, so the Feed only ever sees entitled names.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "auth/principal.h"
#include "kessan/v1/feed.pb.h"

namespace kessan::auth {

// The canonical id of an issuer id or alias, or "" if no issuer has it.
using IssuerResolver = std::function<std::string(const std::string& id_or_alias)>;

// The filter `requested` becomes for `principal`: unchanged for an
// unrestricted principal; otherwise each restricted list of the request is
// replaced by the principal's list when empty (only the issuers `resolve`
// knows; FAILED_PRECONDITION if it knows none), and must name only entitled
// issuers (aliases resolved) and concepts when not. PERMISSION_DENIED names
// the field ("filter.issuers[1]: not entitled to issuer 'X'").
absl::StatusOr<v1::Filter> EntitledFilter(const Principal& principal, const v1::Filter& requested,
                                          const IssuerResolver& resolve);

// Whether `principal` may publish every item of `request`: each item's
// issuer (and the concept of facts, guidance and their retractions) must
// be entitled. An item without a concept (issuer, segment, capital action)
// needs a principal without a concept restriction. PERMISSION_DENIED names
// the first item refused ("items[3]: not entitled to issuer 'X'").
absl::Status CheckPublish(const Principal& principal, const v1::PublishRequest& request,
                          const IssuerResolver& resolve);

// For a scenario run: `issuer` ("" = any) must be entitled; returns its
// canonical id ("" stays ""). PERMISSION_DENIED otherwise.
absl::StatusOr<std::string> EntitledIssuer(const Principal& principal, const std::string& issuer,
                                           const IssuerResolver& resolve);

// The principal's entitlement as a filter (issuers, concepts; empty lists:
// any): the scope of the inputs a scenario run may read for it.
v1::Filter ScopeOf(const Principal& principal);

}  // namespace kessan::auth
