#include "feed/feed.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"
#include "model/validate.h"
#include "spdlog/spdlog.h"
#include "util/log.h"
#include "util/status_macros.h"

namespace kessan {
namespace {

using google::protobuf::util::TimeUtil;

constexpr size_t kReplayChunk = 4096;

struct Revision {
  int32_t revision = 0;
  uint64_t sequence = 0;
};

// Moves a validated item into the event body.
void MoveBody(v1::PublishItem& item, v1::FeedEvent& e) {
  // On one arena the body changes hands by pointer, else by Swap.
  const bool one_arena = item.GetArena() != nullptr && item.GetArena() == e.GetArena();
#define KESSAN_MOVE_BODY(field)                                                \
  if (one_arena) {                                                             \
    e.unsafe_arena_set_allocated_##field(item.unsafe_arena_release_##field()); \
  } else {                                                                     \
    e.mutable_##field()->Swap(item.mutable_##field());                         \
  }
  switch (item.item_case()) {
    case v1::PublishItem::kIssuer:
      KESSAN_MOVE_BODY(issuer);
      break;
    case v1::PublishItem::kSegment:
      KESSAN_MOVE_BODY(segment);
      break;
    case v1::PublishItem::kFact:
      KESSAN_MOVE_BODY(fact);
      break;
    case v1::PublishItem::kCapitalAction:
      KESSAN_MOVE_BODY(capital_action);
      break;
    case v1::PublishItem::kGuidance:
      KESSAN_MOVE_BODY(guidance);
      break;
    case v1::PublishItem::kRetraction:
      KESSAN_MOVE_BODY(retraction);
      break;
    default:
      break;
  }
#undef KESSAN_MOVE_BODY
}

// `to` set to `t` field by field (a message assignment is a MergeFrom).
void SetTimestamp(const google::protobuf::Timestamp& t, google::protobuf::Timestamp* to) {
  to->set_seconds(t.seconds());
  to->set_nanos(t.nanos());
}

// Stamps the fields the server owns on a revisable body: revision,
// supersedes_sequence and known_at. Returns the event's revision (1 for
// issuers and segments, which have none).
int32_t Stamp(const Revision& prior, const google::protobuf::Timestamp& now, v1::FeedEvent& e) {
  auto stamp = [&](auto* m) {
    m->set_revision(prior.revision + 1);
    m->set_supersedes_sequence(prior.sequence);
    SetTimestamp(now, m->mutable_known_at());
  };
  switch (e.body_case()) {
    case v1::FeedEvent::kFact:
      stamp(e.mutable_fact());
      break;
    case v1::FeedEvent::kCapitalAction:
      stamp(e.mutable_capital_action());
      break;
    case v1::FeedEvent::kGuidance:
      stamp(e.mutable_guidance());
      break;
    case v1::FeedEvent::kRetraction:
      stamp(e.mutable_retraction());
      break;
    default:
      return 1;
  }
  return prior.revision + 1;
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

EventPtr ControlEvent(bool begin, uint64_t sequence, uint64_t count, const std::string& incarnation) {
  v1::FeedEvent e;
  if (begin) {
    e.mutable_snapshot_begin()->set_sequence(sequence);
    e.mutable_snapshot_begin()->set_incarnation(incarnation);
  } else {
    e.mutable_snapshot_end()->set_sequence(sequence);
    e.mutable_snapshot_end()->set_item_count(count);
  }
  return EncodeEvent(std::move(e));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Feed>> Feed::Open(std::unique_ptr<Journal> log, Clock clock) {
  Options options;
  options.clock = std::move(clock);
  return Open(std::move(log), std::move(options));
}

absl::StatusOr<std::unique_ptr<Feed>> Feed::Open(std::unique_ptr<Journal> log, Options options) {
  std::unique_ptr<Feed> feed(new Feed(std::move(log), std::move(options)));
  // Before the replay: a batch the journal reports meanwhile waits for mu_,
  // and what the replay read is skipped.
  Feed* f = feed.get();
  feed->log_->SetAppendListener([f](const std::vector<EventPtr>& events) { f->ApplyFollowed(events); });
  {
    absl::MutexLock lock(&feed->mu_);
    uint64_t head = feed->log_->last_sequence();
    uint64_t at = 0;
    absl::Status damaged;
    while (at < head) {
      ASSIGN_OR_RETURN(size_t n, feed->log_->Read(at, head, kReplayChunk, [&](EventPtr e) {
        if (damaged.ok()) damaged = CheckParsed(*e);
        if (damaged.ok()) feed->state_.Apply(e);
      }));
      RETURN_IF_ERROR(damaged);
      if (n == 0) {
        return absl::DataLossError(absl::StrCat("journal ends at ", at, " before ", head));
      }
      at = feed->state_.last_sequence();
    }
    feed->staged_last_ = feed->state_.last_sequence();
  }
  if (feed->options_.tick > absl::ZeroDuration()) {
    feed->ticker_ = std::thread([f] {
      while (!f->stop_.WaitForNotificationWithTimeout(f->options_.tick)) f->Tick();
    });
  }
  return feed;
}

Feed::~Feed() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  log_->SetAppendListener(nullptr);
  stop_.Notify();
  if (ticker_.joinable()) ticker_.join();
}

void Feed::Tick() { fanout_.Tick(options_.clock(), last_sequence()); }

absl::StatusOr<v1::PublishResponse> Feed::Replay(const BatchLocation& batch, bool with_events) {
  v1::PublishResponse response;
  response.set_duplicate(true);
  for (uint64_t i = 0; i < batch.count; ++i) {
    response.add_sequences(batch.first_sequence + i);
  }
  if (!with_events) return response;
  RETURN_IF_ERROR(log_->Read(batch.first_sequence - 1, batch.first_sequence + batch.count - 1, batch.count,
                             [&](EventPtr e) { *response.add_events() = e->event(); })
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
  absl::StatusOr<size_t> pruned = log_->Prune(horizon, state_.LatestSequencesBelow(horizon));
  if (!pruned.ok()) {
    Log().warn("journal retention: {}", pruned.status().ToString());
  }
}

struct Feed::PendingPublish {
  v1::PublishRequest* request = nullptr;
  absl::string_view retry_scope;
  // The items' bytes as they came, when known (Publish's `bodies`).
  const std::vector<ItemBody>* bodies = nullptr;
  absl::StatusOr<v1::PublishResponse> result = absl::UnknownError("not committed");
  bool done = false;
  // Set while the group is staged and committed.
  bool staged = false;
  uint64_t first_sequence = 0;
  size_t count = 0;
  PendingPublish* duplicate_of = nullptr;
  uint64_t fingerprint = 0;
  // The request as it came, for a journal shared by replicas: staging
  // validates it in place and moves its bodies out, and a restage needs it.
  std::unique_ptr<v1::PublishRequest> pristine;
};

// A commit group from staging (validated, stamped, encoded) until it is
// journaled and applied. Later groups stage on top of it meanwhile.
struct Feed::StagedGroup {
  std::vector<PendingPublish*> requests;
  uint64_t ticket = 0;
  uint64_t epoch = 0;
  uint64_t first = 0;
  std::vector<EventPtr> events;
  std::vector<BatchRecord> batches;
  // The group's latest revision of each item, and issuer ids and aliases
  // to their item keys: what later groups see before it is applied. The
  // keys are views of the item keys of events in `events`, which outlive them.
  absl::flat_hash_map<absl::string_view, EventPtr> latest;
  std::map<std::string, std::string> issuer_names;
  // A batch key of a group not journaled yet: stage again once it is.
  bool wait_for_earlier = false;
  // From BeginGroup to CommitGroup: the append under way, or none when the
  // group is empty or void (staged on a group that failed).
  std::unique_ptr<PendingAppend> append;
  bool voided = false;
  std::chrono::steady_clock::time_point begun;
};

namespace {

constexpr size_t kMaxGroupRequests = 256;
constexpr size_t kMaxGroupItems = 16 * kMaxBatchItems;
constexpr size_t kMaxSharedWakeEvents = 64;
// A group that other replicas' appends keep getting ahead of is staged
// again for this long, then fails with ABORTED.
constexpr absl::Duration kRestageFor = absl::Seconds(30);
constexpr absl::Duration kRestageCatchUp = absl::Seconds(30);
constexpr absl::Duration kResumeCatchUp = absl::Seconds(5);

// The catalog a group is staged against: its own events, then the groups
// staged before it and not yet applied (newest first), then the state.
class GroupCatalog final : public Catalog {
 public:
  using Staged = Feed::StagedGroup;
  GroupCatalog(const State& state, const std::deque<Staged*>& earlier, Staged& own)
      : state_(state), earlier_(earlier), own_(own) {}

  const v1::Issuer* FindIssuer(absl::string_view id) const override {
    const std::string key(id);
    const v1::Issuer* found = nullptr;
    ForEachGroup([&](const Staged& g) {
      auto it = g.issuer_names.find(key);
      if (it == g.issuer_names.end()) return false;
      found = &g.latest.at(it->second)->event().issuer();
      return true;
    });
    return found != nullptr ? found : state_.FindIssuer(id);
  }
  bool HasSegment(absl::string_view issuer, absl::string_view id) const override {
    const std::string key = absl::StrCat("segment:", issuer, "/", id);
    return Find(key) != nullptr || state_.HasSegment(issuer, id);
  }
  bool HasLiveItem(const std::string& item_key) const override {
    const EventPtr* e = Find(item_key);
    return e != nullptr ? (*e)->attrs().kind != v1::EVENT_KIND_RETRACTION : state_.HasLiveItem(item_key);
  }
  EventPtr Latest(const std::string& item_key) const {
    const size_t hash = own_.latest.hash_function()(absl::string_view(item_key));
    const EventPtr* e = Find(item_key, hash);
    return e != nullptr ? *e : state_.Latest(item_key, hash);
  }
  void Stage(const EventPtr& e) {
    // A later revision keeps the key of the first: both events are the group's.
    auto [it, inserted] = own_.latest.try_emplace(e->attrs().item_key, e);
    if (!inserted) it->second = e;
    if (e->attrs().kind == v1::EVENT_KIND_ISSUER) {
      own_.issuer_names[e->attrs().issuer] = e->attrs().item_key;
      for (const auto& alias : e->event().issuer().aliases()) {
        own_.issuer_names[alias] = e->attrs().item_key;
      }
    }
  }

 private:
  // Calls fn(group), newest first, until it returns true.
  template <typename Fn>
  void ForEachGroup(Fn fn) const {
    if (fn(own_)) return;
    for (auto it = earlier_.rbegin(); it != earlier_.rend(); ++it) {
      if (fn(**it)) return;
    }
  }
  const EventPtr* Find(const std::string& item_key) const {
    return Find(item_key, own_.latest.hash_function()(absl::string_view(item_key)));
  }
  static_assert(std::is_same_v<decltype(Staged::latest)::hasher, State::ItemHash>);
  // `hash`: the key's, as every group's map and the state's hash it.
  const EventPtr* Find(absl::string_view key, size_t hash) const {
    const EventPtr* found = nullptr;
    ForEachGroup([&](const Staged& g) {
      auto it = g.latest.find(key, hash);
      if (it == g.latest.end()) return false;
      found = &it->second;
      return true;
    });
    return found;
  }

  const State& state_;
  const std::deque<Staged*>& earlier_;
  Staged& own_;
};

}  // namespace

absl::StatusOr<v1::PublishResponse> Feed::Publish(const v1::PublishRequest& request,
                                                  absl::string_view retry_scope) {
  google::protobuf::Arena arena;
  auto* copy = google::protobuf::Arena::CreateMessage<v1::PublishRequest>(&arena);
  *copy = request;
  return Publish(copy, retry_scope);
}

absl::StatusOr<v1::PublishResponse> Feed::Publish(v1::PublishRequest* request, absl::string_view retry_scope,
                                                  const std::vector<ItemBody>* bodies) {
  PendingPublish me;
  me.request = request;
  me.retry_scope = retry_scope;
  me.bodies = bodies;
  if (log_->shared()) me.pristine = std::make_unique<v1::PublishRequest>(*request);
  StagedGroup group;
  {
    absl::MutexLock lock(&queue_mu_);
    queue_.push_back(&me);
    auto my_turn = [&] {
      queue_mu_.AssertHeld();
      // Up to max_in_flight_ groups journal while the next stages; the rest
      // wait in the queue, so the group after takes all of them (one fsync).
      return me.done ||
             (!stager_active_ && queue_.front() == &me && next_ticket_ - commit_turn_ <= max_in_flight_);
    };
    queue_mu_.Await(absl::Condition(&my_turn));
    if (me.done) return std::move(me.result);
    stager_active_ = true;
    group.ticket = next_ticket_++;
    size_t items = 0;
    while (!queue_.empty() && group.requests.size() < kMaxGroupRequests &&
           (group.requests.empty() || items + queue_.front()->request->items_size() <= kMaxGroupItems)) {
      items += queue_.front()->request->items_size();
      group.requests.push_back(queue_.front());
      queue_.pop_front();
    }
  }
  // Every group before this one is journaled (or refused) and applied.
  auto earlier_done = [&] {
    queue_mu_.AssertHeld();
    return commit_turn_ == group.ticket;
  };
  StageGroup(group);
  if (group.wait_for_earlier) {
    {
      absl::MutexLock lock(&queue_mu_);
      queue_mu_.Await(absl::Condition(&earlier_done));
    }
    StageGroup(group);  // nothing is staged before it now
  }
  bool serial = false;
  {
    // The next group stages while this one waits for the journal. Groups
    // begin in ticket order; with one append in flight, each once every
    // group before it is applied.
    absl::MutexLock lock(&queue_mu_);
    stager_active_ = false;
    auto begin_turn = [&] {
      queue_mu_.AssertHeld();
      return max_in_flight_ > 1 && !drain_ ? begin_turn_ == group.ticket : commit_turn_ == group.ticket;
    };
    queue_mu_.Await(absl::Condition(&begin_turn));
    serial = commit_turn_ == group.ticket;
  }
  {
    absl::MutexLock lock(&begin_mu_);
    BeginGroup(group);
  }
  {
    absl::MutexLock lock(&queue_mu_);
    if (group.voided || (group.append != nullptr && group.append->finished() && max_in_flight_ > 1)) {
      drain_ = true;  // void or refused: staged again at its commit turn
    } else if (serial && group.append != nullptr) {
      drain_ = false;  // valid, and nothing before it is left to stage again
    }
    ++begin_turn_;
    queue_mu_.Await(absl::Condition(&earlier_done));
  }
  std::vector<std::shared_ptr<Subscription>> to_wake;
  const absl::Time restage_until = absl::Now() + kRestageFor;
  while (true) {
    bool restage = false;
    to_wake = CommitGroup(group, absl::Now() < restage_until ? &restage : nullptr);
    if (!restage) break;
    // Another replica appended first: apply what it did, then stage again.
    absl::Status caught = log_->CatchUp(kRestageCatchUp);
    if (!caught.ok()) Log().warn("restaging a commit group: {}", caught.ToString());
    restaged_.fetch_add(1, std::memory_order_relaxed);
    absl::MutexLock lock(&begin_mu_);
    Restage(group);
    BeginGroup(group);
  }
  {
    absl::MutexLock lock(&queue_mu_);
    for (PendingPublish* p : group.requests) p->done = true;
    ++commit_turn_;
  }
  // Shared only for a small commit: one of a large group's wakes sends up
  // to a full message, and under that load a second waker costs more than
  // it saves (tests/bench/README.md).
  wake_pool_.WakeAll(to_wake, /*share=*/group.events.size() <= kMaxSharedWakeEvents);
  // A duplicate of a batch another replica journaled is answered once this
  // replica has applied it: its snapshots and streams show what it answered.
  if (log_->shared() && me.result.ok() && me.result->duplicate() && me.result->sequences_size() > 0 &&
      me.result->sequences(me.result->sequences_size() - 1) > last_sequence()) {
    absl::Status caught = log_->CatchUp(kRestageCatchUp);
    if (!caught.ok()) Log().warn("catching up after a duplicate: {}", caught.ToString());
  }
  return std::move(me.result);
}

void Feed::StageGroup(StagedGroup& group) {
  absl::MutexLock lock(&mu_);
  StageGroupLocked(group);
}

void Feed::Restage(StagedGroup& group) {
  for (PendingPublish* p : group.requests) {
    p->request->CopyFrom(*p->pristine);
    p->result = absl::UnknownError("not committed");
    p->staged = false;
    p->first_sequence = 0;
    p->count = 0;
    p->duplicate_of = nullptr;
  }
  group.latest.clear();  // before the events its keys point into
  group.events.clear();
  group.batches.clear();
  group.issuer_names.clear();
  // Not under mu_ (the journal's tail holds its lock, then ours); no group
  // begins before epoch_ is bumped, as the caller holds begin_mu_.
  log_->ResumeAppends();
  // Voiding and staging in one hold of mu_: a later group stages either
  // before (void, restaged in its turn) or on top of this one.
  absl::MutexLock lock(&mu_);
  ++epoch_;
  staged_.clear();
  staged_last_ = state_.last_sequence();
  StageGroupLocked(group);
}

void Feed::ApplyFollowed(const std::vector<EventPtr>& events) {
  if (events.empty()) return;
  const uint64_t first = events.front()->sequence();
  std::vector<std::shared_ptr<Subscription>> to_wake;
  size_t applied = 0;
  {
    absl::MutexLock lock(&mu_);
    // Below it, this replica's own groups: journaled, being applied.
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closing_ || state_.last_sequence() + 1 >= first;
    };
    while (!mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(10))) {
      Log().warn("feed: batch at sequence {} from another replica waits for sequence {}", first,
                 state_.last_sequence() + 1);
    }
    if (closing_) return;
    std::vector<EventPtr> fresh;
    for (const EventPtr& e : events) {
      if (e->sequence() != state_.last_sequence() + 1) continue;  // applied by the replay
      state_.Apply(e);
      fresh.push_back(e);
    }
    if (fresh.empty()) return;
    applied = fresh.size();
    // Whatever was staged on the state before these is void.
    ++epoch_;
    staged_.clear();
    staged_last_ = state_.last_sequence();
    to_wake = fanout_.Push(fresh);
    MaybePruneLocked();
  }
  wake_pool_.WakeAll(to_wake, /*share=*/applied <= kMaxSharedWakeEvents);
}

void Feed::StageGroupLocked(StagedGroup& group) {
  group.wait_for_earlier = false;
  group.epoch = epoch_;
  group.first = staged_last_ + 1;
  // Length-prefixed, so no two (scope, publisher_id) pairs collide.
  auto publisher_of = [](const PendingPublish& p) {
    return p.retry_scope.empty()
               ? p.request->publisher_id()
               : absl::StrCat(p.retry_scope.size(), ":", p.retry_scope, "/", p.request->publisher_id());
  };
  auto keyed_request = [](const PendingPublish& p) {
    return !p.request->publisher_id().empty() && !p.request->batch_key().empty();
  };
  // Before any item is validated (in place) and moved: a retry of a batch
  // staged before and not journaled yet is staged once that one is.
  for (const PendingPublish* p : group.requests) {
    if (!keyed_request(*p)) continue;
    const std::string publisher = publisher_of(*p);
    for (const StagedGroup* earlier : staged_) {
      for (const BatchRecord& b : earlier->batches) {
        if (b.publisher_id == publisher && b.batch_key == p->request->batch_key()) {
          group.wait_for_earlier = true;
          return;
        }
      }
    }
  }
  google::protobuf::Arena arena;
  GroupCatalog catalog(state_, staged_, group);
  const google::protobuf::Timestamp now = ToTimestamp(options_.clock());
  uint64_t sequence = group.first - 1;
  std::map<std::pair<std::string, std::string>, PendingPublish*> keyed;
  size_t group_items = 0;
  for (const PendingPublish* p : group.requests) group_items += p->request->items_size();
  group.events.reserve(group_items);
  group.latest.reserve(group_items);
  std::vector<std::string> item_keys;
  std::vector<uint8_t> normalised;
  for (PendingPublish* p : group.requests) {
    v1::PublishRequest& request = *p->request;
    // The items' bytes as they came, when the request's are known.
    const bool spliceable_request =
        p->bodies != nullptr && p->bodies->size() == static_cast<size_t>(request.items_size());
    std::optional<BatchRecord> batch;
    if (keyed_request(*p)) {
      batch = BatchRecord{publisher_of(*p), request.batch_key(), Fingerprint(request)};
      auto key = std::make_pair(batch->publisher_id, batch->batch_key);
      p->fingerprint = batch->fingerprint;
      if (auto it = keyed.find(key); it != keyed.end()) {
        if (it->second->fingerprint == p->fingerprint) {
          p->duplicate_of = it->second;  // the same batch twice in one group
        } else {
          p->result = absl::AlreadyExistsError(absl::StrCat("batch_key '", batch->batch_key,
                                                            "' of publisher '", request.publisher_id(),
                                                            "' was used for a different batch"));
        }
        continue;
      }
      absl::StatusOr<std::optional<BatchLocation>> earlier =
          log_->FindBatch(batch->publisher_id, batch->batch_key);
      if (!earlier.ok()) {
        p->result = earlier.status();
        continue;
      }
      if (earlier->has_value()) {
        const BatchLocation& at = **earlier;
        if (at.fingerprint != batch->fingerprint) {
          p->result = absl::AlreadyExistsError(
              absl::StrCat("batch_key '", batch->batch_key, "' of publisher '", request.publisher_id(),
                           "' was used for a different batch (sequences ", at.first_sequence, "..",
                           at.first_sequence + at.count - 1, ")"));
        } else {
          p->result = Replay(at, !request.omit_events());
        }
        continue;
      }
      keyed[key] = p;
    }
    absl::StatusOr<std::vector<v1::PublishItem*>> items =
        ValidatePublish(&request, catalog, &item_keys, spliceable_request ? &normalised : nullptr);
    if (!items.ok()) {
      p->result = items.status();
      continue;
    }
    p->staged = true;
    p->first_sequence = sequence + 1;
    p->count = items->size();
    // On the request's arena with the items: the body moves by pointer, and
    // nothing is freed one by one. The event keeps only its bytes.
    google::protobuf::Arena* on = request.GetArena() ? request.GetArena() : &arena;
    for (size_t i = 0; i < items->size(); ++i) {
      auto* e = google::protobuf::Arena::CreateMessage<v1::FeedEvent>(on);
      e->set_sequence(++sequence);
      SetTimestamp(now, e->mutable_time());
      MoveBody(*(*items)[i], *e);
      // Validation built the item's key; it is not built again.
      EventAttrs attrs = AttrsOf(*e, std::move(item_keys[i]));
      EventPtr latest = catalog.Latest(attrs.item_key);
      const Revision prior = latest ? Revision{latest->attrs().revision, latest->sequence()} : Revision{};
      attrs.revision = Stamp(prior, now, *e);
      EventPtr encoded = spliceable_request && CanSplice(*e, (*p->bodies)[i])
                             ? EncodeSpliced(*e, (*p->bodies)[i].bytes, normalised[i], std::move(attrs))
                             : EncodeSerialized(*e, std::move(attrs));
      catalog.Stage(encoded);
      group.events.push_back(std::move(encoded));
    }
    if (batch) {
      batch->first_sequence = p->first_sequence;
      batch->count = p->count;
      group.batches.push_back(*std::move(batch));
    }
  }
  if (!group.events.empty()) {
    staged_last_ = sequence;
    staged_.push_back(&group);
  }
}

void Feed::BeginGroup(StagedGroup& group) {
  group.append.reset();
  group.voided = false;
  if (group.events.empty()) return;
  {
    absl::ReaderMutexLock lock(&mu_);
    group.voided = group.epoch != epoch_;
  }
  if (group.voided) return;
  // Not under mu_: the next group stages meanwhile.
  group.begun = std::chrono::steady_clock::now();
  group.append = log_->BeginAppend(group.events, group.batches);
}

std::vector<std::shared_ptr<Subscription>> Feed::CommitGroup(StagedGroup& group, bool* restage) {
  absl::Status committed = absl::OkStatus();
  if (group.voided) {
    committed = absl::UnavailableError(
        "the journal refused the commit group this batch was validated "
        "after; nothing of this batch was journaled: publish it again");
  } else if (group.append != nullptr) {
    committed = group.append->Wait();
    group.append.reset();
    if (options_.metrics != nullptr) {
      options_.metrics->journal_commit_seconds.Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - group.begun).count());
    }
  }
  if (!committed.ok() || group.voided) {
    // Before anything is staged again or ResumeAppends is called.
    absl::MutexLock lock(&queue_mu_);
    drain_ = true;
  }
  if (restage != nullptr && log_->shared() && !group.events.empty() &&
      (group.voided || absl::IsAborted(committed))) {
    *restage = true;
    return {};
  }
  if (absl::IsAborted(committed)) {
    committed = absl::AbortedError(absl::StrCat(
        "other replicas' appends kept getting ahead of this batch for ", absl::FormatDuration(kRestageFor),
        "; nothing of it was journaled: publish it again (", committed.message(), ")"));
  }
  // A failed append voids the groups staged on it: none of them may begin
  // once epoch_ is bumped.
  std::optional<absl::MutexLock> begin_lock;
  if (!committed.ok()) begin_lock.emplace(&begin_mu_);
  std::vector<std::shared_ptr<Subscription>> to_wake;
  bool voided_later = false;
  {
    absl::MutexLock lock(&mu_);
    if (!group.events.empty() && group.epoch == epoch_) {
      if (committed.ok()) {
        for (const EventPtr& e : group.events) state_.Apply(e);
        to_wake = fanout_.Push(group.events);
        staged_.pop_front();
        MaybePruneLocked();
      } else {
        // Every group staged on this one is void: restage from the state.
        ++epoch_;
        staged_.clear();
        staged_last_ = state_.last_sequence();
        voided_later = true;
      }
    }
  }
  // Not under mu_ (the journal's tail holds its lock, then ours).
  if (voided_later) log_->ResumeAppends();
  begin_lock.reset();
  for (PendingPublish* p : group.requests) {
    if (!p->staged) continue;
    if (!committed.ok()) {
      p->result = committed;
      continue;
    }
    if (options_.metrics != nullptr) {
      options_.metrics->publish_batch_items.Observe(static_cast<double>(p->count));
      options_.metrics->published_events.Increment(p->count);
    }
    v1::PublishResponse response;
    const bool echo = !p->request->omit_events();
    for (size_t i = 0; i < p->count; ++i) {
      const EventPtr& e = group.events[p->first_sequence - group.first + i];
      response.add_sequences(e->sequence());
      if (echo) *response.add_events() = e->event();
    }
    p->result = std::move(response);
  }
  for (PendingPublish* p : group.requests) {
    if (p->duplicate_of == nullptr) continue;
    p->result = p->duplicate_of->result;
    if (p->result.ok()) p->result->set_duplicate(true);
  }
  return to_wake;
}

absl::StatusOr<v1::GetSnapshotResponse> Feed::Snapshot(const v1::Filter& filter) {
  v1::GetSnapshotRequest request;
  *request.mutable_filter() = filter;
  return Snapshot(request);
}

absl::StatusOr<Feed::ViewSpec> Feed::ParseView(const v1::PointInTime& when) {
  ViewSpec spec;
  switch (when.view()) {
    case v1::REVISION_VIEW_UNSPECIFIED:
    case v1::REVISION_VIEW_LATEST:
      return spec;
    case v1::REVISION_VIEW_FIRST_REPORTED:
      spec.view = View::kFirstReported;
      break;
    case v1::REVISION_VIEW_AS_OF:
      if (!when.has_as_of()) {
        return absl::InvalidArgumentError("point_in_time.as_of: must be set with REVISION_VIEW_AS_OF");
      }
      spec.view = View::kAsOf;
      // A Timestamp's own range; converted without TimestampToNanoseconds,
      // whose int64 overflows after 2262 (an as-of in 2950 read as 1831).
      if (when.as_of().seconds() < TimeUtil::kTimestampMinSeconds ||
          when.as_of().seconds() > TimeUtil::kTimestampMaxSeconds || when.as_of().nanos() < 0 ||
          when.as_of().nanos() > 999999999) {
        return absl::InvalidArgumentError(
            "point_in_time.as_of: must be a valid timestamp, 0001-01-01 to 9999-12-31 with "
            "nanos 0 to 999,999,999");
      }
      spec.as_of = absl::FromUnixSeconds(when.as_of().seconds()) + absl::Nanoseconds(when.as_of().nanos());
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("point_in_time.view: unknown view ", when.view()));
  }
  spec.latest = false;
  return spec;
}

absl::StatusOr<std::vector<EventPtr>> Feed::PastView(Journal& log, const ViewSpec& spec, uint64_t up_to,
                                                     const EventFilter& filter) {
  std::vector<EventPtr> out;
  RETURN_IF_ERROR(log.ReadView(spec.view, spec.as_of, up_to, [&](EventPtr e) {
    if (e->attrs().kind != v1::EVENT_KIND_RETRACTION && filter.Matches(e->attrs())) {
      out.push_back(std::move(e));
    }
  }));
  return out;
}

absl::StatusOr<v1::GetSnapshotResponse> Feed::Snapshot(const v1::GetSnapshotRequest& request) {
  ASSIGN_OR_RETURN(ViewSpec spec, ParseView(request.point_in_time()));
  v1::GetSnapshotResponse response;
  std::vector<EventPtr> events;
  EventFilter filter;
  {
    absl::ReaderMutexLock lock(&mu_);
    ASSIGN_OR_RETURN(v1::Filter valid, ValidateFilter(request.filter(), state_));
    filter = EventFilter(valid);
    response.set_sequence(state_.last_sequence());
    response.set_incarnation(incarnation_);
    if (spec.latest) events = state_.Snapshot(filter);
  }
  if (!spec.latest) {
    ASSIGN_OR_RETURN(events, PastView(*log_, spec, response.sequence(), filter));
  }
  for (const EventPtr& e : events) *response.add_events() = e->event();
  return response;
}

absl::StatusOr<std::shared_ptr<Subscription>> Feed::Subscribe(const v1::SubscribeRequest& request) {
  ASSIGN_OR_RETURN(ViewSpec spec, ParseView(request.point_in_time()));
  // A replica behind the sequence a subscriber resumes from catches up
  // first, within a bound: it answers with what it has, never with a gap.
  if (log_->shared() && request.start() == v1::START_MODE_FROM_SEQUENCE &&
      request.from_sequence() > last_sequence() &&
      (request.incarnation().empty() || request.incarnation() == incarnation_)) {
    absl::Status caught = log_->CatchUp(kResumeCatchUp);
    if (!caught.ok()) Log().warn("catching up for a resume: {}", caught.ToString());
  }
  std::shared_ptr<Subscription> subscription;
  {
    absl::ReaderMutexLock lock(&mu_);
    ASSIGN_OR_RETURN(subscription, SubscribeLocked(request, spec));
  }
  // Its journal reads, if any, start now, outside mu_.
  subscription->Start();
  return subscription;
}

absl::StatusOr<std::shared_ptr<Subscription>> Feed::SubscribeLocked(const v1::SubscribeRequest& request,
                                                                    const ViewSpec& spec) {
  ASSIGN_OR_RETURN(v1::Filter valid, ValidateFilter(request.filter(), state_));
  uint64_t head = state_.last_sequence();
  Subscription::Options options;
  options.filter = EventFilter(valid);
  options.log = log_.get();
  options.readers = &readers_;
  options.max_queued = options_.max_queued_events;
  options.now = options_.clock();
  options.incarnation = incarnation_;
  options.id = next_subscription_id_.fetch_add(1, std::memory_order_relaxed);
  options.metrics = options_.metrics;
  switch (request.slow_consumer_policy()) {
    case v1::SLOW_CONSUMER_POLICY_UNSPECIFIED:
    case v1::SLOW_CONSUMER_POLICY_DISCONNECT:
      options.policy = Subscription::Options::Policy::kDisconnect;
      break;
    case v1::SLOW_CONSUMER_POLICY_CONFLATE:
      options.policy = Subscription::Options::Policy::kConflate;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("slow_consumer_policy: unknown policy ", request.slow_consumer_policy()));
  }
  options.heartbeat_interval = request.heartbeat_interval_ms() == 0
                                   ? options_.default_heartbeat
                                   : std::clamp(absl::Milliseconds(request.heartbeat_interval_ms()),
                                                options_.min_heartbeat, options_.max_heartbeat);
  // The snapshot's events, framed by its begin and end marks.
  auto framed = [head, incarnation = incarnation_](EventPtr before, std::vector<EventPtr> items) {
    std::vector<EventPtr> initial;
    initial.reserve(items.size() + 3);
    if (before) initial.push_back(std::move(before));
    initial.push_back(ControlEvent(true, head, 0, incarnation));
    const size_t count = items.size();
    for (EventPtr& e : items) initial.push_back(std::move(e));
    initial.push_back(ControlEvent(false, head, count, incarnation));
    return initial;
  };
  auto snapshot = [&](EventPtr before) -> absl::Status {
    if (spec.latest) {
      options.initial = framed(std::move(before), state_.Snapshot(options.filter));
      return absl::OkStatus();
    }
    // Read by the subscription on the JobPool: live events queue meanwhile.
    options.load_initial = [log = log_.get(), spec, head, filter = options.filter, before = std::move(before),
                            framed]() -> absl::StatusOr<std::vector<EventPtr>> {
      ASSIGN_OR_RETURN(std::vector<EventPtr> items, PastView(*log, spec, head, filter));
      return framed(before, std::move(items));
    };
    return absl::OkStatus();
  };
  switch (request.start()) {
    case v1::START_MODE_UNSPECIFIED:
    case v1::START_MODE_SNAPSHOT_THEN_LIVE:
      RETURN_IF_ERROR(snapshot(nullptr));
      break;
    case v1::START_MODE_FROM_SEQUENCE: {
      if (!request.incarnation().empty() && request.incarnation() != incarnation_) {
        v1::FeedEvent resync;
        resync.mutable_resync()->set_requested_sequence(request.from_sequence());
        resync.mutable_resync()->set_oldest_available_sequence(log_->first_sequence());
        resync.mutable_resync()->set_reason(
            absl::StrCat("from_sequence ", request.from_sequence(), " is of journal incarnation '",
                         request.incarnation(), "', this journal is '", incarnation_,
                         "' (another journal, or one that lost events): a snapshot follows"));
        RETURN_IF_ERROR(snapshot(EncodeEvent(std::move(resync))));
        break;
      }
      if (request.from_sequence() > head) {
        if (log_->shared()) {
          return absl::UnavailableError(
              absl::StrCat("from_sequence: ", request.from_sequence(), " is beyond sequence ", head,
                           ", the last this replica has applied: resume on another replica or again"));
        }
        return absl::OutOfRangeError(absl::StrCat("from_sequence: ", request.from_sequence(),
                                                  " is beyond the journal's last sequence ", head));
      }
      uint64_t oldest = log_->first_sequence();
      if (request.from_sequence() + 1 < oldest) {
        v1::FeedEvent resync;
        resync.mutable_resync()->set_requested_sequence(request.from_sequence());
        resync.mutable_resync()->set_oldest_available_sequence(oldest);
        resync.mutable_resync()->set_reason(absl::StrCat("the journal keeps events from sequence ", oldest,
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
      return absl::InvalidArgumentError(absl::StrCat("start: unknown start mode ", request.start()));
  }
  auto subscription = std::make_shared<Subscription>(std::move(options));
  fanout_.Add(subscription);
  return subscription;
}

void Feed::Unsubscribe(const Subscription* subscription) { fanout_.Remove(subscription); }

void Feed::CloseSubscriptions() {
  fanout_.CloseAll(
      absl::UnavailableError("kessand is shutting down; resume from the "
                             "last sequence received"));
}

uint64_t Feed::last_sequence() const {
  absl::ReaderMutexLock lock(&mu_);
  return state_.last_sequence();
}

}  // namespace kessan
