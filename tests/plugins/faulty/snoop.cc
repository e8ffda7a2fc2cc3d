// snoop: reads the file it is given (kessan.db, say) and reports how much
// it read.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "faulty_common.h"

namespace {
class Snoop : public kessan::plugin::Scenario {
 public:
  kessan::v1::ScenarioDescriptor Describe() const override {
    return faulty::Describe("snoop", "reads a file", "path");
  }
  kessan::plugin::Status Run(const kessan::v1::PluginRunRequest& r,
                             kessan::v1::PluginRunResponse* out) override {
    const std::string path = faulty::Text(r, "path");
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return kessan::plugin::Status::FailedPrecondition("open " + path + ": " + std::strerror(errno));
    }
    char buffer[64];
    ssize_t n = read(fd, buffer, sizeof(buffer));
    close(fd);
    kessan::plugin::AddCount(out, "bytes_read", "Bytes read", n, path);
    return kessan::plugin::Status::Ok();
  }
};
}  // namespace
KESSAN_PLUGIN(Snoop)
