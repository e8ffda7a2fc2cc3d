// libFuzzer target: a Subscribe request as kessand takes it
// (rpc/feed_service.cc, authentication off): the bytes decoded as a
// kessan.v1.SubscribeRequest, then Feed::Subscribe (view, filter, start
// mode and resume position, slow-consumer policy, heartbeat) against a feed
// holding the IIJ data set, and what the subscription queues before live
// events: its snapshot or backlog, read to the end.
#include <cstdint>
#include <cstdlib>

#include "event/filter.h"
#include "fuzz_feed.h"
#include "model/validate.h"

namespace {

bool Refusal(absl::StatusCode code) {
  return code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kOutOfRange;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)kessan::fuzz::IijFeed();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kessan::v1::SubscribeRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  kessan::Feed& feed = kessan::fuzz::IijFeed();
  const uint64_t head = feed.last_sequence();
  absl::StatusOr<std::shared_ptr<kessan::Subscription>> subscription = feed.Subscribe(request);
  if (!subscription.ok()) {
    if (!Refusal(subscription.status().code())) std::abort();
    return 0;
  }
  // Accepted: the filter is one validation accepts, and everything queued
  // matches it.
  const kessan::fuzz::DataSetCatalog catalog(kessan::fuzz::IijDataSet());
  absl::StatusOr<kessan::v1::Filter> valid = kessan::ValidateFilter(request.filter(), catalog);
  if (!valid.ok()) std::abort();
  const kessan::EventFilter filter(*valid);
  // A resume from another incarnation's sequences starts over: a resync,
  // then a snapshot.
  const bool from_sequence = request.start() == kessan::v1::START_MODE_FROM_SEQUENCE;
  const bool resync =
      from_sequence && !request.incarnation().empty() && request.incarnation() != feed.incarnation();
  const bool resume = from_sequence && !resync;
  uint64_t last = resume ? request.from_sequence() : 0;
  bool first = true;
  for (int idle = 0;;) {
    if (!(*subscription)->AwaitReads(absl::Seconds(30))) std::abort();
    std::vector<kessan::EventPtr> taken = (*subscription)->Take(256, 1 << 20);
    if (taken.empty()) {
      if (!(*subscription)->reading()) break;
      if (++idle > 1000) std::abort();  // a read that never comes
      continue;
    }
    for (const kessan::EventPtr& e : taken) {
      if (first && resync && !e->event().has_resync()) std::abort();
      first = false;
      const uint64_t sequence = e->event().sequence();
      if (sequence == 0) continue;  // snapshot marks, heartbeats
      if (sequence > head) std::abort();
      if (!filter.Matches(e->attrs())) std::abort();
      // A resume is exactly the events after the point asked for, in order.
      if (resume && sequence <= last) std::abort();
      if (resume) last = sequence;
    }
  }
  if (std::optional<absl::Status> end = (*subscription)->Finished();
      end.has_value() && !end->ok() && end->code() != absl::StatusCode::kResourceExhausted) {
    std::abort();  // a journal the feed wrote itself reads back whole
  }
  feed.Unsubscribe(subscription->get());
  return 0;
}
