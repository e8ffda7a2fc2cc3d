#include "feed/feed.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "model/validate.h"
#include "util/status_macros.h"

namespace kessan {
namespace {

using google::protobuf::util::TimeUtil;

constexpr size_t kReplayChunk = 4096;

struct Revision {
  int32_t revision = 0;
  uint64_t sequence = 0;
};

Revision RevisionOf(const v1::FeedEvent& e) {
  switch (e.body_case()) {
    case v1::FeedEvent::kFact:
      return {e.fact().revision(), e.sequence()};
    case v1::FeedEvent::kCapitalAction:
      return {e.capital_action().revision(), e.sequence()};
    case v1::FeedEvent::kGuidance:
      return {e.guidance().revision(), e.sequence()};
    default:
      return {1, e.sequence()};
  }
}

// Moves a validated item into the event body, stamping the fields the
// server owns: revision, supersedes_sequence and known_at.
void SetBody(v1::PublishItem item, const Revision& prior,
             const google::protobuf::Timestamp& now, v1::FeedEvent& e) {
  auto stamp = [&](auto* m) {
    m->set_revision(prior.revision + 1);
    m->set_supersedes_sequence(prior.sequence);
    *m->mutable_known_at() = now;
  };
  switch (item.item_case()) {
    case v1::PublishItem::kIssuer:
      e.mutable_issuer()->Swap(item.mutable_issuer());
      break;
    case v1::PublishItem::kSegment:
      e.mutable_segment()->Swap(item.mutable_segment());
      break;
    case v1::PublishItem::kFact:
      e.mutable_fact()->Swap(item.mutable_fact());
      stamp(e.mutable_fact());
      break;
    case v1::PublishItem::kCapitalAction:
      e.mutable_capital_action()->Swap(item.mutable_capital_action());
      stamp(e.mutable_capital_action());
      break;
    case v1::PublishItem::kGuidance:
      e.mutable_guidance()->Swap(item.mutable_guidance());
      stamp(e.mutable_guidance());
      break;
    default:
      break;
  }
}

// The item key a publish item will have once it is an event.
std::string ItemKeyOf(const v1::PublishItem& item) {
  v1::FeedEvent e;
  switch (item.item_case()) {
    case v1::PublishItem::kIssuer:
      e.mutable_issuer()->set_id(item.issuer().id());
      break;
    case v1::PublishItem::kSegment:
      e.mutable_segment()->set_issuer(item.segment().issuer());
      e.mutable_segment()->set_id(item.segment().id());
      break;
    case v1::PublishItem::kFact:
      *e.mutable_fact()->mutable_key() = item.fact().key();
      break;
    case v1::PublishItem::kCapitalAction:
      e.mutable_capital_action()->set_issuer(item.capital_action().issuer());
      e.mutable_capital_action()->set_action_id(item.capital_action().action_id());
      break;
    case v1::PublishItem::kGuidance:
      *e.mutable_guidance()->mutable_key() = item.guidance().key();
      break;
    default:
      break;
  }
  return AttrsOf(e).item_key;
}

EventPtr ControlEvent(bool begin, uint64_t sequence, uint64_t count) {
  v1::FeedEvent e;
  if (begin) {
    e.mutable_snapshot_begin()->set_sequence(sequence);
  } else {
    e.mutable_snapshot_end()->set_sequence(sequence);
    e.mutable_snapshot_end()->set_item_count(count);
  }
  return EncodeEvent(std::move(e));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Feed>> Feed::Open(std::unique_ptr<EventLog> log,
                                                 Clock clock) {
  std::unique_ptr<Feed> feed(new Feed(std::move(log), std::move(clock)));
  absl::MutexLock lock(&feed->mu_);
  uint64_t head = feed->log_->last_sequence();
  uint64_t at = 0;
  while (at < head) {
    ASSIGN_OR_RETURN(size_t n, feed->log_->Read(at, head, kReplayChunk, [&](EventPtr e) {
      feed->state_.Apply(e);
    }));
    if (n == 0) {
      return absl::DataLossError(absl::StrCat("journal ends at ", at, " before ", head));
    }
    at = feed->state_.last_sequence();
  }
  return feed;
}

absl::StatusOr<v1::PublishResponse> Feed::Publish(const v1::PublishRequest& request) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::vector<v1::PublishItem> items, ValidatePublish(request, state_));
  google::protobuf::Timestamp now = TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(clock_()));
  uint64_t sequence = state_.last_sequence();
  std::map<std::string, Revision> in_batch;
  std::vector<EventPtr> events;
  events.reserve(items.size());
  for (v1::PublishItem& item : items) {
    std::string key = ItemKeyOf(item);
    Revision prior;
    if (auto it = in_batch.find(key); it != in_batch.end()) {
      prior = it->second;
    } else if (EventPtr latest = state_.Latest(key)) {
      prior = RevisionOf(latest->event);
    }
    v1::FeedEvent e;
    e.set_sequence(++sequence);
    *e.mutable_time() = now;
    SetBody(std::move(item), prior, now, e);
    in_batch[key] = RevisionOf(e);
    events.push_back(EncodeEvent(std::move(e)));
  }
  RETURN_IF_ERROR(log_->Append(events));
  v1::PublishResponse response;
  for (const EventPtr& e : events) {
    state_.Apply(e);
    response.add_sequences(e->sequence());
    *response.add_events() = e->event;
  }
  fanout_.Deliver(events);
  return response;
}

absl::StatusOr<v1::GetSnapshotResponse> Feed::Snapshot(const v1::Filter& filter) {
  absl::ReaderMutexLock lock(&mu_);
  ASSIGN_OR_RETURN(v1::Filter valid, ValidateFilter(filter, state_));
  v1::GetSnapshotResponse response;
  response.set_sequence(state_.last_sequence());
  for (const EventPtr& e : state_.Snapshot(EventFilter(valid))) {
    *response.add_events() = e->event;
  }
  return response;
}

absl::StatusOr<std::shared_ptr<Subscription>> Feed::Subscribe(
    const v1::SubscribeRequest& request) {
  absl::ReaderMutexLock lock(&mu_);
  ASSIGN_OR_RETURN(v1::Filter valid, ValidateFilter(request.filter(), state_));
  uint64_t head = state_.last_sequence();
  Subscription::Options options;
  options.filter = EventFilter(valid);
  options.log = log_.get();
  switch (request.start()) {
    case v1::START_MODE_UNSPECIFIED:
    case v1::START_MODE_SNAPSHOT_THEN_LIVE: {
      std::vector<EventPtr> items = state_.Snapshot(options.filter);
      options.initial.reserve(items.size() + 2);
      options.initial.push_back(ControlEvent(true, head, 0));
      options.initial.insert(options.initial.end(), items.begin(), items.end());
      options.initial.push_back(ControlEvent(false, head, items.size()));
      break;
    }
    case v1::START_MODE_FROM_SEQUENCE:
      if (request.from_sequence() > head) {
        return absl::OutOfRangeError(absl::StrCat(
            "from_sequence: ", request.from_sequence(),
            " is beyond the journal's last sequence ", head));
      }
      options.backlog_after = request.from_sequence();
      options.backlog_up_to = head;
      break;
    case v1::START_MODE_LIVE_ONLY:
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("start: unknown start mode ", request.start()));
  }
  auto subscription = std::make_shared<Subscription>(std::move(options));
  fanout_.Add(subscription);
  return subscription;
}

void Feed::Unsubscribe(const Subscription* subscription) { fanout_.Remove(subscription); }

void Feed::CloseSubscriptions() {
  fanout_.CloseAll(absl::UnavailableError("kessand is shutting down; resume from the "
                                          "last sequence received"));
}

uint64_t Feed::last_sequence() const {
  absl::ReaderMutexLock lock(&mu_);
  return state_.last_sequence();
}

}  // namespace kessan
