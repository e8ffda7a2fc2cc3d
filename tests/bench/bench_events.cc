#include "bench_events.h"

#include <string>

namespace kessan::bench {

v1::PublishRequest IssuerBatch() {
  v1::PublishRequest request;
  v1::Issuer* issuer = request.add_items()->mutable_issuer();
  issuer->set_id(kBenchIssuer);
  issuer->set_name("Kessan benchmark issuer");
  issuer->set_fiscal_year_end_month(3);
  v1::Provenance* p = issuer->mutable_provenance();
  p->set_document("kessan-bench");
  p->set_line_start(1);
  p->set_line_end(1);
  p->set_quote("Kessan benchmark issuer");
  p->set_note("Synthetic issuer of tests/bench/kessan_bench.cc; not a real company.");
  return request;
}

void FillFact(v1::PublishItem* item, uint64_t index, uint64_t send_ns, int pad) {
  v1::Fact* fact = item->mutable_fact();
  v1::FactKey* key = fact->mutable_key();
  key->set_issuer(kBenchIssuer);
  key->set_concept_id("bench_probe");
  v1::FiscalPeriod* period = key->mutable_period();
  period->set_fiscal_year(1900 + static_cast<int>((index / 4) % 256));
  period->set_kind(v1::PERIOD_KIND_QUARTER);
  period->set_number(static_cast<int>(index % 4) + 1);
  v1::Value* value = fact->mutable_value();
  value->set_count(static_cast<int64_t>(send_ns));
  value->mutable_precision()->set_exact(true);
  value->mutable_precision()->set_qualifier(v1::QUALIFIER_EQUAL);
  v1::Provenance* p = fact->mutable_provenance();
  p->set_document("kessan-bench");
  p->set_line_start(1);
  p->set_line_end(1);
  p->set_quote("bench probe");
  if (static_cast<int>(p->note().size()) != pad) p->set_note(std::string(pad > 0 ? pad : 0, 'x'));
}

}  // namespace kessan::bench
