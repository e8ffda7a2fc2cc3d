// HTTP/Connect end to end: a kessan::Server with --http_listen on
// 127.0.0.1:0, seeded with the IIJ data set, called over raw HTTP/1.1
// sockets and compared with what gRPC answers for the same calls.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <deque>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "auth/token_store.h"
#include "feed_test_util.h"
#include "http/connect.h"
#include "kessan/server.h"
#include "kessan/v1/feed.grpc.pb.h"
#include "kessan/v1/scenario.grpc.pb.h"
#include "testing/http_client.h"

namespace kessan {
namespace {

namespace fs = std::filesystem;
using ::kessan::test::ConnectEnvelope;
using ::kessan::test::Enveloped;
using ::kessan::test::HttpConnection;
using ::kessan::test::HttpRequest;
using ::kessan::test::HttpResponse;
using ::testing::HasSubstr;

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &out).ok());
  return out;
}

template <typename T>
T FromJson(const std::string& json) {
  T m;
  auto s = google::protobuf::util::JsonStringToMessage(json, &m);
  EXPECT_TRUE(s.ok()) << s.ToString() << ": " << json.substr(0, 200);
  return m;
}

// Events of a Subscribe stream read over HTTP (connect+json), in order.
class HttpSubscriber {
 public:
  HttpSubscriber(int port, const v1::SubscribeRequest& request, const std::string& token = "") {
    auto c = HttpConnection::Open(port);
    EXPECT_TRUE(c.ok()) << c.status();
    connection_ = *std::move(c);
    std::map<std::string, std::string> headers = {{"Content-Type", "application/connect+json"}};
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    EXPECT_TRUE(
        connection_->Send("POST", "/kessan.v1.FeedService/Subscribe", headers, Enveloped(Json(request)))
            .ok());
    absl::StatusOr<HttpResponse> head = connection_->ReadHead();
    EXPECT_TRUE(head.ok()) << head.status();
    if (head.ok()) status_ = head->status;
  }
  int status() const { return status_; }
  // The next event; the stream's end message (an error) as end().
  std::optional<v1::FeedEvent> Next() {
    while (pending_.empty()) {
      absl::StatusOr<ConnectEnvelope> e = connection_->ReadEnvelope();
      if (!e.ok()) {
        ADD_FAILURE() << e.status();
        return std::nullopt;
      }
      if (e->flags & connect::kFlagEndStream) {
        end_ = e->payload;
        return std::nullopt;
      }
      v1::SubscribeResponse r = FromJson<v1::SubscribeResponse>(e->payload);
      for (const v1::FeedEvent& event : r.events()) pending_.push_back(event);
    }
    v1::FeedEvent event = pending_.front();
    pending_.pop_front();
    return event;
  }
  // Events up to and including the first one `stop` accepts.
  std::vector<v1::FeedEvent> Until(const std::function<bool(const v1::FeedEvent&)>& stop) {
    std::vector<v1::FeedEvent> seen;
    while (std::optional<v1::FeedEvent> e = Next()) {
      seen.push_back(*e);
      if (stop(*e)) break;
    }
    return seen;
  }
  const std::string& end() const { return end_; }
  HttpConnection& connection() { return *connection_; }

 private:
  std::unique_ptr<HttpConnection> connection_;
  int status_ = 0;
  std::deque<v1::FeedEvent> pending_;
  std::string end_;
};

class HttpTest : public FeedServerTest {
 protected:
  void Adjust(ServerOptions& options) override {
    options.http_listen = "127.0.0.1:0";
    options.plugin_dir = "";  // the bundled plugins
  }
  int http_port() { return server_->http_port(); }

  HttpResponse Post(const std::string& method, const std::string& content_type, const std::string& body,
                    std::map<std::string, std::string> headers = {}) {
    headers["Content-Type"] = content_type;
    absl::StatusOr<HttpResponse> r = HttpRequest(http_port(), "POST", method, headers, body);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : HttpResponse{};
  }
};

TEST_F(HttpTest, GetSnapshotJsonIsGrpcsSnapshot) {
  ASSERT_NE(http_port(), 0);
  // The README's call: curl -d '{}' -H 'content-type: application/json' .../GetSnapshot
  HttpResponse r = Post("/kessan.v1.FeedService/GetSnapshot", "application/json", "{}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  v1::GetSnapshotResponse over_http = FromJson<v1::GetSnapshotResponse>(r.body);
  v1::GetSnapshotResponse over_grpc = Snapshot();
  EXPECT_GT(over_http.events_size(), 0);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(over_http, over_grpc));

  v1::GetSnapshotRequest request;
  request.mutable_filter()->add_concepts("adjusted_ebitda");
  HttpResponse proto =
      Post("/kessan.v1.FeedService/GetSnapshot", "application/proto", request.SerializeAsString());
  ASSERT_EQ(proto.status, 200);
  EXPECT_EQ(proto.headers["content-type"], "application/proto");
  v1::GetSnapshotResponse filtered;
  ASSERT_TRUE(filtered.ParseFromString(proto.body));
  ASSERT_GT(filtered.events_size(), 0);
  for (const v1::FeedEvent& e : filtered.events()) EXPECT_EQ(e.fact().key().concept_id(), "adjusted_ebitda");
}

TEST_F(HttpTest, PublishJsonAndProto) {
  const uint64_t head = server_->last_sequence();
  HttpResponse json = Post("/kessan.v1.FeedService/Publish", "application/json",
                           Json(Batch({RevenueItem(2002, 13'100'000'000)})));
  ASSERT_EQ(json.status, 200) << json.body;
  v1::PublishResponse published = FromJson<v1::PublishResponse>(json.body);
  ASSERT_EQ(published.sequences_size(), 1);
  EXPECT_EQ(published.sequences(0), head + 1);
  HttpResponse proto = Post("/kessan.v1.FeedService/Publish", "application/proto",
                            Batch({RevenueItem(2002, 13'200'000'000)}).SerializeAsString());
  ASSERT_EQ(proto.status, 200);
  ASSERT_TRUE(published.ParseFromString(proto.body));
  EXPECT_EQ(published.sequences(0), head + 2);
  EXPECT_EQ(server_->last_sequence(), head + 2);
  // gRPC sees the latest revision.
  v1::GetSnapshotResponse s = Snapshot(R"pb(concepts: "revenue")pb");
  bool found = false;
  for (const v1::FeedEvent& e : s.events()) {
    if (e.sequence() == head + 2) {
      found = true;
      EXPECT_EQ(e.fact().value().money().units(), 13'200'000'000);
      EXPECT_EQ(e.fact().revision(), 3);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(HttpTest, ErrorsAreGrpcsErrors) {
  // A batch that breaks rules: the same message over both transports, and
  // nothing stored.
  const uint64_t head = server_->last_sequence();
  v1::PublishRequest bad = Batch({RevenueItem(2002, 13'100'000'000)});
  bad.mutable_items(0)->mutable_fact()->mutable_value()->mutable_money()->set_nanos(5);
  bad.mutable_items(0)->mutable_fact()->mutable_key()->set_concept_id("");
  v1::PublishResponse ignored;
  grpc::Status over_grpc = Publish(bad, &ignored);
  ASSERT_EQ(over_grpc.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  HttpResponse over_http = Post("/kessan.v1.FeedService/Publish", "application/json", Json(bad));
  EXPECT_EQ(over_http.status, 400);
  EXPECT_EQ(over_http.body, connect::ErrorJson(absl::InvalidArgumentError(over_grpc.error_message())));
  EXPECT_THAT(over_http.body, HasSubstr("items[0]"));
  EXPECT_EQ(server_->last_sequence(), head);
  // Bad JSON, an unknown field (named), an unknown method.
  HttpResponse broken = Post("/kessan.v1.FeedService/Publish", "application/json", R"({"items": [)");
  EXPECT_EQ(broken.status, 400);
  EXPECT_THAT(broken.body, HasSubstr(R"("code":"invalid_argument")"));
  HttpResponse unknown = Post("/kessan.v1.FeedService/Publish", "application/json", R"({"itemz": []})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_THAT(unknown.body, HasSubstr("itemz: Cannot find field"));
  HttpResponse no_method = Post("/kessan.v1.FeedService/Unsubscribe", "application/json", "{}");
  EXPECT_EQ(no_method.status, 404);
  EXPECT_THAT(no_method.body, HasSubstr(R"("code":"unimplemented")"));
  // An unknown issuer in a filter.
  HttpResponse filter =
      Post("/kessan.v1.FeedService/GetSnapshot", "application/json", R"({"filter":{"issuers":["NOPE"]}})");
  EXPECT_EQ(filter.status, 400);
  EXPECT_THAT(filter.body, HasSubstr("NOPE"));
  EXPECT_EQ(server_->last_sequence(), head);
}

TEST_F(HttpTest, ListAndRunScenarios) {
  HttpResponse list = Post("/kessan.v1.ScenarioService/ListScenarios", "application/json", "{}");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_THAT(list.body, HasSubstr(R"("name":"dilution")"));
  EXPECT_THAT(list.body, HasSubstr(R"("name":"revenue_outlook")"));
  HttpResponse run =
      Post("/kessan.v1.ScenarioService/RunScenario", "application/json",
           R"({"name":"dilution","parameters":{"shares_outstanding_before":{"integer":"17345"}}})");
  ASSERT_EQ(run.status, 200) << run.body;
  EXPECT_THAT(run.body, HasSubstr(R"("units":"3512880000")"));
  v1::RunScenarioResponse result = FromJson<v1::RunScenarioResponse>(run.body);
  bool gross = false;
  for (const v1::Output& o : result.result().outputs()) {
    if (o.name() == "gross_proceeds") {
      gross = true;
      EXPECT_EQ(o.money().units(), 3512880000);
      EXPECT_EQ(o.money().currency_code(), "JPY");
    }
  }
  EXPECT_TRUE(gross);
  // Binary, and a missing parameter as gRPC reports it.
  v1::RunScenarioRequest request;
  request.set_name("dilution");
  (*request.mutable_parameters())["shares_outstanding_before"].set_integer(17345);
  HttpResponse proto =
      Post("/kessan.v1.ScenarioService/RunScenario", "application/proto", request.SerializeAsString());
  ASSERT_EQ(proto.status, 200);
  v1::RunScenarioResponse binary;
  ASSERT_TRUE(binary.ParseFromString(proto.body));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(binary.result().outputs(0),
                                                                 result.result().outputs(0)));
  HttpResponse missing =
      Post("/kessan.v1.ScenarioService/RunScenario", "application/json", R"({"name":"dilution"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_THAT(missing.body, HasSubstr("shares_outstanding_before"));
}

TEST_F(HttpTest, WatchScenarioStreamsResults) {
  auto c = *HttpConnection::Open(http_port());
  ASSERT_TRUE(
      c->Send(
           "POST", "/kessan.v1.ScenarioService/WatchScenario", {{"Content-Type", "application/connect+json"}},
           Enveloped(R"({"name":"dilution","parameters":{"shares_outstanding_before":{"integer":"17345"}}})"))
          .ok());
  absl::StatusOr<HttpResponse> head = c->ReadHead();
  ASSERT_TRUE(head.ok());
  ASSERT_EQ(head->status, 200);
  absl::StatusOr<ConnectEnvelope> first = c->ReadEnvelope(absl::Seconds(60));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->flags, 0) << first->payload;
  EXPECT_THAT(first->payload, HasSubstr(R"("units":"3512880000")"));
}

TEST_F(HttpTest, SubscribeSeesAGrpcPublish) {
  v1::SubscribeRequest request;
  request.mutable_filter()->add_concepts("revenue");
  HttpSubscriber sub(http_port(), request);
  ASSERT_EQ(sub.status(), 200);
  std::vector<v1::FeedEvent> snapshot =
      sub.Until([](const v1::FeedEvent& e) { return e.has_snapshot_end(); });
  ASSERT_GE(snapshot.size(), 3u);
  EXPECT_TRUE(snapshot.front().has_snapshot_begin());
  v1::PublishResponse published;
  ASSERT_TRUE(Publish(Batch({RevenueItem(2002, 13'100'000'000)}), &published).ok());
  std::vector<v1::FeedEvent> live =
      sub.Until([&](const v1::FeedEvent& e) { return e.sequence() == published.sequences(0); });
  ASSERT_FALSE(live.empty());
  EXPECT_EQ(live.back().sequence(), published.sequences(0));
  EXPECT_EQ(live.back().fact().revision(), 2);
}

// The events of a resume over gRPC, up to `last`.
std::vector<v1::FeedEvent> GrpcResume(v1::FeedService::Stub& stub, const v1::SubscribeRequest& request,
                                      uint64_t last) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto reader = stub.Subscribe(&context, request);
  std::vector<v1::FeedEvent> seen;
  v1::SubscribeResponse r;
  while (reader->Read(&r)) {
    for (const v1::FeedEvent& e : r.events()) {
      if (e.has_heartbeat()) continue;
      seen.push_back(e);
    }
    if (!seen.empty() && seen.back().sequence() >= last) break;
  }
  context.TryCancel();
  return seen;
}

TEST_F(HttpTest, ResumeIsGrpcsResume) {
  for (int i = 0; i < 3; ++i) {
    v1::PublishResponse p;
    ASSERT_TRUE(Publish(Batch({RevenueItem(2002, 13'100'000'000 + i * 100'000'000)}), &p).ok());
  }
  const uint64_t head = server_->last_sequence();
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_FROM_SEQUENCE);
  request.set_from_sequence(head - 5);
  std::vector<v1::FeedEvent> over_grpc = GrpcResume(*stub_, request, head);
  HttpSubscriber sub(http_port(), request);
  std::vector<v1::FeedEvent> over_http =
      sub.Until([&](const v1::FeedEvent& e) { return e.sequence() >= head; });
  ASSERT_EQ(over_http.size(), 5u);
  ASSERT_EQ(over_grpc.size(), over_http.size());
  for (size_t i = 0; i < over_http.size(); ++i) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(over_http[i], over_grpc[i])) << i;
  }
  // Beyond the journal: OUT_OF_RANGE in the end-of-stream message.
  request.set_from_sequence(head + 100);
  HttpSubscriber beyond(http_port(), request);
  EXPECT_FALSE(beyond.Next().has_value());
  EXPECT_THAT(beyond.end(), HasSubstr(R"("code":"out_of_range")"));
  // Another incarnation: a resync, then a snapshot, as over gRPC.
  request.set_from_sequence(head - 1);
  request.set_incarnation("another-journal");
  HttpSubscriber other(http_port(), request);
  std::optional<v1::FeedEvent> first = other.Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(first->has_resync()) << first->DebugString();
}

TEST_F(HttpTest, AStalledReaderDoesNotStallOthers) {
  // Never reads, with a small receive buffer.
  auto stalled = *HttpConnection::Open(http_port(), 4096);
  v1::SubscribeRequest all;
  ASSERT_TRUE(stalled
                  ->Send("POST", "/kessan.v1.FeedService/Subscribe",
                         {{"Content-Type", "application/connect+json"}}, Enveloped("{}"))
                  .ok());
  v1::SubscribeRequest live;
  live.set_start(v1::START_MODE_LIVE_ONLY);
  HttpSubscriber reader(http_port(), live);
  ASSERT_EQ(reader.status(), 200);
  // About 10 MB of events while the stalled one reads nothing.
  uint64_t last = 0;
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<v1::PublishItem> items;
    for (int k = 0; k < 1000; ++k) {
      items.push_back(QuarterItem(k, 1'000'000'000 + batch));
      items.back().mutable_fact()->mutable_provenance()->set_quote(std::string(600, 'q'));
    }
    v1::PublishResponse p;
    grpc::Status s = Publish(Batch(std::move(items)), &p);
    ASSERT_TRUE(s.ok()) << s.error_message();
    last = p.sequences(p.sequences_size() - 1);
  }
  std::vector<v1::FeedEvent> seen =
      reader.Until([&](const v1::FeedEvent& e) { return e.sequence() == last; });
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().sequence(), last);
  EXPECT_EQ(Post("/kessan.v1.FeedService/GetSnapshot", "application/json", R"({"filter":{"concepts":["x"]}})")
                .status,
            200);
}

size_t Threads() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/task")) ++n;
  return n;
}

size_t RssKiB() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  }
  return 0;
}

TEST_F(HttpTest, OpenStreamsTakeNoThread) {
  constexpr int kStreams = 500;
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < 4 * kStreams) {
    files.rlim_cur = std::min<rlim_t>(files.rlim_max, 4 * kStreams);
    setrlimit(RLIMIT_NOFILE, &files);
  }
  // One stream first: the pools it needs are running.
  v1::SubscribeRequest live;
  live.set_start(v1::START_MODE_LIVE_ONLY);
  std::vector<std::unique_ptr<HttpSubscriber>> subs;
  subs.push_back(std::make_unique<HttpSubscriber>(http_port(), live));
  ASSERT_EQ(subs[0]->status(), 200);
  const size_t threads_before = Threads();
  const size_t rss_before = RssKiB();
  for (int i = 1; i < kStreams; ++i) {
    subs.push_back(std::make_unique<HttpSubscriber>(http_port(), live));
    ASSERT_EQ(subs.back()->status(), 200) << i;
  }
  const size_t threads_after = Threads();
  const size_t rss_after = RssKiB();
  // The response heads are written when each stream starts: all are open.
  std::printf(
      "%d open HTTP streams: threads %zu -> %zu, RSS %zu -> %zu KiB (%.1f KiB per stream, client side "
      "included)\n",
      kStreams, threads_before, threads_after, rss_before, rss_after,
      (static_cast<double>(rss_after) - rss_before) / (kStreams - 1));
  // A pool may start or end a transient thread meanwhile; a thread per
  // stream would be 499 more.
  EXPECT_LE(threads_after, threads_before + 4);
  // Every one of them is live.
  v1::PublishResponse p;
  ASSERT_TRUE(Publish(Batch({RevenueItem(2002, 13'100'000'000)}), &p).ok());
  for (auto& sub : subs) {
    std::optional<v1::FeedEvent> e = sub->Next();
    while (e.has_value() && e->has_heartbeat()) e = sub->Next();
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->sequence(), p.sequences(0));
  }
}

TEST(HttpSecurityOptions, PlaintextHttpOffLoopbackIsRefusedWithTokens) {
  const fs::path dir = fs::path(::testing::TempDir()) / absl::StrCat("kessan_http_sec_", getpid());
  fs::create_directories(dir);
  std::ofstream(dir / "principals") << "reader subscriber sha256:" << auth::Sha256Hex("reader-token") << "\n";
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.http_listen = "0.0.0.0:0";
  o.data_dir = (dir / "data").string();
  o.plugin_dir = "none";
  o.auth_tokens_file = (dir / "principals").string();
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(o);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(server.status().message(), HasSubstr("http_listen 0.0.0.0:0 serves plaintext HTTP"));
  fs::remove_all(dir);
}

// Tokens, roles and entitlements: the same answers as gRPC's.
class HttpAuthTest : public FeedServerTest {
 protected:
  void Adjust(ServerOptions& options) override {
    const fs::path principals = data_dir_.string() + ".principals";
    std::ofstream(principals) << "reader subscriber sha256:" << auth::Sha256Hex("reader-token") << "\n"
                              << "iij-reader subscriber sha256:" << auth::Sha256Hex("iij-reader-token")
                              << " issuers=IIJ\n"
                              << "root admin sha256:" << auth::Sha256Hex("root-token") << "\n";
    options.auth_tokens_file = principals.string();
    options.http_listen = "127.0.0.1:0";
  }
  void TearDown() override {
    FeedServerTest::TearDown();
    fs::remove(data_dir_.string() + ".principals");
  }
  // The Connect code of an HTTP call and of the same gRPC call.
  void ExpectSameAnswer(const std::string& token, const std::string& method,
                        const google::protobuf::Message& request, absl::StatusCode want) {
    std::map<std::string, std::string> headers = {{"Content-Type", "application/json"}};
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    absl::StatusOr<HttpResponse> r =
        HttpRequest(server_->http_port(), "POST", method, headers, Json(request));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, want == absl::StatusCode::kOk ? 200 : connect::HttpStatus(want))
        << method << " " << r->body;
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    grpc::Status s;
    if (method == "/kessan.v1.FeedService/Publish") {
      v1::PublishResponse out;
      s = stub_->Publish(&context, static_cast<const v1::PublishRequest&>(request), &out);
    } else {
      v1::GetSnapshotResponse out;
      s = stub_->GetSnapshot(&context, static_cast<const v1::GetSnapshotRequest&>(request), &out);
    }
    EXPECT_EQ(static_cast<int>(s.error_code()), static_cast<int>(want)) << method << " " << s.error_message();
    if (!s.ok()) {
      EXPECT_EQ(r->body, connect::ErrorJson(absl::Status(want, s.error_message())));
    }
  }
};

TEST_F(HttpAuthTest, TokensRolesAndEntitlementsAsGrpc) {
  v1::GetSnapshotRequest all;
  v1::GetSnapshotRequest other;
  other.mutable_filter()->add_issuers("NOPE");
  v1::PublishRequest batch = Batch({RevenueItem(2002, 13'100'000'000)});
  const std::string snapshot = "/kessan.v1.FeedService/GetSnapshot";
  const std::string publish = "/kessan.v1.FeedService/Publish";
  ExpectSameAnswer("", snapshot, all, absl::StatusCode::kUnauthenticated);
  ExpectSameAnswer("wrong-token", snapshot, all, absl::StatusCode::kUnauthenticated);
  ExpectSameAnswer("reader-token", snapshot, all, absl::StatusCode::kOk);
  ExpectSameAnswer("reader-token", publish, batch, absl::StatusCode::kPermissionDenied);
  ExpectSameAnswer("iij-reader-token", snapshot, other, absl::StatusCode::kPermissionDenied);
  // A stream refused at its start: the error in the end-of-stream message.
  HttpSubscriber refused(server_->http_port(), v1::SubscribeRequest(), "wrong-token");
  EXPECT_EQ(refused.status(), 200);
  EXPECT_FALSE(refused.Next().has_value());
  EXPECT_THAT(refused.end(), HasSubstr(R"("code":"unauthenticated")"));
  // An entitled reader's stream holds only its issuers.
  v1::SubscribeRequest request;
  HttpSubscriber iij(server_->http_port(), request, "iij-reader-token");
  std::vector<v1::FeedEvent> seen = iij.Until([](const v1::FeedEvent& e) { return e.has_snapshot_end(); });
  ASSERT_GT(seen.size(), 2u);
  for (const v1::FeedEvent& e : seen) {
    if (e.has_fact()) {
      EXPECT_EQ(e.fact().key().issuer(), "IIJ");
    }
  }
}

}  // namespace
}  // namespace kessan

namespace kessan {
namespace {

// The value of the sample `series` (name with its labels, as written) in
// Prometheus text; -1 when absent.
double Sample(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      double v = -1;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
    }
  }
  return -1;
}

// /metrics on the HTTP port: Prometheus text whose figures move with a
// publish made over gRPC while a subscriber streams.
TEST_F(HttpTest, MetricsAreScrapedAndMoveWhilePublishing) {
  auto scrape = [&] {
    absl::StatusOr<HttpResponse> r = HttpRequest(http_port(), "GET", "/metrics", {}, "");
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_THAT(r->headers["content-type"], HasSubstr("text/plain"));
    return r.ok() ? r->body : std::string();
  };
  StreamCollector subscriber(*stub_, v1::SubscribeRequest());
  const std::string before = scrape();
  const double published = Sample(before, "kessan_published_events_total");
  const double started = Sample(
      before,
      R"(grpc_server_started_total{grpc_type="unary",grpc_service="kessan.v1.FeedService",grpc_method="Publish"})");
  ASSERT_GE(published, 0) << before.substr(0, 2000);
  ASSERT_GE(started, 0) << before.substr(0, 2000);
  v1::PublishResponse ack;
  ASSERT_TRUE(
      Publish(Batch({RevenueItem(2002, 13'700'000'000), RevenueItem(2001, 9'100'000'000)}), &ack).ok());
  subscriber.WaitUntil([&](const std::vector<v1::FeedEvent>& events) {
    for (const auto& e : events) {
      if (e.sequence() == ack.sequences(1)) return true;
    }
    return false;
  });
  const std::string after = scrape();
  EXPECT_EQ(Sample(after, "kessan_published_events_total"), published + 2);
  EXPECT_EQ(
      Sample(
          after,
          R"(grpc_server_started_total{grpc_type="unary",grpc_service="kessan.v1.FeedService",grpc_method="Publish"})"),
      started + 1);
  EXPECT_EQ(Sample(after, "kessan_last_sequence"), static_cast<double>(ack.sequences(1)));
  EXPECT_GE(Sample(after, "process_open_fds"), 1);
}

}  // namespace
}  // namespace kessan
