// writer: writes a file at the path it is given.
#include <cstdio>

#include "faulty_common.h"

namespace {
class Writer : public kessan::plugin::Scenario {
 public:
  kessan::v1::ScenarioDescriptor Describe() const override {
    return faulty::Describe("writer", "writes a file", "path");
  }
  kessan::plugin::Status Run(const kessan::v1::PluginRunRequest& r, kessan::v1::PluginRunResponse*) override {
    FILE* f = std::fopen(faulty::Text(r, "path").c_str(), "w");
    if (f == nullptr) return kessan::plugin::Status::FailedPrecondition("fopen failed");
    std::fputs("written by a plugin\n", f);
    std::fclose(f);
    return kessan::plugin::Status::Ok();
  }
};
}  // namespace
KESSAN_PLUGIN(Writer)
