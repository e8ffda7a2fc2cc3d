// libFuzzer target: a GetSnapshot request as kessand takes it
// (rpc/feed_service.cc, authentication off): the bytes decoded as a
// kessan.v1.GetSnapshotRequest, then Feed::Snapshot (view, as_of, filter)
// against a feed holding the IIJ data set, a revision and a retraction.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "event/filter.h"
#include "fuzz_feed.h"
#include "model/keys.h"
#include "model/validate.h"

namespace {

// 2100-01-01: after the feed's items were published.
constexpr int64_t kYear2100 = 4102444800;

// The keys of the items in a snapshot.
std::set<std::string> Items(const kessan::v1::GetSnapshotResponse& snapshot) {
  std::set<std::string> keys;
  for (const kessan::v1::FeedEvent& e : snapshot.events()) keys.insert(kessan::AttrsOf(e).item_key);
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)kessan::fuzz::IijFeed();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kessan::v1::GetSnapshotRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  kessan::Feed& feed = kessan::fuzz::IijFeed();
  absl::StatusOr<kessan::v1::GetSnapshotResponse> snapshot = feed.Snapshot(request);
  if (!snapshot.ok()) {
    if (snapshot.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  // Answered: the filter is one validation accepts; every event matches it,
  // is journaled by the snapshot's sequence, is no retraction, and is the
  // only revision of its item in the view.
  if (snapshot->sequence() != feed.last_sequence()) std::abort();
  const kessan::fuzz::DataSetCatalog catalog(kessan::fuzz::IijDataSet());
  absl::StatusOr<kessan::v1::Filter> valid = kessan::ValidateFilter(request.filter(), catalog);
  if (!valid.ok()) std::abort();
  const kessan::EventFilter filter(*valid);
  const std::set<std::string> items = Items(*snapshot);
  for (const kessan::v1::FeedEvent& e : snapshot->events()) {
    const kessan::EventAttrs attrs = kessan::AttrsOf(e);
    if (e.sequence() == 0 || e.sequence() > snapshot->sequence()) std::abort();
    if (attrs.kind == kessan::v1::EVENT_KIND_RETRACTION || !filter.Matches(attrs)) std::abort();
  }
  if (items.size() != static_cast<size_t>(snapshot->events_size())) std::abort();
  // As of a time after everything was published: the latest view.
  if (request.point_in_time().view() == kessan::v1::REVISION_VIEW_AS_OF &&
      request.point_in_time().as_of().seconds() >= kYear2100) {
    kessan::v1::GetSnapshotRequest latest = request;
    latest.clear_point_in_time();
    absl::StatusOr<kessan::v1::GetSnapshotResponse> now = feed.Snapshot(latest);
    if (!now.ok() || Items(*now) != items) std::abort();
  }
  return 0;
}
