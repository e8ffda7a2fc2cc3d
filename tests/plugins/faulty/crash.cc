// crash: dereferences a null pointer (SIGSEGV) in Run().
#include "faulty_common.h"

namespace {
class Crash : public kessan::plugin::Scenario {
 public:
  kessan::v1::ScenarioDescriptor Describe() const override { return faulty::Describe("crash", "segfaults"); }
  kessan::plugin::Status Run(const kessan::v1::PluginRunRequest&, kessan::v1::PluginRunResponse*) override {
    volatile int* p = nullptr;
    *p = 42;
    return kessan::plugin::Status::Ok();
  }
};
}  // namespace
KESSAN_PLUGIN(Crash)
