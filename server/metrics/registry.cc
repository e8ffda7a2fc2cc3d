#include "metrics/registry.h"

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "prometheus/check_names.h"
#include "prometheus/text_serializer.h"

namespace kessan::metrics {
namespace {

[[noreturn]] void Misuse(const std::string& what) {
  std::fprintf(stderr, "metrics::Registry: %s\n", what.c_str());
  std::abort();
}

std::vector<prometheus::ClientMetric::Label> ToLabels(const Labels& labels) {
  std::vector<prometheus::ClientMetric::Label> out;
  out.reserve(labels.size());
  for (const auto& [name, value] : labels) out.push_back({name, value});
  return out;
}

}  // namespace

prometheus::ClientMetric Sample(double value, const Labels& labels) {
  prometheus::ClientMetric m;
  m.label = ToLabels(labels);
  m.counter.value = value;
  m.gauge.value = value;
  return m;
}

Registry::Family& Registry::FamilyLocked(const std::string& name, const std::string& help, Type type) {
  if (!prometheus::CheckMetricName(name)) Misuse("invalid metric name " + name);
  auto [it, added] = families_.try_emplace(name);
  if (added) {
    it->second.help = help;
    it->second.type = type;
  } else if (it->second.type != type) {
    Misuse("metric " + name + " added with two types");
  }
  return it->second;
}

Registry::Series* Registry::FindLocked(Family& family, const Labels& labels) {
  for (const auto& [label, value] : labels) {
    if (!prometheus::CheckLabelName(label)) Misuse("invalid label name " + label);
  }
  for (Series& s : family.series) {
    if (s.labels == labels) return &s;
  }
  return nullptr;
}

Counter& Registry::AddCounter(const std::string& name, const std::string& help, Labels labels,
                              bool hide_zero) {
  absl::MutexLock lock(&mu_);
  Family& family = FamilyLocked(name, help, Type::kCounter);
  if (Series* s = FindLocked(family, labels)) return *s->counter;
  Series& s = family.series.emplace_back();
  s.labels = std::move(labels);
  s.counter = std::make_unique<Counter>();
  s.hide_zero = hide_zero;
  return *s.counter;
}

Histogram& Registry::AddHistogram(const std::string& name, const std::string& help,
                                  const std::vector<double>& bounds, Labels labels) {
  absl::MutexLock lock(&mu_);
  Family& family = FamilyLocked(name, help, Type::kHistogram);
  if (Series* s = FindLocked(family, labels)) return *s->histogram;
  for (size_t i = 1; i < bounds.size(); ++i) {
    if (!(bounds[i - 1] < bounds[i])) Misuse("histogram " + name + ": bounds must ascend");
  }
  Series& s = family.series.emplace_back();
  s.labels = std::move(labels);
  s.histogram = std::make_unique<Histogram>(bounds);
  return *s.histogram;
}

void Registry::AddGauge(const std::string& name, const std::string& help, std::function<double()> read) {
  absl::MutexLock lock(&mu_);
  Family& family = FamilyLocked(name, help, Type::kGauge);
  if (Series* s = FindLocked(family, {})) {
    s->gauge = std::move(read);
    return;
  }
  family.series.emplace_back().gauge = std::move(read);
}

void Registry::AddCollector(Collector collect) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collect));
}

std::vector<prometheus::MetricFamily> Registry::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  std::vector<std::pair<size_t, std::function<double()>>> gauges;  // family index, read
  std::vector<Collector> collectors;
  {
    absl::MutexLock lock(&mu_);
    collectors = collectors_;
    out.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      prometheus::MetricFamily& f = out.emplace_back();
      f.name = name;
      f.help = family.help;
      f.type = family.type == Type::kCounter ? prometheus::MetricType::Counter
               : family.type == Type::kGauge ? prometheus::MetricType::Gauge
                                             : prometheus::MetricType::Histogram;
      for (const Series& s : family.series) {
        if (family.type == Type::kGauge) {
          gauges.emplace_back(out.size() - 1, s.gauge);
        } else if (family.type == Type::kCounter) {
          const uint64_t value = s.counter->value();
          if (value != 0 || !s.hide_zero) f.metric.push_back(Sample(static_cast<double>(value), s.labels));
        } else {
          const Histogram::Reading r = s.histogram->Read();
          const std::vector<double>& bounds = s.histogram->bounds();
          prometheus::ClientMetric& m = f.metric.emplace_back();
          m.label = ToLabels(s.labels);
          m.histogram.sample_count = r.cumulative.back();
          m.histogram.sample_sum = r.sum;
          for (size_t i = 0; i < r.cumulative.size(); ++i) {
            m.histogram.bucket.push_back(
                {r.cumulative[i], i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity()});
          }
        }
      }
    }
  }
  // Not under mu_: gauges and collectors take other locks (the feed's, a plugin's).
  for (const auto& [index, read] : gauges) out[index].metric.push_back(Sample(read()));
  for (const Collector& collect : collectors) collect(&out);
  return out;
}

std::string Registry::Text() const {
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, Collect());
  return text.str();
}

}  // namespace kessan::metrics
