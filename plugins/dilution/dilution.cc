// dilution: what IIJ's private placement (or any private placement in the
// feed) does to proceeds, capital, share count, ownership and per-share
// figures. Money in exact integer units of the placement's currency;
// ratios as decimal strings with 6 digits, per-share figures with 2.
// Arithmetic is checked: a figure that overflows is OUT_OF_RANGE naming the
// parameter it came from.
#include <limits>
#include <stdexcept>
#include <string>

#include "kessan/plugin_sdk.h"

namespace {

using kessan::plugin::AddDecimal;
using kessan::plugin::AddFlag;
using kessan::plugin::AddMoney;
using kessan::plugin::CheckedMul;
using kessan::plugin::FormatGrouped;
using kessan::plugin::FormatRatio;
using kessan::plugin::int128;
using kessan::plugin::Status;
namespace v1 = kessan::v1;

constexpr int kRatioDigits = 6;
constexpr int kPerShareDigits = 2;

// The placement to use: the one named by action_id, else the latest one.
const v1::FeedEvent* ChoosePlacement(const v1::PluginRunRequest& r, const std::string& action_id) {
  const v1::FeedEvent* best = nullptr;
  for (const v1::FeedEvent& e : r.inputs()) {
    if (!e.has_capital_action() || !e.capital_action().has_private_placement()) continue;
    if (!action_id.empty() && e.capital_action().action_id() != action_id) continue;
    if (best == nullptr || e.sequence() > best->sequence()) best = &e;
  }
  return best;
}

// A money parameter, when given; checks its currency.
Status OptionalMoney(const v1::PluginRunRequest& r, const std::string& name, const std::string& currency,
                     bool* present, int128* units) {
  const v1::ParameterValue* p = kessan::plugin::FindParameter(r, name);
  *present = p != nullptr && p->has_money();
  if (!*present) return Status::Ok();
  if (p->money().currency_code() != currency) {
    return Status::InvalidArgument("parameter " + name + ": currency " + p->money().currency_code() +
                                   " differs from the placement's " + currency);
  }
  *units = p->money().units();
  return Status::Ok();
}

std::string PerShare(int128 num, int128 den) { return FormatRatio(num, den, kPerShareDigits); }

// Runs `compute`; an overflow in it is OUT_OF_RANGE naming `source` (the
// parameter, or the placement, whose value made the figures overflow).
template <typename Fn>
Status Checked(const std::string& source, Fn compute) {
  try {
    compute();
    return Status::Ok();
  } catch (const std::overflow_error& e) {
    return Status::OutOfRange(source + ": the figures it gives overflow (" + e.what() + ")");
  }
}

class Dilution : public kessan::plugin::Scenario {
 public:
  v1::ScenarioDescriptor Describe() const override {
    v1::ScenarioDescriptor d;
    d.set_name("dilution");
    d.set_version("1.0.0");
    d.set_title("Dilution from a private placement");
    d.set_description(
        "Gross proceeds, the split between stated capital and capital reserve, pro-forma shares, "
        "ownership dilution, and EPS / book value per share before and after a private placement.");
    v1::ParameterSpec* p = kessan::plugin::AddParameter(
        &d, "shares_outstanding_before", v1::PARAMETER_TYPE_INTEGER, "shares",
        "Shares outstanding before the issue. Not stated in the release: give it.");
    p->set_required(true);
    p->mutable_min()->set_integer(1);
    kessan::plugin::AddParameter(&d, "net_income", v1::PARAMETER_TYPE_MONEY, "JPY",
                                 "Net income for EPS before and after (optional).");
    p = kessan::plugin::AddParameter(
        &d, "book_equity", v1::PARAMETER_TYPE_MONEY, "JPY",
        "Shareholders' equity before the issue, for book value per share (optional).");
    p->mutable_min()->mutable_money()->set_currency_code("JPY");
    p = kessan::plugin::AddParameter(
        &d, "market_price", v1::PARAMETER_TYPE_MONEY, "JPY",
        "Market price per share, for the issue's premium or discount (optional).");
    p->mutable_min()->mutable_money()->set_currency_code("JPY");
    p->mutable_min()->mutable_money()->set_units(1);
    p = kessan::plugin::AddParameter(&d, "action_id", v1::PARAMETER_TYPE_STRING, "",
                                     "Capital action to use; empty: the latest private placement.");
    p->mutable_default_value()->set_text("");
    kessan::plugin::AddInput(&d, v1::EVENT_KIND_CAPITAL_ACTION, "", "",
                             "the private placement: shares, issue price, amount not credited to capital");
    return d;
  }

  Status Run(const v1::PluginRunRequest& r, v1::PluginRunResponse* out) override {
    const v1::ParameterValue* before_p = kessan::plugin::FindParameter(r, "shares_outstanding_before");
    if (before_p == nullptr || !before_p->has_integer() || before_p->integer() <= 0) {
      return Status::InvalidArgument(
          "parameter shares_outstanding_before: required, a share count > 0 (the release does not "
          "state the shares outstanding before the issue)");
    }
    const v1::ParameterValue* action_p = kessan::plugin::FindParameter(r, "action_id");
    std::string action_id = action_p != nullptr ? action_p->text() : "";
    const v1::FeedEvent* event = ChoosePlacement(r, action_id);
    if (event == nullptr) {
      return Status::FailedPrecondition(action_id.empty()
                                            ? "no private placement in the feed for issuer " + r.issuer()
                                            : "no private placement '" + action_id + "' in the feed");
    }
    const v1::PrivatePlacement& pp = event->capital_action().private_placement();
    const std::string currency = pp.issue_price().currency_code();
    if (pp.amount_not_credited_per_share().currency_code() != currency &&
        !pp.amount_not_credited_per_share().currency_code().empty()) {
      return Status::FailedPrecondition("placement: issue price and amount not credited differ in currency");
    }
    if (pp.issue_price().nanos() != 0 || pp.amount_not_credited_per_share().nanos() != 0) {
      return Status::FailedPrecondition("placement: prices with fractions of a unit are not supported");
    }
    out->add_used_sequences(event->sequence());

    const int128 before = before_p->integer();
    const int128 shares = pp.shares();
    const int128 price = pp.issue_price().units();
    const int128 not_credited = pp.amount_not_credited_per_share().units();
    if (shares <= 0 || price <= 0) {
      return Status::FailedPrecondition("placement: shares and issue price must be positive");
    }
    const int128 credited = price - not_credited;
    const int128 after = before + shares;  // both int64: exact in 128 bits
    if (after > std::numeric_limits<int64_t>::max()) {
      return Status::OutOfRange("parameter shares_outstanding_before: " + FormatGrouped(before) + " + " +
                                FormatGrouped(shares) + " new shares is above the largest share count, " +
                                FormatGrouped(std::numeric_limits<int64_t>::max()));
    }
    const int128 proceeds = shares * price;
    const std::string n = FormatGrouped(shares), pr = FormatGrouped(price);

    Status s = Checked("placement", [&] {
      AddMoney(out, "gross_proceeds", "Gross proceeds", currency, proceeds,
               n + " shares x " + currency + " " + pr + " issue price = " + FormatGrouped(proceeds));
      AddMoney(out, "stated_capital_increase", "Credited to stated capital", currency, shares * credited,
               n + " x (" + pr + " - " + FormatGrouped(not_credited) +
                   " not credited) = " + FormatGrouped(shares * credited));
      AddMoney(out, "capital_reserve_increase", "Credited to capital reserve", currency,
               shares * not_credited,
               n + " x " + FormatGrouped(not_credited) +
                   " not credited per share = " + FormatGrouped(shares * not_credited));
      kessan::plugin::AddCount(out, "pro_forma_shares", "Shares outstanding after the issue", after,
                               FormatGrouped(before) + " before + " + n + " new = " + FormatGrouped(after));
      AddDecimal(
          out, "ownership_dilution", "Ownership dilution of existing holders",
          FormatRatio(shares, after, kRatioDigits),
          n + " new / " + FormatGrouped(after) + " after, " + std::to_string(kRatioDigits) + " decimals");
      AddDecimal(
          out, "new_shares_to_existing", "New shares as a fraction of shares before",
          FormatRatio(shares, before, kRatioDigits),
          n + " new / " + FormatGrouped(before) + " before, " + std::to_string(kRatioDigits) + " decimals");
    });
    if (!s.ok()) return s;

    bool has = false;
    int128 v = 0;
    if (s = OptionalMoney(r, "net_income", currency, &has, &v); !s.ok()) return s;
    if (has) {
      s = Checked("parameter net_income", [&] {
        AddDecimal(out, "eps_before", "EPS before (" + currency + " per share)", PerShare(v, before),
                   FormatGrouped(v) + " / " + FormatGrouped(before) + " shares, 2 decimals");
        AddDecimal(out, "eps_after", "EPS after (" + currency + " per share)", PerShare(v, after),
                   FormatGrouped(v) + " / " + FormatGrouped(after) + " shares, 2 decimals");
        AddDecimal(out, "eps_change", "EPS change", FormatRatio(before - after, after, kRatioDigits),
                   "(" + FormatGrouped(before) + " / " + FormatGrouped(after) +
                       ") - 1: same income over more shares");
      });
      if (!s.ok()) return s;
    }
    if (s = OptionalMoney(r, "book_equity", currency, &has, &v); !s.ok()) return s;
    if (has) {
      s = Checked("parameter book_equity", [&] {
        const int128 equity_after = v + proceeds;
        AddDecimal(out, "book_value_per_share_before", "Book value per share before (" + currency + ")",
                   PerShare(v, before),
                   FormatGrouped(v) + " / " + FormatGrouped(before) + " shares, 2 decimals");
        AddDecimal(out, "book_value_per_share_after", "Book value per share after (" + currency + ")",
                   PerShare(equity_after, after),
                   "(" + FormatGrouped(v) + " + " + FormatGrouped(proceeds) + " proceeds) / " +
                       FormatGrouped(after) + " shares, 2 decimals");
        // after/after_shares > v/before  <=>  equity_after * before > v * after (exact).
        const bool accretive = CheckedMul(equity_after, before) > CheckedMul(v, after);
        AddFlag(out, "accretive_to_book_value", "Accretive to book value per share", accretive,
                std::string("book value per share after ") + (accretive ? ">" : "<=") +
                    " before, i.e. issue price " + pr + (accretive ? " >" : " <=") +
                    " book value per share before " + PerShare(v, before) + " (exact comparison)");
      });
      if (!s.ok()) return s;
    }
    if (s = OptionalMoney(r, "market_price", currency, &has, &v); !s.ok()) return s;
    if (has && v > 0) {
      s = Checked("parameter market_price", [&] {
        AddDecimal(out, "issue_premium_to_market", "Issue price premium (+) or discount (-) to market",
                   FormatRatio(price - v, v, kRatioDigits),
                   "(" + pr + " - " + FormatGrouped(v) + ") / " + FormatGrouped(v) + ", 6 decimals");
        AddMoney(out, "market_capitalisation_after", "Market capitalisation after, at the market price",
                 currency, after * v, FormatGrouped(after) + " shares x " + FormatGrouped(v));
      });
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }
};

}  // namespace

KESSAN_PLUGIN(Dilution)
