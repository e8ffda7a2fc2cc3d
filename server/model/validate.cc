#include "model/validate.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/calendar.h"
#include "model/currency.h"
#include "model/keys.h"

namespace kessan {
namespace {

constexpr size_t kMaxReported = 20;
constexpr size_t kMaxIdLength = 64;
constexpr size_t kMaxTextLength = 4096;

bool IsSnakeId(absl::string_view s) {
  if (s.empty() || s.size() > kMaxIdLength || !absl::ascii_islower(s[0])) {
    return false;
  }
  for (char c : s) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_') {
      return false;
    }
  }
  return true;
}

bool IsIssuerId(absl::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s) {
    if (!absl::ascii_isupper(c) && !absl::ascii_isdigit(c) && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

// "-12", "0.077", "4": an optional minus, digits, optionally a point and digits.
bool IsDecimal(absl::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  size_t digits = 0;
  while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++digits;
  if (digits == 0) return false;
  if (i == s.size()) return s.size() <= 64;
  if (s[i] != '.') return false;
  ++i;
  size_t fraction = 0;
  while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++fraction;
  return fraction > 0 && i == s.size() && s.size() <= 64;
}

// Catalog of the batch: the base catalog plus the issuers and segments
// declared by earlier items of the same batch.
class BatchCatalog : public Catalog {
 public:
  explicit BatchCatalog(const Catalog& base) : base_(base) {}

  const v1::Issuer* FindIssuer(absl::string_view id) const override {
    auto it = alias_to_id_.find(id);
    if (it != alias_to_id_.end()) return &issuers_.at(it->second);
    // A batch's items mostly name one issuer: the base is asked once.
    if (last_base_issuer_ == nullptr || id != last_base_id_) {
      last_base_issuer_ = base_.FindIssuer(id);
      last_base_id_.assign(id.data(), id.size());
    }
    return last_base_issuer_;
  }
  bool HasSegment(absl::string_view issuer, absl::string_view id) const override {
    return segments_.count(absl::StrCat(issuer, "/", id)) > 0 || base_.HasSegment(issuer, id);
  }
  void AddIssuer(const v1::Issuer& issuer) {
    issuers_[issuer.id()] = issuer;
    alias_to_id_[issuer.id()] = issuer.id();
    for (const auto& alias : issuer.aliases()) alias_to_id_[alias] = issuer.id();
  }
  void AddSegment(const v1::Segment& segment) {
    segments_.insert(absl::StrCat(segment.issuer(), "/", segment.id()));
  }
  bool HasLiveItem(const std::string& item_key) const override {
    auto it = live_.find(item_key);
    return it != live_.end() ? it->second : base_.HasLiveItem(item_key);
  }
  void SetLive(const std::string& item_key, bool live) { live_[item_key] = live; }

 private:
  const Catalog& base_;
  std::map<std::string, v1::Issuer> issuers_;
  std::map<std::string, std::string, std::less<>> alias_to_id_;
  // The last issuer found in the base (which does not change during a
  // batch's validation); the batch's own issuers are looked up first.
  mutable std::string last_base_id_;
  mutable const v1::Issuer* last_base_issuer_ = nullptr;
  std::set<std::string> segments_;
  std::map<std::string, bool> live_;
};

// Path names a field in an error message. It is turned into a string only
// when a violation is reported, so a valid batch builds none. A Path may
// refer to its parent and to its part: both must outlive it.
class Path {
 public:
  Path(const char* root) : part_(root) {}                               // NOLINT: implicit, for literals
  Path(std::string&& root) : owned_(std::move(root)), part_(owned_) {}  // NOLINT: idem
  Path(const Path& parent, absl::string_view part) : parent_(&parent), part_(part) {}
  Path(const Path& parent, std::string&& part) : parent_(&parent), owned_(std::move(part)), part_(owned_) {}
  // The parent's element `index`: "[index]".
  Path(const Path& parent, size_t index) : parent_(&parent), index_(index) {}
  Path(const Path&) = delete;
  Path& operator=(const Path&) = delete;

  std::string str() const {
    std::string part = index_ == kNoIndex ? std::string(part_) : absl::StrCat("[", index_, "]");
    return parent_ != nullptr ? absl::StrCat(parent_->str(), part) : part;
  }
  friend Path operator+(const Path& parent, absl::string_view part) { return Path(parent, part); }

 private:
  static constexpr size_t kNoIndex = ~size_t{0};
  const Path* parent_ = nullptr;
  std::string owned_;
  absl::string_view part_;
  size_t index_ = kNoIndex;
};

// Collects violations as "path: rule".
class Violations {
 public:
  void Add(const Path& path, absl::string_view rule) {
    ++count_;
    if (messages_.size() < kMaxReported) {
      messages_.push_back(absl::StrCat(path.str(), ": ", rule));
    }
  }
  bool empty() const { return count_ == 0; }
  size_t count() const { return count_; }
  absl::Status ToStatus(absl::string_view what) const {
    std::string message = absl::StrCat(what, " refused (", count_, count_ == 1 ? " violation" : " violations",
                                       "): ", absl::StrJoin(messages_, "; "));
    if (count_ > messages_.size()) {
      absl::StrAppend(&message, "; and ", count_ - messages_.size(), " more");
    }
    return absl::InvalidArgumentError(message);
  }

 private:
  std::vector<std::string> messages_;
  size_t count_ = 0;
};

class ItemValidator {
 public:
  // `retractions`: the batch holds some, so items it publishes must be
  // tracked for them (a batch without retractions skips that work).
  ItemValidator(BatchCatalog& catalog, Violations& v, bool retractions)
      : catalog_(catalog), v_(v), track_live_(retractions) {}

  // Where the next item's Normalised bits go; null: nowhere.
  void RecordNormalised(uint8_t* bits) {
    normalised_ = bits;
    checking_ = 0;
  }

  void Issuer(const Path& p, v1::Issuer& issuer) {
    size_t before = v_.count();
    if (issuer.id().empty()) {
      v_.Add(p + ".id", "must not be empty");
    } else if (!IsIssuerId(issuer.id())) {
      v_.Add(p + ".id", "must be 1-32 upper case letters, digits, '.' or '-'");
    }
    Text(p + ".name", issuer.name(), /*required=*/true);
    if (issuer.fiscal_year_end_month() < 1 || issuer.fiscal_year_end_month() > 12) {
      v_.Add(p + ".fiscal_year_end_month", "must be a month, 1-12");
    }
    for (int i = 0; i < issuer.aliases_size(); ++i) {
      const Path ap(p, absl::StrCat(".aliases[", i, "]"));
      const std::string& alias = issuer.aliases(i);
      if (alias.empty() || alias.size() > 32) {
        v_.Add(ap, "must be 1-32 characters");
        continue;
      }
      const v1::Issuer* other = catalog_.FindIssuer(alias);
      if (other != nullptr && other->id() != issuer.id()) {
        v_.Add(ap, absl::StrCat("already names issuer '", other->id(), "'"));
      }
    }
    if (const v1::Issuer* other = catalog_.FindIssuer(issuer.id());
        other != nullptr && other->id() != issuer.id()) {
      v_.Add(p + ".id", absl::StrCat("is an alias of issuer '", other->id(), "'"));
    }
    if (issuer.has_provenance()) Provenance(p + ".provenance", issuer.provenance());
    if (v_.count() == before) catalog_.AddIssuer(issuer);
  }

  void Segment(const Path& p, v1::Segment& segment) {
    size_t before = v_.count();
    const v1::Issuer* issuer = ResolveIssuer(p + ".issuer", segment.mutable_issuer());
    if (!IsSnakeId(segment.id())) {
      v_.Add(p + ".id",
             segment.id().empty() ? "must not be empty" : "must be lower snake case ([a-z][a-z0-9_]*)");
    }
    Text(p + ".name", segment.name(), /*required=*/true);
    for (int i = 0; i < segment.member_ids_size(); ++i) {
      const Path mp(p, absl::StrCat(".member_ids[", i, "]"));
      const std::string& member = segment.member_ids(i);
      if (member == segment.id()) {
        v_.Add(mp, "a segment cannot be its own member");
      } else if (issuer != nullptr && !catalog_.HasSegment(issuer->id(), member)) {
        v_.Add(mp, absl::StrCat("unknown segment '", member, "' of issuer '", issuer->id(), "'"));
      }
    }
    if (segment.has_provenance()) Provenance(p + ".provenance", segment.provenance());
    if (v_.count() == before) catalog_.AddSegment(segment);
  }

  void Fact(const Path& p, v1::Fact& fact) {
    checking_ = kKeyNormalised;
    if (!fact.has_key()) {
      v_.Add(p + ".key", "must be set");
    } else {
      Key(p + ".key", *fact.mutable_key());
    }
    checking_ = kValueNormalised;
    if (!fact.has_value()) {
      v_.Add(p + ".value", "must be set");
    } else {
      Value(p + ".value", *fact.mutable_value());
    }
    checking_ = kTranslationsNormalised;
    for (int i = 0; i < fact.translations_size(); ++i) {
      Value(Path(p, absl::StrCat(".translations[", i, "]")), *fact.mutable_translations(i));
    }
    RequiredProvenance(p, fact.has_provenance(), fact.provenance());
    ServerSet(p, fact.revision(), fact.supersedes_sequence(), fact.has_known_at());
    if (track_live_) catalog_.SetLive(FactKeyString(fact.key(), "fact:"), true);
  }

  void CapitalAction(const Path& p, v1::CapitalAction& action) {
    ResolveIssuer(p + ".issuer", action.mutable_issuer());
    if (!IsSnakeId(action.action_id())) {
      v_.Add(p + ".action_id",
             action.action_id().empty() ? "must not be empty" : "must be lower snake case ([a-z][a-z0-9_]*)");
    }
    RequiredProvenance(p, action.has_provenance(), action.provenance());
    ServerSet(p, action.revision(), action.supersedes_sequence(), action.has_known_at());
    switch (action.kind_case()) {
      case v1::CapitalAction::kPrivatePlacement:
        Placement(p + ".private_placement", action.private_placement());
        break;
      default:
        v_.Add(p + ".kind", "must be set (private_placement)");
    }
    if (track_live_)
      catalog_.SetLive(absl::StrCat("capital_action:", action.issuer(), "/", action.action_id()), true);
  }

  void Guidance(const Path& p, v1::Guidance& guidance) {
    checking_ = kKeyNormalised;
    if (!guidance.has_key()) {
      v_.Add(p + ".key", "must be set");
    } else {
      Key(p + ".key", *guidance.mutable_key());
    }
    checking_ = kValueNormalised;
    if (!guidance.has_bound()) {
      v_.Add(p + ".bound", "must be set");
    } else {
      Value(p + ".bound", *guidance.mutable_bound());
    }
    RequiredProvenance(p, guidance.has_provenance(), guidance.provenance());
    ServerSet(p, guidance.revision(), guidance.supersedes_sequence(), guidance.has_known_at());
    if (track_live_) {
      catalog_.SetLive(FactKeyString(guidance.key(), "guidance:"), true);
    }
  }

  void Retraction(const Path& p, v1::Retraction& retraction) {
    size_t before = v_.count();
    v1::ItemRef& ref = *retraction.mutable_item();
    const Path rp = p + ".item";
    switch (ref.item_case()) {
      case v1::ItemRef::kFact:
        Key(rp + ".fact", *ref.mutable_fact());
        break;
      case v1::ItemRef::kGuidance:
        Key(rp + ".guidance", *ref.mutable_guidance());
        break;
      case v1::ItemRef::kCapitalAction: {
        v1::CapitalActionRef& action = *ref.mutable_capital_action();
        ResolveIssuer(rp + ".capital_action.issuer", action.mutable_issuer());
        if (!IsSnakeId(action.action_id())) {
          v_.Add(rp + ".capital_action.action_id", "must be lower snake case");
        }
        break;
      }
      default:
        v_.Add(rp, "must name a fact, guidance or capital_action");
    }
    Text(p + ".reason", retraction.reason(), /*required=*/true);
    if (retraction.has_provenance()) {
      Provenance(p + ".provenance", retraction.provenance());
    }
    ServerSet(p, retraction.revision(), retraction.supersedes_sequence(), retraction.has_known_at());
    if (v_.count() != before) return;
    std::string key = ItemKeyOf(ref);
    if (!catalog_.HasLiveItem(key)) {
      v_.Add(rp, absl::StrCat("no published item '", key,
                              "' to retract (never published, or retracted already)"));
      return;
    }
    catalog_.SetLive(key, false);
  }

 private:
  const v1::Issuer* ResolveIssuer(const Path& p, std::string* id) {
    if (id->empty()) {
      v_.Add(p, "must not be empty");
      return nullptr;
    }
    const v1::Issuer* issuer = catalog_.FindIssuer(*id);
    if (issuer == nullptr) {
      v_.Add(p, absl::StrCat("unknown issuer '", *id, "'; publish the issuer first"));
      return nullptr;
    }
    if (*id != issuer->id()) {
      MarkNormalised();
      *id = issuer->id();
    }
    return issuer;
  }

  // The part being checked (or `part` of it) was changed.
  void MarkNormalised(uint8_t part = 0) {
    if (normalised_ != nullptr && checking_ != 0) *normalised_ |= part != 0 ? part : checking_;
  }

  void Key(const Path& p, v1::FactKey& key) {
    const v1::Issuer* issuer = ResolveIssuer(p + ".issuer", key.mutable_issuer());
    if (key.concept_id().empty()) {
      v_.Add(p + ".concept_id", "must not be empty");
    } else if (!IsSnakeId(key.concept_id())) {
      v_.Add(p + ".concept_id", "must be lower snake case ([a-z][a-z0-9_]*)");
    }
    int fy_end = issuer ? issuer->fiscal_year_end_month() : 0;
    if (!key.has_period()) {
      v_.Add(p + ".period", "must be set");
    } else {
      Period(p + ".period", fy_end, *key.mutable_period());
    }
    if (key.has_comparison_period()) {
      Period(p + ".comparison_period", fy_end, *key.mutable_comparison_period());
    }
    if (!key.segment().empty() && issuer != nullptr && !catalog_.HasSegment(issuer->id(), key.segment())) {
      v_.Add(p + ".segment",
             absl::StrCat("unknown segment '", key.segment(), "' of issuer '", issuer->id(), "'"));
    }
  }

  // Fills in the period's dates; dates given must agree with the calendar.
  void Period(const Path& p, int fy_end, v1::FiscalPeriod& period) {
    for (auto [name, date] :
         {std::pair{"start_date", &period.start_date()}, std::pair{"end_date", &period.end_date()}}) {
      if (date->ByteSizeLong() > 0 && !IsValidDate(*date)) {
        v_.Add(p + "." + name, absl::StrCat("must be a valid calendar date, got ", date->year(), "-",
                                            date->month(), "-", date->day()));
        return;
      }
    }
    if (fy_end == 0) return;  // issuer unknown: already reported
    absl::StatusOr<PeriodSpan> span = PeriodDates(period, fy_end);
    if (!span.ok()) {
      v_.Add(p, absl::StrCat("no such period: ", span.status().message()));
      return;
    }
    auto check = [&](const char* name, bool has, const v1::Date& given, const CalendarDate& want) {
      if (has && !SameDate(given, want)) {
        v_.Add(p + "." + name, absl::StrCat("is ", FormatDate(given), " but the issuer's ",
                                            "calendar puts it at ", FormatDate(want)));
      }
    };
    check("start_date", period.has_start_date(), period.start_date(), span->start);
    check("end_date", period.has_end_date(), period.end_date(), span->end);
    // A date given is the one set (else refused above).
    if (!period.has_start_date() || !period.has_end_date()) MarkNormalised(kPeriodNormalised);
    SetDate(span->start, period.mutable_start_date());
    SetDate(span->end, period.mutable_end_date());
  }

  void Money(const Path& p, const v1::Money& money) {
    const std::string& code = money.currency_code();
    if (code.empty()) {
      v_.Add(p + ".currency_code", "must not be empty");
      return;
    }
    if (!IsKnownCurrency(code)) {
      v_.Add(p + ".currency_code", absl::StrCat("unknown currency '", code, "' (ISO 4217 code expected)"));
      return;
    }
    if (money.nanos() <= -1000000000 || money.nanos() >= 1000000000) {
      v_.Add(p + ".nanos", "must be between -999,999,999 and 999,999,999");
    } else if ((money.units() > 0 && money.nanos() < 0) || (money.units() < 0 && money.nanos() > 0)) {
      v_.Add(p + ".nanos", "must have the sign of units");
    } else if (MinorUnitDigits(code) == 0 && money.nanos() != 0) {
      v_.Add(p + ".nanos", absl::StrCat(code, " has no minor unit; nanos must be 0"));
    }
  }

  void Value(const Path& p, v1::Value& value) {
    switch (value.kind_case()) {
      case v1::Value::kMoney:
        Money(p + ".money", value.money());
        break;
      case v1::Value::kRatio:
        if (!IsDecimal(value.ratio().value())) {
          v_.Add(p + ".ratio.value", absl::StrCat("must be a decimal number like \"0.077\", got \"",
                                                  value.ratio().value().substr(0, 64), "\""));
        }
        break;
      case v1::Value::kCount:
        if (value.count() < 0) v_.Add(p + ".count", "must not be negative");
        break;
      default:
        v_.Add(p + ".kind", "must be set (money, ratio or count)");
    }
    const v1::Precision& precision = value.precision();
    switch (precision.rounding_case()) {
      case v1::Precision::kDecimals:
        if (precision.decimals() < -15 || precision.decimals() > 15) {
          v_.Add(p + ".precision.decimals", "must be between -15 and 15");
        }
        break;
      case v1::Precision::kExact:
        if (!precision.exact()) {
          v_.Add(p + ".precision.exact", "must be true when set");
        }
        break;
      default:
        v_.Add(p + ".precision", "must say how the figure was rounded (decimals) or that it is exact");
    }
    if (!v1::Qualifier_IsValid(precision.qualifier())) {
      v_.Add(p + ".precision.qualifier", "unknown qualifier");
    } else if (precision.qualifier() == v1::QUALIFIER_UNSPECIFIED) {
      MarkNormalised();
      value.mutable_precision()->set_qualifier(v1::QUALIFIER_EQUAL);
    }
  }

  void Placement(const Path& p, const v1::PrivatePlacement& pp) {
    if (pp.shares() <= 0) v_.Add(p + ".shares", "must be positive");
    Text(p + ".share_class", pp.share_class(), /*required=*/true);
    Text(p + ".allocation_method", pp.allocation_method(), /*required=*/true);
    // The rules on the amount not credited are measured against the issue
    // price: they are checked only when the price itself is valid, so a bad
    // price is reported once, as its own cause.
    bool price_valid = false;
    if (!pp.has_issue_price()) {
      v_.Add(p + ".issue_price", "must be set");
    } else {
      size_t before = v_.count();
      Money(p + ".issue_price", pp.issue_price());
      if (pp.issue_price().units() <= 0 && pp.issue_price().nanos() <= 0) {
        v_.Add(p + ".issue_price", "must be positive");
      }
      price_valid = v_.count() == before;
    }
    if (pp.has_amount_not_credited_per_share()) {
      const v1::Money& nc = pp.amount_not_credited_per_share();
      const Path np = p + ".amount_not_credited_per_share";
      Money(np, nc);
      if (nc.units() < 0 || nc.nanos() < 0) {
        v_.Add(np, "must not be negative");
      } else if (price_valid) {
        const v1::Money& price = pp.issue_price();
        // Companies Act art. 445: at least half of the amount paid in is
        // stated capital, so at most half may go to capital reserve.
        __int128 twice_nc = (static_cast<__int128>(nc.units()) * 1000000000 + nc.nanos()) * 2;
        __int128 whole = static_cast<__int128>(price.units()) * 1000000000 + price.nanos();
        if (nc.currency_code() != price.currency_code()) {
          v_.Add(np + ".currency_code", "must be the issue price's currency");
        } else if (twice_nc > whole) {
          v_.Add(np, "must be at most half of the issue price (Companies Act art. 445)");
        }
      }
    }
    struct NamedDate {
      const char* name;
      bool has;
      const v1::Date& date;
    };
    for (const NamedDate& d :
         {NamedDate{"application_date", pp.has_application_date(), pp.application_date()},
          NamedDate{"payment_date", pp.has_payment_date(), pp.payment_date()},
          NamedDate{"dividend_accrual_start", pp.has_dividend_accrual_start(),
                    pp.dividend_accrual_start()}}) {
      if (!d.has) {
        v_.Add(p + "." + d.name, "must be set");
      } else if (!IsValidDate(d.date)) {
        v_.Add(p + "." + d.name, absl::StrCat("must be a valid calendar date, got ", d.date.year(), "-",
                                              d.date.month(), "-", d.date.day()));
      }
    }
    if (IsValidDate(pp.application_date()) && IsValidDate(pp.payment_date()) &&
        CompareDates(pp.payment_date(), pp.application_date()) < 0) {
      v_.Add(p + ".payment_date", "must not be before application_date");
    }
  }

  void Text(const Path& p, const std::string& text, bool required) {
    if (required && text.empty()) {
      v_.Add(p, "must not be empty");
    } else if (text.size() > kMaxTextLength) {
      v_.Add(p, absl::StrCat("must be at most ", kMaxTextLength, " bytes"));
    }
  }

  void RequiredProvenance(const Path& item, bool has, const v1::Provenance& provenance) {
    if (!has) {
      v_.Add(item + ".provenance", "must be set (document, lines and quote)");
      return;
    }
    Provenance(item + ".provenance", provenance);
  }

  void Provenance(const Path& p, const v1::Provenance& provenance) {
    Text(p + ".document", provenance.document(), /*required=*/true);
    Text(p + ".quote", provenance.quote(), /*required=*/true);
    Text(p + ".note", provenance.note(), /*required=*/false);
    if (provenance.line_start() < 1) {
      v_.Add(p + ".line_start", "must be at least 1");
    } else if (provenance.line_end() < provenance.line_start()) {
      v_.Add(p + ".line_end", "must not be before line_start");
    }
  }

  void ServerSet(const Path& p, int32_t revision, uint64_t supersedes, bool has_known_at) {
    if (revision != 0) v_.Add(p + ".revision", "is set by the server; leave it 0");
    if (supersedes != 0) {
      v_.Add(p + ".supersedes_sequence", "is set by the server; leave it 0");
    }
    if (has_known_at) v_.Add(p + ".known_at", "is set by the server; leave it unset");
  }

  BatchCatalog& catalog_;
  Violations& v_;
  const bool track_live_;
  uint8_t* normalised_ = nullptr;
  uint8_t checking_ = 0;  // the Normalised part being checked
};

// The key of a fact, capital action or guidance, whose publication makes a
// new revision; "" for other items. Issuers are already resolved.
std::string RevisedItemKey(const v1::PublishItem& item) {
  switch (item.item_case()) {
    case v1::PublishItem::kFact:
      return FactKeyString(item.fact().key(), "fact:");
    case v1::PublishItem::kCapitalAction:
      return absl::StrCat("capital_action:", item.capital_action().issuer(), "/",
                          item.capital_action().action_id());
    case v1::PublishItem::kGuidance:
      return FactKeyString(item.guidance().key(), "guidance:");
    default:
      return "";
  }
}

}  // namespace

absl::StatusOr<std::vector<v1::PublishItem*>> ValidatePublish(v1::PublishRequest* mutable_request,
                                                              const Catalog& catalog,
                                                              std::vector<std::string>* item_keys,
                                                              std::vector<uint8_t>* normalised) {
  const v1::PublishRequest& request = *mutable_request;
  Violations v;
  if (request.items().empty()) {
    v.Add("items", "must not be empty");
    return v.ToStatus("batch");
  }
  if (request.items_size() > kMaxBatchItems) {
    v.Add("items", absl::StrCat("at most ", kMaxBatchItems, " items per batch, got ", request.items_size()));
    return v.ToStatus("batch");
  }
  if (request.publisher_id().empty() != request.batch_key().empty()) {
    v.Add(request.publisher_id().empty() ? "publisher_id" : "batch_key",
          "publisher_id and batch_key go together: set both or neither");
  }
  for (auto [name, value] :
       {std::pair{"publisher_id", &request.publisher_id()}, std::pair{"batch_key", &request.batch_key()}}) {
    if (value->size() > 128) v.Add(name, "must be at most 128 bytes");
  }
  BatchCatalog batch(catalog);
  const bool retractions = std::any_of(request.items().begin(), request.items().end(),
                                       [](const v1::PublishItem& item) { return item.has_retraction(); });
  ItemValidator check(batch, v, retractions);
  std::vector<v1::PublishItem*> items;
  items.reserve(request.items_size());
  for (v1::PublishItem& item : *mutable_request->mutable_items()) items.push_back(&item);
  const Path items_root("items");
  // The keys, then key -> index of the first valid item with it (views into
  // `keys`, which is sized once and never reallocates).
  std::vector<std::string> keys(items.size());
  absl::flat_hash_map<absl::string_view, size_t> first_with_key;
  first_with_key.reserve(items.size());
  if (normalised != nullptr) normalised->assign(items.size(), 0);
  for (size_t i = 0; i < items.size(); ++i) {
    v1::PublishItem& item = *items[i];
    check.RecordNormalised(normalised != nullptr ? &(*normalised)[i] : nullptr);
    const Path p(items_root, i);
    const size_t before = v.count();
    switch (item.item_case()) {
      case v1::PublishItem::kIssuer:
        check.Issuer(p + ".issuer", *item.mutable_issuer());
        break;
      case v1::PublishItem::kSegment:
        check.Segment(p + ".segment", *item.mutable_segment());
        break;
      case v1::PublishItem::kFact:
        check.Fact(p + ".fact", *item.mutable_fact());
        break;
      case v1::PublishItem::kCapitalAction:
        check.CapitalAction(p + ".capital_action", *item.mutable_capital_action());
        break;
      case v1::PublishItem::kGuidance:
        check.Guidance(p + ".guidance", *item.mutable_guidance());
        break;
      case v1::PublishItem::kRetraction:
        check.Retraction(p + ".retraction", *item.mutable_retraction());
        break;
      default:
        v.Add(p, "must hold an issuer, segment, fact, capital_action, guidance or retraction");
    }
    // One batch revises an item once: a second revision of it in the same
    // batch (also under an issuer alias) is refused, naming both items.
    if (v.count() != before) continue;
    keys[i] = RevisedItemKey(item);
    if (keys[i].empty()) continue;
    auto [first, inserted] = first_with_key.try_emplace(absl::string_view(keys[i]), i);
    if (!inserted) {
      v.Add(p, absl::StrCat("has the same key ", keys[first->second], " as items[", first->second,
                            "]; one batch may revise an item once"));
    }
  }
  if (!v.empty()) return v.ToStatus("batch");
  if (item_keys != nullptr) *item_keys = std::move(keys);
  return items;
}

absl::StatusOr<std::vector<v1::PublishItem>> ValidatePublish(const v1::PublishRequest& request,
                                                             const Catalog& catalog) {
  v1::PublishRequest copy = request;
  absl::StatusOr<std::vector<v1::PublishItem*>> items = ValidatePublish(&copy, catalog);
  if (!items.ok()) return items.status();
  std::vector<v1::PublishItem> out;
  out.reserve(items->size());
  for (v1::PublishItem* item : *items) out.push_back(std::move(*item));
  return out;
}

absl::StatusOr<v1::Filter> ValidateFilter(const v1::Filter& filter, const Catalog& catalog) {
  Violations v;
  v1::Filter out = filter;
  for (int i = 0; i < out.issuers_size(); ++i) {
    const v1::Issuer* issuer = catalog.FindIssuer(out.issuers(i));
    if (issuer == nullptr) {
      v.Add(absl::StrCat("filter.issuers[", i, "]"),
            absl::StrCat("unknown issuer '", out.issuers(i).substr(0, 64), "'"));
    } else {
      out.set_issuers(i, issuer->id());
    }
  }
  for (int i = 0; i < out.concepts_size(); ++i) {
    if (!IsSnakeId(out.concepts(i))) {
      v.Add(absl::StrCat("filter.concepts[", i, "]"), "must be lower snake case ([a-z][a-z0-9_]*)");
    }
  }
  for (int i = 0; i < out.segments_size(); ++i) {
    bool known = false;
    if (out.issuers().empty()) {
      // Without an issuer filter a segment id may belong to any issuer.
      known = IsSnakeId(out.segments(i));
    } else {
      for (const std::string& issuer : out.issuers()) {
        known = known || catalog.HasSegment(issuer, out.segments(i));
      }
    }
    if (!known) {
      v.Add(absl::StrCat("filter.segments[", i, "]"),
            absl::StrCat("unknown segment '", out.segments(i).substr(0, 64), "'"));
    }
  }
  for (int i = 0; i < out.event_kinds_size(); ++i) {
    if (out.event_kinds(i) == v1::EVENT_KIND_UNSPECIFIED || !v1::EventKind_IsValid(out.event_kinds(i))) {
      v.Add(absl::StrCat("filter.event_kinds[", i, "]"),
            "must be ISSUER, SEGMENT, FACT, CAPITAL_ACTION, GUIDANCE or RETRACTION");
    }
  }
  if (!v.empty()) return v.ToStatus("filter");
  return out;
}

}  // namespace kessan
