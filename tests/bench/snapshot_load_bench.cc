// kessan-snapshot-bench: publish latency while journal reads run. Fills a
// SQLite journal with --events facts, then publishes one-fact batches every
// --interval_us, first alone, then while --readers threads each loop over
// subscriptions that read the journal (a first-reported or as-of snapshot,
// or a resume from sequence 0) and drain them. Prints one JSON object: the
// publish latency quantiles of both phases and the reads completed.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "bench_events.h"
#include "bench_util.h"
#include "feed/feed.h"
#include "google/protobuf/util/time_util.h"
#include "journal/sqlite_journal.h"

ABSL_FLAG(uint64_t, events, 1000000, "facts in the journal before the measurement");
ABSL_FLAG(int, pad, 200, "provenance note bytes per fact");
ABSL_FLAG(double, seconds, 5, "length of each phase");
ABSL_FLAG(int, interval_us, 1000, "time between two publishes");
ABSL_FLAG(int, readers, 1, "threads reading the journal in the loaded phase");
ABSL_FLAG(std::string, mode, "first_reported", "first_reported, as_of or resume");
ABSL_FLAG(std::string, dir, "", "scratch folder (default: a new one under /tmp)");

namespace kessan::bench {
namespace {

class CondWaker final : public Waker {
 public:
  void Wake() override {
    absl::MutexLock lock(&mu_);
    woken_ = true;
  }
  // Waits until woken, at most `timeout`.
  void Wait(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&woken_), timeout);
    woken_ = false;
  }

 private:
  absl::Mutex mu_;
  bool woken_ = false;
};

// Subscribes as `mode` says and takes events until the read part (the
// snapshot, or the backlog up to `head`) is all taken. Returns false on error.
bool ReadOnce(Feed& feed, const std::string& mode, uint64_t head) {
  v1::SubscribeRequest request;
  if (mode == "resume") {
    request.set_start(v1::START_MODE_FROM_SEQUENCE);
    request.set_from_sequence(0);
  } else {
    request.set_start(v1::START_MODE_SNAPSHOT_THEN_LIVE);
    if (mode == "as_of") {
      request.mutable_point_in_time()->set_view(v1::REVISION_VIEW_AS_OF);
      *request.mutable_point_in_time()->mutable_as_of() = google::protobuf::util::TimeUtil::GetCurrentTime();
    } else {
      request.mutable_point_in_time()->set_view(v1::REVISION_VIEW_FIRST_REPORTED);
    }
  }
  request.set_slow_consumer_policy(v1::SLOW_CONSUMER_POLICY_CONFLATE);
  absl::StatusOr<std::shared_ptr<Subscription>> sub = feed.Subscribe(request);
  if (!sub.ok()) {
    std::fprintf(stderr, "subscribe: %s\n", sub.status().ToString().c_str());
    return false;
  }
  auto waker = std::make_shared<CondWaker>();
  (*sub)->SetWaker(waker);
  bool done = false;
  bool ok = true;
  while (!done) {
    std::vector<EventPtr> events = (*sub)->Take(1024, 256 * 1024);
    for (const EventPtr& e : events) {
      if (mode != "resume" && e->sequence() == 0 && e->event().has_snapshot_end()) done = true;
    }
    if (mode == "resume" && (*sub)->last_taken() >= head) done = true;
    if (events.empty() && !done) {
      if (std::optional<absl::Status> end = (*sub)->Finished()) {
        std::fprintf(stderr, "subscription ended: %s\n", end->ToString().c_str());
        ok = false;
        break;
      }
      waker->Wait(absl::Milliseconds(100));
    }
  }
  (*sub)->SetWaker(nullptr);
  feed.Unsubscribe(sub->get());
  return ok;
}

struct Quantiles {
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
  size_t count = 0;
};

Quantiles Summarize(std::vector<uint64_t> ns) {
  Quantiles q;
  q.count = ns.size();
  if (ns.empty()) return q;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double f) { return ns[std::min(ns.size() - 1, static_cast<size_t>(f * ns.size()))] / 1e3; };
  q.p50_us = at(0.5);
  q.p99_us = at(0.99);
  q.p999_us = at(0.999);
  q.max_us = ns.back() / 1e3;
  return q;
}

// One-fact publishes every interval for `seconds`: their latencies.
std::vector<uint64_t> PublishPhase(Feed& feed, uint64_t* index, double seconds, int interval_us, int pad) {
  std::vector<uint64_t> out;
  const uint64_t end = NowNs() + static_cast<uint64_t>(seconds * 1e9);
  uint64_t next = NowNs();
  while (next < end) {
    SleepUntilNs(next);
    v1::PublishRequest request;
    request.set_omit_events(true);
    const uint64_t start = NowNs();
    FillFact(request.add_items(), (*index)++, start, pad);
    absl::StatusOr<v1::PublishResponse> r = feed.Publish(request);
    out.push_back(NowNs() - start);
    if (!r.ok()) {
      std::fprintf(stderr, "publish: %s\n", r.status().ToString().c_str());
      std::exit(1);
    }
    next += static_cast<uint64_t>(interval_us) * 1000;
  }
  return out;
}

std::string Json(const Quantiles& q) {
  return absl::StrFormat(
      "{\"count\": %d, \"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f}", q.count,
      q.p50_us, q.p99_us, q.p999_us, q.max_us);
}

int Main() {
  std::string dir = absl::GetFlag(FLAGS_dir);
  bool own_dir = dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/kessan-snapshot-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    dir = tmpl;
  }
  auto journal = SqliteJournal::Open(dir + "/kessan.db");
  if (!journal.ok()) {
    std::fprintf(stderr, "%s\n", journal.status().ToString().c_str());
    return 1;
  }
  Feed::Options options;
  options.tick = absl::ZeroDuration();
  auto feed = Feed::Open(*std::move(journal), options);
  if (!feed.ok() || !(*feed)->Publish(IssuerBatch()).ok()) return 1;
  const int pad = absl::GetFlag(FLAGS_pad);
  const uint64_t total = absl::GetFlag(FLAGS_events);
  uint64_t index = 0;
  const uint64_t fill_start = NowNs();
  while (index < total) {
    v1::PublishRequest batch;
    batch.set_omit_events(true);
    for (int i = 0; i < 500 && index < total; ++i) FillFact(batch.add_items(), index++, 0, pad);
    absl::StatusOr<v1::PublishResponse> r = (*feed)->Publish(batch);
    if (!r.ok()) {
      std::fprintf(stderr, "fill: %s\n", r.status().ToString().c_str());
      return 1;
    }
  }
  const double fill_s = (NowNs() - fill_start) / 1e9;

  const double seconds = absl::GetFlag(FLAGS_seconds);
  const int interval = absl::GetFlag(FLAGS_interval_us);
  Quantiles quiet = Summarize(PublishPhase(**feed, &index, seconds, interval, pad));

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> read_ns{0};
  std::atomic<bool> failed{false};
  const std::string mode = absl::GetFlag(FLAGS_mode);
  std::vector<std::thread> readers;
  for (int r = 0; r < absl::GetFlag(FLAGS_readers); ++r) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const uint64_t start = NowNs();
        if (!ReadOnce(**feed, mode, (*feed)->last_sequence())) {
          failed = true;
          return;
        }
        read_ns += NowNs() - start;
        ++reads;
      }
    });
  }
  Quantiles loaded = Summarize(PublishPhase(**feed, &index, seconds, interval, pad));
  stop = true;
  for (std::thread& t : readers) t.join();
  feed->reset();
  if (own_dir) std::filesystem::remove_all(dir);
  const uint64_t n = reads.load();
  std::printf(
      "{\"bench\": \"snapshot_load\", \"mode\": \"%s\", \"journal_events\": %llu, "
      "\"fill_seconds\": %.1f, \"readers\": %d, \"interval_us\": %d,\n"
      " \"publish_quiet\": %s,\n \"publish_loaded\": %s,\n"
      " \"reads_completed\": %llu, \"read_seconds_mean\": %.2f, \"failed\": %s}\n",
      mode.c_str(), static_cast<unsigned long long>(total + 1), fill_s, absl::GetFlag(FLAGS_readers),
      interval, Json(quiet).c_str(), Json(loaded).c_str(), static_cast<unsigned long long>(n),
      n ? read_ns.load() / 1e9 / n : 0.0, failed.load() ? "true" : "false");
  return failed.load() ? 1 : 0;
}

}  // namespace
}  // namespace kessan::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return kessan::bench::Main();
}
