// kessan/plugin_sdk.h: a header-only C++ SDK over the C ABI of
// kessan/plugin.h. A plugin is one class and one macro:
//
//   class Hello : public kessan::plugin::Scenario {
//    public:
//     kessan::v1::ScenarioDescriptor Describe() const override {
//       kessan::v1::ScenarioDescriptor d;
//       d.set_name("hello");
//       d.set_version("1.0.0");
//       return d;
//     }
//     kessan::plugin::Status Run(const kessan::v1::PluginRunRequest& request,
//                                kessan::v1::PluginRunResponse* response) override {
//       kessan::plugin::AddCount(response, "inputs", "Inputs seen",
//                                request.inputs_size(), "count of inputs");
//       return kessan::plugin::Status::Ok();
//     }
//   };
//   KESSAN_PLUGIN(Hello)
//
// The SDK converts messages to and from bytes, catches every exception
// (std::bad_alloc becomes RESOURCE_EXHAUSTED, std::overflow_error from the
// checked arithmetic of kessan/plugin_decimal.h OUT_OF_RANGE, anything else
// INTERNAL) and owns the buffers it returns until the host frees them. The
// output helpers check that a value fits its field (int64 units, counts).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "kessan/plugin.h"
#include "kessan/plugin_decimal.h"
#include "kessan/v1/plugin.pb.h"

namespace kessan::plugin {

// Status: a KESSAN_STATUS_* code and a message.
struct Status {
  int32_t code = KESSAN_STATUS_OK;
  std::string message;

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {KESSAN_STATUS_INVALID_ARGUMENT, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {KESSAN_STATUS_FAILED_PRECONDITION, std::move(m)};
  }
  static Status NotFound(std::string m) { return {KESSAN_STATUS_NOT_FOUND, std::move(m)}; }
  static Status OutOfRange(std::string m) { return {KESSAN_STATUS_OUT_OF_RANGE, std::move(m)}; }
  static Status Internal(std::string m) { return {KESSAN_STATUS_INTERNAL, std::move(m)}; }
  bool ok() const { return code == KESSAN_STATUS_OK; }
};

// Scenario: what a plugin implements. Describe() and Run() may throw; the
// SDK turns an exception into a status.
class Scenario {
 public:
  virtual ~Scenario() = default;
  virtual v1::ScenarioDescriptor Describe() const = 0;
  virtual Status Run(const v1::PluginRunRequest& request, v1::PluginRunResponse* response) = 0;
};

// ---------------------------------------------------------------------------
// Helpers for descriptors, parameters, inputs and outputs.
// ---------------------------------------------------------------------------

inline v1::ParameterSpec* AddParameter(v1::ScenarioDescriptor* d, const std::string& name,
                                       v1::ParameterType type, const std::string& unit,
                                       const std::string& help) {
  v1::ParameterSpec* p = d->add_parameters();
  p->set_name(name);
  p->set_type(type);
  p->set_unit(unit);
  p->set_help(help);
  return p;
}

inline void AddInput(v1::ScenarioDescriptor* d, v1::EventKind kind, const std::string& concept_id,
                     const std::string& action_id, const std::string& description) {
  v1::InputSpec* in = d->add_inputs();
  in->set_event_kind(kind);
  in->set_concept_id(concept_id);
  in->set_action_id(action_id);
  in->set_description(description);
}

inline const v1::ParameterValue* FindParameter(const v1::PluginRunRequest& r, const std::string& name) {
  auto it = r.parameters().find(name);
  return it == r.parameters().end() ? nullptr : &it->second;
}

// Same fiscal period (year, kind, number)?
inline bool SamePeriod(const v1::FiscalPeriod& a, const v1::FiscalPeriod& b) {
  return a.fiscal_year() == b.fiscal_year() && a.kind() == b.kind() && a.number() == b.number();
}

inline v1::FiscalPeriod Period(int fiscal_year, v1::PeriodKind kind, int number) {
  v1::FiscalPeriod p;
  p.set_fiscal_year(fiscal_year);
  p.set_kind(kind);
  p.set_number(number);
  return p;
}

// FindFact: the input fact (whole company, no segment) with this concept,
// period and comparison period (an unset comparison matches only facts
// without one). Null when absent.
inline const v1::FeedEvent* FindFact(const v1::PluginRunRequest& r, const std::string& concept_id,
                                     const v1::FiscalPeriod& period,
                                     const v1::FiscalPeriod* comparison = nullptr, bool guidance = false) {
  for (const v1::FeedEvent& e : r.inputs()) {
    const v1::FactKey* key = nullptr;
    if (!guidance && e.has_fact()) key = &e.fact().key();
    if (guidance && e.has_guidance()) key = &e.guidance().key();
    if (key == nullptr || key->concept_id() != concept_id || !key->segment().empty()) continue;
    if (!SamePeriod(key->period(), period)) continue;
    if (comparison == nullptr ? key->has_comparison_period()
                              : !SamePeriod(key->comparison_period(), *comparison)) {
      continue;
    }
    return &e;
  }
  return nullptr;
}

inline const v1::FeedEvent* FindCapitalAction(const v1::PluginRunRequest& r, const std::string& action_id) {
  for (const v1::FeedEvent& e : r.inputs()) {
    if (e.has_capital_action() && e.capital_action().action_id() == action_id) return &e;
  }
  return nullptr;
}

inline v1::Output* AddOutput(v1::PluginRunResponse* r, const std::string& name, const std::string& label,
                             const std::string& derivation) {
  v1::Output* o = r->add_outputs();
  o->set_name(name);
  o->set_label(label);
  o->set_derivation(derivation);
  return o;
}

// ToInt64(v, what): v, or std::overflow_error naming `what` when v does
// not fit in 64 bits.
inline int64_t ToInt64(int128 v, const std::string& what) {
  if (v < std::numeric_limits<int64_t>::min() || v > std::numeric_limits<int64_t>::max()) {
    throw std::overflow_error(what + ": " + Int128ToString(v) + " does not fit in 64 bits");
  }
  return static_cast<int64_t>(v);
}

inline void SetMoney(v1::Money* m, const std::string& currency, int128 units) {
  m->set_currency_code(currency);
  m->set_units(ToInt64(units, "amount of " + currency));
}

inline void AddMoney(v1::PluginRunResponse* r, const std::string& name, const std::string& label,
                     const std::string& currency, int128 units, const std::string& derivation) {
  const int64_t checked = ToInt64(units, "output " + name);
  SetMoney(AddOutput(r, name, label, derivation)->mutable_money(), currency, checked);
}

inline void AddDecimal(v1::PluginRunResponse* r, const std::string& name, const std::string& label,
                       const std::string& value, const std::string& derivation) {
  AddOutput(r, name, label, derivation)->mutable_decimal()->set_value(value);
}

inline void AddCount(v1::PluginRunResponse* r, const std::string& name, const std::string& label,
                     int128 count, const std::string& derivation) {
  const int64_t checked = ToInt64(count, "output " + name);
  AddOutput(r, name, label, derivation)->set_count(checked);
}

inline void AddFlag(v1::PluginRunResponse* r, const std::string& name, const std::string& label, bool flag,
                    const std::string& derivation) {
  AddOutput(r, name, label, derivation)->set_flag(flag);
}

// ---------------------------------------------------------------------------
// The adapter from the C ABI to a Scenario. Internal to the SDK.
// ---------------------------------------------------------------------------
namespace internal {

inline char* CopyMessage(const std::string& m) {
  char* s = static_cast<char*>(std::malloc(m.size() + 1));
  if (s != nullptr) std::memcpy(s, m.c_str(), m.size() + 1);
  return s;
}

// A failed call: `status`'s code and message, no output.
inline int32_t Fail(const Status& status, kessan_result* result) {
  result->data = nullptr;
  result->size = 0;
  result->message = CopyMessage(status.message);
  return status.code;
}

// A finished call: `out` serialized if `status` is OK, else as Fail.
inline int32_t Finish(const Status& status, const google::protobuf::MessageLite& out, kessan_result* result) {
  if (!status.ok()) return Fail(status, result);
  result->data = nullptr;
  result->size = 0;
  result->message = nullptr;
  std::string bytes = out.SerializeAsString();
  result->data = static_cast<uint8_t*>(std::malloc(bytes.empty() ? 1 : bytes.size()));
  if (result->data == nullptr) {
    result->message = CopyMessage("out of memory");
    return KESSAN_STATUS_RESOURCE_EXHAUSTED;
  }
  std::memcpy(result->data, bytes.data(), bytes.size());
  result->size = bytes.size();
  return KESSAN_STATUS_OK;
}

template <typename Fn>
int32_t Guard(kessan_result* result, Fn fn) noexcept {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    result->data = nullptr;
    result->size = 0;
    result->message = CopyMessage("out of memory");
    return KESSAN_STATUS_RESOURCE_EXHAUSTED;
  } catch (const std::overflow_error& e) {
    result->data = nullptr;
    result->size = 0;
    result->message = CopyMessage(std::string("arithmetic overflow: ") + e.what());
    return KESSAN_STATUS_OUT_OF_RANGE;
  } catch (const std::exception& e) {
    result->data = nullptr;
    result->size = 0;
    result->message = CopyMessage(std::string("exception: ") + e.what());
    return KESSAN_STATUS_INTERNAL;
  } catch (...) {
    result->data = nullptr;
    result->size = 0;
    result->message = CopyMessage("unknown exception");
    return KESSAN_STATUS_INTERNAL;
  }
}

inline int32_t Describe(void* state, const uint8_t*, size_t, kessan_result* result) {
  return Guard(result, [&] {
    v1::PluginDescribeResponse out;
    *out.mutable_scenario() = static_cast<Scenario*>(state)->Describe();
    return Finish(Status::Ok(), out, result);
  });
}

inline int32_t Run(void* state, const uint8_t* input, size_t size, kessan_result* result) {
  return Guard(result, [&] {
    v1::PluginRunRequest in;
    if (!in.ParseFromArray(input, static_cast<int>(size))) {
      return Fail(Status::InvalidArgument("input is not a kessan.v1.PluginRunRequest"), result);
    }
    v1::PluginRunResponse out;
    Status status = static_cast<Scenario*>(state)->Run(in, &out);
    return Finish(status, out, result);
  });
}

inline void FreeResult(void*, kessan_result* result) {
  std::free(result->data);
  std::free(result->message);
  result->data = nullptr;
  result->message = nullptr;
  result->size = 0;
}

inline void Destroy(void* state) { delete static_cast<Scenario*>(state); }

template <typename T>
int32_t Entry(const kessan_host_info* host, kessan_plugin* plugin) noexcept {
  plugin->struct_size = sizeof(kessan_plugin);
  plugin->abi_major = KESSAN_PLUGIN_ABI_MAJOR;
  plugin->abi_minor = KESSAN_PLUGIN_ABI_MINOR;
  if (host == nullptr || host->abi_major != KESSAN_PLUGIN_ABI_MAJOR) return KESSAN_STATUS_FAILED_PRECONDITION;
  try {
    plugin->state = new T();
  } catch (...) {
    return KESSAN_STATUS_INTERNAL;
  }
  plugin->describe = &Describe;
  plugin->run = &Run;
  plugin->free_result = &FreeResult;
  plugin->destroy = &Destroy;
  return KESSAN_STATUS_OK;
}

}  // namespace internal
}  // namespace kessan::plugin

// KESSAN_PLUGIN(Class): exports kessan_plugin_entry for a default-
// constructible kessan::plugin::Scenario subclass. Use once per plugin.
#define KESSAN_PLUGIN(Class)                                                                \
  extern "C" KESSAN_PLUGIN_EXPORT int32_t kessan_plugin_entry(const kessan_host_info* host, \
                                                              kessan_plugin* plugin) {      \
    return ::kessan::plugin::internal::Entry<Class>(host, plugin);                          \
  }
