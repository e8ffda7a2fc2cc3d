#include "model/keys.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace kessan {

namespace {

// The longest decimal int32: a sign and ten digits.
constexpr size_t kMaxInt32Chars = 11;
// "FY", a year, a part letter and its number.
constexpr size_t kMaxPeriodLabel = 2 + kMaxInt32Chars + 1 + kMaxInt32Chars;

char* Put(char* p, absl::string_view s) {
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// "FY2002", "FY2002Q4", "FY2002H1"; "FY2002?n" for an unknown kind.
char* PutPeriodLabel(char* p, const v1::FiscalPeriod& period) {
  p = Put(p, "FY");
  p = Put(p, absl::AlphaNum(period.fiscal_year()).Piece());
  switch (period.kind()) {
    case v1::PERIOD_KIND_FULL_YEAR:
      return p;
    case v1::PERIOD_KIND_QUARTER:
      *p++ = 'Q';
      break;
    case v1::PERIOD_KIND_HALF:
      *p++ = 'H';
      break;
    default:
      *p++ = '?';
  }
  return Put(p, absl::AlphaNum(period.number()).Piece());
}

}  // namespace

std::string PeriodLabel(const v1::FiscalPeriod& period) {
  char label[kMaxPeriodLabel];
  return std::string(label, PutPeriodLabel(label, period));
}

std::string FactKeyString(const v1::FactKey& key, absl::string_view prefix) {
  // Written on the stack, then copied into a string of its size: one
  // allocation for every published fact's item key.
  const size_t most = prefix.size() + key.issuer().size() + 1 + key.concept_id().size() + 1 +
                      kMaxPeriodLabel + (key.segment().empty() ? 0 : 5 + key.segment().size()) +
                      (key.has_comparison_period() ? 4 + kMaxPeriodLabel : 0);
  char on_stack[256];
  std::string on_heap;
  char* begin = on_stack;
  if (most > sizeof(on_stack)) {
    on_heap.resize(most);
    begin = on_heap.data();
  }
  char* p = Put(begin, prefix);
  p = Put(p, key.issuer());
  *p++ = '/';
  p = Put(p, key.concept_id());
  *p++ = '/';
  p = PutPeriodLabel(p, key.period());
  if (!key.segment().empty()) p = Put(Put(p, "/seg:"), key.segment());
  if (key.has_comparison_period()) p = PutPeriodLabel(Put(p, "/vs:"), key.comparison_period());
  const size_t size = static_cast<size_t>(p - begin);
  if (begin == on_stack) return std::string(on_stack, size);
  on_heap.resize(size);
  return on_heap;
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
