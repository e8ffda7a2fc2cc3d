// connector: connects to 127.0.0.1:<port> (kessand's own port, say).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "faulty_common.h"

namespace {
class Connector : public kessan::plugin::Scenario {
 public:
  kessan::v1::ScenarioDescriptor Describe() const override {
    return faulty::Describe("connector", "connects to a port", "port");
  }
  kessan::plugin::Status Run(const kessan::v1::PluginRunRequest& r, kessan::v1::PluginRunResponse*) override {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
      return kessan::plugin::Status::FailedPrecondition(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::atoi(faulty::Text(r, "port").c_str())));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    int err = errno;
    close(fd);
    if (rc != 0)
      return kessan::plugin::Status::FailedPrecondition(std::string("connect: ") + std::strerror(err));
    return kessan::plugin::Status::Ok();
  }
};
}  // namespace
KESSAN_PLUGIN(Connector)
