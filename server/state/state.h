// State: the latest revision of every item, rebuilt from the journal.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "event/encoded_event.h"
#include "event/filter.h"
#include "model/catalog.h"

namespace kessan {

// State holds the latest revision of each item (issuer, segment, fact,
// capital action, guidance) keyed by its item key, and the catalog of
// issuers and segments. Not thread-safe: the Feed guards it.
class State : public Catalog {
 public:
  // Applies a journaled event; events must come in sequence order.
  void Apply(const EventPtr& event);

  // The latest revision of `item_key`, or nullptr.
  EventPtr Latest(const std::string& item_key) const;
  // How item keys are hashed; the same, given the key's hash.
  using ItemHash = absl::flat_hash_map<std::string, EventPtr>::hasher;
  EventPtr Latest(absl::string_view item_key, size_t hash) const;

  // The latest revision of every item that `filter` matches, in sequence
  // order; retracted items are left out.
  std::vector<EventPtr> Snapshot(const EventFilter& filter) const;

  // The sequences of the latest revisions older than `horizon` (what
  // retention must keep).
  std::vector<uint64_t> LatestSequencesBelow(uint64_t horizon) const;

  uint64_t last_sequence() const { return last_sequence_; }
  size_t item_count() const { return items_.size(); }

  const v1::Issuer* FindIssuer(absl::string_view id_or_alias) const override;
  bool HasSegment(absl::string_view issuer, absl::string_view segment_id) const override;
  bool HasLiveItem(const std::string& item_key) const override;

 private:
  // Unordered: Snapshot sorts by sequence; lookups are on every publish.
  absl::flat_hash_map<std::string, EventPtr, ItemHash> items_;
  std::map<std::string, std::string, std::less<>> issuer_by_name_;  // id or alias -> id
  std::set<std::string, std::less<>> segments_;                     // "issuer/segment"
  uint64_t last_sequence_ = 0;
};

}  // namespace kessan
