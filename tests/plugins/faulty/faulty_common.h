// Misbehaving test plugins: each describes itself normally and misbehaves
// in Run(), to show that kessand survives it.
#pragma once

#include "kessan/plugin_sdk.h"

namespace faulty {

inline kessan::v1::ScenarioDescriptor Describe(const char* name, const char* what) {
  kessan::v1::ScenarioDescriptor d;
  d.set_name(name);
  d.set_version("0.0.1");
  d.set_title(what);
  kessan::plugin::AddInput(&d, kessan::v1::EVENT_KIND_CAPITAL_ACTION, "", "", "anything");
  return d;
}

}  // namespace faulty
