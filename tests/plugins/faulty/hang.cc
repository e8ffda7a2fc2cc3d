// hang: never returns from describe() (it sleeps; the host's deadline ends it).
#include <time.h>

#include "faulty_common.h"

namespace {
class Hang : public kessan::plugin::Scenario {
 public:
  kessan::v1::ScenarioDescriptor Describe() const override {
    for (;;) {
      timespec t{1, 0};
      nanosleep(&t, nullptr);
    }
  }
  kessan::plugin::Status Run(const kessan::v1::PluginRunRequest&, kessan::v1::PluginRunResponse*) override {
    return kessan::plugin::Status::Ok();
  }
};
}  // namespace
KESSAN_PLUGIN(Hang)
