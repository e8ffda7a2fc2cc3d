// revenue_outlook: next year's revenue under the issuer's growth guidance
// (IIJ: FY2003 revenue growth "more than 10%" on FY2002), in bear / base /
// bull cases, and the operating income each implies at a given margin.
#include <stdexcept>
#include <string>

#include "kessan/plugin_sdk.h"

namespace {

using kessan::plugin::FormatDecimal;
using kessan::plugin::FormatGrouped;
using kessan::plugin::int128;
using kessan::plugin::ParseDecimal;
using kessan::plugin::Pow10;
using kessan::plugin::ScaledDecimal;
using kessan::plugin::Status;
namespace v1 = kessan::v1;

std::string QualifierText(v1::Qualifier q) {
  switch (q) {
    case v1::QUALIFIER_GREATER_THAN:
      return "more than";
    case v1::QUALIFIER_LESS_THAN:
      return "less than";
    case v1::QUALIFIER_AT_LEAST:
      return "at least";
    case v1::QUALIFIER_AT_MOST:
      return "at most";
    default:
      return "equal to";
  }
}

// Does `value` satisfy "q bound"?
bool Meets(const ScaledDecimal& value, v1::Qualifier q, const ScaledDecimal& bound) {
  int c = kessan::plugin::Compare(value, bound);
  switch (q) {
    case v1::QUALIFIER_GREATER_THAN:
      return c > 0;
    case v1::QUALIFIER_LESS_THAN:
      return c < 0;
    case v1::QUALIFIER_AT_LEAST:
      return c >= 0;
    case v1::QUALIFIER_AT_MOST:
      return c <= 0;
    default:
      return c == 0;
  }
}

// units x decimal, rounded half away from zero to whole units.
int128 Times(int128 units, const ScaledDecimal& d) {
  return kessan::plugin::DivideRounded(kessan::plugin::CheckedMul(units, d.units), Pow10(d.scale));
}

class RevenueOutlook : public kessan::plugin::Scenario {
 public:
  v1::ScenarioDescriptor Describe() const override {
    v1::ScenarioDescriptor d;
    d.set_name("revenue_outlook");
    d.set_version("1.0.0");
    d.set_title("Revenue outlook under growth guidance");
    d.set_description(
        "Revenue of the guided year in bear / base / bull growth cases on the last reported full "
        "year, whether each case meets the guidance, and the operating income each implies at an "
        "operating margin.");
    auto decimal = [&](const char* name, const char* def, const char* min, const char* max,
                       const char* help) {
      v1::ParameterSpec* p =
          kessan::plugin::AddParameter(&d, name, v1::PARAMETER_TYPE_DECIMAL, "ratio", help);
      p->mutable_default_value()->mutable_decimal()->set_value(def);
      p->mutable_min()->mutable_decimal()->set_value(min);
      p->mutable_max()->mutable_decimal()->set_value(max);
    };
    decimal("bear_growth", "0.10", "-1", "10", "Bear-case revenue growth on the base year (0.10 = 10%).");
    decimal("base_growth", "0.15", "-1", "10", "Base-case revenue growth.");
    decimal("bull_growth", "0.20", "-1", "10", "Bull-case revenue growth.");
    decimal("operating_margin", "0.03", "-1", "1",
            "Operating margin applied to each case (guidance: operating margin > 0).");
    v1::ParameterSpec* y = kessan::plugin::AddParameter(
        &d, "base_fiscal_year", v1::PARAMETER_TYPE_INTEGER, "fiscal year",
        "The reported full year the growth applies to; the outlook is for the year after.");
    y->mutable_default_value()->set_integer(2002);
    y->mutable_min()->set_integer(1900);
    y->mutable_max()->set_integer(2999);
    kessan::plugin::AddInput(&d, v1::EVENT_KIND_FACT, "revenue", "", "base year revenue");
    kessan::plugin::AddInput(&d, v1::EVENT_KIND_GUIDANCE, "revenue_growth", "", "revenue growth guidance");
    kessan::plugin::AddInput(&d, v1::EVENT_KIND_GUIDANCE, "operating_margin", "",
                             "operating margin guidance");
    return d;
  }

  Status Run(const v1::PluginRunRequest& r, v1::PluginRunResponse* out) override {
    const v1::ParameterValue* year_p = kessan::plugin::FindParameter(r, "base_fiscal_year");
    const int year = year_p != nullptr ? static_cast<int>(year_p->integer()) : 2002;
    const v1::FiscalPeriod base = kessan::plugin::Period(year, v1::PERIOD_KIND_FULL_YEAR, 0);
    const v1::FiscalPeriod next = kessan::plugin::Period(year + 1, v1::PERIOD_KIND_FULL_YEAR, 0);
    const std::string base_label = "FY" + std::to_string(year), next_label = "FY" + std::to_string(year + 1);

    const v1::FeedEvent* revenue = kessan::plugin::FindFact(r, "revenue", base);
    if (revenue == nullptr || !revenue->fact().value().has_money()) {
      return Status::FailedPrecondition("no " + base_label + " revenue in the feed for issuer " + r.issuer());
    }
    out->add_used_sequences(revenue->sequence());
    const v1::Money& rev = revenue->fact().value().money();
    const std::string cur = rev.currency_code();
    const int128 rev_units = rev.units();

    const v1::FeedEvent* growth_g = kessan::plugin::FindFact(r, "revenue_growth", next, &base, true);
    ScaledDecimal bound;
    v1::Qualifier q = v1::QUALIFIER_UNSPECIFIED;
    bool has_guidance =
        growth_g != nullptr && ParseDecimal(growth_g->guidance().bound().ratio().value(), &bound);
    if (has_guidance) {
      out->add_used_sequences(growth_g->sequence());
      q = growth_g->guidance().bound().precision().qualifier();
      const ScaledDecimal one_plus{Pow10(bound.scale) + bound.units, bound.scale};
      kessan::plugin::AddMoney(
          out, "revenue_guidance_bound", next_label + " revenue implied by the guidance bound", cur,
          Times(rev_units, one_plus),
          "guidance: " + next_label + " revenue growth " + QualifierText(q) + " " + FormatDecimal(bound) +
              " on " + base_label + " revenue " + FormatGrouped(rev_units) + "; " + FormatGrouped(rev_units) +
              " x " + FormatDecimal(one_plus) + " (the bound itself, " + QualifierText(q) + ")");
    }
    const v1::FeedEvent* margin_g = kessan::plugin::FindFact(r, "operating_margin", next, nullptr, true);
    if (margin_g != nullptr) out->add_used_sequences(margin_g->sequence());

    ScaledDecimal margin;
    const v1::ParameterValue* margin_p = kessan::plugin::FindParameter(r, "operating_margin");
    if (margin_p == nullptr || !ParseDecimal(margin_p->decimal().value(), &margin)) {
      return Status::InvalidArgument("parameter operating_margin: a decimal is required");
    }
    ScaledDecimal margin_bound;
    if (margin_g != nullptr && ParseDecimal(margin_g->guidance().bound().ratio().value(), &margin_bound)) {
      v1::Qualifier mq = margin_g->guidance().bound().precision().qualifier();
      kessan::plugin::AddFlag(out, "operating_margin_meets_guidance", "Operating margin meets the guidance",
                              Meets(margin, mq, margin_bound),
                              "operating_margin " + FormatDecimal(margin) + " vs guidance " +
                                  QualifierText(mq) + " " + FormatDecimal(margin_bound));
    }

    for (const char* c : {"bear", "base", "bull"}) {
      const std::string name = std::string(c) + "_growth";
      const v1::ParameterValue* p = kessan::plugin::FindParameter(r, name);
      ScaledDecimal g;
      if (p == nullptr || !ParseDecimal(p->decimal().value(), &g)) {
        return Status::InvalidArgument("parameter " + name + ": a decimal is required");
      }
      int128 revenue_case = 0;
      try {
        const ScaledDecimal one_plus{kessan::plugin::CheckedAdd(Pow10(g.scale), g.units), g.scale};
        revenue_case = Times(rev_units, one_plus);
        kessan::plugin::AddMoney(
            out, std::string("revenue_") + c, next_label + " revenue, " + c + " case", cur, revenue_case,
            base_label + " revenue " + FormatGrouped(rev_units) + " x (1 + " + FormatDecimal(g) +
                ") = " + FormatGrouped(revenue_case) + ", rounded to whole units");
      } catch (const std::overflow_error& e) {
        return Status::OutOfRange("parameter " + name + ": the revenue it gives overflows (" + e.what() +
                                  ")");
      }
      try {
        const int128 oi = Times(revenue_case, margin);
        kessan::plugin::AddMoney(out, std::string("operating_income_") + c,
                                 next_label + " operating income, " + c + " case", cur, oi,
                                 FormatGrouped(revenue_case) + " x operating margin " +
                                     FormatDecimal(margin) + " = " + FormatGrouped(oi));
      } catch (const std::overflow_error& e) {
        return Status::OutOfRange("parameter operating_margin: the " + std::string(c) +
                                  " case's operating income overflows (" + e.what() + ")");
      }
      if (has_guidance) {
        kessan::plugin::AddFlag(
            out, std::string(c) + "_meets_guidance", std::string(c) + " case meets the growth guidance",
            Meets(g, q, bound),
            FormatDecimal(g) + " vs guidance " + QualifierText(q) + " " + FormatDecimal(bound));
      }
    }
    if (revenue->fact().value().precision().rounding_case() == v1::Precision::kDecimals) {
      kessan::plugin::AddOutput(out, "note", "Precision", "")
          ->set_text(base_label + " revenue is stated to 10^" +
                     std::to_string(-revenue->fact().value().precision().decimals()) + " (decimals " +
                     std::to_string(revenue->fact().value().precision().decimals()) +
                     "); the cases are computed on the stated figure");
    }
    return Status::Ok();
  }
};

}  // namespace

KESSAN_PLUGIN(RevenueOutlook)
