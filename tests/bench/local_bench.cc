// kessan-local-bench: deliveries/s and CPU per delivery of a kessan::Server
// embedded in this process, its subscribers and publishers either in
// process (kessan/local.h) or over loopback gRPC. The whole process's CPU
// (server, publishers, subscribers) is counted in both, so the two figures
// compare the transports. One JSON line. Not a test.
//
//   kessan-local-bench --transport local -S 16 --size 200 --duration 4
//   kessan-local-bench --transport grpc  -S 16 --size 200 --duration 4
//
// `kessan-bench --mode inprocess ...` runs this.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bench_events.h"
#include "bench_util.h"
#include "kessan/local.h"
#include "kessan/server.h"
#include "kessan/v1/feed.grpc.pb.h"

ABSL_FLAG(std::string, transport, "local", "local (kessan/local.h) | grpc (loopback)");
ABSL_FLAG(int, S, 1, "subscribers");
ABSL_FLAG(int, size, 200, "about the serialized size of each event, bytes");
ABSL_FLAG(double, duration, 4, "seconds of publishing");
ABSL_FLAG(int, batch, 500, "events per publish");
ABSL_FLAG(int, pub_inflight, 4, "publishes in flight (publisher threads)");
ABSL_FLAG(int, window, 1000, "max events published and not yet delivered to the slowest subscriber");
ABSL_FLAG(std::string, scratch, KESSAN_BENCH_SCRATCH, "parent of the scratch data dir");
ABSL_FLAG(std::string, label, "-", "free text copied into the JSON");
ABSL_FLAG(int, timeout, 120, "seconds after which everything gives up");

namespace kessan::bench {
namespace {

// What one subscriber received: journaled events in sequence order.
struct Counter {
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> last{0};
  std::atomic<uint64_t> gaps{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> last_ns{0};
  void Take(const v1::FeedEvent& e) {
    if (e.sequence() == 0) return;
    uint64_t before = last.exchange(e.sequence());
    if (before != 0 && e.sequence() != before + 1) gaps.fetch_add(1);
    if (received.fetch_add(1) == 0) bytes.store(e.ByteSizeLong());
    last_ns.store(NowNs(), std::memory_order_relaxed);
  }
};

// One gRPC Subscribe stream on the callback API.
class GrpcReader final : public grpc::ClientReadReactor<v1::SubscribeResponse> {
 public:
  GrpcReader(v1::FeedService::Stub& stub, const v1::SubscribeRequest& request, Counter& counter)
      : counter_(counter) {
    stub.async()->Subscribe(&context_, &request, this);
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    for (const auto& e : response_.events()) counter_.Take(e);
    StartRead(&response_);
  }
  void OnDone(const grpc::Status&) override {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  void Stop() {
    context_.TryCancel();
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

 private:
  Counter& counter_;
  grpc::ClientContext context_;
  v1::SubscribeResponse response_;
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

int Run() {
  const std::string transport = absl::GetFlag(FLAGS_transport);
  if (transport != "local" && transport != "grpc") {
    std::fprintf(stderr, "kessan-local-bench: --transport local | grpc\n");
    return 2;
  }
  const int subs = absl::GetFlag(FLAGS_S);
  const int batch = std::min(1000, std::max(1, absl::GetFlag(FLAGS_batch)));
  const int inflight = std::max(1, absl::GetFlag(FLAGS_pub_inflight));
  const uint64_t window = static_cast<uint64_t>(std::max(batch, absl::GetFlag(FLAGS_window)));
  const int pad = std::max(0, absl::GetFlag(FLAGS_size) - 130);
  const std::filesystem::path dir =
      std::filesystem::path(absl::GetFlag(FLAGS_scratch)) / absl::StrCat("local-bench-", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  SetLogHandler([](LogLevel level, std::string_view, std::string_view message) {
    if (level >= LogLevel::kWarning)
      std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
  });
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.data_dir = dir.string();
  options.plugin_dir = "none";
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "kessan-local-bench: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<LocalClient> local = (*server)->Local();
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::FeedService::Stub> stub;
  if (transport == "grpc") {
    channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                  grpc::InsecureChannelCredentials());
    stub = v1::FeedService::NewStub(channel);
  }
  auto publish = [&](const v1::PublishRequest& request) -> absl::Status {
    if (stub == nullptr) return local->Publish(request).status();
    grpc::ClientContext context;
    v1::PublishResponse response;
    grpc::Status s = stub->Publish(&context, request, &response);
    return s.ok() ? absl::OkStatus() : absl::UnavailableError(s.error_message());
  };
  if (absl::Status s = publish(IssuerBatch()); !s.ok()) {
    std::fprintf(stderr, "kessan-local-bench: %s\n", s.ToString().c_str());
    return 1;
  }

  std::vector<std::unique_ptr<Counter>> counters;
  std::vector<std::unique_ptr<LocalSubscription>> local_subs;
  std::vector<std::unique_ptr<GrpcReader>> readers;
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_LIVE_ONLY);
  request.mutable_filter()->add_event_kinds(v1::EVENT_KIND_FACT);
  for (int i = 0; i < subs; ++i) {
    counters.push_back(std::make_unique<Counter>());
    Counter* counter = counters.back().get();
    if (stub == nullptr) {
      SubscribeCallbacks on;
      on.on_event = [counter](const v1::FeedEvent& e) { counter->Take(e); };
      absl::StatusOr<std::unique_ptr<LocalSubscription>> sub = local->Subscribe(request, std::move(on));
      if (!sub.ok()) {
        std::fprintf(stderr, "kessan-local-bench: %s\n", sub.status().ToString().c_str());
        return 1;
      }
      local_subs.push_back(*std::move(sub));
    } else {
      readers.push_back(std::make_unique<GrpcReader>(*stub, request, *counter));
    }
  }
  // Every stream is live once a probe reaches all of them.
  const uint64_t deadline = NowNs() + static_cast<uint64_t>(absl::GetFlag(FLAGS_timeout)) * 1000000000ull;
  auto min_received = [&] {
    uint64_t m = UINT64_MAX;
    for (const auto& c : counters) m = std::min(m, c->received.load());
    return subs == 0 ? UINT64_MAX : m;
  };
  std::atomic<uint64_t> published{0};
  std::atomic<uint64_t> errors{0};
  for (;;) {
    v1::PublishRequest probe;
    FillFact(probe.add_items(), 0, NowNs(), pad);
    if (!publish(probe).ok()) return 1;
    published.fetch_add(1);
    usleep(20000);  // a setup wait, not measured
    if (min_received() > 0 || NowNs() > deadline) break;
  }
  const uint64_t base = published.load();
  std::vector<uint64_t> start_received;
  for (const auto& c : counters) start_received.push_back(c->received.load());

  const uint64_t t0 = NowNs();
  const double cpu0 = SelfCpuSeconds();
  const uint64_t stop_at = t0 + static_cast<uint64_t>(absl::GetFlag(FLAGS_duration) * 1e9);
  std::atomic<uint64_t> next_index{1};
  std::vector<std::thread> publishers;
  for (int p = 0; p < inflight; ++p) {
    publishers.emplace_back([&] {
      while (NowNs() < stop_at && errors.load() == 0) {
        // Flow control: the slowest subscriber within `window` events.
        uint64_t delivered = UINT64_MAX;
        for (size_t i = 0; i < counters.size(); ++i) {
          delivered = std::min(delivered, counters[i]->received.load() - start_received[i]);
        }
        if (subs > 0 && published.load() - base > delivered + window) {
          usleep(50);  // a poll that costs no CPU: the process's CPU is what is measured
          continue;
        }
        v1::PublishRequest request;
        const uint64_t first = next_index.fetch_add(static_cast<uint64_t>(batch));
        const uint64_t now = NowNs();
        for (int i = 0; i < batch; ++i) FillFact(request.add_items(), first + i, now, pad);
        if (!publish(request).ok()) {
          errors.fetch_add(1);
          return;
        }
        published.fetch_add(static_cast<uint64_t>(batch));
      }
    });
  }
  for (auto& t : publishers) t.join();
  const uint64_t total = published.load() - base;
  // Wait for every subscriber to have everything.
  for (;;) {
    bool all = true;
    for (size_t i = 0; i < counters.size(); ++i) {
      all = all && counters[i]->received.load() - start_received[i] >= total;
    }
    if (all || NowNs() > deadline) break;
    usleep(1000);
  }
  uint64_t last_ns = t0;
  uint64_t delivered = 0, gaps = 0, bytes = 0;
  for (size_t i = 0; i < counters.size(); ++i) {
    delivered += counters[i]->received.load() - start_received[i];
    gaps += counters[i]->gaps.load();
    bytes = counters[i]->bytes.load();
    last_ns = std::max(last_ns, counters[i]->last_ns.load());
  }
  const double cpu = SelfCpuSeconds() - cpu0;
  const double elapsed = (std::max(last_ns, t0 + 1) - t0) / 1e9;
  std::printf(
      "{\"system\": \"kessan\", \"mode\": \"inprocess\", \"transport\": \"%s\", \"label\": \"%s\", "
      "\"S\": %d, \"event_bytes\": %llu, \"batch\": %d, \"pub_inflight\": %d, \"published\": %llu, "
      "\"delivered\": %llu, \"elapsed_s\": %.3f, \"delivered_per_s\": %.0f, \"published_per_s\": %.0f, "
      "\"process_cpu_s\": %.2f, \"cpu_us_per_delivery\": %.3f, \"cpu_us_per_published\": %.3f, "
      "\"gaps\": %llu, \"errors\": %llu}\n",
      transport.c_str(), absl::GetFlag(FLAGS_label).c_str(), subs, static_cast<unsigned long long>(bytes),
      batch, inflight, static_cast<unsigned long long>(total), static_cast<unsigned long long>(delivered),
      elapsed, delivered / elapsed, total / elapsed, cpu, delivered ? cpu * 1e6 / delivered : 0,
      total ? cpu * 1e6 / total : 0, static_cast<unsigned long long>(gaps),
      static_cast<unsigned long long>(errors.load()));
  std::fflush(stdout);
  for (auto& r : readers) r->Stop();
  local_subs.clear();
  (*server)->Shutdown(absl::Seconds(1));
  server->reset();
  SetLogHandler(nullptr);
  std::filesystem::remove_all(dir);
  const bool ok = errors.load() == 0 && gaps == 0 && delivered == total * static_cast<uint64_t>(subs);
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace kessan::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return kessan::bench::Run();
}
