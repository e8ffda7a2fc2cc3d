// plugins/testing/iij_inputs.h: IIJ facts and guidance as the feed hands
// them to a plugin (figures as in data/iij/iij_4q02_fy2002.txtpb).
#pragma once

#include <string>

#include "kessan/plugin_sdk.h"

namespace kessan::plugin::testing {

inline v1::FeedEvent MoneyFact(uint64_t seq, const std::string& concept_id, const v1::FiscalPeriod& period,
                               int64_t units, int decimals) {
  v1::FeedEvent e;
  e.set_sequence(seq);
  v1::Fact* f = e.mutable_fact();
  f->mutable_key()->set_issuer("IIJ");
  f->mutable_key()->set_concept_id(concept_id);
  *f->mutable_key()->mutable_period() = period;
  f->mutable_value()->mutable_money()->set_currency_code("JPY");
  f->mutable_value()->mutable_money()->set_units(units);
  f->mutable_value()->mutable_precision()->set_decimals(decimals);
  f->mutable_value()->mutable_precision()->set_qualifier(v1::QUALIFIER_EQUAL);
  f->set_revision(1);
  return e;
}

inline v1::FeedEvent RatioFact(uint64_t seq, const std::string& concept_id, const v1::FiscalPeriod& period,
                               const v1::FiscalPeriod& comparison, const std::string& ratio, int decimals) {
  v1::FeedEvent e;
  e.set_sequence(seq);
  v1::Fact* f = e.mutable_fact();
  f->mutable_key()->set_issuer("IIJ");
  f->mutable_key()->set_concept_id(concept_id);
  *f->mutable_key()->mutable_period() = period;
  *f->mutable_key()->mutable_comparison_period() = comparison;
  f->mutable_value()->mutable_ratio()->set_value(ratio);
  f->mutable_value()->mutable_precision()->set_decimals(decimals);
  f->mutable_value()->mutable_precision()->set_qualifier(v1::QUALIFIER_EQUAL);
  f->set_revision(1);
  return e;
}

inline v1::FeedEvent RatioGuidance(uint64_t seq, const std::string& concept_id,
                                   const v1::FiscalPeriod& period, const v1::FiscalPeriod* comparison,
                                   const std::string& ratio, v1::Qualifier qualifier) {
  v1::FeedEvent e;
  e.set_sequence(seq);
  v1::Guidance* g = e.mutable_guidance();
  g->mutable_key()->set_issuer("IIJ");
  g->mutable_key()->set_concept_id(concept_id);
  *g->mutable_key()->mutable_period() = period;
  if (comparison != nullptr) *g->mutable_key()->mutable_comparison_period() = *comparison;
  g->mutable_bound()->mutable_ratio()->set_value(ratio);
  g->mutable_bound()->mutable_precision()->set_qualifier(qualifier);
  return e;
}

inline v1::FiscalPeriod Q(int fy, int q) { return Period(fy, v1::PERIOD_KIND_QUARTER, q); }
inline v1::FiscalPeriod FY(int fy) { return Period(fy, v1::PERIOD_KIND_FULL_YEAR, 0); }

}  // namespace kessan::plugin::testing
