// ebitda_margin: adjusted EBITDA as a fraction of revenue, for every
// period the feed has both for.
#include "kessan/plugin_sdk.h"

namespace v1 = kessan::v1;
using kessan::plugin::Status;

class EbitdaMargin : public kessan::plugin::Scenario {
 public:
  v1::ScenarioDescriptor Describe() const override {
    v1::ScenarioDescriptor d;
    d.set_name("ebitda_margin");
    d.set_version("0.1.0");
    d.set_title("Adjusted EBITDA margin");
    auto* digits = kessan::plugin::AddParameter(&d, "digits", v1::PARAMETER_TYPE_INTEGER, "decimals",
                                                "Decimals of the margin.");
    digits->mutable_default_value()->set_integer(4);
    digits->mutable_min()->set_integer(0);
    digits->mutable_max()->set_integer(12);
    kessan::plugin::AddInput(&d, v1::EVENT_KIND_FACT, "revenue", "", "revenue of the period");
    kessan::plugin::AddInput(&d, v1::EVENT_KIND_FACT, "adjusted_ebitda", "", "adjusted EBITDA of the period");
    return d;
  }

  Status Run(const v1::PluginRunRequest& request, v1::PluginRunResponse* response) override {
    const int digits = static_cast<int>(kessan::plugin::FindParameter(request, "digits")->integer());
    for (const v1::FeedEvent& e : request.inputs()) {
      if (!e.has_fact() || e.fact().key().concept_id() != "adjusted_ebitda") continue;
      const v1::FeedEvent* revenue = kessan::plugin::FindFact(request, "revenue", e.fact().key().period());
      if (revenue == nullptr || revenue->fact().value().money().units() == 0) continue;
      const int64_t ebitda = e.fact().value().money().units();
      const int64_t sales = revenue->fact().value().money().units();
      const v1::FiscalPeriod& p = e.fact().key().period();
      std::string name = "margin_fy" + std::to_string(p.fiscal_year());
      if (p.kind() == v1::PERIOD_KIND_QUARTER) name += "q" + std::to_string(p.number());
      kessan::plugin::AddDecimal(response, name, "Adjusted EBITDA margin",
                                 kessan::plugin::FormatRatio(ebitda, sales, digits),
                                 std::to_string(ebitda) + " / " + std::to_string(sales));
      response->add_used_sequences(e.sequence());
      response->add_used_sequences(revenue->sequence());
    }
    if (response->outputs_size() == 0) return Status::FailedPrecondition("no period with both figures");
    return Status::Ok();
  }
};

KESSAN_PLUGIN(EbitdaMargin)
