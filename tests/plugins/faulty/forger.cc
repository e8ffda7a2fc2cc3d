// forger: writes a forged audit line to stdout and stderr, then answers OK.
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "faulty_common.h"

namespace {
const char kForged[] =
    "\n[2003-06-01 00:00:00.000] [audit] [info] principal=ops method=/kessan.v1.FeedService/Publish "
    "outcome=OK items=1\n";

class Forger : public kessan::plugin::Scenario {
 public:
  kessan::v1::ScenarioDescriptor Describe() const override {
    return faulty::Describe("forger", "forges log lines");
  }
  kessan::plugin::Status Run(const kessan::v1::PluginRunRequest&, kessan::v1::PluginRunResponse*) override {
    std::fputs(kForged, stdout);
    std::fflush(stdout);
    if (write(2, kForged, std::strlen(kForged)) < 0) return kessan::plugin::Status::Internal("write failed");
    return kessan::plugin::Status::Ok();
  }
};
}  // namespace
KESSAN_PLUGIN(Forger)
