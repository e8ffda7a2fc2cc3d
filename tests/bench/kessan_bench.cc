// kessan-bench: a load tool for kessand with the flags and figures of the
// peer tools (bench/peers beside the repository), so runs compare side by side.
//
//   kessan-bench --mode tput -S 16 --size 200 --duration 4
//   kessan-bench --mode lat -S 256 --size 200 --rate 1000 --duration 4
//   kessan-bench --mode publish | replay | idle -S 10000 | scenario
//   kessan-bench --journal nats [--replicas 2] ...   (cluster mode)
//
// Starts its own kessand on 127.0.0.1 (port 0) with a scratch data dir
// (or uses --server); with --journal nats, first a 3-node nats-server
// cluster with JetStream, the journal a stream of 3 replicas on it, and with
// --replicas 2 a second kessand on the same stream for the subscribers, forks subscriber workers before any
// gRPC state exists, publishes real kessan.v1 facts padded to --size, and prints one JSON object. Exits
// non-zero on gaps, failed streams or publishes, or nothing delivered.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "bench_events.h"
#include "bench_util.h"
#include "kessan/v1/feed.grpc.pb.h"
#include "kessan/v1/scenario.grpc.pb.h"
#include "publisher.h"
#include "server_process.h"
#include "shared_state.h"
#include "subscriber_worker.h"
#include "testing/nats_cluster.h"

#ifndef KESSAND_BINARY
#define KESSAND_BINARY "kessand"
#endif
#ifndef KESSAN_DATASET_FILE
#define KESSAN_DATASET_FILE ""
#endif
#ifndef KESSAN_NATS_SERVER
#define KESSAN_NATS_SERVER "nats-server"
#endif
#ifndef KESSAN_BENCH_SCRATCH
#define KESSAN_BENCH_SCRATCH "/tmp"
#endif

ABSL_FLAG(std::string, mode, "tput",
          "tput | lat | publish | replay | idle | scenario | inprocess (kessan-local-bench: the server "
          "embedded, subscribers and publishers in process or over loopback gRPC, see --transport)");
ABSL_FLAG(std::string, transport, "local", "inprocess: local (kessan/local.h) | grpc (loopback)");
ABSL_FLAG(int, S, 1, "subscriber streams");
ABSL_FLAG(int, size, 200, "serialized size of each delivered FeedEvent, bytes");
ABSL_FLAG(double, duration, 4, "seconds of publishing (tput, publish, lat, scenario)");
ABSL_FLAG(double, rate, 0, "lat: events/s, open loop (implies --mode lat when set)");
ABSL_FLAG(int, window, 1000, "tput: max events in flight per subscriber");
ABSL_FLAG(int, batch, 0, "events per Publish (0: mode default: tput window/2, else 1000)");
ABSL_FLAG(int, pub_inflight, 0, "max Publish RPCs in flight (0: tput 8, lat 1, publish 2)");
ABSL_FLAG(int, workers, 0, "subscriber processes (0: 1 when S=1, else 2; max 256)");
ABSL_FLAG(int, streams_per_channel, 32, "Subscribe streams per channel (TCP connection)");
ABSL_FLAG(uint64_t, replay_events, 1000000, "replay: events in the journal to replay");
ABSL_FLAG(int, heartbeat_ms, 0, "subscribers' heartbeat interval (0: server default)");
ABSL_FLAG(int, concurrency, 2, "scenario: RunScenario calls in flight");
ABSL_FLAG(std::string, server, "", "host:port of a running kessand (default: start one)");
ABSL_FLAG(int, server_pid, 0, "with --server: its PID, for CPU and memory");
ABSL_FLAG(std::string, kessand, KESSAND_BINARY, "kessand to start");
ABSL_FLAG(std::string, scratch, KESSAN_BENCH_SCRATCH, "parent of the scratch data dir");
ABSL_FLAG(std::string, seed, KESSAN_DATASET_FILE, "scenario: data set to seed kessand with");
ABSL_FLAG(std::string, label, "-", "free text copied into the JSON (e.g. a repetition)");
ABSL_FLAG(int, timeout, 120, "seconds after which everything gives up");
ABSL_FLAG(std::string, journal, "sqlite",
          "sqlite (kessand's default) | nats: a --nats_nodes nats-server cluster with "
          "JetStream on 127.0.0.1 (stores in the scratch dir), kessand --journal nats on it");
ABSL_FLAG(int, replicas, 1,
          "with --journal nats: kessand replicas on the stream (1 or 2); with 2, the "
          "subscribers are on the second while the publisher is on the first");
ABSL_FLAG(int, nats_nodes, 3, "with --journal nats: nats-server nodes (and stream replicas)");
ABSL_FLAG(std::string, nats_server, KESSAN_NATS_SERVER, "with --journal nats: nats-server to start");

namespace kessan::bench {
namespace {

struct Config {
  std::string mode;
  int subs = 0;
  int size = 200;
  double duration = 4;
  double rate = 0;
  int window = 1000;
  int batch = 1000;
  int pub_inflight = 1;
  int workers = 0;
  int timeout_s = 120;
  std::string label;
  bool nats = false;  // --journal nats
  int replicas = 1;
};

std::shared_ptr<grpc::Channel> PublisherChannel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("kessan_bench.channel_id", -1);
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

// Publishes synchronously; exits on failure (setup only).
v1::PublishResponse MustPublish(v1::FeedService::Stub& stub, const v1::PublishRequest& request) {
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::PublishResponse response;
  grpc::Status status = stub.Publish(&context, request, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "kessan-bench: setup publish failed: %s\n", status.error_message().c_str());
    std::exit(1);
  }
  return response;
}

// Publishes probe facts until one serializes to `size` bytes as a FeedEvent
// (within 2 bytes: sequence varints grow later); returns the pad, or -1 when
// `size` is too small (the caller returns, so that its servers are stopped).
int Calibrate(v1::FeedService::Stub& stub, int size) {
  int pad = 0;
  for (int round = 0; round < 4; ++round) {
    v1::PublishRequest request;
    FillFact(request.add_items(), 0, NowNs(), pad);
    v1::PublishResponse response = MustPublish(stub, request);
    int got = static_cast<int>(response.events(0).ByteSizeLong());
    if (got == size) break;
    int next = pad + size - got;
    if (pad == 0 && next > 0) next -= 2;  // the note's tag and length appear
    if (next < 0) {
      std::fprintf(stderr, "kessan-bench: --size %d is below the smallest bench fact (%d bytes)\n", size,
                   got);
      return -1;
    }
    pad = next;
  }
  // The probes have 1-byte sequences; a run's sequence and
  // supersedes_sequence reach 3 bytes each: aim those 4 bytes lower.
  return pad > 4 ? pad - 4 : pad;
}

// Polls `target`'s GetSnapshot until its state is at `sequence` (a replica
// following another one's appends); false at the deadline.
bool WaitForSequence(const std::string& target, uint64_t sequence, uint64_t deadline) {
  auto stub = v1::FeedService::NewStub(PublisherChannel(target));
  uint64_t seen = 0;
  while (NowNs() < deadline) {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::GetSnapshotRequest request;
    v1::GetSnapshotResponse response;
    if (stub->GetSnapshot(&context, request, &response).ok()) {
      seen = response.sequence();
      if (seen >= sequence) return true;
    }
    usleep(2000);
  }
  std::fprintf(stderr, "kessan-bench: the second replica stayed at sequence %llu, not %llu\n",
               static_cast<unsigned long long>(seen), static_cast<unsigned long long>(sequence));
  return false;
}

struct Totals {
  uint64_t received = 0, gaps = 0, errors = 0, last_recv = 0, event_bytes = 0, n = 0;
  double p50 = -1, p90 = -1, p99 = -1, p999 = -1, max = -1;
};

Totals Collect(SharedState* sh, int workers) {
  Totals t;
  std::vector<uint64_t> h(Histogram::kBuckets, 0);
  for (int w = 0; w < workers; ++w) {
    WorkerSlot& s = sh->workers[w];
    t.received += s.received.load();
    t.gaps += s.gaps.load();
    t.errors += s.errors.load();
    t.last_recv = std::max<uint64_t>(t.last_recv, s.last_recv_ns.load());
    if (!t.event_bytes) t.event_bytes = s.event_bytes.load();
    for (int b = 0; b < Histogram::kBuckets; ++b) {
      h[b] += s.hist.counts[b];
      t.n += s.hist.counts[b];
    }
  }
  t.p50 = Percentile(h.data(), t.n, 0.5);
  t.p90 = Percentile(h.data(), t.n, 0.9);
  t.p99 = Percentile(h.data(), t.n, 0.99);
  t.p999 = Percentile(h.data(), t.n, 0.999);
  t.max = Percentile(h.data(), t.n, 1.0);
  return t;
}

// Waits for every worker to report (or the deadline), then reaps them.
void ReapWorkers(SharedState* sh, const std::vector<pid_t>& kids, uint64_t deadline) {
  while (sh->workers_done.load() < static_cast<int>(kids.size()) && NowNs() < deadline) usleep(500);
  if (sh->workers_done.load() < static_cast<int>(kids.size())) {
    std::fprintf(stderr, "kessan-bench: timeout waiting for subscribers\n");
  }
  sh->abort = 1;
  for (pid_t k : kids) waitpid(k, nullptr, 0);
}

bool WaitReady(SharedState* sh, int subs, uint64_t deadline) {
  while (sh->ready.load() < subs) {
    if (NowNs() > deadline || sh->workers_done.load() > 0) {
      std::fprintf(stderr, "kessan-bench: only %d of %d subscribers ready\n", sh->ready.load(), subs);
      return false;
    }
    usleep(1000);
  }
  return true;
}

// tput / lat / publish: the publishing loop. Returns the events published.
void PublishLoop(const Config& c, Publisher& pub, SharedState* sh, uint64_t t0, uint64_t deadline) {
  const uint64_t S = static_cast<uint64_t>(c.subs);
  const uint64_t duration_ns = static_cast<uint64_t>(c.duration * 1e9);
  if (c.mode == "lat") {
    const uint64_t total = static_cast<uint64_t>(c.rate * c.duration);
    const double interval = 1e9 / c.rate;
    uint64_t generated = 0;
    std::vector<uint64_t> pending;
    while ((generated < total || !pending.empty()) && NowNs() < deadline) {
      uint64_t now = NowNs();
      while (generated < total && t0 + static_cast<uint64_t>(generated * interval) <= now) {
        pending.push_back(t0 + static_cast<uint64_t>(generated * interval));
        ++generated;
      }
      if (!pending.empty() && pub.in_flight() < c.pub_inflight) {
        size_t n = std::min<size_t>(pending.size(), static_cast<size_t>(c.batch));
        std::vector<uint64_t> batch(pending.begin(), pending.begin() + static_cast<long>(n));
        pending.erase(pending.begin(), pending.begin() + static_cast<long>(n));
        pub.Send(batch);
        continue;
      }
      uint64_t next = generated < total ? t0 + static_cast<uint64_t>(generated * interval) : now + 1000000;
      if (pub.in_flight() > 0) {
        pub.Poll(next);
      } else {
        SleepUntilNs(next);
      }
    }
    return;
  }
  // tput and publish: as fast as the window allows, for the duration.
  while (NowNs() - t0 < duration_ns && NowNs() < deadline) {
    uint64_t b = static_cast<uint64_t>(c.batch);
    bool window_ok =
        S == 0 || (pub.sent_events() + b) * S <= sh->received_total.load(std::memory_order_relaxed) +
                                                     static_cast<uint64_t>(c.window) * S;
    if (window_ok && pub.in_flight() < c.pub_inflight) {
      pub.Send(b, NowNs());
      continue;
    }
    if (!pub.Poll(NowNs() + 50000) && pub.in_flight() == 0) usleep(20);
    if (pub.errors() > 0) break;
  }
}

void PrintLatency(const Totals& t) {
  std::printf("\"p50_us\": %.0f, \"p90_us\": %.0f, \"p99_us\": %.0f, \"p999_us\": %.0f, \"max_us\": %.0f, ",
              t.p50, t.p90, t.p99, t.p999, t.max);
}

int RunScenario(const Config& c, const std::string& target, int srv_pid, uint64_t deadline) {
  auto channel = PublisherChannel(target);
  auto stub = v1::ScenarioService::NewStub(channel);
  {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::ListScenariosResponse list;
    grpc::Status status = stub->ListScenarios(&context, {}, &list);
    bool ready = false;
    for (const auto& s : list.scenarios()) {
      if (s.scenario().name() == "dilution" && s.state() == v1::PLUGIN_STATE_READY) ready = true;
    }
    if (!status.ok() || !ready) {
      std::printf("{\"system\": \"kessan\", \"mode\": \"scenario\", \"skipped\": \"%s\"}\n",
                  status.ok() ? "plugin dilution is not loaded and ready" : "ScenarioService unavailable");
      std::fprintf(stderr, "kessan-bench: scenario mode skipped: %s\n",
                   status.ok() ? "no ready 'dilution' plugin" : status.error_message().c_str());
      return 0;
    }
  }
  v1::RunScenarioRequest request;
  request.set_name("dilution");
  request.set_issuer("IIJ");
  (*request.mutable_parameters())["shares_outstanding_before"].set_integer(48000);
  struct Call {
    grpc::ClientContext context;
    v1::RunScenarioResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::RunScenarioResponse>> rpc;
    uint64_t start = 0;
  };
  grpc::CompletionQueue cq;
  auto hist = std::make_unique<Histogram>();
  int in_flight = 0;
  uint64_t calls = 0, errors = 0, outputs = 0;
  auto start_call = [&] {
    auto* call = new Call;
    call->start = NowNs();
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    call->rpc = stub->PrepareAsyncRunScenario(&call->context, request, &cq);
    call->rpc->StartCall();
    call->rpc->Finish(&call->response, &call->status, call);
    ++in_flight;
  };
  ProcSample srv0 = ReadProc(srv_pid);
  uint64_t t0 = NowNs();
  const uint64_t end = t0 + static_cast<uint64_t>(c.duration * 1e9);
  while (in_flight < c.pub_inflight) start_call();
  while (in_flight > 0 && NowNs() < deadline) {
    void* tag;
    bool ok;
    if (!cq.Next(&tag, &ok)) break;
    auto* call = static_cast<Call*>(tag);
    --in_flight;
    hist->Add((NowNs() - call->start) / 1000);
    if (!ok || !call->status.ok()) {
      if (errors++ < 3)
        std::fprintf(stderr, "kessan-bench: RunScenario: %s\n", call->status.error_message().c_str());
    } else {
      ++calls;
      outputs += static_cast<uint64_t>(call->response.result().outputs_size());
    }
    delete call;
    if (NowNs() < end && errors < 100) start_call();
  }
  double el = (NowNs() - t0) / 1e9;
  ProcSample srv1 = ReadProc(srv_pid);
  std::vector<uint64_t> h(hist->counts, hist->counts + Histogram::kBuckets);
  uint64_t n = calls + errors;
  std::printf(
      "{\"system\": \"kessan\", \"mode\": \"scenario\", \"label\": \"%s\", \"scenario\": \"dilution\", "
      "\"concurrency\": %d, \"calls\": %llu, \"elapsed_s\": %.3f, \"calls_per_s\": %.1f, "
      "\"outputs_per_call\": %.1f, \"p50_us\": %.0f, \"p99_us\": %.0f, \"srv_cpu_pct\": %.1f, "
      "\"srv_cpu_us_per_call\": %.1f, \"srv_rss_kb\": %ld, \"errors\": %llu}\n",
      c.label.c_str(), c.pub_inflight, static_cast<unsigned long long>(calls), el, calls / el,
      calls ? static_cast<double>(outputs) / calls : 0.0, Percentile(h.data(), n, 0.5),
      Percentile(h.data(), n, 0.99), 100.0 * (srv1.cpu_s - srv0.cpu_s) / el,
      calls ? (srv1.cpu_s - srv0.cpu_s) / calls * 1e6 : 0.0, srv1.hwm_kb,
      static_cast<unsigned long long>(errors));
  std::fflush(stdout);
  return errors == 0 && calls > 0 ? 0 : 1;
}

int Main(const Config& c) {
  long fds = RaiseFdLimit();
  prctl(PR_SET_TIMERSLACK, 1);
  const uint64_t deadline = NowNs() + static_cast<uint64_t>(c.timeout_s) * 1000000000ull;
  SharedState* sh = MapSharedState();

  // Subscriber workers first: forked before this process has gRPC state.
  WorkerOptions wo;
  wo.streams_per_channel = absl::GetFlag(FLAGS_streams_per_channel);
  wo.heartbeat_ms = static_cast<uint32_t>(absl::GetFlag(FLAGS_heartbeat_ms));
  wo.timeout_s = c.timeout_s;
  std::string server = absl::GetFlag(FLAGS_server);
  if (!server.empty()) wo.host = server.substr(0, server.rfind(':'));
  std::vector<pid_t> kids;
  for (int w = 0; w < c.workers; ++w) {
    wo.index = w;
    wo.streams = c.subs / c.workers + (w < c.subs % c.workers ? 1 : 0);
    pid_t p = fork();
    if (p == 0) RunSubscriberWorker(sh, wo);
    kids.push_back(p);
  }

  // Declared first: destroyed last, after the kessand replicas.
  std::unique_ptr<test::NatsCluster> nats;
  ServerProcess process, process2;
  int srv_pid = absl::GetFlag(FLAGS_server_pid);
  int srv2_pid = 0;
  std::string target = server;
  std::string sub_target = server;
  if (server.empty()) {
    std::vector<std::string> args = {"--plugin_dir", "none"};
    if (c.mode == "scenario") args = {"--seed", absl::GetFlag(FLAGS_seed)};
    const std::string kessand = absl::GetFlag(FLAGS_kessand), scratch = absl::GetFlag(FLAGS_scratch);
    auto fail = [&] {
      sh->abort = 1;
      for (pid_t k : kids) waitpid(k, nullptr, 0);
      return 1;
    };
    if (c.nats) {
      const int nodes = absl::GetFlag(FLAGS_nats_nodes);
      absl::StatusOr<std::unique_ptr<test::NatsCluster>> started =
          test::NatsCluster::Start(nodes, absl::Seconds(30), scratch, absl::GetFlag(FLAGS_nats_server));
      if (!started.ok()) {
        std::fprintf(stderr, "kessan-bench: nats: %s\n", started.status().ToString().c_str());
        return fail();
      }
      nats = *std::move(started);
      args.insert(args.end(), {"--journal", "nats", "--nats_url", nats->url(), "--nats_stream", "KESSAN",
                               "--nats_replicas", std::to_string(nodes)});
    }
    if (!process.Start(kessand, scratch, args, 30)) return fail();
    srv_pid = process.pid();
    target = "127.0.0.1:" + std::to_string(process.port());
    sub_target = target;
    if (c.replicas > 1) {
      if (!process2.Start(kessand, scratch, args, 30)) return fail();
      srv2_pid = process2.pid();
      sub_target = "127.0.0.1:" + std::to_string(process2.port());
    }
  }
  sh->port = std::stoi(sub_target.substr(sub_target.rfind(':') + 1));
  std::vector<pid_t> nats_pids;
  for (int i = 0; nats != nullptr && i < nats->size(); ++i) nats_pids.push_back(nats->pid(i));
  auto nats_cpu = [&] {
    double s = 0;
    for (pid_t p : nats_pids) s += p > 0 ? ReadProc(p).cpu_s : 0;
    return s;
  };
  if (c.mode == "scenario") return RunScenario(c, target, srv_pid, deadline);

  auto channel = PublisherChannel(target);
  auto stub = v1::FeedService::NewStub(channel);
  MustPublish(*stub, IssuerBatch());
  const int pad = Calibrate(*stub, c.size);
  if (pad < 0) return 2;
  Publisher pub(channel, pad);

  uint64_t replay_published_s_ns = 0;
  if (c.mode == "replay") {
    uint64_t r0 = NowNs();
    uint64_t total = absl::GetFlag(FLAGS_replay_events);
    while (pub.sent_events() < total && pub.errors() == 0 && NowNs() < deadline) {
      if (pub.in_flight() < c.pub_inflight) {
        pub.Send(std::min<uint64_t>(c.batch, total - pub.sent_events()), NowNs());
      } else {
        pub.Poll(deadline);
      }
    }
    pub.Drain(c.timeout_s);
    replay_published_s_ns = NowNs() - r0;
  }
  pub.Drain(c.timeout_s);
  // The head: the last probe (or the last replay event).
  uint64_t head = std::max(pub.last_sequence(), MustPublish(*stub,
                                                            [&] {
                                                              v1::PublishRequest r;
                                                              FillFact(r.add_items(), 0, NowNs(), pad);
                                                              return r;
                                                            }())
                                                    .sequences(0));
  if (srv2_pid > 0 && !WaitForSequence(sub_target, head, deadline)) {
    ReapWorkers(sh, kids, NowNs());
    return 1;
  }
  ProcSample idle0 = ReadProc(srv_pid);
  if (c.mode == "replay") {
    sh->from_sequence = 0;
    sh->target = head - 1;  // every event after the first
  } else {
    sh->from_sequence = head - 1;  // the first event a stream gets is `head`
  }
  sh->go = 1;
  if (c.subs > 0 && c.mode != "replay" && !WaitReady(sh, c.subs, deadline)) {
    ReapWorkers(sh, kids, NowNs());
    return 1;
  }

  if (c.mode == "idle") {
    usleep(2000000);
    ProcSample idle1 = ReadProc(srv_pid);
    usleep(5000000);
    ProcSample idle2 = ReadProc(srv_pid);
    sh->abort = 1;
    ReapWorkers(sh, kids, NowNs() + 5000000000ull);
    Totals t = Collect(sh, c.workers);
    double per = c.subs ? (idle1.rss_kb - idle0.rss_kb) * 1024.0 / c.subs : 0;
    std::printf("{\"system\": \"kessan\", \"journal\": \"%s\", \"replicas\": %d, ",
                c.nats ? "nats" : "sqlite", c.replicas);
    std::printf(
        "\"mode\": \"idle\", \"label\": \"%s\", \"S\": %d, \"workers\": %d, "
        "\"streams_per_channel\": %d, \"fd_limit\": %ld, \"srv_rss_before_kb\": %ld, "
        "\"srv_rss_after_kb\": %ld, \"srv_bytes_per_idle_subscriber\": %.0f, \"srv_rss_kb\": %ld, "
        "\"srv_threads\": %ld, \"srv_idle_cpu_pct\": %.1f, \"gaps\": %llu, \"errors\": %llu}\n",
        c.label.c_str(), c.subs, c.workers, wo.streams_per_channel, fds, idle0.rss_kb, idle1.rss_kb, per,
        idle2.hwm_kb, idle2.threads, 100.0 * (idle2.cpu_s - idle1.cpu_s) / 5.0,
        static_cast<unsigned long long>(t.gaps), static_cast<unsigned long long>(t.errors));
    std::fflush(stdout);
    return t.gaps == 0 && t.errors == 0 ? 0 : 1;
  }

  if (c.mode == "replay") {
    ReapWorkers(sh, kids, deadline);
    Totals t = Collect(sh, c.workers);
    uint64_t start = sh->workers[0].first_start_ns.load();
    double el = t.last_recv > start ? (t.last_recv - start) / 1e9 : 0;
    ProcSample srv = ReadProc(srv_pid);
    std::printf("{\"system\": \"kessan\", \"journal\": \"%s\", \"replicas\": %d, ",
                c.nats ? "nats" : "sqlite", c.replicas);
    std::printf(
        "\"mode\": \"replay\", \"label\": \"%s\", \"size\": %d, "
        "\"event_bytes\": %llu, \"journal_events\": %llu, \"replayed\": %llu, \"elapsed_s\": %.3f, "
        "\"replay_per_s\": %.0f, \"publish_per_s\": %.0f, \"srv_rss_kb\": %ld, \"sub_cpu_s\": %.2f, "
        "\"srv_cpu_s\": %.2f, \"srv_cpu_us_per_event\": %.3f, \"gaps\": %llu, \"errors\": %llu}\n",
        c.label.c_str(), c.size, static_cast<unsigned long long>(t.event_bytes),
        static_cast<unsigned long long>(head), static_cast<unsigned long long>(t.received), el,
        el > 0 ? t.received / el : 0,
        replay_published_s_ns ? pub.acked_events() / (replay_published_s_ns / 1e9) : 0, srv.hwm_kb,
        ChildrenCpuSeconds(), srv.cpu_s - idle0.cpu_s,
        t.received ? (srv.cpu_s - idle0.cpu_s) * 1e6 / t.received : 0,
        static_cast<unsigned long long>(t.gaps), static_cast<unsigned long long>(t.errors));
    std::fflush(stdout);
    bool ok = t.gaps == 0 && t.errors == 0 && t.received == head - 1 && pub.errors() == 0;
    return ok ? 0 : 1;
  }

  // tput, lat, publish.
  usleep(200000);
  ProcSample srv0 = ReadProc(srv_pid);
  ProcSample srv2_0 = srv2_pid > 0 ? ReadProc(srv2_pid) : ProcSample{};
  const double nats_cpu0 = nats_cpu();
  double pub_cpu0 = SelfCpuSeconds();
  uint64_t t0 = NowNs();
  uint64_t acked0 = pub.acked_events(), sent0 = pub.sent_events(), rpcs0 = pub.rpcs();
  PublishLoop(c, pub, sh, t0, deadline);
  uint64_t t_last_pub = NowNs();
  pub.Drain(c.timeout_s);
  uint64_t t_acked = NowNs();
  uint64_t published = pub.sent_events() - sent0;
  sh->target = published > 0 ? published : 1;
  while (sh->workers_done.load() < c.workers && NowNs() < deadline) usleep(500);
  uint64_t t_end = NowNs();
  ProcSample srv1 = ReadProc(srv_pid);
  ProcSample srv2_1 = srv2_pid > 0 ? ReadProc(srv2_pid) : ProcSample{};
  const double nats_cpu_s = nats_cpu() - nats_cpu0;
  double pub_cpu = SelfCpuSeconds() - pub_cpu0;
  ReapWorkers(sh, kids, deadline);
  Totals t = Collect(sh, c.workers);
  const uint64_t S = static_cast<uint64_t>(c.subs);
  uint64_t last = c.mode == "publish" ? t_acked : (t.last_recv ? t.last_recv : t_end);
  double el = (last - t0) / 1e9;
  double window = (t_end - t0) / 1e9;
  double srv_cpu_s = srv1.cpu_s - srv0.cpu_s;
  uint64_t acked = pub.acked_events() - acked0;
  std::printf("{\"system\": \"kessan\", \"journal\": \"%s\", \"replicas\": %d, ", c.nats ? "nats" : "sqlite",
              c.replicas);
  if (c.nats) {
    std::printf("\"nats_nodes\": %zu, \"nats_cpu_s\": %.3f, \"nats_cpu_us_per_event\": %.3f, ",
                nats_pids.size(), nats_cpu_s, published ? nats_cpu_s / published * 1e6 : 0.0);
  }
  if (srv2_pid > 0) {
    std::printf("\"srv2_cpu_s\": %.3f, \"srv2_cpu_us_per_delivery\": %.3f, \"srv2_rss_kb\": %ld, ",
                srv2_1.cpu_s - srv2_0.cpu_s,
                t.received ? (srv2_1.cpu_s - srv2_0.cpu_s) / t.received * 1e6 : 0.0, srv2_1.hwm_kb);
  }
  std::printf(
      "\"mode\": \"%s\", \"label\": \"%s\", \"size\": %d, \"event_bytes\": %llu, "
      "\"S\": %d, \"workers\": %d, \"streams_per_channel\": %d, \"rate\": %.0f, \"batch\": %d, "
      "\"pub_inflight\": %d, \"window\": %d, \"published\": %llu, \"acked\": %llu, \"publish_rpcs\": %llu, "
      "\"achieved_pub_rate\": %.0f, \"acked_per_s\": %.0f, \"elapsed_s\": %.3f, \"delivered\": %llu, "
      "\"expected\": %llu, \"delivered_per_s\": %.0f, ",
      c.mode.c_str(), c.label.c_str(), c.size, static_cast<unsigned long long>(t.event_bytes), c.subs,
      c.workers, wo.streams_per_channel, c.rate, c.batch, c.pub_inflight, c.window,
      static_cast<unsigned long long>(published), static_cast<unsigned long long>(acked),
      static_cast<unsigned long long>(pub.rpcs() - rpcs0),
      published / std::max(1e-9, (t_last_pub - t0) / 1e9), acked / std::max(1e-9, (t_acked - t0) / 1e9), el,
      static_cast<unsigned long long>(t.received), static_cast<unsigned long long>(published * S),
      el > 0 ? t.received / el : 0);
  PrintLatency(t);
  std::vector<uint64_t> ah(pub.ack_latency().counts, pub.ack_latency().counts + Histogram::kBuckets);
  std::printf(
      "\"ack_p50_us\": %.0f, \"ack_p99_us\": %.0f, \"srv_cpu_pct\": %.1f, \"srv_cpu_s\": %.3f, "
      "\"srv_cpu_us_per_delivery\": %.3f, \"srv_cpu_us_per_event\": %.3f, \"srv_rss_kb\": %ld, "
      "\"srv_threads\": %ld, \"pub_cpu_s\": %.2f, \"sub_cpu_s\": %.2f, \"gaps\": %llu, \"errors\": %llu}\n",
      Percentile(ah.data(), pub.rpcs(), 0.5), Percentile(ah.data(), pub.rpcs(), 0.99),
      100.0 * srv_cpu_s / window, srv_cpu_s, t.received ? srv_cpu_s / t.received * 1e6 : 0.0,
      published ? srv_cpu_s / published * 1e6 : 0.0, srv1.hwm_kb, srv1.threads, pub_cpu, ChildrenCpuSeconds(),
      static_cast<unsigned long long>(t.gaps), static_cast<unsigned long long>(t.errors + pub.errors()));
  std::fflush(stdout);
  bool ok = t.gaps == 0 && t.errors == 0 && pub.errors() == 0 &&
            (c.mode == "publish" ? acked > 0 : t.received > 0 && t.received == published * S);
  if (!ok) std::fprintf(stderr, "kessan-bench: FAILED (gaps, errors, or not every event delivered)\n");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace kessan::bench

int main(int argc, char** argv) {
  kessan::bench::RaiseMallocCache(argv);
  absl::SetProgramUsageMessage(
      "kessan-bench --mode tput|lat|publish|replay|idle|scenario -S N --size BYTES "
      "[--duration S] [--rate EVENTS_PER_S]");
  absl::ParseCommandLine(argc, argv);
  kessan::bench::Config c;
  c.mode = absl::GetFlag(FLAGS_mode);
  c.rate = absl::GetFlag(FLAGS_rate);
  if (c.rate > 0 && c.mode == "tput") c.mode = "lat";
  if (c.mode == "lat" && c.rate <= 0) c.rate = 1000;
  c.subs = absl::GetFlag(FLAGS_S);
  if (c.mode == "publish" || c.mode == "scenario") c.subs = 0;
  if (c.mode == "replay") c.subs = 1;
  c.size = absl::GetFlag(FLAGS_size);
  c.duration = absl::GetFlag(FLAGS_duration);
  c.window = absl::GetFlag(FLAGS_window);
  c.timeout_s = absl::GetFlag(FLAGS_timeout);
  c.label = absl::GetFlag(FLAGS_label);
  const std::string journal = absl::GetFlag(FLAGS_journal);
  if (journal != "sqlite" && journal != "nats") {
    std::fprintf(stderr, "kessan-bench: unknown --journal %s (sqlite | nats)\n", journal.c_str());
    return 2;
  }
  c.nats = journal == "nats";
  c.replicas = absl::GetFlag(FLAGS_replicas);
  if (c.replicas < 1 || c.replicas > 2 || (c.replicas == 2 && !c.nats) ||
      (c.nats && !absl::GetFlag(FLAGS_server).empty())) {
    std::fprintf(stderr,
                 "kessan-bench: --replicas 2 needs --journal nats; --journal nats starts its "
                 "own servers (no --server)\n");
    return 2;
  }
  c.batch = absl::GetFlag(FLAGS_batch);
  if (c.batch <= 0) c.batch = c.mode == "tput" ? std::max(1, c.window / 2) : 1000;
  c.batch = std::min(c.batch, 1000);
  c.pub_inflight = absl::GetFlag(FLAGS_pub_inflight);
  if (c.pub_inflight <= 0) {
    c.pub_inflight = c.mode == "tput" ? 8 : c.mode == "lat" ? 1 : 2;
    if (c.mode == "scenario") c.pub_inflight = absl::GetFlag(FLAGS_concurrency);
  }
  c.workers = absl::GetFlag(FLAGS_workers);
  if (c.workers <= 0) c.workers = c.subs <= 1 ? c.subs : 2;
  c.workers = std::min({c.workers, c.subs, kessan::bench::kMaxWorkers});
  if (c.mode == "inprocess") {
#ifndef KESSAN_LOCAL_BENCH
    std::fprintf(stderr,
                 "kessan-bench: --mode inprocess needs kessan-local-bench (-DKESSAN_BENCH_TOOLS=ON)\n");
    return 2;
#else
    // Another binary: it links libkessan, this one a static protobuf.
    std::vector<std::string> args = {KESSAN_LOCAL_BENCH,
                                     "--transport=" + absl::GetFlag(FLAGS_transport),
                                     "--S=" + std::to_string(absl::GetFlag(FLAGS_S)),
                                     "--size=" + std::to_string(c.size),
                                     "--duration=" + std::to_string(c.duration),
                                     "--window=" + std::to_string(c.window),
                                     "--label=" + c.label,
                                     "--timeout=" + std::to_string(c.timeout_s),
                                     "--scratch=" + absl::GetFlag(FLAGS_scratch)};
    if (absl::GetFlag(FLAGS_batch) > 0)
      args.push_back("--batch=" + std::to_string(absl::GetFlag(FLAGS_batch)));
    if (absl::GetFlag(FLAGS_pub_inflight) > 0) {
      args.push_back("--pub_inflight=" + std::to_string(absl::GetFlag(FLAGS_pub_inflight)));
    }
    std::vector<char*> argv2;
    for (auto& a : args) argv2.push_back(a.data());
    argv2.push_back(nullptr);
    execv(argv2[0], argv2.data());
    std::perror("kessan-bench: " KESSAN_LOCAL_BENCH);
    return 1;
#endif
  }
  static const char* kModes[] = {"tput", "lat", "publish", "replay", "idle", "scenario"};
  if (std::find_if(std::begin(kModes), std::end(kModes), [&](const char* m) { return c.mode == m; }) ==
      std::end(kModes)) {
    std::fprintf(stderr, "kessan-bench: unknown --mode %s\n", c.mode.c_str());
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  return kessan::bench::Main(c);
}
