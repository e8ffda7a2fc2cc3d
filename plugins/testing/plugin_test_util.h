// plugins/testing/plugin_test_util.h: call a plugin linked into a test
// through its C ABI entry point, as the worker does, and build inputs.
#pragma once

#include <string>

#include "kessan/plugin_sdk.h"

extern "C" int32_t kessan_plugin_entry(const kessan_host_info* host, kessan_plugin* plugin);

namespace kessan::plugin::testing {

// PluginCall: the outcome of one call through the ABI.
struct PluginCall {
  int32_t code = KESSAN_STATUS_OK;
  std::string message;
  std::string bytes;
};

// LoadedPlugin: the plugin of this test binary, entered once.
class LoadedPlugin {
 public:
  LoadedPlugin() {
    kessan_host_info host{sizeof(kessan_host_info), KESSAN_PLUGIN_ABI_MAJOR, KESSAN_PLUGIN_ABI_MINOR};
    entry_status_ = kessan_plugin_entry(&host, &plugin_);
  }
  ~LoadedPlugin() {
    if (plugin_.destroy != nullptr) plugin_.destroy(plugin_.state);
  }
  int32_t entry_status() const { return entry_status_; }
  const kessan_plugin& plugin() const { return plugin_; }

  v1::ScenarioDescriptor Describe() {
    PluginCall c = Call(plugin_.describe, "");
    v1::PluginDescribeResponse r;
    r.ParseFromString(c.bytes);
    return r.scenario();
  }
  PluginCall Run(const v1::PluginRunRequest& request, v1::PluginRunResponse* response) {
    PluginCall c = Call(plugin_.run, request.SerializeAsString());
    if (c.code == KESSAN_STATUS_OK) response->ParseFromString(c.bytes);
    return c;
  }

 private:
  using Fn = int32_t (*)(void*, const uint8_t*, size_t, kessan_result*);
  PluginCall Call(Fn fn, const std::string& in) {
    kessan_result result{};
    PluginCall c;
    c.code = fn(plugin_.state, reinterpret_cast<const uint8_t*>(in.data()), in.size(), &result);
    if (result.data != nullptr) c.bytes.assign(reinterpret_cast<const char*>(result.data), result.size);
    if (result.message != nullptr) c.message = result.message;
    plugin_.free_result(plugin_.state, &result);
    return c;
  }
  kessan_plugin plugin_{};
  int32_t entry_status_ = -1;
};

// Output by name, or null.
inline const v1::Output* FindOutput(const v1::PluginRunResponse& r, const std::string& name) {
  for (const v1::Output& o : r.outputs()) {
    if (o.name() == name) return &o;
  }
  return nullptr;
}

inline v1::ParameterValue Integer(int64_t v) {
  v1::ParameterValue p;
  p.set_integer(v);
  return p;
}
inline v1::ParameterValue DecimalValue(const std::string& v) {
  v1::ParameterValue p;
  p.mutable_decimal()->set_value(v);
  return p;
}
inline v1::ParameterValue Yen(int64_t v) {
  v1::ParameterValue p;
  p.mutable_money()->set_currency_code("JPY");
  p.mutable_money()->set_units(v);
  return p;
}

}  // namespace kessan::plugin::testing
