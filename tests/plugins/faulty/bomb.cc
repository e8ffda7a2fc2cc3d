// bomb: allocates (and touches) memory without bound in Run().
#include <cstring>
#include <memory>
#include <vector>

#include "faulty_common.h"

namespace {
class Bomb : public kessan::plugin::Scenario {
 public:
  kessan::v1::ScenarioDescriptor Describe() const override {
    return faulty::Describe("bomb", "allocates without bound");
  }
  kessan::plugin::Status Run(const kessan::v1::PluginRunRequest&, kessan::v1::PluginRunResponse*) override {
    std::vector<std::unique_ptr<char[]>> hoard;
    for (;;) {
      hoard.emplace_back(new char[16 << 20]);
      std::memset(hoard.back().get(), 1, 16 << 20);
    }
  }
};
}  // namespace
KESSAN_PLUGIN(Bomb)
