// kessan::Server embedded in an application (docs/embedding.md): two
// servers in one process, and what a Server leaves to the app's own gRPC
// servers (no health service, no reflection of its making).
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "feed_test_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "kessan/server.h"
#include "kessan/v1/feed.grpc.pb.h"

namespace kessan {
namespace {

std::filesystem::path DataDir(const std::string& name) {
  std::filesystem::path dir =
      std::filesystem::path(testing::TempDir()) /
      absl::StrCat("kessan_embed_", getpid(), "_",
                   testing::UnitTest::GetInstance()->current_test_info()->name(), name);
  std::filesystem::remove_all(dir);
  return dir;
}

std::unique_ptr<Server> StartServer(const std::filesystem::path& data_dir) {
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.data_dir = data_dir.string();
  options.seed_path = KESSAN_DATASET_FILE;
  options.plugin_dir = "none";
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

std::shared_ptr<grpc::Channel> Channel(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
}

grpc::Status HealthCheck(int port, grpc::health::v1::HealthCheckResponse* response) {
  auto health = grpc::health::v1::Health::NewStub(Channel(port));
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  return health->Check(&context, grpc::health::v1::HealthCheckRequest(), response);
}

// One reflection request, list_services "*" (field 7 of
// ServerReflectionRequest), sent on the bidi stream as a unary call: the
// response's bytes hold the names of the services.
grpc::Status ListServices(int port, std::string* names) {
  grpc::GenericStub stub(Channel(port));
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  const std::string request_bytes = std::string("\x3a\x01*", 3);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", {}, &request,
                 &response, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  std::vector<grpc::Slice> slices;
  names->clear();
  if (status.ok() && response.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) names->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return status;
}

uint64_t SnapshotSequence(int port) {
  auto stub = v1::FeedService::NewStub(Channel(port));
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  v1::GetSnapshotResponse response;
  grpc::Status status = stub->GetSnapshot(&context, v1::GetSnapshotRequest(), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.sequence();
}

TEST(EmbeddingTest, TwoServersInOneProcessServeApartAndShutDownCleanly) {
  const std::filesystem::path dir_a = DataDir("a"), dir_b = DataDir("b");
  std::unique_ptr<Server> a = StartServer(dir_a);
  std::unique_ptr<Server> b = StartServer(dir_b);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(a->port(), b->port());
  const uint64_t seeded = a->last_sequence();
  ASSERT_GT(seeded, 0u);
  EXPECT_EQ(b->last_sequence(), seeded);

  // A publish to one changes that one only.
  auto stub_a = v1::FeedService::NewStub(Channel(a->port()));
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  v1::PublishResponse published;
  grpc::Status status = stub_a->Publish(&context, Batch({RevenueItem(2003, 14'000'000'000)}), &published);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(SnapshotSequence(a->port()), seeded + 1);
  EXPECT_EQ(SnapshotSequence(b->port()), seeded);

  // Each has its own health and reflection.
  for (Server* server : {a.get(), b.get()}) {
    grpc::health::v1::HealthCheckResponse health;
    ASSERT_TRUE(HealthCheck(server->port(), &health).ok());
    EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);
    std::string names;
    ASSERT_TRUE(ListServices(server->port(), &names).ok());
    EXPECT_NE(names.find("kessan.v1.FeedService"), std::string::npos);
  }

  // Stopping one leaves the other serving; then it stops too.
  a->Shutdown(absl::Seconds(5));
  a.reset();
  EXPECT_EQ(SnapshotSequence(b->port()), seeded);
  b->Shutdown(absl::Seconds(5));
  b.reset();
  std::filesystem::remove_all(dir_a);
  std::filesystem::remove_all(dir_b);
}

// How an app keeps reflection off its own servers (docs/embedding.md):
// libgrpc++_reflection, which libkessan loads, registers it for every
// server of the process when it loads.
class NoReflection : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* args) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [](const auto& p) { return p->name() == "proto_server_reflection"; }),
                   plugins->end());
  }
};

// The app's own gRPC server (every FeedService method UNIMPLEMENTED).
struct AppServer {
  explicit AppServer(bool no_reflection) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    if (no_reflection) builder.SetOption(std::make_unique<NoReflection>());
    server = builder.BuildAndStart();
  }
  ~AppServer() {
    if (server != nullptr) server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  }
  v1::FeedService::Service service;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

// An app's gRPC server built after a kessan::Server started is as one built
// before: no health service, gRPC's health switch as the app left it, the
// same reflection (none with NoReflection).
TEST(EmbeddingTest, AnAppServerBuiltAfterAKessanServerHasNoHealthNorReflection) {
  ASSERT_FALSE(grpc::DefaultHealthCheckServiceEnabled());
  std::string names;
  grpc::StatusCode reflection_before;
  {
    AppServer before(false);
    ASSERT_NE(before.server, nullptr);
    reflection_before = ListServices(before.port, &names).error_code();
  }
  const std::filesystem::path dir = DataDir("");
  std::unique_ptr<Server> kessan = StartServer(dir);
  ASSERT_NE(kessan, nullptr);
  EXPECT_FALSE(grpc::DefaultHealthCheckServiceEnabled());

  for (bool no_reflection : {false, true}) {
    AppServer app(no_reflection);
    ASSERT_NE(app.server, nullptr);
    ASSERT_NE(app.port, 0);
    EXPECT_EQ(app.server->GetHealthCheckService(), nullptr);
    grpc::health::v1::HealthCheckResponse health;
    EXPECT_EQ(HealthCheck(app.port, &health).error_code(), grpc::StatusCode::UNIMPLEMENTED);
    EXPECT_EQ(ListServices(app.port, &names).error_code(),
              no_reflection ? grpc::StatusCode::UNIMPLEMENTED : reflection_before);
  }
  // The kessan server serves both meanwhile.
  grpc::health::v1::HealthCheckResponse health;
  EXPECT_TRUE(HealthCheck(kessan->port(), &health).ok());
  EXPECT_TRUE(ListServices(kessan->port(), &names).ok());
  EXPECT_NE(names.find("kessan.v1.FeedService"), std::string::npos);

  kessan.reset();
  std::filesystem::remove_all(dir);
}

// An app that turned gRPC's health service and reflection on for all its
// servers keeps them on, and a kessan::Server still starts (one reflection
// service, not two).
TEST(EmbeddingTest, AnAppsOwnProcessWideSettingsStayAndKessanStillStarts) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  const std::filesystem::path dir = DataDir("");
  std::unique_ptr<Server> kessan = StartServer(dir);
  ASSERT_NE(kessan, nullptr);
  EXPECT_TRUE(grpc::DefaultHealthCheckServiceEnabled());
  std::string names;
  ASSERT_TRUE(ListServices(kessan->port(), &names).ok());
  EXPECT_NE(names.find("kessan.v1.FeedService"), std::string::npos);

  {
    AppServer app(false);
    ASSERT_NE(app.server, nullptr);
    grpc::health::v1::HealthCheckResponse health;
    EXPECT_TRUE(HealthCheck(app.port, &health).ok());
    EXPECT_TRUE(ListServices(app.port, &names).ok());
  }
  kessan.reset();
  grpc::EnableDefaultHealthCheckService(false);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kessan
