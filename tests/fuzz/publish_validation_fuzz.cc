// libFuzzer target: Publish validation (model/validate.h) and subscription
// filters, against the IIJ data set's reference data. The input is a
// serialized kessan.v1.PublishRequest (and, the same bytes, a Filter).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "dataset/dataset.h"
#include "event/filter.h"
#include "model/catalog.h"
#include "model/keys.h"
#include "model/validate.h"

namespace {

// The issuers and segments of a data set, as validation sees them.
class DataSetCatalog : public kessan::Catalog {
 public:
  explicit DataSetCatalog(const kessan::v1::DataSet& ds) : ds_(ds) {}
  const kessan::v1::Issuer* FindIssuer(absl::string_view name) const override {
    for (const auto& i : ds_.issuers()) {
      if (i.id() == name) return &i;
      for (const auto& a : i.aliases()) {
        if (a == name) return &i;
      }
    }
    return nullptr;
  }
  bool HasSegment(absl::string_view issuer, absl::string_view segment) const override {
    for (const auto& s : ds_.segments()) {
      if (s.issuer() == issuer && s.id() == segment) return true;
    }
    return false;
  }
  bool HasLiveItem(const std::string& key) const override { return key.size() % 2 == 0; }

 private:
  const kessan::v1::DataSet& ds_;
};

const kessan::v1::DataSet* data_set = nullptr;
const DataSetCatalog* catalog = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  absl::StatusOr<kessan::v1::DataSet> ds = kessan::LoadDataSet(KESSAN_FUZZ_DATASET);
  if (!ds.ok()) std::abort();
  data_set = new kessan::v1::DataSet(*std::move(ds));
  catalog = new DataSetCatalog(*data_set);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kessan::v1::PublishRequest request;
  if (request.ParseFromArray(data, static_cast<int>(size))) {
    absl::StatusOr<std::vector<kessan::v1::PublishItem>> items = kessan::ValidatePublish(request, *catalog);
    if (items.ok()) {
      // Valid means every item is kept, and each has a key.
      if (static_cast<int>(items->size()) != request.items_size()) std::abort();
      for (const auto& item : *items) {
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
