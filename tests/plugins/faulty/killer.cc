// killer: sends SIGUSR2 to its parent (kessand).
#include <signal.h>
#include <unistd.h>

#include "faulty_common.h"

namespace {
class Killer : public kessan::plugin::Scenario {
 public:
  kessan::v1::ScenarioDescriptor Describe() const override {
    return faulty::Describe("killer", "signals kessand");
  }
  kessan::plugin::Status Run(const kessan::v1::PluginRunRequest&, kessan::v1::PluginRunResponse*) override {
    if (kill(getppid(), SIGUSR2) != 0) return kessan::plugin::Status::FailedPrecondition("kill failed");
    return kessan::plugin::Status::Ok();
  }
};
}  // namespace
KESSAN_PLUGIN(Killer)
