// forker: forks 50 children that sleep forever.
#include <unistd.h>

#include "faulty_common.h"

namespace {
class Forker : public kessan::plugin::Scenario {
 public:
  kessan::v1::ScenarioDescriptor Describe() const override {
    return faulty::Describe("forker", "forks children");
  }
  kessan::plugin::Status Run(const kessan::v1::PluginRunRequest&,
                             kessan::v1::PluginRunResponse* out) override {
    int forked = 0;
    for (int i = 0; i < 50; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        for (;;) pause();
      }
      if (pid > 0) ++forked;
    }
    kessan::plugin::AddCount(out, "forked", "Children forked", forked, "");
    return kessan::plugin::Status::Ok();
  }
};
}  // namespace
KESSAN_PLUGIN(Forker)
