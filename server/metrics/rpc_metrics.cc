#include "metrics/rpc_metrics.h"

#include "absl/strings/str_cat.h"

namespace kessan::metrics {
namespace {

// go-grpc-prometheus's default buckets, in seconds.
const std::vector<double> kHandlingBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

}  // namespace

absl::string_view RpcTypeName(RpcType type) {
  switch (type) {
    case RpcType::kUnary:
      return "unary";
    case RpcType::kClientStream:
      return "client_stream";
    case RpcType::kServerStream:
      return "server_stream";
    case RpcType::kBidiStream:
      return "bidi_stream";
  }
  return "unary";
}

void RpcMetrics::Series::Handled(absl::StatusCode code, std::chrono::steady_clock::duration took) const {
  const size_t i = static_cast<size_t>(code);
  handled_[i < handled_.size() ? i : static_cast<size_t>(absl::StatusCode::kUnknown)]->Increment();
  seconds_->Observe(std::chrono::duration<double>(took).count());
}

RpcMetrics::Series RpcMetrics::Make(const RpcMethod& m) {
  const Labels labels = {{"grpc_type", std::string(RpcTypeName(m.type))},
                         {"grpc_service", m.service},
                         {"grpc_method", m.method}};
  Series s;
  s.started_ = &registry_.AddCounter("grpc_server_started_total", "RPCs started on the server.", labels);
  s.received_ = &registry_.AddCounter("grpc_server_msg_received_total",
                                      "Messages received by the server (stream messages included).", labels);
  s.sent_ = &registry_.AddCounter("grpc_server_msg_sent_total",
                                  "Messages sent by the server (stream messages included).", labels);
  s.seconds_ = &registry_.AddHistogram("grpc_server_handling_seconds",
                                       "Time from the start of an RPC to its status, in seconds.",
                                       kHandlingBounds, labels);
  for (size_t code = 0; code < s.handled_.size(); ++code) {
    Labels with_code = labels;
    with_code.emplace_back("grpc_code", absl::StatusCodeToString(static_cast<absl::StatusCode>(code)));
    // OK always shows; another code once it has counted.
    s.handled_[code] = &registry_.AddCounter("grpc_server_handled_total",
                                             "RPCs completed on the server, by status code.", with_code,
                                             /*hide_zero=*/code != 0);
  }
  return s;
}

RpcMetrics::RpcMetrics(Registry& registry, const std::vector<RpcMethod>& methods)
    : registry_(registry), unknown_(Make({"unknown", "unknown", RpcType::kUnary})) {
  for (const RpcMethod& m : methods) {
    by_path_.try_emplace(absl::StrCat("/", m.service, "/", m.method), std::make_unique<Series>(Make(m)));
  }
}

const RpcMetrics::Series& RpcMetrics::Find(absl::string_view path) const {
  auto it = by_path_.find(path);
  return it == by_path_.end() ? unknown_ : *it->second;
}

}  // namespace kessan::metrics
