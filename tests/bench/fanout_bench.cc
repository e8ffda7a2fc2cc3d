// Google Benchmark micro-benchmarks of kessand's delivery path (server
// internals, no gRPC server): encoding an event once, a journal append, a
// subscription's queue, FanOut::Deliver to S subscriptions, and assembling a
// response ByteBuffer from shared event frames the way
// rpc/subscribe_stream.cc does, and Feed::Publish without its journal.
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "bench_events.h"
#include "event/encoded_event.h"
#include "event/wire_run.h"
#include "feed/fanout.h"
#include "feed/feed.h"
#include "feed/subscription.h"
#include "google/protobuf/arena.h"
#include "journal/sqlite_journal.h"
#include "rpc/wire.h"

namespace kessan::bench {
namespace {

// A committed bench fact of about `size` serialized bytes.
v1::FeedEvent MakeEvent(uint64_t sequence, int size) {
  v1::PublishItem item;
  FillFact(&item, sequence, 123456789, 0);
  v1::FeedEvent e;
  e.set_sequence(sequence);
  e.mutable_time()->set_seconds(1700000000);
  *e.mutable_fact() = item.fact();
  e.mutable_fact()->set_revision(2);
  e.mutable_fact()->set_supersedes_sequence(sequence > 64 ? sequence - 64 : 0);
  *e.mutable_fact()->mutable_known_at() = e.time();
  int pad = size - static_cast<int>(e.ByteSizeLong()) - 2;
  if (pad > 0) e.mutable_fact()->mutable_provenance()->set_note(std::string(pad, 'x'));
  return e;
}

std::vector<EventPtr> MakeEvents(int n, int size) {
  std::vector<EventPtr> out;
  for (int i = 0; i < n; ++i) out.push_back(EncodeEvent(MakeEvent(1000 + i, size)));
  return out;
}

void BM_EncodeEvent(benchmark::State& state) {
  v1::FeedEvent e = MakeEvent(1000, static_cast<int>(state.range(0)));
  for (auto _ : state) {
    EventPtr encoded = EncodeEvent(e);
    benchmark::DoNotOptimize(encoded);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_EncodeEvent)->Arg(200)->Arg(1024);

// DecodeEvent: what a point-in-time view does per journal row it picks.
void BM_DecodeEvent(benchmark::State& state) {
  std::string body = MakeEvent(1000, static_cast<int>(state.range(0))).SerializeAsString();
  for (auto _ : state) {
    auto decoded = DecodeEvent(body);
    benchmark::DoNotOptimize(decoded);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeEvent)->Arg(200)->Arg(1024);

// JournalEvent: what a replay (resume from a sequence) does per journal row:
// the top-level check and one copy into a frame, no parse.
void BM_JournalEvent(benchmark::State& state) {
  std::string body = MakeEvent(1000, static_cast<int>(state.range(0))).SerializeAsString();
  for (auto _ : state) {
    auto read = JournalEvent(1000, body);
    benchmark::DoNotOptimize(read);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JournalEvent)->Arg(200)->Arg(1024);

// SqliteJournal::Append of a commit group of N 200-byte events: one
// transaction with its fdatasync, in a scratch directory under /tmp. CPU time
// is the figure (the wall time is mostly the disk's).
void BM_JournalAppend(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  char dir[] = "/tmp/kessan-micro-XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  {
    auto log = SqliteJournal::Open(std::string(dir) + "/journal.db");
    if (!log.ok()) {
      state.SkipWithError(log.status().ToString().c_str());
    } else {
      uint64_t next = 1;
      for (auto _ : state) {
        state.PauseTiming();
        std::vector<EventPtr> events;
        for (int i = 0; i < n; ++i) events.push_back(EncodeEvent(MakeEvent(next++, 200)));
        state.ResumeTiming();
        if (absl::Status s = (*log)->Append(events); !s.ok()) {
          state.SkipWithError(s.ToString().c_str());
          break;
        }
      }
    }
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_JournalAppend)->Arg(1)->Arg(500);

// Parsing a 500-item PublishRequest (the bench's 200-byte facts) as kessand's
// Publish reads it: into a message on the heap, freed field by field, or
// into one on a protobuf arena, freed in blocks.
v1::PublishRequest BenchBatch(int items) {
  v1::PublishRequest request;
  for (int i = 0; i < items; ++i) FillFact(request.add_items(), i, 123456789, 60);
  return request;
}

void BM_ParsePublishHeap(benchmark::State& state) {
  const std::string bytes = BenchBatch(static_cast<int>(state.range(0))).SerializeAsString();
  for (auto _ : state) {
    v1::PublishRequest request;
    benchmark::DoNotOptimize(request.ParseFromString(bytes));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ParsePublishHeap)->Arg(500);

void BM_ParsePublishArena(benchmark::State& state) {
  const std::string bytes = BenchBatch(static_cast<int>(state.range(0))).SerializeAsString();
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* request = google::protobuf::Arena::CreateMessage<v1::PublishRequest>(&arena);
    benchmark::DoNotOptimize(request->ParseFromString(bytes));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ParsePublishArena)->Arg(500);

// A journal that keeps nothing: what Feed::Publish costs besides the journal.
class NullLog final : public Journal {
 public:
  absl::Status Append(const std::vector<EventPtr>& events, const std::vector<BatchRecord>&) override {
    last_ += events.size();
    return absl::OkStatus();
  }
  std::string incarnation() const override { return "null"; }
  uint64_t last_sequence() const override { return last_; }
  uint64_t first_sequence() const override { return 1; }
  absl::StatusOr<size_t> Read(uint64_t, uint64_t, size_t, const std::function<void(EventPtr)>&) override {
    return 0;
  }
  absl::Status ReadView(View, absl::Time, uint64_t, const std::function<void(EventPtr)>&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<BatchLocation>> FindBatch(const std::string&, const std::string&) override {
    return std::nullopt;
  }
  absl::StatusOr<size_t> Prune(uint64_t, std::vector<uint64_t>) override { return 0; }

 private:
  std::atomic<uint64_t> last_{0};
};

// Feed::Publish of a parsed 500-item request (the bench's facts, revising 64
// items) with no subscriber and no journal: validation, revision stamping,
// encoding, applying and the response.
void BM_FeedPublish(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<Feed>> feed = Feed::Open(std::make_unique<NullLog>());
  if (!feed.ok()) {
    state.SkipWithError(feed.status().ToString().c_str());
    return;
  }
  if (!(*feed)->Publish(IssuerBatch()).ok()) {
    state.SkipWithError("issuer refused");
    return;
  }
  v1::PublishRequest batch = BenchBatch(static_cast<int>(state.range(0)));
  batch.set_omit_events(true);
  const std::string bytes = batch.SerializeAsString();
  for (auto _ : state) {
    state.PauseTiming();
    auto arena = std::make_unique<google::protobuf::Arena>();
    auto* request = google::protobuf::Arena::CreateMessage<v1::PublishRequest>(arena.get());
    request->ParseFromString(bytes);
    state.ResumeTiming();
    absl::StatusOr<v1::PublishResponse> response = (*feed)->Publish(request, "");
    if (!response.ok()) {
      state.SkipWithError(response.status().ToString().c_str());
      break;
    }
    state.PauseTiming();
    arena.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FeedPublish)->Arg(500);

// One subscription: push a batch, take it in responses of 256 events.
void BM_SubscriptionPushTake(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  std::vector<EventPtr> events = MakeEvents(batch, 200);
  Subscription sub(Subscription::Options{});
  for (auto _ : state) {
    for (const EventPtr& e : events) sub.Push(e);
    size_t taken = 0;
    while (taken < events.size()) taken += sub.Take(256, 256 * 1024).size();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_SubscriptionPushTake)->Arg(1)->Arg(500);

// FanOut::Deliver of a 500-event batch to S subscriptions (items = deliveries),
// then each subscription drained as the stream would.
void BM_FanOutDeliver(benchmark::State& state) {
  const int subs = static_cast<int>(state.range(0));
  std::vector<EventPtr> events = MakeEvents(500, 200);
  FanOut fanout;
  std::vector<std::shared_ptr<Subscription>> all;
  for (int i = 0; i < subs; ++i) {
    all.push_back(std::make_shared<Subscription>(Subscription::Options{}));
    fanout.Add(all.back());
  }
  for (auto _ : state) {
    fanout.Deliver(events);
    state.PauseTiming();
    for (auto& s : all) {
      while (!s->Take(256, 256 * 1024).empty()) {
      }
    }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * subs * static_cast<int64_t>(events.size()));
}
BENCHMARK(BM_FanOutDeliver)->Arg(1)->Arg(16)->Arg(256);

// The same with Abseil's Mutex deadlock detection off: Debian's Abseil keeps
// it on (GraphCycles shows in kessand's profile); kessand does not turn it off.
void BM_FanOutDeliverNoDeadlockDetection(benchmark::State& state) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  BM_FanOutDeliver(state);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kAbort);
}
BENCHMARK(BM_FanOutDeliverNoDeadlockDetection)->Arg(16)->Arg(256);

// The response of up to 256 events as a ByteBuffer of zero-copy slices, as
// rpc/subscribe_stream.cc builds it (WireBuilder): each event's own frame,
// the slices sharing one refcount that holds the events. The copy of
// `events` stands for what Subscription::Take hands over.
void BM_BatchByteBufferFrames(benchmark::State& state) {
  std::vector<EventPtr> events = MakeEvents(static_cast<int>(state.range(0)), 200);
  WireBuilder builder;
  grpc::ByteBuffer buffer;
  for (auto _ : state) {
    builder.Build(events, {}, &buffer);
    benchmark::DoNotOptimize(buffer);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BatchByteBufferFrames)->Arg(1)->Arg(16)->Arg(256);

// The same events held by one WireRun (as FanOut shares a group's frames
// when several subscribers take it): one slice per buffer.
void BM_BatchByteBufferRun(benchmark::State& state) {
  std::vector<EventPtr> events = MakeEvents(static_cast<int>(state.range(0)), 200);
  std::vector<WireRunPtr> runs = {std::make_shared<const WireRun>(events)};
  WireBuilder builder;
  grpc::ByteBuffer buffer;
  for (auto _ : state) {
    builder.Build(events, runs, &buffer);
    benchmark::DoNotOptimize(buffer);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BatchByteBufferRun)->Arg(1)->Arg(16)->Arg(256);

void BM_BatchByteBufferCopy(benchmark::State& state) {
  std::vector<EventPtr> events = MakeEvents(static_cast<int>(state.range(0)), 200);
  for (auto _ : state) {
    std::string flat;
    for (const EventPtr& e : events) flat.append(e->frame().data(), e->frame_size());
    grpc::Slice slice(flat);
    grpc::ByteBuffer buffer(&slice, 1);
    benchmark::DoNotOptimize(buffer);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BatchByteBufferCopy)->Arg(1)->Arg(16)->Arg(256);

}  // namespace
}  // namespace kessan::bench

BENCHMARK_MAIN();
