// metrics::Registry: kessand's metrics, collected for Prometheus.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "metrics/instruments.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace kessan::metrics {

// Label name and value pairs of one series.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Registry owns instruments grouped in families by name, and callbacks that
// compute families when scraped. Thread-safe. The Add* methods take the
// registry's lock: call them once (at start, or when a plugin loads) and
// keep the reference, which lives as long as the registry. Adding a series
// that exists returns it. Names and label names must be valid Prometheus
// names, and one name one type (the process aborts otherwise: a programming
// error, never input).
class Registry : public prometheus::Collectable {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // `hide_zero`: the series is left out while it is 0 (for one series per
  // status code, most of which never move).
  Counter& AddCounter(const std::string& name, const std::string& help, Labels labels = {},
                      bool hide_zero = false);
  Histogram& AddHistogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                          Labels labels = {});
  // A gauge read when scraped.
  void AddGauge(const std::string& name, const std::string& help, std::function<double()> read);
  // Families computed when scraped, appended to `out`.
  using Collector = std::function<void(std::vector<prometheus::MetricFamily>* out)>;
  void AddCollector(Collector collect);

  std::vector<prometheus::MetricFamily> Collect() const override;
  // The Prometheus text format (version 0.0.4) of Collect().
  std::string Text() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> gauge;
    bool hide_zero = false;
  };
  struct Family {
    std::string help;
    Type type;
    std::deque<Series> series;
  };
  Family& FamilyLocked(const std::string& name, const std::string& help, Type type)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Series* FindLocked(Family& family, const Labels& labels) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
  std::vector<Collector> collectors_ ABSL_GUARDED_BY(mu_);
};

// A counter or gauge sample with `labels`, for collectors.
prometheus::ClientMetric Sample(double value, const Labels& labels = {});

}  // namespace kessan::metrics
