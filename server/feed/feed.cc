#include "feed/feed.h"

#include <algorithm>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"
#include "spdlog/spdlog.h"
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
    case v1::FeedEvent::kRetraction:
      return {e.retraction().revision(), e.sequence()};
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
    case v1::PublishItem::kRetraction:
      e.mutable_retraction()->Swap(item.mutable_retraction());
      stamp(e.mutable_retraction());
      break;
    default:
      break;
  }
}

// The item key a publish item will have once it is an event.
std::string PublishItemKey(const v1::PublishItem& item) {
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
    case v1::PublishItem::kRetraction:
      return ItemKeyOf(item.retraction().item());
    default:
      break;
  }
  return AttrsOf(e).item_key;
}

// FNV-1a over the items' deterministic encoding: stable across restarts.
uint64_t Fingerprint(const v1::PublishRequest& request) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    for (const v1::PublishItem& item : request.items()) {
      coded.WriteVarint64(item.ByteSizeLong());
      item.SerializeWithCachedSizes(&coded);
    }
  }
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
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
  Options options;
  options.clock = std::move(clock);
  return Open(std::move(log), std::move(options));
}

absl::StatusOr<std::unique_ptr<Feed>> Feed::Open(std::unique_ptr<EventLog> log,
                                                 Options options) {
  std::unique_ptr<Feed> feed(new Feed(std::move(log), std::move(options)));
  {
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
  }
  if (feed->options_.tick > absl::ZeroDuration()) {
    Feed* f = feed.get();
    feed->ticker_ = std::thread([f] {
      while (!f->stop_.WaitForNotificationWithTimeout(f->options_.tick)) f->Tick();
    });
  }
  return feed;
}

Feed::~Feed() {
  stop_.Notify();
  if (ticker_.joinable()) ticker_.join();
}

void Feed::Tick() { fanout_.Tick(options_.clock(), last_sequence()); }

absl::StatusOr<v1::PublishResponse> Feed::Replay(const BatchLocation& batch) {
  v1::PublishResponse response;
  response.set_duplicate(true);
  for (uint64_t i = 0; i < batch.count; ++i) {
    response.add_sequences(batch.first_sequence + i);
  }
  RETURN_IF_ERROR(log_->Read(batch.first_sequence - 1,
                             batch.first_sequence + batch.count - 1, batch.count,
                             [&](EventPtr e) { *response.add_events() = e->event; })
                      .status());
  return response;
}

void Feed::MaybePruneLocked() {
  uint64_t retain = options_.retain_events;
  uint64_t head = state_.last_sequence();
  if (retain == 0 || head < retain) return;
  // Prune in steps of an eighth of the window, not at every publish.
  uint64_t horizon = head - retain + 1;
  if (horizon < log_->first_sequence() + std::max<uint64_t>(1, retain / 8)) return;
  absl::StatusOr<size_t> pruned = log_->Prune(horizon);
  if (!pruned.ok()) {
    spdlog::warn("journal retention: {}", pruned.status().ToString());
  }
}

absl::StatusOr<v1::PublishResponse> Feed::Publish(const v1::PublishRequest& request) {
  absl::MutexLock lock(&mu_);
  std::optional<BatchRecord> batch;
  if (!request.publisher_id().empty() && !request.batch_key().empty()) {
    batch = BatchRecord{request.publisher_id(), request.batch_key(), Fingerprint(request)};
    ASSIGN_OR_RETURN(std::optional<BatchLocation> earlier,
                     log_->FindBatch(batch->publisher_id, batch->batch_key));
    if (earlier.has_value()) {
      if (earlier->fingerprint != batch->fingerprint) {
        return absl::AlreadyExistsError(absl::StrCat(
            "batch_key '", batch->batch_key, "' of publisher '", batch->publisher_id,
            "' was used for a different batch (sequences ", earlier->first_sequence, "..",
            earlier->first_sequence + earlier->count - 1, ")"));
      }
      return Replay(*earlier);
    }
  }
  ASSIGN_OR_RETURN(std::vector<v1::PublishItem> items, ValidatePublish(request, state_));
  google::protobuf::Timestamp now = ToTimestamp(options_.clock());
  uint64_t sequence = state_.last_sequence();
  std::map<std::string, Revision> in_batch;
  std::vector<EventPtr> events;
  events.reserve(items.size());
  for (v1::PublishItem& item : items) {
    std::string key = PublishItemKey(item);
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
  RETURN_IF_ERROR(log_->Append(events, batch ? &*batch : nullptr));
  v1::PublishResponse response;
  for (const EventPtr& e : events) {
    state_.Apply(e);
    response.add_sequences(e->sequence());
    *response.add_events() = e->event;
  }
  fanout_.Deliver(events);
  MaybePruneLocked();
  return response;
}

absl::StatusOr<v1::GetSnapshotResponse> Feed::Snapshot(const v1::Filter& filter) {
  v1::GetSnapshotRequest request;
  *request.mutable_filter() = filter;
  return Snapshot(request);
}

absl::StatusOr<std::vector<EventPtr>> Feed::ViewLocked(const EventFilter& filter,
                                                       const v1::PointInTime& when) {
  View view;
  switch (when.view()) {
    case v1::REVISION_VIEW_UNSPECIFIED:
    case v1::REVISION_VIEW_LATEST:
      return state_.Snapshot(filter);
    case v1::REVISION_VIEW_FIRST_REPORTED:
      view = View::kFirstReported;
      break;
    case v1::REVISION_VIEW_AS_OF:
      if (!when.has_as_of()) {
        return absl::InvalidArgumentError(
            "point_in_time.as_of: must be set with REVISION_VIEW_AS_OF");
      }
      view = View::kAsOf;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("point_in_time.view: unknown view ", when.view()));
  }
  absl::Time as_of = absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(when.as_of()));
  std::vector<EventPtr> out;
  RETURN_IF_ERROR(log_->ReadView(view, as_of, state_.last_sequence(), [&](EventPtr e) {
    if (e->attrs.kind != v1::EVENT_KIND_RETRACTION && filter.Matches(e->attrs)) {
      out.push_back(std::move(e));
    }
  }));
  return out;
}

absl::StatusOr<v1::GetSnapshotResponse> Feed::Snapshot(const v1::GetSnapshotRequest& request) {
  absl::ReaderMutexLock lock(&mu_);
  ASSIGN_OR_RETURN(v1::Filter valid, ValidateFilter(request.filter(), state_));
  ASSIGN_OR_RETURN(std::vector<EventPtr> events,
                   ViewLocked(EventFilter(valid), request.point_in_time()));
  v1::GetSnapshotResponse response;
  response.set_sequence(state_.last_sequence());
  for (const EventPtr& e : events) *response.add_events() = e->event;
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
  options.max_queued = options_.max_queued_events;
  options.now = options_.clock();
  switch (request.slow_consumer_policy()) {
    case v1::SLOW_CONSUMER_POLICY_UNSPECIFIED:
    case v1::SLOW_CONSUMER_POLICY_DISCONNECT:
      options.policy = Subscription::Options::Policy::kDisconnect;
      break;
    case v1::SLOW_CONSUMER_POLICY_CONFLATE:
      options.policy = Subscription::Options::Policy::kConflate;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "slow_consumer_policy: unknown policy ", request.slow_consumer_policy()));
  }
  options.heartbeat_interval =
      request.heartbeat_interval_ms() == 0
          ? options_.default_heartbeat
          : std::clamp(absl::Milliseconds(request.heartbeat_interval_ms()),
                       options_.min_heartbeat, options_.max_heartbeat);
  auto snapshot = [&](EventPtr before) -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<EventPtr> items,
                     ViewLocked(options.filter, request.point_in_time()));
    options.initial.reserve(items.size() + 3);
    if (before) options.initial.push_back(std::move(before));
    options.initial.push_back(ControlEvent(true, head, 0));
    options.initial.insert(options.initial.end(), items.begin(), items.end());
    options.initial.push_back(ControlEvent(false, head, items.size()));
    return absl::OkStatus();
  };
  switch (request.start()) {
    case v1::START_MODE_UNSPECIFIED:
    case v1::START_MODE_SNAPSHOT_THEN_LIVE:
      RETURN_IF_ERROR(snapshot(nullptr));
      break;
    case v1::START_MODE_FROM_SEQUENCE: {
      if (request.from_sequence() > head) {
        return absl::OutOfRangeError(absl::StrCat(
            "from_sequence: ", request.from_sequence(),
            " is beyond the journal's last sequence ", head));
      }
      uint64_t oldest = log_->first_sequence();
      if (request.from_sequence() + 1 < oldest) {
        v1::FeedEvent resync;
        resync.mutable_resync()->set_requested_sequence(request.from_sequence());
        resync.mutable_resync()->set_oldest_available_sequence(oldest);
        resync.mutable_resync()->set_reason(absl::StrCat(
            "the journal keeps events from sequence ", oldest,
            " on (retention); a snapshot follows"));
        RETURN_IF_ERROR(snapshot(EncodeEvent(std::move(resync))));
        break;
      }
      options.backlog_after = request.from_sequence();
      options.backlog_up_to = head;
      break;
    }
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
