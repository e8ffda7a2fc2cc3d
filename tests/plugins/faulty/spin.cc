// spin: loops forever in Run().
#include "faulty_common.h"

namespace {
class Spin : public kessan::plugin::Scenario {
 public:
  kessan::v1::ScenarioDescriptor Describe() const override {
    return faulty::Describe("spin", "never returns");
  }
  kessan::plugin::Status Run(const kessan::v1::PluginRunRequest&, kessan::v1::PluginRunResponse*) override {
    volatile unsigned long n = 0;
    for (;;) n = n + 1;
  }
};
}  // namespace
KESSAN_PLUGIN(Spin)
