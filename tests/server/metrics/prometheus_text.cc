#include "prometheus_text.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kessan::test {
namespace {

bool ValidName(absl::string_view s, bool metric) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':') ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<double> ParseValue(const std::string& s) {
  if (s == "+Inf" || s == "Inf") return HUGE_VAL;
  if (s == "-Inf") return -HUGE_VAL;
  if (s == "NaN") return NAN;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) return absl::InvalidArgumentError("bad value '" + s + "'");
  return v;
}

// The family a sample belongs to: a histogram's name without its suffix.
std::string FamilyOf(const std::string& name, const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_count", "_sum"}) {
    if (absl::EndsWith(name, suffix)) {
      std::string base = name.substr(0, name.size() - std::string(suffix).size());
      auto it = types.find(base);
      if (it != types.end() && (it->second == "histogram" || it->second == "summary")) return base;
    }
  }
  return name;
}

}  // namespace

std::string SeriesKey(const std::string& name, const std::map<std::string, std::string>& labels) {
  if (labels.empty()) return name;
  std::string key = name + "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    absl::StrAppend(&key, first ? "" : ",", k, "=\"", v, "\"");
    first = false;
  }
  return key + "}";
}

double Scrape::Get(const std::string& name, const std::map<std::string, std::string>& labels) const {
  auto it = samples.find(SeriesKey(name, labels));
  return it == samples.end() ? 0 : it->second;
}

bool Scrape::Has(const std::string& name, const std::map<std::string, std::string>& labels) const {
  return samples.count(SeriesKey(name, labels)) > 0;
}

std::set<std::string> Scrape::Families(const std::string& prefix) const {
  std::set<std::string> out;
  for (const auto& [name, type] : types) {
    if (absl::StartsWith(name, prefix)) out.insert(name);
  }
  return out;
}

absl::StatusOr<Scrape> ParsePrometheusText(const std::string& text) {
  Scrape scrape;
  std::set<std::string> done_families;  // families whose samples ended
  std::string current;                  // the family of the last sample
  std::set<std::string> helped;
  int line_number = 0;
  if (!text.empty() && text.back() != '\n')
    return absl::InvalidArgumentError("the text does not end with a newline");
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    auto error = [&](const std::string& what) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": ", what, ": ", line));
    };
    if (line.empty()) continue;
    if (absl::StartsWith(line, "#")) {
      std::vector<std::string> words = absl::StrSplit(line, absl::MaxSplits(' ', 3));
      if (words.size() >= 3 && (words[1] == "HELP" || words[1] == "TYPE")) {
        if (!ValidName(words[2], true)) return error("invalid metric name");
        if (words[1] == "HELP") {
          if (!helped.insert(words[2]).second) return error("a second HELP");
          continue;
        }
        if (words.size() != 4) return error("TYPE without a type");
        static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (kTypes.count(words[3]) == 0) return error("unknown type");
        if (!scrape.types.emplace(words[2], words[3]).second) return error("a second TYPE");
        if (done_families.count(words[2]) > 0 || current == words[2]) return error("TYPE after samples");
        continue;
      }
      continue;  // a comment
    }
    // name{labels} value [timestamp]
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    const std::string name(line.substr(0, i));
    if (!ValidName(name, true)) return error("invalid metric name");
    std::map<std::string, std::string> labels;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        size_t eq = line.find('=', i);
        if (eq == absl::string_view::npos) return error("a label without '='");
        const std::string label(line.substr(i, eq - i));
        if (!ValidName(label, false)) return error("invalid label name '" + label + "'");
        if (eq + 1 >= line.size() || line[eq + 1] != '"') return error("a label value without quotes");
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\') {
            if (++j >= line.size()) return error("a cut escape");
            if (line[j] == 'n') {
              value += '\n';
            } else if (line[j] == '\\' || line[j] == '"') {
              value += line[j];
            } else {
              return error("an unknown escape");
            }
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) return error("an unterminated label value");
        if (!labels.emplace(label, value).second) return error("a label twice");
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
    }
    if (i >= line.size() || line[i] != ' ') return error("no value");
    std::vector<std::string> rest = absl::StrSplit(line.substr(i + 1), ' ');
    if (rest.empty() || rest.size() > 2) return error("expected a value and an optional timestamp");
    absl::StatusOr<double> value = ParseValue(rest[0]);
    if (!value.ok()) return error(std::string(value.status().message()));
    const std::string family = FamilyOf(name, scrape.types);
    if (scrape.types.count(family) == 0) return error("a sample without a TYPE");
    if (family != current) {
      if (done_families.count(family) > 0) return error("the samples of a family are not together");
      if (!current.empty()) done_families.insert(current);
      current = family;
    }
    if (scrape.types[family] == "counter" && !(*value >= 0)) return error("a negative counter");
    if (!scrape.samples.emplace(SeriesKey(name, labels), *value).second) return error("a series twice");
    scrape.series.emplace_back(name, labels);
  }
  // Histograms: per series (labels without "le"), buckets ascend to +Inf.
  for (const auto& [family, type] : scrape.types) {
    if (type != "histogram") continue;
    std::map<std::string, std::vector<std::pair<double, double>>> buckets;  // series -> (le, count)
    std::map<std::string, std::map<std::string, std::string>> label_sets;
    for (const auto& [name, labels] : scrape.series) {
      if (name != family + "_bucket") continue;
      auto le = labels.find("le");
      if (le == labels.end()) return absl::InvalidArgumentError(family + "_bucket without le");
      absl::StatusOr<double> bound = ParseValue(le->second);
      if (!bound.ok()) return absl::InvalidArgumentError(family + ": bad le " + le->second);
      std::map<std::string, std::string> without = labels;
      without.erase("le");
      const std::string key = SeriesKey(family, without);
      buckets[key].emplace_back(*bound, scrape.samples.at(SeriesKey(name, labels)));
      label_sets[key] = without;
    }
    for (const auto& [key, list] : buckets) {
      for (size_t k = 1; k < list.size(); ++k) {
        if (!(list[k - 1].first < list[k].first))
          return absl::InvalidArgumentError(key + ": le does not ascend");
        if (list[k - 1].second > list[k].second)
          return absl::InvalidArgumentError(key + ": bucket counts fall");
      }
      if (list.empty() || !std::isinf(list.back().first))
        return absl::InvalidArgumentError(key + ": no +Inf bucket");
      const auto& labels = label_sets[key];
      if (!scrape.Has(family + "_count", labels) || !scrape.Has(family + "_sum", labels)) {
        return absl::InvalidArgumentError(key + ": no _count or _sum");
      }
      if (scrape.Get(family + "_count", labels) != list.back().second) {
        return absl::InvalidArgumentError(key + ": _count is not the +Inf bucket");
      }
    }
  }
  return scrape;
}

}  // namespace kessan::test
