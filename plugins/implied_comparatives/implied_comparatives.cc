// implied_comparatives: prior-period figures implied by reported growth
// rates. A release that says "revenue JPY 13 billion, up 7.7% on 4Q01"
// implies 4Q01 revenue = 13 bn / 1.077, but only to the precision stated:
// JPY 13 billion is [12.5 bn, 13.5 bn) and 7.7% is [7.65%, 7.75%). The
// plugin returns the interval that holds every prior figure consistent
// with both, rounded outward to whole units.
#include <algorithm>
#include <string>

#include "kessan/plugin_sdk.h"

namespace {

using kessan::plugin::FormatGrouped;
using kessan::plugin::int128;
using kessan::plugin::ParseDecimal;
using kessan::plugin::Pow10;
using kessan::plugin::ScaledDecimal;
using kessan::plugin::Status;
namespace v1 = kessan::v1;

std::string Label(const v1::FiscalPeriod& p) {
  std::string s = "FY" + std::to_string(p.fiscal_year());
  if (p.kind() == v1::PERIOD_KIND_QUARTER) s += "Q" + std::to_string(p.number());
  if (p.kind() == v1::PERIOD_KIND_HALF) s += "H" + std::to_string(p.number());
  return s;
}

// Human label as the release writes it: "4Q01", "FY2001".
std::string ShortLabel(const v1::FiscalPeriod& p) {
  if (p.kind() == v1::PERIOD_KIND_QUARTER) {
    int yy = p.fiscal_year() % 100;
    return std::to_string(p.number()) + "Q" + (yy < 10 ? "0" : "") + std::to_string(yy);
  }
  return Label(p);
}

int128 FloorDiv(int128 a, int128 b) {
  int128 q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int128 CeilDiv(int128 a, int128 b) { return -FloorDiv(-a, b); }

// Half a unit of the last stated digit of a money figure, in whole units
// (decimals -9: 500,000,000); 0 for exact figures and decimals >= 0.
int128 HalfUlp(const v1::Precision& p) {
  if (p.rounding_case() != v1::Precision::kDecimals || p.decimals() >= 0) return 0;
  return 5 * Pow10(-p.decimals() - 1);
}

class ImpliedComparatives : public kessan::plugin::Scenario {
 public:
  v1::ScenarioDescriptor Describe() const override {
    v1::ScenarioDescriptor d;
    d.set_name("implied_comparatives");
    d.set_version("1.0.0");
    d.set_title("Prior-period figures implied by reported growth rates");
    d.set_description(
        "For every reported growth rate X_growth of a period against a comparison period, and the "
        "reported X of that period: the comparison period's X, as the interval consistent with the "
        "precision both figures were stated with.");
    v1::ParameterSpec* p = kessan::plugin::AddParameter(
        &d, "concepts", v1::PARAMETER_TYPE_STRING, "",
        "Comma-separated concepts to derive (each needs <concept> and <concept>_growth facts).");
    p->mutable_default_value()->set_text("revenue,adjusted_ebitda");
    for (const char* c : {"revenue", "adjusted_ebitda"}) {
      kessan::plugin::AddInput(&d, v1::EVENT_KIND_FACT, c, "", std::string("reported ") + c);
      kessan::plugin::AddInput(&d, v1::EVENT_KIND_FACT, std::string(c) + "_growth", "",
                               std::string("growth of ") + c + " on a comparison period");
    }
    return d;
  }

  Status Run(const v1::PluginRunRequest& r, v1::PluginRunResponse* out) override {
    const v1::ParameterValue* cp = kessan::plugin::FindParameter(r, "concepts");
    std::string list = cp != nullptr ? cp->text() : "revenue,adjusted_ebitda";
    int derived = 0;
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      std::string concept_id =
          list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      start = comma == std::string::npos ? list.size() + 1 : comma + 1;
      if (concept_id.empty()) continue;
      for (const v1::FeedEvent& e : r.inputs()) {
        if (!e.has_fact()) continue;
        const v1::FactKey& key = e.fact().key();
        if (key.concept_id() != concept_id + "_growth" || !key.segment().empty() ||
            !key.has_comparison_period()) {
          continue;
        }
        const v1::FeedEvent* base = kessan::plugin::FindFact(r, concept_id, key.period());
        if (base == nullptr || !base->fact().value().has_money()) continue;
        if (Status s = Derive(concept_id, *base, e, out); !s.ok()) return s;
        ++derived;
      }
    }
    if (derived == 0) {
      return Status::FailedPrecondition("no pair of a figure and its growth rate in the feed for issuer " +
                                        r.issuer() + " (concepts " + list + ")");
    }
    return Status::Ok();
  }

 private:
  static Status Derive(const std::string& concept_id, const v1::FeedEvent& base, const v1::FeedEvent& growth,
                       v1::PluginRunResponse* out) {
    const v1::Value& bv = base.fact().value();
    const v1::Value& gv = growth.fact().value();
    const v1::FactKey& key = growth.fact().key();
    const std::string name = concept_id + "_" + Label(key.comparison_period());
    const std::string label =
        ShortLabel(key.comparison_period()) + " " + concept_id + " implied by " + ShortLabel(key.period());
    ScaledDecimal g;
    if (!ParseDecimal(gv.ratio().value(), &g)) {
      kessan::plugin::AddOutput(out, name, label, "")
          ->set_text("growth rate '" + gv.ratio().value() + "' is not a decimal");
      return Status::Ok();
    }
    if (gv.precision().qualifier() != v1::QUALIFIER_EQUAL &&
        gv.precision().qualifier() != v1::QUALIFIER_UNSPECIFIED) {
      kessan::plugin::AddOutput(out, name, label, "")->set_text("growth rate is a bound, not a figure");
      return Status::Ok();
    }
    // Work at scale S = stated digits + 1 so the half-digit is an integer.
    const int stated =
        gv.precision().rounding_case() == v1::Precision::kDecimals ? gv.precision().decimals() : g.scale;
    const bool exact_growth = gv.precision().rounding_case() == v1::Precision::kExact;
    const int S = std::max(g.scale, stated) + 1;
    const int128 G = kessan::plugin::Rescale(g, S);
    const int128 D = exact_growth ? 0 : 5 * Pow10(S - stated - 1);
    const int128 one = Pow10(S);
    const int128 c = bv.money().units(), h = HalfUlp(bv.precision());
    if (one + G - D <= 0) {
      kessan::plugin::AddOutput(out, name, label, "")
          ->set_text("growth of -100% or less implies no prior figure");
      return Status::Ok();
    }
    int128 lo = 0, hi = 0;
    bool first = true;
    for (int128 num : {c - h, c + h}) {
      for (int128 den : {one + G - D, one + G + D}) {
        const int128 scaled = kessan::plugin::CheckedMul(num, one);  // overflow: OUT_OF_RANGE (SDK)
        int128 f = FloorDiv(scaled, den), cl = CeilDiv(scaled, den);
        if (first || f < lo) lo = f;
        if (first || cl > hi) hi = cl;
        first = false;
      }
    }
    out->add_used_sequences(base.sequence());
    out->add_used_sequences(growth.sequence());
    v1::Output* o = kessan::plugin::AddOutput(
        out, name, label,
        ShortLabel(key.period()) + " " + concept_id + " " + FormatGrouped(c) + " (+/- " + FormatGrouped(h) +
            ") / (1 + " + gv.ratio().value() + " (+/- " + kessan::plugin::FormatScaled(D, S) +
            ")); interval over the four corners, rounded outward to whole units; point estimate " +
            FormatGrouped(kessan::plugin::DivideRounded(kessan::plugin::CheckedMul(c, one), one + G)));
    v1::MoneyInterval* mi = o->mutable_money_interval();
    kessan::plugin::SetMoney(mi->mutable_low(), bv.money().currency_code(), lo);
    kessan::plugin::SetMoney(mi->mutable_high(), bv.money().currency_code(), hi);
    return Status::Ok();
  }
};

}  // namespace

KESSAN_PLUGIN(ImpliedComparatives)
