// libFuzzer target: Publish validation (model/validate.h) and subscription
// filters, against the IIJ data set's reference data. The input is a
// serialized kessan.v1.PublishRequest (and, the same bytes, a Filter).
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "event/filter.h"
#include "fuzz_feed.h"
#include "model/keys.h"
#include "model/validate.h"

namespace {

const kessan::fuzz::DataSetCatalog* catalog = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  catalog = new kessan::fuzz::DataSetCatalog(kessan::fuzz::IijDataSet());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kessan::v1::PublishRequest request;
  if (request.ParseFromArray(data, static_cast<int>(size))) {
    absl::StatusOr<std::vector<kessan::v1::PublishItem>> items = kessan::ValidatePublish(request, *catalog);
    if (items.ok()) {
      // Valid means every item is kept, and each has a key; a batch revises
      // an item once.
      if (static_cast<int>(items->size()) != request.items_size()) std::abort();
      std::set<std::string> revised;
      for (const auto& item : *items) {
        std::string key;
        if (item.has_fact()) key = kessan::FactKeyString(item.fact().key(), "fact:");
        if (item.has_guidance()) key = kessan::FactKeyString(item.guidance().key(), "guidance:");
        if (item.has_capital_action()) {
          key = "capital_action:" + item.capital_action().issuer() + "/" + item.capital_action().action_id();
        }
        if (!key.empty() && !revised.insert(key).second) std::abort();
        if (item.has_fact()) (void)kessan::FactKeyString(item.fact().key());
        if (item.has_fact()) (void)kessan::PeriodLabel(item.fact().key().period());
      }
    } else if (items.status().code() != absl::StatusCode::kInvalidArgument) {
      std::abort();
    }
  }
  kessan::v1::Filter filter;
  if (filter.ParseFromArray(data, static_cast<int>(size))) {
    absl::StatusOr<kessan::v1::Filter> valid = kessan::ValidateFilter(filter, *catalog);
    if (valid.ok()) {
      kessan::EventFilter matcher(*valid);
      kessan::EventAttrs attrs;
      attrs.issuer = "IIJ";
      attrs.kind = kessan::v1::EVENT_KIND_FACT;
      (void)matcher.Matches(attrs);
    }
  }
  return 0;
}
