#include "subscriber_worker.h"

#include <google/protobuf/arena.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <new>
#include <vector>

#include "bench_events.h"
#include "kessan/v1/feed.grpc.pb.h"

namespace kessan::bench {

SharedState* MapSharedState() {
  void* p = mmap(nullptr, sizeof(SharedState), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  // Fresh anonymous pages are zero: every counter starts at 0. Not
  // value-initialised on purpose, so untouched histogram pages stay unmapped.
  return static_cast<SharedState*>(p);
}

namespace {

enum Op : uintptr_t { kStarted = 0, kRead = 1, kFinished = 2, kWrote = 3 };

constexpr char kSubscribeMethod[] = "/kessan.v1.FeedService/Subscribe";

// A stream through the generic API: the raw response bytes are parsed on an
// arena (reset after each response), so decoding every FeedEvent costs no
// malloc per nested message.
struct alignas(8) Stream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call;
  grpc::ByteBuffer buffer;
  grpc::Status status;
  uint64_t expected = 0;  // next sequence due
  uint64_t count = 0;     // counted deliveries
  bool ready = false;     // received its first (backlog) event
  bool done = false;      // reached the target
  bool dead = false;      // ended
};

void* TagOf(Stream* s, Op op) { return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(s) | op); }

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, int id) {
  grpc::ChannelArguments args;
  // Distinct args and a local pool: each channel is its own TCP connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("kessan_bench.channel_id", id);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

}  // namespace

void RunSubscriberWorker(SharedState* shared, const WorkerOptions& options) {
  WorkerSlot& slot = shared->workers[options.index];
  uint64_t deadline = NowNs() + static_cast<uint64_t>(options.timeout_s) * 1000000000ull;
  while (!shared->go.load() && !shared->abort.load()) {
    if (NowNs() > deadline) break;
    usleep(1000);
  }
  if (shared->abort.load() || !shared->go.load()) {
    shared->workers_done++;
    _exit(1);
  }
  const std::string target = options.host + ":" + std::to_string(shared->port.load());
  const uint64_t from = shared->from_sequence.load();
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_FROM_SEQUENCE);
  request.set_from_sequence(from);
  request.set_heartbeat_interval_ms(options.heartbeat_ms);

  grpc::ByteBuffer request_bytes;
  {
    bool own = false;
    grpc::GenericSerialize<grpc::ProtoBufferWriter, v1::SubscribeRequest>(request, &request_bytes, &own);
  }
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  std::vector<std::unique_ptr<Stream>> streams;
  int per_channel = options.streams_per_channel < 1 ? 1 : options.streams_per_channel;
  slot.first_start_ns = NowNs();
  for (int i = 0; i < options.streams; ++i) {
    if (i % per_channel == 0) {
      stubs.push_back(
          std::make_unique<grpc::GenericStub>(MakeChannel(target, options.index * 100000 + i / per_channel)));
    }
    auto s = std::make_unique<Stream>();
    s->expected = from + 1;
    s->call = stubs.back()->PrepareCall(&s->context, kSubscribeMethod, &cq);
    s->call->StartCall(TagOf(s.get(), kStarted));
    streams.push_back(std::move(s));
  }

  // One arena for the responses, on a buffer of its own: parsing allocates
  // nothing once it is warm.
  std::vector<char> arena_block(4 << 20);
  google::protobuf::ArenaOptions arena_options;
  arena_options.initial_block = arena_block.data();
  arena_options.initial_block_size = arena_block.size();
  google::protobuf::Arena arena(arena_options);
  Histogram& hist = slot.hist;
  uint64_t tgt = shared->target.load();
  int remaining = options.streams;
  uint64_t received = 0, gaps = 0, errors = 0;
  auto recount = [&] {
    remaining = 0;
    for (auto& s : streams) {
      s->done = s->done || (tgt != 0 && s->count >= tgt);
      if (!s->dead && !s->done) ++remaining;
    }
  };
  while (!shared->abort.load(std::memory_order_relaxed)) {
    uint64_t t2 = shared->target.load(std::memory_order_relaxed);
    if (t2 != tgt) {
      tgt = t2;
      recount();
    }
    if (remaining <= 0) break;
    void* tag;
    bool ok;
    auto st = cq.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + std::chrono::milliseconds(20));
    if (st == grpc::CompletionQueue::SHUTDOWN) break;
    if (st == grpc::CompletionQueue::TIMEOUT) {
      if (NowNs() > deadline) break;
      continue;
    }
    Stream* s = reinterpret_cast<Stream*>(reinterpret_cast<uintptr_t>(tag) & ~uintptr_t{7});
    Op op = static_cast<Op>(reinterpret_cast<uintptr_t>(tag) & 7);
    if (op == kFinished) {
      if (!s->done && !s->dead) {
        ++errors;
        s->dead = true;
        --remaining;
        if (errors <= 3) {
          std::fprintf(stderr, "kessan-bench worker %d: stream ended: %d %s\n", options.index,
                       static_cast<int>(s->status.error_code()), s->status.error_message().c_str());
        }
      }
      continue;
    }
    if (op == kWrote) continue;  // a failed write shows as a failed read
    if (!ok) {
      s->call->Finish(&s->status, TagOf(s, kFinished));
      continue;
    }
    if (op == kStarted) {
      s->call->WriteLast(request_bytes, grpc::WriteOptions(), TagOf(s, kWrote));
    }
    if (op == kRead) {
      uint64_t now = NowNs();
      uint64_t n = 0;
      const v1::FeedEvent* last = nullptr;
      auto* response = google::protobuf::Arena::CreateMessage<v1::SubscribeResponse>(&arena);
      {
        grpc::ProtoBufferReader reader(&s->buffer);
        if (!response->ParseFromZeroCopyStream(&reader)) {
          ++errors;
          s->dead = true;
          --remaining;
          s->context.TryCancel();
          continue;
        }
      }
      for (const v1::FeedEvent& e : response->events()) {
        uint64_t seq = e.sequence();
        if (seq == 0) continue;  // control: heartbeat, snapshot marks
        if (seq != s->expected) gaps += seq > s->expected ? seq - s->expected : 1;
        s->expected = seq + 1;
        if (!s->ready) {
          s->ready = true;
          shared->ready++;
          continue;
        }
        uint64_t sent = SendTimeOf(e);
        hist.Add(sent != 0 && now > sent ? (now - sent) / 1000 : 0);
        last = &e;
        ++n;
      }
      if (n > 0) {
        // The size of one delivered event per response (cheap; reported).
        slot.event_bytes.store(last->ByteSizeLong(), std::memory_order_relaxed);
        s->count += n;
        received += n;
        shared->received_total.fetch_add(n, std::memory_order_relaxed);
        slot.last_recv_ns.store(now, std::memory_order_relaxed);
      }
      arena.Reset();
      if (tgt != 0 && s->count >= tgt && !s->done) {
        s->done = true;
        --remaining;
        continue;  // leave the stream; process exit tears it down
      }
    }
    s->call->Read(&s->buffer, TagOf(s, kRead));
  }
  slot.received = received;
  slot.gaps = gaps;
  slot.errors = errors;
  shared->workers_done++;
  std::fflush(stderr);
  _exit(0);
}

}  // namespace kessan::bench
