// libprotobuf's log lines through spdlog (include/kessan/server.h).
#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "kessan/server.h"
#include "util/log.h"

namespace kessan {
namespace {

void ToSpdlog(google::protobuf::LogLevel level, const char* filename, int line, const std::string& message) {
  spdlog::level::level_enum to = spdlog::level::info;
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO:
      to = spdlog::level::info;
      break;
    case google::protobuf::LOGLEVEL_WARNING:
      to = spdlog::level::warn;
      break;
    case google::protobuf::LOGLEVEL_ERROR:
      to = spdlog::level::err;
      break;
    default:  // FATAL: libprotobuf aborts next
      to = spdlog::level::critical;
      break;
  }
  Log().log(to, "protobuf: {}:{}: {}", filename != nullptr ? filename : "?", line, message);
  if (to == spdlog::level::critical) Log().flush();
}

}  // namespace

void RouteProtobufLogsToSpdlog() {
  static std::once_flag once;
  std::call_once(once, [] { google::protobuf::SetLogHandler(&ToSpdlog); });
}

}  // namespace kessan
