#include "auth/entitlement.h"

#include "absl/strings/str_cat.h"

namespace kessan::auth {
namespace {

absl::Status NotEntitled(const std::string& field, absl::string_view what, absl::string_view name) {
  return absl::PermissionDeniedError(absl::StrCat(field, ": not entitled to ", what, " '", name, "'"));
}

// The issuer and concept an item is about ("" when it has none).
struct ItemScope {
  std::string issuer;
  std::string concept_id;
  bool has_concept = false;
};

ItemScope ScopeOfItem(const v1::PublishItem& item) {
  ItemScope s;
  switch (item.item_case()) {
    case v1::PublishItem::kIssuer:
      s.issuer = item.issuer().id();
      break;
    case v1::PublishItem::kSegment:
      s.issuer = item.segment().issuer();
      break;
    case v1::PublishItem::kFact:
      s.issuer = item.fact().key().issuer();
      s.concept_id = item.fact().key().concept_id();
      s.has_concept = true;
      break;
    case v1::PublishItem::kCapitalAction:
      s.issuer = item.capital_action().issuer();
      break;
    case v1::PublishItem::kGuidance:
      s.issuer = item.guidance().key().issuer();
      s.concept_id = item.guidance().key().concept_id();
      s.has_concept = true;
      break;
    case v1::PublishItem::kRetraction: {
      const v1::ItemRef& ref = item.retraction().item();
      if (ref.has_fact()) {
        s.issuer = ref.fact().issuer();
        s.concept_id = ref.fact().concept_id();
        s.has_concept = true;
      } else if (ref.has_guidance()) {
        s.issuer = ref.guidance().issuer();
        s.concept_id = ref.guidance().concept_id();
        s.has_concept = true;
      } else if (ref.has_capital_action()) {
        s.issuer = ref.capital_action().issuer();
      }
      break;
    }
    default:
      break;
  }
  return s;
}

}  // namespace

absl::StatusOr<v1::Filter> EntitledFilter(const Principal& principal, const v1::Filter& requested,
                                          const IssuerResolver& resolve) {
  v1::Filter out = requested;
  if (!principal.issuers.empty()) {
    if (requested.issuers().empty()) {
      // Only the entitled issuers the feed knows: a filter naming one it
      // does not know yet would be refused.
      for (const std::string& i : principal.issuers) {
        if (!resolve(i).empty()) out.add_issuers(i);
      }
      if (out.issuers().empty()) {
        return absl::FailedPreconditionError(
            "none of the issuers this principal is entitled to is known yet");
      }
    } else {
      for (int i = 0; i < requested.issuers_size(); ++i) {
        const std::string& name = requested.issuers(i);
        std::string id = resolve(name);
        if (id.empty() || !principal.MayAccessIssuer(id)) {
          return NotEntitled(absl::StrCat("filter.issuers[", i, "]"), "issuer", name);
        }
        out.set_issuers(i, id);
      }
    }
  }
  if (!principal.concepts.empty()) {
    if (requested.concepts().empty()) {
      for (const std::string& c : principal.concepts) out.add_concepts(c);
    } else {
      for (int i = 0; i < requested.concepts_size(); ++i) {
        if (!principal.MayAccessConcept(requested.concepts(i))) {
          return NotEntitled(absl::StrCat("filter.concepts[", i, "]"), "concept", requested.concepts(i));
        }
      }
    }
  }
  return out;
}

absl::Status CheckPublish(const Principal& principal, const v1::PublishRequest& request,
                          const IssuerResolver& resolve) {
  if (!principal.restricted()) return absl::OkStatus();
  for (int i = 0; i < request.items_size(); ++i) {
    ItemScope s = ScopeOfItem(request.items(i));
    const std::string field = absl::StrCat("items[", i, "]");
    if (!principal.issuers.empty()) {
      std::string id = resolve(s.issuer);
      if (id.empty()) id = s.issuer;  // a new issuer, or one defined in this batch
      if (!principal.MayAccessIssuer(id)) return NotEntitled(field, "issuer", s.issuer);
    }
    if (!principal.concepts.empty()) {
      if (!s.has_concept) {
        return absl::PermissionDeniedError(absl::StrCat(
            field, ": not entitled to items without a concept (entitled to some concepts only)"));
      }
      if (!principal.MayAccessConcept(s.concept_id)) return NotEntitled(field, "concept", s.concept_id);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> EntitledIssuer(const Principal& principal, const std::string& issuer,
                                           const IssuerResolver& resolve) {
  if (issuer.empty() || principal.issuers.empty()) return issuer;
  std::string id = resolve(issuer);
  if (id.empty() || !principal.MayAccessIssuer(id)) return NotEntitled("issuer", "issuer", issuer);
  return id;
}

v1::Filter ScopeOf(const Principal& principal) {
  v1::Filter f;
  for (const std::string& i : principal.issuers) f.add_issuers(i);
  for (const std::string& c : principal.concepts) f.add_concepts(c);
  return f;
}

}  // namespace kessan::auth
