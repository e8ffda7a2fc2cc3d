#include "rpc/metrics_interceptor.h"

#include <google/protobuf/descriptor.h>

#include <chrono>

namespace kessan {
namespace {

using grpc::experimental::InterceptionHookPoints;

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit MetricsInterceptor(const metrics::RpcMetrics::Series& series)
      : series_(series), start_(std::chrono::steady_clock::now()) {
    series_.Started();
  }
  ~MetricsInterceptor() override {
    if (!handled_) series_.Handled(absl::StatusCode::kCancelled, std::chrono::steady_clock::now() - start_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {  // null: the client's end of stream
      series_.Received();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) series_.Sent();
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) && !handled_) {
      handled_ = true;
      series_.Handled(static_cast<absl::StatusCode>(methods->GetSendStatus().error_code()),
                      std::chrono::steady_clock::now() - start_);
    }
    methods->Proceed();
  }

 private:
  const metrics::RpcMetrics::Series& series_;
  const std::chrono::steady_clock::time_point start_;
  bool handled_ = false;  // set by the one PRE_SEND_STATUS; read by the destructor, after it
};

class MetricsInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  MetricsInterceptorFactory(const metrics::RpcMetrics& metrics, std::vector<std::string> self_recorded)
      : metrics_(metrics), self_recorded_(std::move(self_recorded)) {}
  // None (nullptr) for a self-recorded method: a call without interceptors
  // skips gRPC's interception of each of its operations.
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    const absl::string_view method = info->method() == nullptr ? "" : info->method();
    for (const std::string& path : self_recorded_) {
      if (method == path) return nullptr;
    }
    return new MetricsInterceptor(metrics_.Find(method));
  }

 private:
  const metrics::RpcMetrics& metrics_;
  const std::vector<std::string> self_recorded_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeMetricsInterceptorFactory(
    const metrics::RpcMetrics& metrics, std::vector<std::string> self_recorded) {
  return std::make_unique<MetricsInterceptorFactory>(metrics, std::move(self_recorded));
}

std::vector<metrics::RpcMethod> RpcMethodsOf(const std::vector<std::string>& services) {
  std::vector<metrics::RpcMethod> methods;
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = service->method(i);
      metrics::RpcType type =
          m->client_streaming()
              ? (m->server_streaming() ? metrics::RpcType::kBidiStream : metrics::RpcType::kClientStream)
              : (m->server_streaming() ? metrics::RpcType::kServerStream : metrics::RpcType::kUnary);
      methods.push_back({name, m->name(), type});
    }
  }
  return methods;
}

}  // namespace kessan
