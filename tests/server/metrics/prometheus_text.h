// A strict reader of the Prometheus text format (version 0.0.4), for tests
// of what /metrics serves (promtool is not installed).
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace kessan::test {

struct Scrape {
  // Each sample by SeriesKey(name, labels).
  std::map<std::string, double> samples;
  // Each family's type ("counter", "gauge", "histogram", ...).
  std::map<std::string, std::string> types;
  // Each sample's name and labels, in order.
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> series;

  // A sample's value, 0 when absent (a series shown once it moves).
  double Get(const std::string& name, const std::map<std::string, std::string>& labels = {}) const;
  bool Has(const std::string& name, const std::map<std::string, std::string>& labels = {}) const;
  // Families whose name is or starts with `prefix`.
  std::set<std::string> Families(const std::string& prefix = "") const;
};

// "name{a="x",b="y"}", labels sorted by name; "name" without labels.
std::string SeriesKey(const std::string& name, const std::map<std::string, std::string>& labels);

// Parses `text`, checking: line syntax (HELP, TYPE, samples; names and
// label names valid; label values with only \\, \" and \n escaped; values
// floats), one TYPE per family and before its samples, no series twice,
// samples of a family together; counters never negative; each histogram
// series with _bucket lines whose "le" ascend to +Inf with counts that do
// not fall, and _count equal to the +Inf bucket, and a _sum.
absl::StatusOr<Scrape> ParsePrometheusText(const std::string& text);

}  // namespace kessan::test
