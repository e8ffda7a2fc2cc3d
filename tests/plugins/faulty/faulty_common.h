// Misbehaving test plugins: each describes itself normally and misbehaves
// in Run(), to show that kessand survives it. The attacks on the sandbox
// (writer, connector, snoop, killer, forker, forger) take their target as a
// parameter and report what they managed to do.
#pragma once

#include <string>

#include "kessan/plugin_sdk.h"

namespace faulty {

// `text_parameter`: a string parameter the plugin declares ("" for none).
inline kessan::v1::ScenarioDescriptor Describe(const char* name, const char* what,
                                               const char* text_parameter = "") {
  kessan::v1::ScenarioDescriptor d;
  d.set_name(name);
  d.set_version("0.0.1");
  d.set_title(what);
  kessan::plugin::AddInput(&d, kessan::v1::EVENT_KIND_CAPITAL_ACTION, "", "", "anything");
  if (*text_parameter != '\0') {
    kessan::plugin::AddParameter(&d, text_parameter, kessan::v1::PARAMETER_TYPE_STRING, "", "the target")
        ->set_required(true);
  }
  return d;
}

inline std::string Text(const kessan::v1::PluginRunRequest& r, const std::string& name) {
  const kessan::v1::ParameterValue* p = kessan::plugin::FindParameter(r, name);
  return p != nullptr ? p->text() : "";
}

}  // namespace faulty
