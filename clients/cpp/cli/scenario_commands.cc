#include "cli/scenario_commands.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cli/args.h"
#include "kessan/scenario_client.h"

namespace kessan::cli {
namespace {

struct ScenarioArgs {
  std::string command;  // "scenarios", "run", "watch"
  std::string name;
  std::string server = kDefaultServerAddress;
  absl::Duration timeout = absl::InfiniteDuration();
  std::string issuer;
  std::string as_of;
  std::map<std::string, std::string> params;
  bool json = false;
  uint64_t limit = 0;
};

bool TakesValue(const std::string& flag) {
  return flag == "server" || flag == "timeout" || flag == "param" || flag == "issuer" || flag == "as_of" ||
         flag == "limit";
}

std::string Parse(const std::vector<std::string>& argv, ScenarioArgs* a) {
  std::vector<std::string> words;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& w = argv[i];
    if (!absl::StartsWith(w, "--")) {
      words.push_back(w);
      continue;
    }
    std::string flag = w.substr(2), value;
    size_t eq = flag.find('=');
    bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    if (flag == "json") {
      a->json = true;
      continue;
    }
    if (!TakesValue(flag)) return "unknown flag --" + flag;
    if (!inline_value) {
      if (i + 1 >= argv.size()) return "--" + flag + " needs a value";
      value = argv[++i];
    }
    // Scenarios are not resumable: one server only.
    if (flag == "server" && value.find(',') != std::string::npos) {
      return "scenario commands take one --server HOST:PORT, not \"" + value + "\"";
    }
    if (flag == "server") a->server = value;
    if (flag == "issuer") a->issuer = value;
    if (flag == "as_of") a->as_of = value;
    if (flag == "timeout" && !absl::ParseDuration(value, &a->timeout))
      return "--timeout \"" + value + "\" is not a duration";
    if (flag == "limit" && !absl::SimpleAtoi(value, &a->limit))
      return "--limit \"" + value + "\" is not a count";
    if (flag == "param") {
      size_t at = value.find('=');
      if (at == std::string::npos || at == 0) return "--param \"" + value + "\" is not NAME=VALUE";
      a->params[value.substr(0, at)] = value.substr(at + 1);
    }
  }
  if (words.empty()) return "no command";
  if (words[0] == "scenarios") {
    a->command = "scenarios";
    return words.size() == 1 ? "" : "scenarios takes no arguments";
  }
  if (words.size() < 2 || (words[1] != "run" && words[1] != "watch"))
    return "scenario: expected run or watch";
  a->command = words[1];
  if (words.size() != 3) return "scenario " + words[1] + ": expected one scenario NAME";
  a->name = words[2];
  return "";
}

std::string Json(const google::protobuf::Message& m) {
  std::string s;
  (void)google::protobuf::util::MessageToJsonString(m, &s);
  return s;
}

std::string Grouped(int64_t v) {
  std::string s = std::to_string(v < 0 ? -v : v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return v < 0 ? "-" + s : s;
}

std::string Money(const v1::Money& m) { return m.currency_code() + " " + Grouped(m.units()); }

std::string ValueText(const v1::Output& o) {
  switch (o.value_case()) {
    case v1::Output::kMoney:
      return Money(o.money());
    case v1::Output::kDecimal:
      return o.decimal().value();
    case v1::Output::kCount:
      return Grouped(o.count());
    case v1::Output::kFlag:
      return o.flag() ? "yes" : "no";
    case v1::Output::kText:
      return o.text();
    case v1::Output::kMoneyInterval: {
      const v1::MoneyInterval& i = o.money_interval();
      return absl::StrCat(i.low_exclusive() ? "(" : "[", Money(i.low()), ", ", Grouped(i.high().units()),
                          i.high_exclusive() ? ")" : "]");
    }
    default:
      return "-";
  }
}

std::string ParamText(const v1::ParameterValue& v) {
  switch (v.kind_case()) {
    case v1::ParameterValue::kInteger:
      return std::to_string(v.integer());
    case v1::ParameterValue::kDecimal:
      return v.decimal().value();
    case v1::ParameterValue::kMoney:
      return Money(v.money());
    case v1::ParameterValue::kText:
      return "\"" + v.text() + "\"";
    case v1::ParameterValue::kFlag:
      return v.flag() ? "true" : "false";
    default:
      return "";
  }
}

std::string PeriodText(const v1::FiscalPeriod& p) {
  std::string s = "FY" + std::to_string(p.fiscal_year());
  if (p.kind() == v1::PERIOD_KIND_QUARTER) s += "Q" + std::to_string(p.number());
  if (p.kind() == v1::PERIOD_KIND_HALF) s += "H" + std::to_string(p.number());
  return s;
}

void PrintResult(const v1::ScenarioResult& r, std::ostream& out) {
  out << r.scenario() << " " << r.version() << "  issuer " << r.issuer() << "  state at sequence "
      << r.state_sequence();
  if (r.has_as_of()) out << "  as of " << google::protobuf::util::TimeUtil::ToString(r.as_of());
  out << "\n";
  std::vector<std::string> params;
  for (const auto& [k, v] : r.parameters()) params.push_back(k + "=" + ParamText(v));
  std::sort(params.begin(), params.end());
  if (!params.empty()) out << "  parameters: " << absl::StrJoin(params, " ") << "\n";
  for (const v1::Output& o : r.outputs()) {
    out << absl::StrFormat("  %-44s %s\n", o.label().empty() ? o.name() : o.label(), ValueText(o));
    if (!o.derivation().empty()) out << "      = " << o.derivation() << "\n";
  }
  out << "  inputs used:\n";
  for (const v1::InputRef& in : r.inputs_used()) {
    out << "    #" << in.sequence() << " ";
    if (in.event_kind() == v1::EVENT_KIND_CAPITAL_ACTION) {
      out << "capital action " << in.action_id();
    } else {
      out << (in.event_kind() == v1::EVENT_KIND_GUIDANCE ? "guidance " : "fact ") << in.key().concept_id()
          << " " << PeriodText(in.key().period());
      if (in.key().has_comparison_period()) out << " vs " << PeriodText(in.key().comparison_period());
      if (!in.key().segment().empty()) out << " segment " << in.key().segment();
    }
    out << " (revision " << in.revision() << ")\n";
  }
}

void PrintScenarios(const v1::ListScenariosResponse& list, std::ostream& out) {
  for (const v1::ScenarioInfo& info : list.scenarios()) {
    const v1::ScenarioDescriptor& d = info.scenario();
    out << d.name() << " " << d.version();
    if (info.state() != v1::PLUGIN_STATE_READY) {
      out << "  [" << v1::PluginState_Name(info.state()) << ": " << info.error() << "]";
    }
    out << "\n";
    if (!d.title().empty()) out << "  " << d.title() << "\n";
    for (const v1::ParameterSpec& p : d.parameters()) {
      std::string type = v1::ParameterType_Name(p.type()).substr(std::string("PARAMETER_TYPE_").size());
      out << "  --param " << p.name() << "=<" << absl::AsciiStrToLower(type)
          << (p.unit().empty() ? "" : ", " + p.unit()) << ">";
      if (p.required()) out << " (required)";
      if (p.has_default_value()) out << " default " << ParamText(p.default_value());
      if (p.has_min()) out << " min " << ParamText(p.min());
      if (p.has_max()) out << " max " << ParamText(p.max());
      out << "\n      " << p.help() << "\n";
    }
    for (const v1::InputSpec& in : d.inputs()) {
      std::string kind = v1::EventKind_Name(in.event_kind()).substr(std::string("EVENT_KIND_").size());
      out << "  reads " << absl::AsciiStrToLower(kind) << " "
          << (in.concept_id().empty() ? (in.action_id().empty() ? "*" : in.action_id()) : in.concept_id())
          << ": " << in.description() << "\n";
    }
  }
}

int Fail(const absl::Status& s, std::ostream& err) {
  err << "kessan: " << absl::StatusCodeToString(s.code()) << ": " << s.message() << "\n";
  return kExitFailure;
}

}  // namespace

bool IsScenarioCommand(const std::vector<std::string>& argv) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& w = argv[i];
    if (absl::StartsWith(w, "--")) {
      std::string flag = w.substr(2);
      if (flag.find('=') == std::string::npos && TakesValue(flag)) ++i;
      continue;
    }
    return w == "scenarios" || w == "scenario";
  }
  return false;
}

std::string ScenarioUsage() {
  return "  kessan scenarios [--json]\n"
         "  kessan scenario run NAME [--param K=V]... [--issuer ID] [--as_of RFC3339] [--json]\n"
         "  kessan scenario watch NAME [--param K=V]... [--issuer ID] [--limit N] [--json]\n";
}

int RunScenarioCommand(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
                       const ClientOptions& connection) {
  ScenarioArgs a;
  if (std::string e = Parse(argv, &a); !e.empty()) {
    err << "kessan: " << e << "\n\nusage:\n" << ScenarioUsage();
    return kExitUsage;
  }
  ClientOptions options = connection;
  options.address = a.server;
  ScenarioClient client(options);
  CallOptions call;
  call.timeout = a.timeout;
  if (a.command == "scenarios") {
    absl::StatusOr<v1::ListScenariosResponse> list = client.List(call);
    if (!list.ok()) return Fail(list.status(), err);
    if (a.json) {
      out << Json(*list) << "\n";
    } else {
      PrintScenarios(*list, out);
    }
    return kExitOk;
  }
  if (a.command == "run") {
    v1::RunScenarioRequest request;
    request.set_name(a.name);
    request.set_issuer(a.issuer);
    for (const auto& [k, v] : a.params) (*request.mutable_parameters())[k].set_text(v);
    if (!a.as_of.empty()) {
      absl::Time t;
      std::string error;
      if (!absl::ParseTime(absl::RFC3339_full, a.as_of, &t, &error)) {
        err << "kessan: --as_of \"" << a.as_of << "\": " << error << "\n";
        return kExitUsage;
      }
      *request.mutable_as_of() =
          google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
    }
    absl::StatusOr<v1::RunScenarioResponse> r = client.Run(request, call);
    if (!r.ok()) return Fail(r.status(), err);
    if (a.json) {
      out << Json(r->result()) << "\n";
    } else {
      PrintResult(r->result(), out);
    }
    return kExitOk;
  }
  v1::WatchScenarioRequest request;
  request.set_name(a.name);
  request.set_issuer(a.issuer);
  for (const auto& [k, v] : a.params) (*request.mutable_parameters())[k].set_text(v);
  uint64_t seen = 0;
  absl::Status s = client.Watch(
      request,
      [&](const v1::WatchScenarioResponse& r) {
        if (a.json) {
          out << Json(r) << "\n";
        } else {
          if (r.trigger_sequence() > 0) out << "-- re-run after sequence " << r.trigger_sequence() << "\n";
          PrintResult(r.result(), out);
        }
        out.flush();
        return a.limit == 0 || ++seen < a.limit;
      },
      call);
  if (!s.ok()) return Fail(s, err);
  return kExitOk;
}

}  // namespace kessan::cli
