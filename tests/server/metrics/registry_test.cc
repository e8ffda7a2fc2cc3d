#include "metrics/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "metrics/feed_metrics.h"
#include "metrics/process_metrics.h"
#include "metrics/rpc_metrics.h"
#include "metrics/scenario_metrics.h"
#include "prometheus_text.h"

namespace kessan::metrics {
namespace {

using ::kessan::test::ParsePrometheusText;
using ::kessan::test::Scrape;

Scrape MustParse(const Registry& registry) {
  const std::string text = registry.Text();
  absl::StatusOr<Scrape> scrape = ParsePrometheusText(text);
  EXPECT_TRUE(scrape.ok()) << scrape.status() << "\n" << text;
  return scrape.ok() ? *scrape : Scrape();
}

TEST(RegistryTest, CountersHistogramsAndGaugesInTheTextFormat) {
  Registry registry;
  Counter& a = registry.AddCounter("test_events_total", "Events.", {{"kind", "a"}});
  Counter& b = registry.AddCounter("test_events_total", "Events.", {{"kind", "b"}});
  Histogram& h = registry.AddHistogram("test_seconds", "Seconds.", {0.1, 1});
  double gauge = 7;
  registry.AddGauge("test_level", "Level.", [&] { return gauge; });
  a.Increment(3);
  b.Increment();
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  Scrape s = MustParse(registry);
  EXPECT_EQ(s.types["test_events_total"], "counter");
  EXPECT_EQ(s.types["test_seconds"], "histogram");
  EXPECT_EQ(s.types["test_level"], "gauge");
  EXPECT_EQ(s.Get("test_events_total", {{"kind", "a"}}), 3);
  EXPECT_EQ(s.Get("test_events_total", {{"kind", "b"}}), 1);
  EXPECT_EQ(s.Get("test_seconds_bucket", {{"le", "0.1"}}), 1);
  EXPECT_EQ(s.Get("test_seconds_bucket", {{"le", "1"}}), 2);
  EXPECT_EQ(s.Get("test_seconds_bucket", {{"le", "+Inf"}}), 3);
  EXPECT_EQ(s.Get("test_seconds_count"), 3);
  EXPECT_DOUBLE_EQ(s.Get("test_seconds_sum"), 5.55);
  EXPECT_EQ(s.Get("test_level"), 7);
  gauge = 9;
  EXPECT_EQ(MustParse(registry).Get("test_level"), 9);  // read when scraped
}

TEST(RegistryTest, AddingASeriesAgainReturnsIt) {
  Registry registry;
  Counter& first = registry.AddCounter("test_total", "T.", {{"x", "1"}});
  EXPECT_EQ(&registry.AddCounter("test_total", "T.", {{"x", "1"}}), &first);
  EXPECT_NE(&registry.AddCounter("test_total", "T.", {{"x", "2"}}), &first);
}

TEST(RegistryTest, AHiddenZeroSeriesShowsOnceItCounts) {
  Registry registry;
  Counter& c = registry.AddCounter("test_total", "T.", {{"code", "NOT_FOUND"}}, /*hide_zero=*/true);
  EXPECT_FALSE(MustParse(registry).Has("test_total", {{"code", "NOT_FOUND"}}));
  c.Increment();
  EXPECT_EQ(MustParse(registry).Get("test_total", {{"code", "NOT_FOUND"}}), 1);
}

TEST(RegistryTest, LabelValuesAreEscaped) {
  Registry registry;
  registry.AddCounter("test_total", "T.", {{"plugin", "a\"b\\c\nd"}}).Increment();
  EXPECT_EQ(MustParse(registry).Get("test_total", {{"plugin", "a\"b\\c\nd"}}), 1);
}

TEST(RegistryTest, CollectorsAddFamiliesWhenScraped) {
  Registry registry;
  int scrapes = 0;
  registry.AddCollector([&](std::vector<prometheus::MetricFamily>* out) {
    ++scrapes;
    out->push_back({"test_scrapes", "Scrapes.", prometheus::MetricType::Gauge, {Sample(scrapes)}});
  });
  EXPECT_EQ(MustParse(registry).Get("test_scrapes"), 1);
  EXPECT_EQ(MustParse(registry).Get("test_scrapes"), 2);
}

TEST(RpcMetricsTest, RecordsByMethodAndCountsUnlistedMethodsAsUnknown) {
  Registry registry;
  RpcMetrics rpc(registry,
                 {{"pkg.Svc", "Get", RpcType::kUnary}, {"pkg.Svc", "Watch", RpcType::kServerStream}});
  const RpcMetrics::Series& get = rpc.Find("/pkg.Svc/Get");
  get.Started();
  get.Received();
  get.Sent();
  get.Handled(absl::StatusCode::kOk, std::chrono::milliseconds(3));
  rpc.Find("/pkg.Svc/Get").Started();
  rpc.Find("/pkg.Svc/Get").Handled(absl::StatusCode::kNotFound, std::chrono::seconds(20));
  rpc.Find("/pkg.Svc/Nope").Started();
  rpc.Find("/attacker/made-up").Started();
  Scrape s = MustParse(registry);
  const std::map<std::string, std::string> labels = {
      {"grpc_type", "unary"}, {"grpc_service", "pkg.Svc"}, {"grpc_method", "Get"}};
  EXPECT_EQ(s.Get("grpc_server_started_total", labels), 2);
  EXPECT_EQ(s.Get("grpc_server_msg_received_total", labels), 1);
  EXPECT_EQ(s.Get("grpc_server_msg_sent_total", labels), 1);
  auto with_code = [&](const char* code) {
    auto l = labels;
    l["grpc_code"] = code;
    return l;
  };
  EXPECT_EQ(s.Get("grpc_server_handled_total", with_code("OK")), 1);
  EXPECT_EQ(s.Get("grpc_server_handled_total", with_code("NOT_FOUND")), 1);
  EXPECT_FALSE(s.Has("grpc_server_handled_total", with_code("INTERNAL")));
  auto bucket = [&](const char* le) {
    auto l = labels;
    l["le"] = le;
    return l;
  };
  EXPECT_EQ(s.Get("grpc_server_handling_seconds_bucket", bucket("0.005")), 1);
  EXPECT_EQ(s.Get("grpc_server_handling_seconds_bucket", bucket("10")), 1);
  EXPECT_EQ(s.Get("grpc_server_handling_seconds_bucket", bucket("+Inf")), 2);
  EXPECT_EQ(s.Get("grpc_server_started_total",
                  {{"grpc_type", "server_stream"}, {"grpc_service", "pkg.Svc"}, {"grpc_method", "Watch"}}),
            0);
  EXPECT_EQ(s.Get("grpc_server_started_total",
                  {{"grpc_type", "unary"}, {"grpc_service", "unknown"}, {"grpc_method", "unknown"}}),
            2);
}

TEST(SubscriptionFamiliesTest, OnlyTheSubscriptionsWithTheMostQueuedGetASeries) {
  std::vector<SubscriptionStat> stats;
  for (uint64_t id = 1; id <= kMaxSubscriptionSeries + 5; ++id) stats.push_back({id, id * 10, 100});
  std::vector<prometheus::MetricFamily> families;
  AppendSubscriptionFamilies(stats, 150, &families);
  Registry registry;
  registry.AddCollector([&](std::vector<prometheus::MetricFamily>* out) { *out = families; });
  Scrape s = MustParse(registry);
  size_t shown = 0;
  for (const auto& [name, labels] : s.series) shown += name == "kessan_subscription_queued_events";
  EXPECT_EQ(shown, kMaxSubscriptionSeries);
  const std::string deepest = std::to_string(kMaxSubscriptionSeries + 5);
  EXPECT_EQ(s.Get("kessan_subscription_queued_events", {{"subscription", deepest}}),
            10.0 * (kMaxSubscriptionSeries + 5));
  EXPECT_EQ(s.Get("kessan_subscription_lag_events", {{"subscription", deepest}}), 50);
  EXPECT_FALSE(s.Has("kessan_subscription_queued_events", {{"subscription", "1"}}));
  EXPECT_EQ(s.Get("kessan_subscription_queued_events_max"), 10.0 * (kMaxSubscriptionSeries + 5));
  EXPECT_EQ(s.Get("kessan_subscription_lag_events_max"), 50);
}

TEST(ScenarioMetricsTest, RunsByOutcomeAndPluginCounters) {
  Registry registry;
  ScenarioMetrics scenarios(registry);
  scenarios.RunEnded(absl::StatusCode::kOk);
  scenarios.RunEnded(absl::StatusCode::kDeadlineExceeded);
  ScenarioMetrics::Plugin p = scenarios.ForPlugin("dilution");
  p.worker_restarts->Increment(2);
  EXPECT_EQ(scenarios.ForPlugin("dilution").worker_restarts, p.worker_restarts);
  Scrape s = MustParse(registry);
  EXPECT_EQ(s.Get("kessan_scenario_runs_total", {{"outcome", "OK"}}), 1);
  EXPECT_EQ(s.Get("kessan_scenario_runs_total", {{"outcome", "DEADLINE_EXCEEDED"}}), 1);
  EXPECT_EQ(s.Get("kessan_plugin_worker_restarts_total", {{"plugin", "dilution"}}), 2);
  EXPECT_TRUE(s.Has("kessan_plugin_quarantines_total", {{"plugin", "dilution"}}));
}

TEST(ProcessMetricsTest, ReadsThisProcess) {
  Registry registry;
  AddProcessMetrics(registry);
  Scrape s = MustParse(registry);
  EXPECT_GT(s.Get("process_cpu_seconds_total"), 0);
  EXPECT_GT(s.Get("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(s.Get("process_virtual_memory_bytes"), s.Get("process_resident_memory_bytes"));
  EXPECT_GE(s.Get("process_open_fds"), 3);  // stdin, stdout, stderr at least
  EXPECT_GT(s.Get("process_max_fds"), s.Get("process_open_fds"));
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  EXPECT_LE(s.Get("process_start_time_seconds"), now + 1);
  EXPECT_GT(s.Get("process_start_time_seconds"), now - 3600);  // a test runs for less than an hour
}

}  // namespace
}  // namespace kessan::metrics
