// loud: fails with a 1 MiB error message full of control characters.
#include "faulty_common.h"

namespace {
class Loud : public kessan::plugin::Scenario {
 public:
  kessan::v1::ScenarioDescriptor Describe() const override { return faulty::Describe("loud", "shouts"); }
  kessan::plugin::Status Run(const kessan::v1::PluginRunRequest&, kessan::v1::PluginRunResponse*) override {
    std::string message;
    while (message.size() < (1u << 20)) message += "no\r\n\x1b[31mway\x07\t";
    message.resize(1u << 20);
    return kessan::plugin::Status::InvalidArgument(message);
  }
};
}  // namespace
KESSAN_PLUGIN(Loud)
