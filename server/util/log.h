// The loggers of libkessan: "kessan" (operations) and "audit" (one line per
// call decision). Both write where spdlog's default logger writes (the
// audit one to an application's own "audit" logger if it registered one)
// until SetLogHandler (include/kessan/server.h) routes them elsewhere.
#pragma once

#include <spdlog/spdlog.h>

#include <functional>
#include <string_view>

namespace kessan {

spdlog::logger& Log();
spdlog::logger& AuditLog();

// Routes both loggers' lines to `handler` (level, logger name, message);
// null restores the default. Process-wide.
void SetLogHandlerTo(
    std::function<void(spdlog::level::level_enum level, std::string_view logger, std::string_view message)>
        handler);

}  // namespace kessan
