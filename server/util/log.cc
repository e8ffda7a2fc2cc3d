#include "util/log.h"

#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <memory>
#include <mutex>

namespace kessan {
namespace {

using Handler = std::function<void(spdlog::level::level_enum, std::string_view, std::string_view)>;

class HandlerSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit HandlerSink(Handler handler) : handler_(std::move(handler)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    handler_(msg.level, std::string_view(msg.logger_name.data(), msg.logger_name.size()),
             std::string_view(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}

 private:
  const Handler handler_;
};

struct Routed {
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<spdlog::logger> audit;
};

// Set once per SetLogHandlerTo; the old ones are kept (a thread may be
// logging through them).
std::atomic<Routed*> routed{nullptr};

spdlog::logger& DefaultAudit() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    std::shared_ptr<spdlog::logger> l = spdlog::get("audit");
    if (l != nullptr) return l;
    const auto& sinks = spdlog::default_logger()->sinks();
    l = std::make_shared<spdlog::logger>("audit", sinks.begin(), sinks.end());
    spdlog::register_logger(l);  // so the application finds it (spdlog::get)
    return l;
  }();
  return *logger;
}

}  // namespace

spdlog::logger& Log() {
  if (Routed* r = routed.load(std::memory_order_acquire)) return *r->log;
  return *spdlog::default_logger_raw();
}

spdlog::logger& AuditLog() {
  if (Routed* r = routed.load(std::memory_order_acquire)) return *r->audit;
  return DefaultAudit();
}

void SetLogHandlerTo(Handler handler) {
  if (handler == nullptr) {
    routed.store(nullptr, std::memory_order_release);
    return;
  }
  auto sink = std::make_shared<HandlerSink>(std::move(handler));
  auto* r = new Routed{std::make_shared<spdlog::logger>("kessan", sink),
                       std::make_shared<spdlog::logger>("audit", sink)};
  r->log->set_level(spdlog::level::trace);
  r->audit->set_level(spdlog::level::trace);
  routed.store(r, std::memory_order_release);  // never freed: see above
}

}  // namespace kessan
