// The HTTP/Connect transport against fake procedures: codecs, errors,
// routing, static files, streams with backpressure, disconnects, deadlines.
#include "http/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <fstream>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "http/connect.h"
#include "kessan/v1/feed.pb.h"
#include "testing/http_client.h"

namespace kessan::http {
namespace {

namespace fs = std::filesystem;
using ::kessan::test::ConnectEnvelope;
using ::kessan::test::Enveloped;
using ::kessan::test::HttpConnection;
using ::kessan::test::HttpRequest;
using ::kessan::test::HttpResponse;
using ::testing::HasSubstr;

// The test side of a fake stream: what to send, and what was taken.
class FakeSource {
 public:
  void Push(std::string message) {
    std::function<void()> wake;
    {
      absl::MutexLock lock(&mu_);
      queue_.push_back(std::move(message));
      wake = wake_;
    }
    if (wake) wake();
  }
  void End(absl::Status status) {
    std::function<void()> wake;
    {
      absl::MutexLock lock(&mu_);
      end_ = status;
      wake = wake_;
    }
    if (wake) wake();
  }
  size_t taken_bytes() {
    absl::MutexLock lock(&mu_);
    return taken_bytes_;
  }
  bool AwaitDestroyed(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&destroyed_), timeout);
  }

 private:
  friend class FakeStream;
  absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);
  std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
  size_t taken_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool destroyed_ ABSL_GUARDED_BY(mu_) = false;
};

class FakeStream final : public MessageStream {
 public:
  explicit FakeStream(std::shared_ptr<FakeSource> source) : source_(std::move(source)) {}
  ~FakeStream() override {
    absl::MutexLock lock(&source_->mu_);
    source_->wake_ = nullptr;
    source_->destroyed_ = true;
  }
  void Start(std::function<void()> wake) override {
    {
      absl::MutexLock lock(&source_->mu_);
      source_->wake_ = wake;
    }
    wake();
  }
  bool Next(std::string* out) override {
    absl::MutexLock lock(&source_->mu_);
    if (source_->queue_.empty()) return false;
    *out += source_->queue_.front();
    source_->taken_bytes_ += source_->queue_.front().size();
    source_->queue_.pop_front();
    return true;
  }
  std::optional<absl::Status> Finished() override {
    absl::MutexLock lock(&source_->mu_);
    if (!source_->queue_.empty()) return std::nullopt;
    return source_->end_;
  }

 private:
  std::shared_ptr<FakeSource> source_;
};

std::string EventsResponse(uint64_t first, int count, size_t pad = 0) {
  v1::SubscribeResponse r;
  for (int i = 0; i < count; ++i) {
    v1::FeedEvent* e = r.add_events();
    e->set_sequence(first + i);
    if (pad > 0) e->mutable_fact()->mutable_key()->set_concept_id(std::string(pad, 'x'));
  }
  return r.SerializeAsString();
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kessan_http_test_" + std::to_string(getpid()));
    fs::create_directories(dir_ / "site");
    std::ofstream(dir_ / "site" / "index.html") << "<h1>kessan</h1>";
    std::ofstream(dir_ / "site" / "app.js") << "console.log(1);";
    std::ofstream(dir_ / "secret.txt") << "secret";
    std::ofstream(dir_ / "site" / "data.bin") << "bin";
    fs::create_symlink(dir_ / "secret.txt", dir_ / "site" / "link.txt");
    absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(Options());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  HttpServerOptions Options() {
    HttpServerOptions o;
    o.worker_threads = 2;
    o.max_message_bytes = 4096;
    o.static_dir = (dir_ / "site").string();
    o.metrics = [] { return std::string("kessan_up 1\n"); };
    Procedure snapshot;
    snapshot.request_prototype = &v1::GetSnapshotRequest::default_instance();
    snapshot.response_prototype = &v1::GetSnapshotResponse::default_instance();
    snapshot.unary =
        [this](const HttpCall& call,
               google::protobuf::Message& m) -> absl::StatusOr<std::unique_ptr<google::protobuf::Message>> {
      auto& request = static_cast<v1::GetSnapshotRequest&>(m);
      const std::string issuer = request.filter().issuers_size() > 0 ? request.filter().issuers(0) : "";
      if (issuer == "deny") return absl::PermissionDeniedError("no role subscriber");
      if (issuer == "block") release_.WaitForNotification();
      {
        absl::MutexLock lock(&mu_);
        last_call_ = call;
      }
      auto response = std::make_unique<v1::GetSnapshotResponse>();
      response->set_sequence(request.filter().concepts_size() + 41);
      response->set_incarnation(issuer);
      return response;
    };
    o.procedures["/kessan.v1.FeedService/GetSnapshot"] = snapshot;
    Procedure subscribe;
    subscribe.request_prototype = &v1::SubscribeRequest::default_instance();
    subscribe.response_prototype = &v1::SubscribeResponse::default_instance();
    subscribe.stream = [this](
                           const HttpCall&,
                           google::protobuf::Message& m) -> absl::StatusOr<std::unique_ptr<MessageStream>> {
      auto& request = static_cast<v1::SubscribeRequest&>(m);
      if (request.from_sequence() == 999) return absl::OutOfRangeError("from_sequence 999: beyond 50");
      auto source = std::make_shared<FakeSource>();
      absl::MutexLock lock(&mu_);
      sources_.push_back(source);
      return std::make_unique<FakeStream>(source);
    };
    o.procedures["/kessan.v1.FeedService/Subscribe"] = subscribe;
    return o;
  }
  void TearDown() override {
    if (!release_.HasBeenNotified()) release_.Notify();
    server_.reset();
    fs::remove_all(dir_);
  }

  HttpResponse Post(const std::string& path, const std::string& content_type, const std::string& body,
                    std::map<std::string, std::string> headers = {}) {
    headers["Content-Type"] = content_type;
    absl::StatusOr<HttpResponse> r = HttpRequest(server_->port(), "POST", path, headers, body);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : HttpResponse{};
  }
  // Opens a Subscribe stream and waits for its source.
  std::shared_ptr<FakeSource> OpenStream(HttpConnection& c, const std::string& json = "{}") {
    EXPECT_TRUE(c.Send("POST", "/kessan.v1.FeedService/Subscribe",
                       {{"Content-Type", "application/connect+json"}}, Enveloped(json))
                    .ok());
    absl::StatusOr<HttpResponse> head = c.ReadHead();
    EXPECT_TRUE(head.ok()) << head.status();
    if (!head.ok()) return nullptr;
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->headers["content-type"], "application/connect+json");
    absl::MutexLock lock(&mu_);
    const size_t want = ++streams_opened_;
    auto ready = [&] { return sources_.size() >= want; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(30));
    return sources_.size() >= want ? sources_[want - 1] : nullptr;
  }

  fs::path dir_;
  std::unique_ptr<HttpServer> server_;
  absl::Notification release_;
  absl::Mutex mu_;
  HttpCall last_call_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<FakeSource>> sources_ ABSL_GUARDED_BY(mu_);
  size_t streams_opened_ = 0;
};

TEST_F(HttpServerTest, UnaryJson) {
  HttpResponse r = Post("/kessan.v1.FeedService/GetSnapshot", "application/json",
                        R"({"filter":{"issuers":["IIJ"],"concepts":["revenue"]}})",
                        {{"Authorization", "Bearer t0ken"}, {"Connect-Protocol-Version", "1"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.body, R"({"sequence":"42","incarnation":"IIJ"})");
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(last_call_.authorization, "Bearer t0ken");
  EXPECT_THAT(last_call_.peer, HasSubstr("ipv4:127.0.0.1:"));
}

TEST_F(HttpServerTest, UnaryProto) {
  v1::GetSnapshotRequest request;
  request.mutable_filter()->add_issuers("IIJ");
  HttpResponse r =
      Post("/kessan.v1.FeedService/GetSnapshot", "application/proto", request.SerializeAsString());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "application/proto");
  v1::GetSnapshotResponse response;
  ASSERT_TRUE(response.ParseFromString(r.body));
  EXPECT_EQ(response.sequence(), 41u);
  EXPECT_EQ(response.incarnation(), "IIJ");
}

TEST_F(HttpServerTest, Errors) {
  const std::string path = "/kessan.v1.FeedService/GetSnapshot";
  HttpResponse bad = Post(path, "application/json", "{oops");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.headers["content-type"], "application/json");
  EXPECT_THAT(bad.body, HasSubstr(R"("code":"invalid_argument")"));
  HttpResponse unknown = Post(path, "application/json", R"({"filter":{"issuer":["IIJ"]}})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_THAT(unknown.body, HasSubstr("issuer: Cannot find field"));
  HttpResponse denied = Post(path, "application/json", R"({"filter":{"issuers":["deny"]}})");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.body, R"({"code":"permission_denied","message":"no role subscriber"})");
  HttpResponse no_method = Post("/kessan.v1.FeedService/Nope", "application/json", "{}");
  EXPECT_EQ(no_method.status, 404);
  EXPECT_THAT(no_method.body, HasSubstr(R"("code":"unimplemented")"));
  HttpResponse media = Post(path, "text/plain", "{}");
  EXPECT_EQ(media.status, 415);
  EXPECT_EQ(media.headers["accept-post"], "application/json, application/proto");
  HttpResponse gzip = Post(path, "application/json", "{}", {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(gzip.status, 501);
  EXPECT_THAT(gzip.body, HasSubstr("only identity"));
  HttpResponse version = Post(path, "application/json", "{}", {{"Connect-Protocol-Version", "2"}});
  EXPECT_EQ(version.status, 400);
  HttpResponse timeout = Post(path, "application/json", "{}", {{"Connect-Timeout-Ms", "soon"}});
  EXPECT_EQ(timeout.status, 400);
  EXPECT_THAT(timeout.body, HasSubstr("connect-timeout-ms"));
  HttpResponse large = Post(path, "application/json", std::string(4096, ' ') + "{}");
  EXPECT_EQ(large.status, 429);
  EXPECT_THAT(large.body, HasSubstr("more than the limit of 4096"));
  HttpResponse huge = Post(path, "application/json", std::string(100000, ' '));
  EXPECT_EQ(huge.status, 413);  // evhttp's bound on the body, before it is read whole
  // A streaming procedure asked as unary is the wrong media type.
  HttpResponse stream_as_unary = Post("/kessan.v1.FeedService/Subscribe", "application/json", "{}");
  EXPECT_EQ(stream_as_unary.status, 415);
}

TEST_F(HttpServerTest, MetricsAndStaticFiles) {
  absl::StatusOr<HttpResponse> metrics = HttpRequest(server_->port(), "GET", "/metrics", {}, "");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(metrics->body, "kessan_up 1\n");
  absl::StatusOr<HttpResponse> index = HttpRequest(server_->port(), "GET", "/", {}, "");
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(index->status, 200);
  EXPECT_EQ(index->headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(index->body, "<h1>kessan</h1>");
  absl::StatusOr<HttpResponse> js = HttpRequest(server_->port(), "GET", "/app.js", {}, "");
  EXPECT_EQ(js->headers["content-type"], "text/javascript; charset=utf-8");
  for (const char* path : {"/../secret.txt", "/%2e%2e/secret.txt", "/link.txt", "/data.bin", "/missing.html",
                           "/..%2fsecret.txt"}) {
    absl::StatusOr<HttpResponse> r = HttpRequest(server_->port(), "GET", path, {}, "");
    ASSERT_TRUE(r.ok()) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_THAT(r->body, ::testing::Not(HasSubstr("secret"))) << path;
  }
}

TEST_F(HttpServerTest, StaticFilePathRefusesEscapes) {
  std::string type;
  const std::string root = (dir_ / "site").string();
  EXPECT_TRUE(StaticFilePath(root, "/index.html", &type).has_value());
  EXPECT_FALSE(StaticFilePath(root, "/../secret.txt", &type).has_value());
  EXPECT_FALSE(StaticFilePath(root, "/link.txt", &type).has_value());
  EXPECT_FALSE(StaticFilePath(root, "index.html", &type).has_value());
  EXPECT_FALSE(StaticFilePath(root, "/data.bin", &type).has_value());
}

TEST_F(HttpServerTest, StreamJsonThenEndWithError) {
  auto c = *HttpConnection::Open(server_->port());
  std::shared_ptr<FakeSource> source = OpenStream(*c);
  ASSERT_NE(source, nullptr);
  source->Push(EventsResponse(1, 2));
  source->Push(EventsResponse(3, 1));
  absl::StatusOr<ConnectEnvelope> first = c->ReadEnvelope();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->flags, 0);
  EXPECT_EQ(first->payload, R"({"events":[{"sequence":"1"},{"sequence":"2"}]})");
  absl::StatusOr<ConnectEnvelope> second = c->ReadEnvelope();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->payload, R"({"events":[{"sequence":"3"}]})");
  source->End(absl::ResourceExhaustedError("slow consumer: resume from 3"));
  absl::StatusOr<ConnectEnvelope> end = c->ReadEnvelope();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->flags, connect::kFlagEndStream);
  EXPECT_EQ(end->payload,
            R"({"error":{"code":"resource_exhausted","message":"slow consumer: resume from 3"}})");
  EXPECT_TRUE(source->AwaitDestroyed(absl::Seconds(30)));
  EXPECT_EQ(server_->open_streams(), 0u);
}

TEST_F(HttpServerTest, StreamProto) {
  auto c = *HttpConnection::Open(server_->port());
  v1::SubscribeRequest request;
  request.mutable_filter()->add_issuers("IIJ");
  ASSERT_TRUE(c->Send("POST", "/kessan.v1.FeedService/Subscribe",
                      {{"Content-Type", "application/connect+proto"}}, Enveloped(request.SerializeAsString()))
                  .ok());
  absl::StatusOr<HttpResponse> head = c->ReadHead();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->headers["content-type"], "application/connect+proto");
  std::shared_ptr<FakeSource> source;
  {
    absl::MutexLock lock(&mu_);
    auto one = [&] { return !sources_.empty(); };
    ASSERT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&one), absl::Seconds(30)));
    source = sources_[0];
  }
  source->Push(EventsResponse(7, 1));
  absl::StatusOr<ConnectEnvelope> e = c->ReadEnvelope();
  ASSERT_TRUE(e.ok());
  v1::SubscribeResponse response;
  ASSERT_TRUE(response.ParseFromString(e->payload));
  EXPECT_EQ(response.events(0).sequence(), 7u);
  source->End(absl::OkStatus());
  absl::StatusOr<ConnectEnvelope> end = c->ReadEnvelope();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->flags, connect::kFlagEndStream);
  EXPECT_EQ(end->payload, "{}");  // the end-of-stream message is JSON in every codec
}

TEST_F(HttpServerTest, StreamRefusedAtOpenIsAnEndMessage) {
  auto c = *HttpConnection::Open(server_->port());
  ASSERT_TRUE(c->Send("POST", "/kessan.v1.FeedService/Subscribe",
                      {{"Content-Type", "application/connect+json"}}, Enveloped(R"({"fromSequence":"999"})"))
                  .ok());
  absl::StatusOr<HttpResponse> r = c->ReadResponse();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  ASSERT_GE(r->body.size(), 5u);
  EXPECT_EQ(r->body[0], connect::kFlagEndStream);
  EXPECT_THAT(r->body,
              HasSubstr(R"({"error":{"code":"out_of_range","message":"from_sequence 999: beyond 50"}})"));
  // Not an envelope at all.
  HttpResponse raw = Post("/kessan.v1.FeedService/Subscribe", "application/connect+json", "{}");
  EXPECT_EQ(raw.status, 200);
  EXPECT_THAT(raw.body, HasSubstr("not an enveloped message"));
  // An unknown field in the enveloped request.
  HttpResponse unknown =
      Post("/kessan.v1.FeedService/Subscribe", "application/connect+json", Enveloped(R"({"fromSeq":"1"})"));
  EXPECT_THAT(unknown.body, HasSubstr("fromSeq: Cannot find field"));
}

TEST_F(HttpServerTest, ClientGoneEndsTheStream) {
  auto c = *HttpConnection::Open(server_->port());
  std::shared_ptr<FakeSource> source = OpenStream(*c);
  ASSERT_NE(source, nullptr);
  source->Push(EventsResponse(1, 1));
  ASSERT_TRUE(c->ReadEnvelope().ok());
  EXPECT_EQ(server_->open_streams(), 1u);
  c.reset();  // the client closes its socket
  EXPECT_TRUE(source->AwaitDestroyed(absl::Seconds(30)));
  EXPECT_EQ(server_->open_streams(), 0u);
}

TEST_F(HttpServerTest, AStalledClientHoldsBoundedBytesAndNobodyElse) {
  // A client with a small receive buffer that never reads.
  auto stalled = *HttpConnection::Open(server_->port(), 4096);
  std::shared_ptr<FakeSource> slow = OpenStream(*stalled);
  ASSERT_NE(slow, nullptr);
  constexpr size_t kMessage = 64 << 10;
  constexpr int kMessages = 320;  // 20 MiB
  for (int i = 0; i < kMessages; ++i) slow->Push(EventsResponse(i + 1, 1, kMessage));
  // Another stream and a unary call go through meanwhile.
  auto other = *HttpConnection::Open(server_->port());
  std::shared_ptr<FakeSource> fast = OpenStream(*other);
  ASSERT_NE(fast, nullptr);
  fast->Push(EventsResponse(5, 1));
  absl::StatusOr<ConnectEnvelope> e = other->ReadEnvelope();
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->payload, R"({"events":[{"sequence":"5"}]})");
  EXPECT_EQ(Post("/kessan.v1.FeedService/GetSnapshot", "application/json", "{}").status, 200);
  // The stalled stream took only what the sockets hold (kernel buffers on
  // loopback, a few MiB) plus one chunk: it stops taking once its
  // connection's output is not drained.
  const size_t taken = slow->taken_bytes();
  EXPECT_LT(taken, size_t{kMessages} * kMessage / 2) << taken;
  EXPECT_EQ(server_->open_streams(), 2u);
}

TEST_F(HttpServerTest, ABlockingCallHoldsNeitherTheLoopNorStreams) {
  auto blocked = *HttpConnection::Open(server_->port());
  ASSERT_TRUE(blocked
                  ->Send("POST", "/kessan.v1.FeedService/GetSnapshot", {{"Content-Type", "application/json"}},
                         R"({"filter":{"issuers":["block"]}})")
                  .ok());
  // With the call blocked on a worker, another call and a stream proceed.
  EXPECT_EQ(Post("/kessan.v1.FeedService/GetSnapshot", "application/json", "{}").status, 200);
  auto c = *HttpConnection::Open(server_->port());
  std::shared_ptr<FakeSource> source = OpenStream(*c);
  ASSERT_NE(source, nullptr);
  source->Push(EventsResponse(1, 1));
  EXPECT_TRUE(c->ReadEnvelope().ok());
  if (!release_.HasBeenNotified()) release_.Notify();
  absl::StatusOr<HttpResponse> r = blocked->ReadResponse();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("block"));
}

TEST_F(HttpServerTest, ConnectTimeout) {
  HttpResponse late = Post("/kessan.v1.FeedService/GetSnapshot", "application/json",
                           R"({"filter":{"issuers":["block"]}})", {{"Connect-Timeout-Ms", "50"}});
  EXPECT_EQ(late.status, 504);
  EXPECT_THAT(late.body, HasSubstr(R"("code":"deadline_exceeded")"));
  if (!release_.HasBeenNotified()) release_.Notify();
  // A stream's deadline ends it with an end-of-stream error.
  auto c = *HttpConnection::Open(server_->port());
  ASSERT_TRUE(c->Send("POST", "/kessan.v1.FeedService/Subscribe",
                      {{"Content-Type", "application/connect+json"}, {"Connect-Timeout-Ms", "100"}},
                      Enveloped("{}"))
                  .ok());
  ASSERT_TRUE(c->ReadHead().ok());
  absl::StatusOr<ConnectEnvelope> end = c->ReadEnvelope();
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->flags, connect::kFlagEndStream);
  EXPECT_THAT(end->payload, HasSubstr("deadline_exceeded"));
}

TEST_F(HttpServerTest, AQuietStreamOutlivesTheIdleTimeout) {
  HttpServerOptions o = Options();
  o.idle_timeout_seconds = 1;
  server_.reset();
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(std::move(o));
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  // An idle connection between requests is closed after the timeout.
  auto idle = *HttpConnection::Open(server_->port());
  EXPECT_TRUE(idle->AwaitClosed(absl::Seconds(30)));
  // A stream that sends nothing for longer is not: it has no read timeout.
  auto c = *HttpConnection::Open(server_->port());
  std::shared_ptr<FakeSource> source = OpenStream(*c);
  ASSERT_NE(source, nullptr);
  absl::SleepFor(absl::Milliseconds(2500));  // the duration under test, not a wait for an event
  source->Push(EventsResponse(9, 1));
  absl::StatusOr<ConnectEnvelope> e = c->ReadEnvelope();
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->payload, R"({"events":[{"sequence":"9"}]})");
}

TEST_F(HttpServerTest, ShutdownEndsStreamsWithUnavailable) {
  auto c = *HttpConnection::Open(server_->port());
  std::shared_ptr<FakeSource> source = OpenStream(*c);
  ASSERT_NE(source, nullptr);
  server_->Shutdown();
  absl::StatusOr<ConnectEnvelope> end = c->ReadEnvelope();
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->flags, connect::kFlagEndStream);
  EXPECT_THAT(end->payload, HasSubstr("unavailable"));
  EXPECT_TRUE(source->AwaitDestroyed(absl::Seconds(30)));
}

}  // namespace
}  // namespace kessan::http
