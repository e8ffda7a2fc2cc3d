// Server::MetricsText end to end: a real kessan::Server (SQLite journal in a
// temp dir, the IIJ seed, the bundled plugins) driven over loopback gRPC,
// scraped before and after; each figure must move by what was done.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

#include "feed_test_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "kessan/v1/scenario.grpc.pb.h"
#include "prometheus_text.h"

namespace kessan {
namespace {

using ::kessan::test::ParsePrometheusText;
using ::kessan::test::Scrape;
using Labels = std::map<std::string, std::string>;

constexpr int kMaxBatchItems = 20;

Labels Rpc(const std::string& service, const std::string& method, const std::string& type,
           const Labels& more = {}) {
  Labels labels = {{"grpc_service", "kessan.v1." + service}, {"grpc_method", method}, {"grpc_type", type}};
  labels.insert(more.begin(), more.end());
  return labels;
}

class ServerMetricsTest : public FeedServerTest {
 protected:
  void Adjust(ServerOptions& options) override {
    options.plugin_dir.clear();  // the bundled plugins
    options.max_batch_items = kMaxBatchItems;
  }

  Scrape MustScrape() {
    const std::string text = server_->MetricsText();
    absl::StatusOr<Scrape> scrape = ParsePrometheusText(text);
    EXPECT_TRUE(scrape.ok()) << scrape.status() << "\n" << text;
    return scrape.ok() ? *scrape : Scrape();
  }

  // Scrapes until `ready` holds (a call's end is counted on gRPC's
  // threads), at most kWait.
  template <typename Pred>
  Scrape ScrapeWhen(Pred ready) {
    const absl::Time deadline = absl::Now() + kWait;
    Scrape s = MustScrape();
    while (!ready(s) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));  // polling a condition, not waiting out a race
      s = MustScrape();
    }
    return s;
  }

  // A batch of `n` distinct revenue items.
  static v1::PublishRequest Items(int first, int n) {
    std::vector<v1::PublishItem> items;
    for (int i = 0; i < n; ++i) items.push_back(QuarterItem(first + i, 1'000'000'000 + i * 100'000'000LL));
    return Batch(std::move(items));
  }
};

TEST_F(ServerMetricsTest, FiguresMoveWithPublishesSubscriptionsScenariosAndRefusals) {
  const Scrape before = MustScrape();
  EXPECT_EQ(before.Get("kessan_last_sequence"), server_->last_sequence());
  EXPECT_EQ(before.Get("kessan_subscribers"), 0);

  v1::SubscribeRequest live;
  live.set_start(v1::START_MODE_LIVE_ONLY);
  live.mutable_filter()->add_concepts("revenue");
  std::optional<StreamCollector> stream;
  stream.emplace(*stub_, live);
  const Labels subscribe = Rpc("FeedService", "Subscribe", "server_stream");
  ScrapeWhen([&](const Scrape& s) { return s.Get("kessan_subscribers") == 1; });

  // Three batches of 1, 4 and 10 items, each read by the subscriber.
  uint64_t last = 0;
  int first = 0;
  for (int n : {1, 4, 10}) {
    v1::PublishResponse response;
    grpc::Status status = Publish(Items(first, n), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    first += n;
    last = response.sequences(response.sequences_size() - 1);
  }
  stream->WaitUntil([&](const std::vector<v1::FeedEvent>& events) {
    for (const auto& e : events) {
      if (e.sequence() == last) return true;  // heartbeats (sequence 0) may follow it
    }
    return false;
  });
  // A batch over the limit: refused, nothing journaled.
  v1::PublishResponse refused;
  EXPECT_EQ(Publish(Items(100, kMaxBatchItems + 1), &refused).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);

  // A scenario run.
  auto scenarios = v1::ScenarioService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::RunScenarioRequest run;
    run.set_name("dilution");
    run.set_issuer("IIJ");
    (*run.mutable_parameters())["shares_outstanding_before"].set_text("48000");
    v1::RunScenarioResponse result;
    grpc::Status status = scenarios->RunScenario(&context, run, &result);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  const Labels publish = Rpc("FeedService", "Publish", "unary");
  const Labels run = Rpc("ScenarioService", "RunScenario", "unary");
  // The stream counts its messages as it writes them (StreamMetrics).
  const Scrape after = ScrapeWhen([&](const Scrape& s) {
    return s.Get("grpc_server_msg_sent_total", subscribe) >
               before.Get("grpc_server_msg_sent_total", subscribe) &&
           s.Get("grpc_server_handled_total",
                 Rpc("ScenarioService", "RunScenario", "unary", {{"grpc_code", "OK"}})) >
               before.Get("grpc_server_handled_total",
                          Rpc("ScenarioService", "RunScenario", "unary", {{"grpc_code", "OK"}}));
  });
  auto moved = [&](const std::string& name, const Labels& labels = {}) {
    return after.Get(name, labels) - before.Get(name, labels);
  };
  auto code = [](Labels labels, const std::string& c) {
    labels["grpc_code"] = c;
    return labels;
  };

  // gRPC: 4 Publish calls (3 OK, 1 refused), each one message in; 3 out.
  EXPECT_EQ(moved("grpc_server_started_total", publish), 4);
  EXPECT_EQ(moved("grpc_server_msg_received_total", publish), 4);
  EXPECT_EQ(moved("grpc_server_msg_sent_total", publish), 3);
  EXPECT_EQ(moved("grpc_server_handled_total", code(publish, "OK")), 3);
  EXPECT_EQ(moved("grpc_server_handled_total", code(publish, "RESOURCE_EXHAUSTED")), 1);
  EXPECT_EQ(moved("grpc_server_handling_seconds_count", publish), 4);
  size_t publish_buckets = 0;
  for (const auto& [name, labels] : after.series) {
    Labels without = labels;
    without.erase("le");
    publish_buckets += name == "grpc_server_handling_seconds_bucket" && without == publish;
  }
  EXPECT_EQ(publish_buckets, 12u);  // go-grpc-prometheus's 11 bounds and +Inf
  EXPECT_EQ(after.types.at("grpc_server_handling_seconds"), "histogram");
  // The stream: started, its request received, messages sent; not handled yet.
  EXPECT_EQ(moved("grpc_server_started_total", subscribe), 1);
  EXPECT_EQ(moved("grpc_server_msg_received_total", subscribe), 1);
  EXPECT_GE(moved("grpc_server_msg_sent_total", subscribe), 1);
  EXPECT_EQ(moved("grpc_server_handling_seconds_count", subscribe), 0);
  EXPECT_EQ(moved("grpc_server_handled_total", code(run, "OK")), 1);

  // The feed: 15 events in 3 batches and 3 commits (one publish at a time).
  EXPECT_EQ(after.Get("kessan_last_sequence"), last);
  EXPECT_EQ(moved("kessan_last_sequence"), 15);
  EXPECT_EQ(moved("kessan_published_events_total"), 15);
  EXPECT_EQ(moved("kessan_publish_batch_items_count"), 3);
  EXPECT_EQ(moved("kessan_publish_batch_items_sum"), 15);
  EXPECT_EQ(moved("kessan_publish_batch_items_bucket", {{"le", "1"}}), 1);
  EXPECT_EQ(moved("kessan_publish_batch_items_bucket", {{"le", "5"}}), 2);
  EXPECT_EQ(moved("kessan_publish_batch_items_bucket", {{"le", "10"}}), 3);
  EXPECT_EQ(moved("kessan_journal_commit_seconds_count"), 3);
  EXPECT_GT(moved("kessan_journal_commit_seconds_sum"), 0);
  EXPECT_EQ(after.Get("kessan_subscribers"), 1);
  size_t subscription_series = 0;
  for (const auto& [name, labels] : after.series) {
    if (name != "kessan_subscription_lag_events") continue;
    ++subscription_series;
    EXPECT_EQ(labels.size(), 1u);
    EXPECT_EQ(labels.count("subscription"), 1u);
  }
  EXPECT_EQ(subscription_series, 1u);
  EXPECT_EQ(after.Get("kessan_subscription_lag_events_max"), 0);  // it read everything

  // Scenarios and refusals.
  EXPECT_EQ(moved("kessan_scenario_runs_total", {{"outcome", "OK"}}), 1);
  EXPECT_EQ(moved("kessan_refused_calls_total", {{"code", "RESOURCE_EXHAUSTED"}, {"reason", "batch_size"}}),
            1);
  EXPECT_TRUE(after.Has("kessan_plugin_worker_restarts_total", {{"plugin", "dilution"}}));
  EXPECT_TRUE(after.Has("kessan_plugin_quarantines_total", {{"plugin", "dilution"}}));

  // The process.
  EXPECT_GT(after.Get("process_cpu_seconds_total"), 0);
  EXPECT_GE(after.Get("process_cpu_seconds_total"), before.Get("process_cpu_seconds_total"));
  EXPECT_GT(after.Get("process_resident_memory_bytes"), 0);
  EXPECT_GT(after.Get("process_open_fds"), 0);
  EXPECT_GT(after.Get("process_start_time_seconds"), 0);

  // The stream ends: handled, as CANCELLED (the client went away). A scrape
  // reads the counters before the histograms, so both are waited for.
  stream.reset();
  const Scrape ended = ScrapeWhen([&](const Scrape& s) {
    return s.Get("grpc_server_handling_seconds_count", subscribe) >
               before.Get("grpc_server_handling_seconds_count", subscribe) &&
           s.Get("grpc_server_handled_total", code(subscribe, "CANCELLED")) >
               before.Get("grpc_server_handled_total", code(subscribe, "CANCELLED"));
  });
  EXPECT_EQ(ended.Get("grpc_server_handling_seconds_count", subscribe) -
                before.Get("grpc_server_handling_seconds_count", subscribe),
            1);
  EXPECT_EQ(ended.Get("grpc_server_handled_total", code(subscribe, "CANCELLED")) -
                before.Get("grpc_server_handled_total", code(subscribe, "CANCELLED")),
            1);
}

// Subscribe records its own series (no interceptor on its calls): a
// refused stream is started, its request received, handled with its code,
// and sends nothing.
TEST_F(ServerMetricsTest, ARefusedSubscribeIsCountedWithItsCode) {
  const Labels subscribe = Rpc("FeedService", "Subscribe", "server_stream");
  const Scrape before = MustScrape();
  v1::SubscribeRequest beyond;
  beyond.set_start(v1::START_MODE_FROM_SEQUENCE);
  beyond.set_from_sequence(server_->last_sequence() + 1000);
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader = stub_->Subscribe(&context, beyond);
  v1::SubscribeResponse response;
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::OUT_OF_RANGE);
  Labels out_of_range = subscribe;
  out_of_range["grpc_code"] = "OUT_OF_RANGE";
  const Scrape after = ScrapeWhen([&](const Scrape& s) {
    return s.Get("grpc_server_handling_seconds_count", subscribe) >
           before.Get("grpc_server_handling_seconds_count", subscribe);
  });
  auto moved = [&](const std::string& name, const Labels& labels) {
    return after.Get(name, labels) - before.Get(name, labels);
  };
  EXPECT_EQ(moved("grpc_server_started_total", subscribe), 1);
  EXPECT_EQ(moved("grpc_server_msg_received_total", subscribe), 1);
  EXPECT_EQ(moved("grpc_server_msg_sent_total", subscribe), 0);
  EXPECT_EQ(moved("grpc_server_handled_total", out_of_range), 1);
  EXPECT_EQ(moved("grpc_server_handling_seconds_count", subscribe), 1);
}

// gRPC's own services are counted by the interceptor: a health check.
TEST_F(ServerMetricsTest, AHealthCheckIsCountedByTheInterceptor) {
  const Labels check = {
      {"grpc_service", "grpc.health.v1.Health"}, {"grpc_method", "Check"}, {"grpc_type", "unary"}};
  Labels ok = check;
  ok["grpc_code"] = "OK";
  const Scrape before = MustScrape();
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, grpc::health::v1::HealthCheckRequest(), &response).ok());
  const Scrape after = ScrapeWhen([&](const Scrape& s) {
    return s.Get("grpc_server_handled_total", ok) > before.Get("grpc_server_handled_total", ok);
  });
  EXPECT_EQ(after.Get("grpc_server_started_total", check) - before.Get("grpc_server_started_total", check),
            1);
  EXPECT_EQ(after.Get("grpc_server_msg_received_total", check) -
                before.Get("grpc_server_msg_received_total", check),
            1);
  EXPECT_EQ(after.Get("grpc_server_msg_sent_total", check) - before.Get("grpc_server_msg_sent_total", check),
            1);
  EXPECT_EQ(after.Get("grpc_server_handled_total", ok) - before.Get("grpc_server_handled_total", ok), 1);
}

// Every family docs/operations.md lists is exported (deploy/check_deploy.py
// checks the dashboard's queries against the names in server/metrics/).
TEST_F(ServerMetricsTest, ExportsEveryDocumentedFamily) {
  StreamCollector stream(*stub_, v1::SubscribeRequest());
  {
    // Plugins are counted from when they are loaded: ListScenarios waits for it.
    auto scenarios = v1::ScenarioService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::ListScenariosResponse list;
    ASSERT_TRUE(scenarios->ListScenarios(&context, v1::ListScenariosRequest(), &list).ok());
  }
  ScrapeWhen([&](const Scrape& s) { return s.Get("kessan_subscribers") == 1; });
  const Scrape s = MustScrape();
  for (const char* family : {"grpc_server_started_total",
                             "grpc_server_handled_total",
                             "grpc_server_handling_seconds",
                             "grpc_server_msg_received_total",
                             "grpc_server_msg_sent_total",
                             "kessan_last_sequence",
                             "kessan_subscribers",
                             "kessan_subscription_queued_events",
                             "kessan_subscription_lag_events",
                             "kessan_subscription_queued_events_max",
                             "kessan_subscription_lag_events_max",
                             "kessan_slow_consumer_disconnects_total",
                             "kessan_conflations_total",
                             "kessan_conflated_events_total",
                             "kessan_journal_commit_seconds",
                             "kessan_publish_batch_items",
                             "kessan_published_events_total",
                             "kessan_scenario_runs_total",
                             "kessan_plugin_worker_restarts_total",
                             "kessan_plugin_quarantines_total",
                             "kessan_refused_calls_total",
                             "process_cpu_seconds_total",
                             "process_resident_memory_bytes",
                             "process_virtual_memory_bytes",
                             "process_open_fds",
                             "process_max_fds",
                             "process_start_time_seconds"}) {
    EXPECT_EQ(s.types.count(family), 1u) << family;
  }
}

}  // namespace
}  // namespace kessan
