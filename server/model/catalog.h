// Catalog: the reference data (issuers, segments) that validation checks
// published items against.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "kessan/v1/model.pb.h"

namespace kessan {

// Catalog is a read-only view; implementations say whether they are
// thread-safe.
class Catalog {
 public:
  virtual ~Catalog() = default;
  // The issuer whose id or alias is `id_or_alias`, or nullptr.
  virtual const v1::Issuer* FindIssuer(absl::string_view id_or_alias) const = 0;
  // True when `issuer` (a canonical id) has the segment `segment_id`.
  virtual bool HasSegment(absl::string_view issuer, absl::string_view segment_id) const = 0;
  // True when the item with this key exists and is not retracted.
  virtual bool HasLiveItem(const std::string& item_key) const = 0;
};

}  // namespace kessan
