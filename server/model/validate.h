// Validation of publish batches and subscription filters.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kessan/v1/feed.pb.h"
#include "model/catalog.h"

namespace kessan {

inline constexpr int kMaxBatchItems = 1000;

// ValidatePublish checks every item of `request` against the model's rules
// and `catalog` (issuers and segments published earlier in the same batch
// count), and returns the items normalised: issuer aliases resolved to the
// canonical id, period dates filled in, an unspecified qualifier made EQUAL.
// Any broken rule refuses the whole batch with InvalidArgument whose message
// lists "items[i].field.path: rule" for each violation found.
absl::StatusOr<std::vector<v1::PublishItem>> ValidatePublish(const v1::PublishRequest& request,
                                                             const Catalog& catalog);
// What normalising changed in a fact's or guidance's fields, as bits.
enum Normalised : uint8_t {
  kKeyNormalised = 1,           // key: its issuer (an alias resolved)
  kValueNormalised = 2,         // value or bound (its qualifier)
  kTranslationsNormalised = 4,  // a translation's qualifier
  kPeriodNormalised = 8,        // key: a period's dates filled in
};

// The same, normalising the items of `request` in place; the pointers are
// to its items. On an error some items may be normalised already. With
// `item_keys`, on success it holds each item's key as AttrsOf gives it for a
// fact, capital action or guidance ("" for other items), in item order; with
// `normalised`, each item's Normalised bits (0 for an item left as it came).
absl::StatusOr<std::vector<v1::PublishItem*>> ValidatePublish(v1::PublishRequest* request,
                                                              const Catalog& catalog,
                                                              std::vector<std::string>* item_keys = nullptr,
                                                              std::vector<uint8_t>* normalised = nullptr);

// ValidateFilter checks a subscription or snapshot filter and returns it with
// issuer aliases resolved. A name that is unknown, or an unspecified event
// kind, is InvalidArgument naming the field ("filter.issuers[0]").
absl::StatusOr<v1::Filter> ValidateFilter(const v1::Filter& filter, const Catalog& catalog);

}  // namespace kessan
