// SetLogHandler (include/kessan/server.h) over util/log.h.
#include "kessan/server.h"
#include "util/log.h"

namespace kessan {

void SetLogHandler(LogHandler handler) {
  if (handler == nullptr) {
    SetLogHandlerTo(nullptr);
    return;
  }
  SetLogHandlerTo([handler = std::move(handler)](spdlog::level::level_enum level, std::string_view logger,
                                                 std::string_view message) {
    LogLevel to = LogLevel::kInfo;
    switch (level) {
      case spdlog::level::trace:
        to = LogLevel::kTrace;
        break;
      case spdlog::level::debug:
        to = LogLevel::kDebug;
        break;
      case spdlog::level::info:
        to = LogLevel::kInfo;
        break;
      case spdlog::level::warn:
        to = LogLevel::kWarning;
        break;
      case spdlog::level::err:
        to = LogLevel::kError;
        break;
      default:
        to = LogLevel::kCritical;
        break;
    }
    handler(to, logger, message);
  });
}

}  // namespace kessan
