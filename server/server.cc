#include "kessan/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "dataset/dataset.h"
#include "feed/feed.h"
#include "log/sqlite_event_log.h"
#include "model/validate.h"
#include "rpc/feed_service.h"
#include "util/status_macros.h"

namespace kessan {
namespace {

absl::Status LoadSeed(Feed& feed, const std::string& path) {
  ASSIGN_OR_RETURN(v1::DataSet data_set, LoadDataSet(path));
  size_t count = 0;
  for (const v1::PublishRequest& batch : ToPublishRequests(data_set, kMaxBatchItems)) {
    absl::StatusOr<v1::PublishResponse> published = feed.Publish(batch);
    if (!published.ok()) {
      return absl::Status(published.status().code(),
                          absl::StrCat("seed ", path, ": ", published.status().message()));
    }
    count += published->sequences_size();
  }
  spdlog::info("seeded the journal with {} items of data set '{}' from {}", count,
               data_set.name(), path);
  return absl::OkStatus();
}

}  // namespace

class Server::Impl {
 public:
  std::unique_ptr<Feed> feed;
  std::unique_ptr<FeedServiceImpl> service;
  std::unique_ptr<grpc::Server> grpc_server;
  int port = 0;

  absl::Mutex mu;
  bool shut_down ABSL_GUARDED_BY(mu) = false;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("data_dir ", options.data_dir, ": ", ec.message()));
  }
  std::string journal = (std::filesystem::path(options.data_dir) / "kessan.db").string();
  auto impl = std::make_unique<Impl>();
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteEventLog> log, SqliteEventLog::Open(journal));
  ASSIGN_OR_RETURN(impl->feed, Feed::Open(std::move(log)));
  spdlog::info("journal {}: {} events", journal, impl->feed->last_sequence());
  if (impl->feed->last_sequence() == 0 && !options.seed_path.empty()) {
    RETURN_IF_ERROR(LoadSeed(*impl->feed, options.seed_path));
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  impl->service = std::make_unique<FeedServiceImpl>(*impl->feed);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &impl->port);
  builder.RegisterService(impl->service.get());
  impl->grpc_server = builder.BuildAndStart();
  if (impl->grpc_server == nullptr || impl->port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  spdlog::info("kessand serving kessan.v1.FeedService on port {}", impl->port);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::port() const { return impl_->port; }

uint64_t Server::last_sequence() const { return impl_->feed->last_sequence(); }

void Server::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->shut_down) return;
    impl_->shut_down = true;
  }
  impl_->feed->CloseSubscriptions();
  impl_->grpc_server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  impl_->grpc_server->Wait();
}

void Server::Wait() { impl_->grpc_server->Wait(); }

}  // namespace kessan
