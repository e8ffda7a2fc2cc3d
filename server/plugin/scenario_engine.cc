#include "plugin/scenario_engine.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kessan/plugin_decimal.h"
#include "model/keys.h"
#include "util/status_macros.h"

namespace kessan {
namespace {

using plugin::ScaledDecimal;

absl::Status Bad(const std::string& parameter, const std::string& rule) {
  return absl::InvalidArgumentError(absl::StrCat("parameter ", parameter, ": ", rule));
}

const char* TypeName(v1::ParameterType t) {
  switch (t) {
    case v1::PARAMETER_TYPE_INTEGER:
      return "an integer";
    case v1::PARAMETER_TYPE_DECIMAL:
      return "a decimal";
    case v1::PARAMETER_TYPE_MONEY:
      return "an amount of money";
    case v1::PARAMETER_TYPE_STRING:
      return "a string";
    case v1::PARAMETER_TYPE_BOOL:
      return "true or false";
    default:
      return "a value";
  }
}

std::string Show(const v1::ParameterValue& v) {
  switch (v.kind_case()) {
    case v1::ParameterValue::kInteger:
      return std::to_string(v.integer());
    case v1::ParameterValue::kDecimal:
      return v.decimal().value();
    case v1::ParameterValue::kMoney:
      return absl::StrCat(v.money().currency_code(), " ", v.money().units());
    case v1::ParameterValue::kText:
      return absl::StrCat("'", v.text(), "'");
    case v1::ParameterValue::kFlag:
      return v.flag() ? "true" : "false";
    default:
      return "nothing";
  }
}

// Converts `v` to the spec's type.
absl::StatusOr<v1::ParameterValue> Convert(const v1::ParameterSpec& spec, const v1::ParameterValue& v) {
  const std::string& name = spec.name();
  auto wrong = [&] { return Bad(name, absl::StrCat("expected ", TypeName(spec.type()), ", got ", Show(v))); };
  v1::ParameterValue out;
  switch (spec.type()) {
    case v1::PARAMETER_TYPE_INTEGER: {
      if (v.has_integer()) return v;
      int64_t i = 0;
      if (v.kind_case() == v1::ParameterValue::kText) {
        std::string t(absl::StripAsciiWhitespace(v.text()));
        t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
        t.erase(std::remove(t.begin(), t.end(), ','), t.end());
        if (absl::SimpleAtoi(t, &i)) {
          out.set_integer(i);
          return out;
        }
      }
      return wrong();
    }
    case v1::PARAMETER_TYPE_DECIMAL: {
      std::string t;
      if (v.has_decimal())
        t = v.decimal().value();
      else if (v.kind_case() == v1::ParameterValue::kText)
        t = std::string(absl::StripAsciiWhitespace(v.text()));
      else if (v.has_integer())
        t = std::to_string(v.integer());
      else
        return wrong();
      bool percent = !t.empty() && t.back() == '%';
      if (percent) t.pop_back();
      ScaledDecimal d;
      if (!plugin::ParseDecimal(t, &d) || d.scale > 18) return wrong();
      if (percent) d.scale += 2;
      out.mutable_decimal()->set_value(plugin::FormatDecimal(d));
      return out;
    }
    case v1::PARAMETER_TYPE_MONEY: {
      const std::string currency = spec.unit();
      if (v.has_money()) {
        if (!currency.empty() && v.money().currency_code() != currency) {
          return Bad(name, absl::StrCat("expected an amount in ", currency, ", got ", Show(v)));
        }
        return v;
      }
      int64_t units = 0;
      if (v.has_integer()) {
        units = v.integer();
      } else if (v.kind_case() == v1::ParameterValue::kText) {
        std::string t(absl::StripAsciiWhitespace(v.text()));
        if (!currency.empty() && absl::StartsWith(t, currency))
          t = std::string(absl::StripAsciiWhitespace(t.substr(currency.size())));
        t.erase(std::remove(t.begin(), t.end(), ','), t.end());
        t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
        if (!absl::SimpleAtoi(t, &units)) {
          return Bad(name, absl::StrCat("expected whole ", currency.empty() ? "units" : currency, ", got ",
                                        Show(v)));
        }
      } else {
        return wrong();
      }
      out.mutable_money()->set_currency_code(currency);
      out.mutable_money()->set_units(units);
      return out;
    }
    case v1::PARAMETER_TYPE_STRING:
      if (v.kind_case() == v1::ParameterValue::kText) return v;
      return wrong();
    case v1::PARAMETER_TYPE_BOOL: {
      if (v.kind_case() == v1::ParameterValue::kFlag) return v;
      if (v.kind_case() == v1::ParameterValue::kText) {
        std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(v.text()));
        if (t == "true" || t == "yes" || t == "1") {
          out.set_flag(true);
          return out;
        }
        if (t == "false" || t == "no" || t == "0") {
          out.set_flag(false);
          return out;
        }
      }
      return wrong();
    }
    default:
      return Bad(name, "the plugin declares no type for it");
  }
}

// -1, 0, 1; false if the two are not comparable.
bool CompareValues(const v1::ParameterValue& a, const v1::ParameterValue& b, int* result) {
  ScaledDecimal x, y;
  auto as_decimal = [](const v1::ParameterValue& v, ScaledDecimal* d) {
    switch (v.kind_case()) {
      case v1::ParameterValue::kInteger:
        d->units = v.integer();
        d->scale = 0;
        return true;
      case v1::ParameterValue::kMoney:
        d->units = v.money().units();
        d->scale = 0;
        return true;
      case v1::ParameterValue::kDecimal:
        return plugin::ParseDecimal(v.decimal().value(), d);
      default:
        return false;
    }
  };
  if (!as_decimal(a, &x) || !as_decimal(b, &y)) return false;
  *result = plugin::Compare(x, y);
  return true;
}

}  // namespace

absl::StatusOr<google::protobuf::Map<std::string, v1::ParameterValue>> CheckParameters(
    const v1::ScenarioDescriptor& descriptor,
    const google::protobuf::Map<std::string, v1::ParameterValue>& given) {
  std::vector<std::string> known;
  for (const v1::ParameterSpec& spec : descriptor.parameters()) known.push_back(spec.name());
  std::vector<std::string> names;
  for (const auto& [name, value] : given) names.push_back(name);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return Bad(name, absl::StrCat("unknown to scenario '", descriptor.name(), "', which takes ",
                                    known.empty() ? "no parameters" : absl::StrJoin(known, ", ")));
    }
  }
  google::protobuf::Map<std::string, v1::ParameterValue> out;
  for (const v1::ParameterSpec& spec : descriptor.parameters()) {
    auto it = given.find(spec.name());
    v1::ParameterValue value;
    if (it == given.end() || it->second.kind_case() == v1::ParameterValue::KIND_NOT_SET) {
      if (spec.required()) {
        return Bad(spec.name(), absl::StrCat("required (", TypeName(spec.type()),
                                             spec.unit().empty() ? "" : absl::StrCat(", ", spec.unit()),
                                             "): ", spec.help()));
      }
      if (spec.default_value().kind_case() == v1::ParameterValue::KIND_NOT_SET) continue;
      value = spec.default_value();
    } else {
      ASSIGN_OR_RETURN(value, Convert(spec, it->second));
    }
    int c = 0;
    if (spec.has_min() && CompareValues(value, spec.min(), &c) && c < 0) {
      return Bad(spec.name(), absl::StrCat(Show(value), " is below the minimum ", Show(spec.min())));
    }
    if (spec.has_max() && CompareValues(value, spec.max(), &c) && c > 0) {
      return Bad(spec.name(), absl::StrCat(Show(value), " is above the maximum ", Show(spec.max())));
    }
    out[spec.name()] = value;
  }
  return out;
}

bool IsInput(const v1::ScenarioDescriptor& descriptor, const v1::FeedEvent& event) {
  // What the event is about: a retraction is about the item it withdraws.
  v1::EventKind kind = v1::EVENT_KIND_UNSPECIFIED;
  std::string concept_id, action_id;
  switch (event.body_case()) {
    case v1::FeedEvent::kFact:
      kind = v1::EVENT_KIND_FACT;
      concept_id = event.fact().key().concept_id();
      break;
    case v1::FeedEvent::kGuidance:
      kind = v1::EVENT_KIND_GUIDANCE;
      concept_id = event.guidance().key().concept_id();
      break;
    case v1::FeedEvent::kCapitalAction:
      kind = v1::EVENT_KIND_CAPITAL_ACTION;
      action_id = event.capital_action().action_id();
      break;
    case v1::FeedEvent::kRetraction: {
      const v1::ItemRef& ref = event.retraction().item();
      if (ref.has_fact()) {
        kind = v1::EVENT_KIND_FACT;
        concept_id = ref.fact().concept_id();
      } else if (ref.has_guidance()) {
        kind = v1::EVENT_KIND_GUIDANCE;
        concept_id = ref.guidance().concept_id();
      } else if (ref.has_capital_action()) {
        kind = v1::EVENT_KIND_CAPITAL_ACTION;
        action_id = ref.capital_action().action_id();
      }
      break;
    }
    default:
      return false;
  }
  for (const v1::InputSpec& in : descriptor.inputs()) {
    if (in.event_kind() != kind) continue;
    if (kind == v1::EVENT_KIND_CAPITAL_ACTION) {
      if (in.action_id().empty() || in.action_id() == action_id) return true;
    } else if (in.concept_id().empty() || in.concept_id() == concept_id) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<v1::ScenarioResult> ResultOf(const v1::ScenarioDescriptor& descriptor,
                                            const v1::PluginRunRequest& request,
                                            const v1::PluginRunResponse& response, uint64_t state_sequence) {
  v1::ScenarioResult result;
  result.set_scenario(descriptor.name());
  result.set_version(descriptor.version());
  result.set_issuer(request.issuer());
  *result.mutable_parameters() = request.parameters();
  *result.mutable_outputs() = response.outputs();
  result.set_state_sequence(state_sequence);
  std::set<uint64_t> used(response.used_sequences().begin(), response.used_sequences().end());
  for (const v1::FeedEvent& e : request.inputs()) {
    if (used.count(e.sequence()) == 0) continue;
    v1::InputRef* ref = result.add_inputs_used();
    ref->set_sequence(e.sequence());
    ref->set_event_kind(AttrsOf(e).kind);
    if (e.has_fact()) {
      *ref->mutable_key() = e.fact().key();
      ref->set_revision(e.fact().revision());
    } else if (e.has_guidance()) {
      *ref->mutable_key() = e.guidance().key();
      ref->set_revision(e.guidance().revision());
    } else if (e.has_capital_action()) {
      ref->set_action_id(e.capital_action().action_id());
      ref->set_revision(e.capital_action().revision());
    }
    used.erase(e.sequence());
  }
  if (!used.empty()) {
    return absl::InternalError(absl::StrCat("plugin '", descriptor.name(), "' says it used sequence ",
                                            *used.begin(), ", which it was not given"));
  }
  return result;
}

absl::StatusOr<PreparedScenario> ScenarioEngine::Prepare(
    const std::string& name, const std::string& issuer,
    const google::protobuf::Map<std::string, v1::ParameterValue>& parameters) {
  if (name.empty()) return absl::InvalidArgumentError("name: the scenario to run is required");
  PreparedScenario prepared;
  ASSIGN_OR_RETURN(prepared.descriptor, host_.Describe(name));
  ASSIGN_OR_RETURN(prepared.parameters, CheckParameters(prepared.descriptor, parameters));
  std::set<int> kinds;
  for (const v1::InputSpec& in : prepared.descriptor.inputs()) kinds.insert(in.event_kind());
  for (int k : kinds) prepared.event_kinds.push_back(static_cast<v1::EventKind>(k));
  prepared.issuer = issuer;
  if (!issuer.empty()) {
    // Validates the issuer (and resolves an alias) the feed's way.
    v1::Filter filter;
    filter.add_issuers(issuer);
    filter.add_event_kinds(v1::EVENT_KIND_ISSUER);
    ASSIGN_OR_RETURN(v1::GetSnapshotResponse snapshot, feed_.Snapshot(filter));
    if (snapshot.events_size() == 1) prepared.issuer = snapshot.events(0).issuer().id();
  }
  return prepared;
}

absl::Status ScenarioEngine::Gather(const PreparedScenario& prepared, absl::Time as_of,
                                    std::vector<v1::FeedEvent>* inputs, uint64_t* sequence) {
  v1::Filter filter;
  if (!prepared.issuer.empty())
    filter.add_issuers(prepared.issuer);
  else
    *filter.mutable_issuers() = prepared.scope.issuers();
  *filter.mutable_concepts() = prepared.scope.concepts();
  for (v1::EventKind k : prepared.event_kinds) filter.add_event_kinds(k);
  if (prepared.event_kinds.empty()) {
    *sequence = feed_.last_sequence();
    return absl::OkStatus();
  }
  v1::GetSnapshotRequest request;
  *request.mutable_filter() = filter;
  const bool latest = as_of == absl::InfiniteFuture();
  if (!latest) {
    request.mutable_point_in_time()->set_view(v1::REVISION_VIEW_AS_OF);
    *request.mutable_point_in_time()->mutable_as_of() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(as_of));
  }
  ASSIGN_OR_RETURN(v1::GetSnapshotResponse snapshot, feed_.Snapshot(request));
  // As of a time, the state is the one after the last input known then.
  *sequence = latest ? snapshot.sequence() : 0;
  for (v1::FeedEvent& e : *snapshot.mutable_events()) {
    if (!IsInput(prepared.descriptor, e)) continue;
    if (!latest) *sequence = std::max(*sequence, e.sequence());
    inputs->push_back(std::move(e));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ScenarioResult> ScenarioEngine::Run(const PreparedScenario& prepared, absl::Time as_of) {
  absl::StatusOr<v1::ScenarioResult> result = RunOnce(prepared, as_of);
  if (metrics_ != nullptr) metrics_->RunEnded(result.status().code());
  return result;
}

absl::StatusOr<v1::ScenarioResult> ScenarioEngine::RunOnce(const PreparedScenario& prepared,
                                                           absl::Time as_of) {
  std::vector<v1::FeedEvent> inputs;
  uint64_t sequence = 0;
  RETURN_IF_ERROR(Gather(prepared, as_of, &inputs, &sequence));
  std::string issuer = prepared.issuer;
  if (issuer.empty()) {
    std::set<std::string> issuers;
    for (const v1::FeedEvent& e : inputs) issuers.insert(AttrsOf(e).issuer);
    if (issuers.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat("issuer: the inputs of '", prepared.descriptor.name(),
                                                     "' belong to several issuers (",
                                                     absl::StrJoin(issuers, ", "), "); name one"));
    }
    if (issuers.size() == 1) issuer = *issuers.begin();
  }
  v1::PluginRunRequest request;
  request.set_issuer(issuer);
  *request.mutable_parameters() = prepared.parameters;
  for (v1::FeedEvent& e : inputs) *request.add_inputs() = e;
  ASSIGN_OR_RETURN(v1::PluginRunResponse response, host_.Run(prepared.descriptor.name(), request));
  ASSIGN_OR_RETURN(v1::ScenarioResult result, ResultOf(prepared.descriptor, request, response, sequence));
  if (as_of != absl::InfiniteFuture()) {
    *result.mutable_as_of() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(as_of));
  }
  *result.mutable_computed_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  return result;
}

}  // namespace kessan
