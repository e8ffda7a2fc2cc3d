#include "model/keys.h"

#include "absl/strings/str_cat.h"

namespace kessan {

namespace {

void AppendPeriodLabel(std::string* out, const v1::FiscalPeriod& period) {
  switch (period.kind()) {
    case v1::PERIOD_KIND_QUARTER:
      absl::StrAppend(out, "FY", period.fiscal_year(), "Q", period.number());
      break;
    case v1::PERIOD_KIND_HALF:
      absl::StrAppend(out, "FY", period.fiscal_year(), "H", period.number());
      break;
    case v1::PERIOD_KIND_FULL_YEAR:
      absl::StrAppend(out, "FY", period.fiscal_year());
      break;
    default:
      absl::StrAppend(out, "FY", period.fiscal_year(), "?", period.number());
  }
}

// Room for "FY", a year and a part: the label never outgrows it.
constexpr size_t kMaxPeriodLabel = 32;

}  // namespace

std::string PeriodLabel(const v1::FiscalPeriod& period) {
  std::string label;
  AppendPeriodLabel(&label, period);
  return label;
}

std::string FactKeyString(const v1::FactKey& key, absl::string_view prefix) {
  // Sized once: this is every published fact's item key.
  std::string s;
  s.reserve(prefix.size() + key.issuer().size() + key.concept_id().size() + 2 + kMaxPeriodLabel +
            (key.segment().empty() ? 0 : 5 + key.segment().size()) +
            (key.has_comparison_period() ? 4 + kMaxPeriodLabel : 0));
  absl::StrAppend(&s, prefix, key.issuer(), "/", key.concept_id(), "/");
  AppendPeriodLabel(&s, key.period());
  if (!key.segment().empty()) absl::StrAppend(&s, "/seg:", key.segment());
  if (key.has_comparison_period()) {
    s.append("/vs:");
    AppendPeriodLabel(&s, key.comparison_period());
  }
  return s;
}

EventAttrs AttrsOf(const v1::FeedEvent& event) { return AttrsOf(event, std::string()); }

EventAttrs AttrsOf(const v1::FeedEvent& event, std::string item_key) {
  const bool known = !item_key.empty();
  EventAttrs a;
  a.time_ns = event.time().seconds() * 1000000000 + event.time().nanos();
  a.revision = 1;  // issuers and segments have no revision
  switch (event.body_case()) {
    case v1::FeedEvent::kIssuer:
      a.kind = v1::EVENT_KIND_ISSUER;
      a.issuer = event.issuer().id();
      a.item_key = absl::StrCat("issuer:", a.issuer);
      break;
    case v1::FeedEvent::kSegment:
      a.kind = v1::EVENT_KIND_SEGMENT;
      a.issuer = event.segment().issuer();
      a.segment = event.segment().id();
      a.item_key = absl::StrCat("segment:", a.issuer, "/", a.segment);
      break;
    case v1::FeedEvent::kFact:
      a.kind = v1::EVENT_KIND_FACT;
      a.revision = event.fact().revision();
      a.issuer = event.fact().key().issuer();
      a.concept_id = event.fact().key().concept_id();
      a.segment = event.fact().key().segment();
      a.item_key = known ? std::move(item_key) : FactKeyString(event.fact().key(), "fact:");
      break;
    case v1::FeedEvent::kCapitalAction:
      a.kind = v1::EVENT_KIND_CAPITAL_ACTION;
      a.revision = event.capital_action().revision();
      a.issuer = event.capital_action().issuer();
      a.item_key = known ? std::move(item_key)
                         : absl::StrCat("capital_action:", a.issuer, "/", event.capital_action().action_id());
      break;
    case v1::FeedEvent::kGuidance:
      a.kind = v1::EVENT_KIND_GUIDANCE;
      a.revision = event.guidance().revision();
      a.issuer = event.guidance().key().issuer();
      a.concept_id = event.guidance().key().concept_id();
      a.segment = event.guidance().key().segment();
      a.item_key = known ? std::move(item_key) : FactKeyString(event.guidance().key(), "guidance:");
      break;
    case v1::FeedEvent::kRetraction: {
      const v1::ItemRef& ref = event.retraction().item();
      a.kind = v1::EVENT_KIND_RETRACTION;
      a.revision = event.retraction().revision();
      a.item_key = ItemKeyOf(ref);
      switch (ref.item_case()) {
        case v1::ItemRef::kFact:
        case v1::ItemRef::kGuidance: {
          const v1::FactKey& key = ref.has_fact() ? ref.fact() : ref.guidance();
          a.target_kind = ref.has_fact() ? v1::EVENT_KIND_FACT : v1::EVENT_KIND_GUIDANCE;
          a.issuer = key.issuer();
          a.concept_id = key.concept_id();
          a.segment = key.segment();
          break;
        }
        case v1::ItemRef::kCapitalAction:
          a.target_kind = v1::EVENT_KIND_CAPITAL_ACTION;
          a.issuer = ref.capital_action().issuer();
          break;
        default:
          break;
      }
      break;
    }
    default:
      break;
  }
  return a;
}

std::string ItemKeyOf(const v1::ItemRef& ref) {
  switch (ref.item_case()) {
    case v1::ItemRef::kFact:
      return FactKeyString(ref.fact(), "fact:");
    case v1::ItemRef::kGuidance:
      return FactKeyString(ref.guidance(), "guidance:");
    case v1::ItemRef::kCapitalAction:
      return absl::StrCat("capital_action:", ref.capital_action().issuer(), "/",
                          ref.capital_action().action_id());
    default:
      return "";
  }
}

}  // namespace kessan
