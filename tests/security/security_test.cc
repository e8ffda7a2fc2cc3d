// kessand's security end to end over loopback, against an in-process
// kessan::Server with real TLS (certificates made at test time by
// deploy/tls/make-certs.sh): TLS and mTLS, bearer tokens and roles,
// entitlements (snapshot, stream, resume, scenarios), token reload and the
// limits.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "auth/token_store.h"
#include "google/protobuf/text_format.h"
#include "kessan/client.h"
#include "kessan/server.h"
#include "model/keys.h"
#include "security_test_util.h"

namespace kessan {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace kessan::testing_security;

template <typename T>
T Text(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message)) << text;
  return message;
}

// A revenue fact for the fourth quarter of `fiscal_year`.
v1::PublishItem Revenue(const std::string& issuer, int fiscal_year, int64_t units) {
  return Text<v1::PublishItem>(absl::StrCat(R"pb(
    fact {
      key {
        issuer: ")pb",
                                            issuer, R"pb("
        concept_id: "revenue"
        period { fiscal_year: )pb",
                                            fiscal_year, R"pb( kind: PERIOD_KIND_QUARTER number: 4 }
      }
      value {
        money { currency_code: "JPY" units: )pb",
                                            units, R"pb( }
        precision { decimals: -8 qualifier: QUALIFIER_EQUAL }
      }
      provenance { document: "security-test" line_start: 1 line_end: 1 quote: "test figure" }
    })pb"));
}

v1::PublishRequest Batch(std::vector<v1::PublishItem> items) {
  v1::PublishRequest r;
  for (auto& i : items) *r.add_items() = std::move(i);
  return r;
}

// Another issuer, for entitlement tests.
v1::PublishRequest Acme() {
  v1::PublishRequest r;
  *r.add_items() = Text<v1::PublishItem>(R"pb(
    issuer {
      id: "ACME"
      name: "Acme Corporation"
      fiscal_year_end_month: 12
      aliases: "ACM3"
      provenance { document: "security-test" line_start: 1 line_end: 1 quote: "Acme" }
    })pb");
  *r.add_items() = Revenue("ACME", 2002, 7700000000);
  return r;
}

std::string IssuerOf(const v1::FeedEvent& e) { return AttrsOf(e).issuer; }

// The issuers of the journaled events (sequence > 0) among `events`.
std::set<std::string> Issuers(const std::vector<v1::FeedEvent>& events) {
  std::set<std::string> out;
  for (const auto& e : events) {
    if (e.sequence() > 0) out.insert(IssuerOf(e));
  }
  return out;
}

// Tokens of the principals file every test uses.
constexpr char kReader[] = "reader-token";
constexpr char kFeeder[] = "feeder-token";
constexpr char kFeeder2[] = "feeder2-token";
constexpr char kIijReader[] = "iij-reader-token";
constexpr char kIijAnalyst[] = "iij-analyst-token";
constexpr char kIijFeeder[] = "iij-feeder-token";
constexpr char kRoot[] = "root-token";

std::string Principals(bool with_reader = true) {
  using auth::Sha256Hex;
  std::string text = "# principals of security_test\n";
  if (with_reader) absl::StrAppend(&text, "reader subscriber sha256:", Sha256Hex(kReader), "\n");
  absl::StrAppend(&text, "feeder publisher sha256:", Sha256Hex(kFeeder), "\n",
                  "feeder2 publisher sha256:", Sha256Hex(kFeeder2), "\n",
                  "iij-reader subscriber sha256:", Sha256Hex(kIijReader), " issuers=IIJ\n",
                  "iij-analyst analyst sha256:", Sha256Hex(kIijAnalyst), " issuers=IIJ\n",
                  "iij-feeder publisher sha256:", Sha256Hex(kIijFeeder), " issuers=IIJ\n",
                  "root admin sha256:", Sha256Hex(kRoot), "\n", "desk subscriber x509:desk\n");
  return text;
}

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new fs::path(fs::path(::testing::TempDir()) / absl::StrCat("kessan_sec_certs_", getpid()));
    fs::remove_all(*certs_);
    ASSERT_TRUE(MakeCerts(*certs_ / "ca", "desk stranger"));
    ASSERT_TRUE(MakeCerts(*certs_ / "other", "desk"));  // another CA, same CN
  }
  static void TearDownTestSuite() {
    fs::remove_all(*certs_);
    delete certs_;
  }

  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) /
            absl::StrCat("kessan_sec_", getpid(), "_",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    tokens_ = root_ / "principals";
    WriteFile(tokens_, Principals());
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(root_);
  }

  // Plaintext, tokens on (the options are adjusted by `adjust`).
  ServerOptions Options() {
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.data_dir = (root_ / "data").string();
    o.seed_path = KESSAN_TEST_SEED;
    o.plugin_dir = "none";
    o.auth_tokens_file = tokens_.string();
    return o;
  }
  void Start(const ServerOptions& options) {
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  std::unique_ptr<v1::FeedService::Stub> Plain(int id = 0) {
    return v1::FeedService::NewStub(Channel(server_->port(), grpc::InsecureChannelCredentials(), id));
  }
  std::unique_ptr<v1::ScenarioService::Stub> PlainScenarios() {
    return v1::ScenarioService::NewStub(Channel(server_->port(), grpc::InsecureChannelCredentials()));
  }
  void SetUpAcme() {
    auto stub = Plain();
    grpc::Status s = Publish(*stub, kRoot, Acme());
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  static fs::path* certs_;
  fs::path root_;
  fs::path tokens_;
  std::unique_ptr<Server> server_;
};

fs::path* SecurityTest::certs_ = nullptr;

// --- TLS and mTLS ---------------------------------------------------------

TEST_F(SecurityTest, TlsOnlyServerRefusesPlaintext) {
  ServerOptions o = Options();
  o.auth_tokens_file.clear();
  o.tls_cert_file = (*certs_ / "ca" / "server.pem").string();
  o.tls_key_file = (*certs_ / "ca" / "server.key").string();
  Start(o);
  v1::GetSnapshotResponse r;
  grpc::Status plain = Snapshot(*Plain(), "", v1::Filter(), &r);
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::UNAVAILABLE) << plain.error_message();
  auto tls = v1::FeedService::NewStub(Channel(server_->port(), TlsCredentials(*certs_ / "ca")));
  grpc::Status ok = Snapshot(*tls, "", v1::Filter(), &r);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_GT(r.events_size(), 0);
  // A client that trusts another CA does not trust this server.
  auto wrong_ca = v1::FeedService::NewStub(Channel(server_->port(), TlsCredentials(*certs_ / "other"), 1));
  EXPECT_EQ(Snapshot(*wrong_ca, "", v1::Filter(), &r).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SecurityTest, MutualTlsRefusesUnknownClientCertificates) {
  ServerOptions o = Options();
  o.tls_cert_file = (*certs_ / "ca" / "server.pem").string();
  o.tls_key_file = (*certs_ / "ca" / "server.key").string();
  o.tls_client_ca_file = (*certs_ / "ca" / "ca.pem").string();
  Start(o);
  v1::GetSnapshotResponse r;
  // A certificate of the trusted CA: its CN "desk" is a subscriber.
  auto desk = v1::FeedService::NewStub(
      Channel(server_->port(), TlsCredentials(*certs_ / "ca", *certs_ / "ca", "desk")));
  grpc::Status ok = Snapshot(*desk, "", v1::Filter(), &r);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(Publish(*desk, "", Batch({Revenue("IIJ", 2002, 1)})).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The same CN signed by another CA, and no certificate at all: no handshake.
  auto forged = v1::FeedService::NewStub(
      Channel(server_->port(), TlsCredentials(*certs_ / "ca", *certs_ / "other", "desk"), 1));
  EXPECT_EQ(Snapshot(*forged, "", v1::Filter(), &r).error_code(), grpc::StatusCode::UNAVAILABLE);
  auto anonymous = v1::FeedService::NewStub(Channel(server_->port(), TlsCredentials(*certs_ / "ca"), 2));
  EXPECT_EQ(Snapshot(*anonymous, "", v1::Filter(), &r).error_code(), grpc::StatusCode::UNAVAILABLE);
  // A valid certificate whose CN is not in the principals file: no role.
  auto stranger = v1::FeedService::NewStub(
      Channel(server_->port(), TlsCredentials(*certs_ / "ca", *certs_ / "ca", "stranger"), 3));
  EXPECT_EQ(Snapshot(*stranger, "", v1::Filter(), &r).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // A token over mTLS names its own principal.
  EXPECT_TRUE(Publish(*stranger, kFeeder, Batch({Revenue("IIJ", 2002, 1300000000)})).ok());
}

// kessan::Client with several servers: TLS and the token go to each; a
// refused token is an answer, not a reason to fail over.
TEST_F(SecurityTest, AClientWithSeveralServersUsesTlsAndTheTokenOnEach) {
  ServerOptions o = Options();
  o.tls_cert_file = (*certs_ / "ca" / "server.pem").string();
  o.tls_key_file = (*certs_ / "ca" / "server.key").string();
  Start(o);
  const std::string live = absl::StrCat("127.0.0.1:", server_->port());
  const std::string dead = "127.0.0.1:1";  // Nothing listens there.
  ClientOptions options;
  options.tls_ca_file = (*certs_ / "ca" / "ca.pem").string();
  options.token = kReader;
  options.servers = {dead, live};
  Client reader(options);
  absl::StatusOr<v1::GetSnapshotResponse> snapshot =
      reader.GetSnapshot(v1::Filter(), {.timeout = absl::Seconds(30)});
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_GT(snapshot->events_size(), 0);
  EXPECT_EQ(reader.address(), live);

  options.servers = {live, dead};
  options.token = "not-a-token";
  Client stranger(options);
  EXPECT_EQ(stranger.GetSnapshot(v1::Filter(), {.timeout = absl::Seconds(30)}).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(stranger.address(), live);
}

TEST_F(SecurityTest, TokensOnANetworkAddressNeedTls) {
  ServerOptions o = Options();
  o.listen = "0.0.0.0:0";
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(o);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(server.status().message(), HasSubstr("clear text"));
}

// --- Authentication and roles ----------------------------------------------

TEST_F(SecurityTest, EveryCallNeedsCredentialsAndTheRole) {
  Start(Options());
  auto stub = Plain();
  auto scenarios = PlainScenarios();
  v1::GetSnapshotResponse r;
  EXPECT_EQ(Snapshot(*stub, "", v1::Filter(), &r).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Snapshot(*stub, "not-a-token", v1::Filter(), &r).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Snapshot(*stub, kReader, v1::Filter(), &r).ok());
  // A subscriber token cannot publish; a publisher cannot read.
  grpc::Status s = Publish(*stub, kReader, Batch({Revenue("IIJ", 2002, 1300000000)}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("lacks the role publisher"));
  EXPECT_EQ(Snapshot(*stub, kFeeder, v1::Filter(), &r).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Publish(*stub, kFeeder, Batch({Revenue("IIJ", 2002, 1300000000)})).ok());
  // Streams and the ScenarioService too.
  Stream none(*stub, "", v1::SubscribeRequest());
  EXPECT_EQ(none.WaitDone().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Stream feeder(*stub, kFeeder, v1::SubscribeRequest());
  EXPECT_EQ(feeder.WaitDone().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext c1;
  Prepare(c1, kReader);
  v1::ListScenariosResponse list;
  EXPECT_EQ(scenarios->ListScenarios(&c1, v1::ListScenariosRequest(), &list).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext c2;
  Prepare(c2, kIijAnalyst);
  EXPECT_TRUE(scenarios->ListScenarios(&c2, v1::ListScenariosRequest(), &list).ok());
  grpc::ClientContext c3;
  Prepare(c3, "");
  v1::RunScenarioResponse run;
  EXPECT_EQ(scenarios->RunScenario(&c3, v1::RunScenarioRequest(), &run).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Each refusal counted by code and reason: four without valid credentials,
  // four without the role.
  const std::string metrics = server_->MetricsText();
  EXPECT_THAT(metrics,
              HasSubstr("kessan_refused_calls_total{code=\"UNAUTHENTICATED\",reason=\"credentials\"} 4\n"));
  EXPECT_THAT(metrics,
              HasSubstr("kessan_refused_calls_total{code=\"PERMISSION_DENIED\",reason=\"role\"} 4\n"));
}

TEST_F(SecurityTest, ARemovedTokenStopsWorkingWithoutRestart) {
  Start(Options());
  auto stub = Plain();
  v1::GetSnapshotResponse r;
  ASSERT_TRUE(Snapshot(*stub, kReader, v1::Filter(), &r).ok());
  WriteFile(tokens_, Principals(/*with_reader=*/false));
  // The server notices the change within about a second (polling the file).
  absl::Time end = absl::Now() + kWait;
  grpc::Status s;
  do {
    s = Snapshot(*stub, kReader, v1::Filter(), &r);
    if (!s.ok()) break;
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < end);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Snapshot(*stub, kIijReader, v1::Filter(), &r).ok());
  // A broken file keeps the principals in force.
  WriteFile(tokens_, "root admin sha256:not-hex\n");
  EXPECT_FALSE(server_->ReloadAuthTokens().ok());
  EXPECT_TRUE(Snapshot(*stub, kIijReader, v1::Filter(), &r).ok());
  EXPECT_EQ(Snapshot(*stub, kReader, v1::Filter(), &r).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // And the token comes back when it is listed again.
  WriteFile(tokens_, Principals());
  ASSERT_TRUE(server_->ReloadAuthTokens().ok());
  EXPECT_TRUE(Snapshot(*stub, kReader, v1::Filter(), &r).ok());
}

TEST_F(SecurityTest, ARevocationEndsTheOpenStreamsItRevokes) {
  Start(Options());
  auto stub = Plain();
  Stream reader(*stub, kReader, v1::SubscribeRequest());
  Stream iij(*stub, kIijReader, v1::SubscribeRequest());
  Stream root(*stub, kRoot, v1::SubscribeRequest());
  for (Stream* s : {&reader, &iij, &root}) ASSERT_TRUE(HasSnapshotEnd(s->WaitUntil(HasSnapshotEnd)));
  // reader removed; iij-reader's entitlements changed (IIJ -> ACME).
  std::string text = Principals(/*with_reader=*/false);
  const std::string iij_line = absl::StrCat("sha256:", auth::Sha256Hex(kIijReader), " issuers=IIJ");
  ASSERT_NE(text.find(iij_line), std::string::npos);
  text.replace(text.find(iij_line), iij_line.size(),
               absl::StrCat("sha256:", auth::Sha256Hex(kIijReader), " issuers=ACME"));
  WriteFile(tokens_, text);
  ASSERT_TRUE(server_->ReloadAuthTokens().ok());
  grpc::Status ended = reader.WaitDone();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED) << ended.error_message();
  EXPECT_THAT(ended.error_message(), HasSubstr("principal 'reader' was removed"));
  ended = iij.WaitDone();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::PERMISSION_DENIED) << ended.error_message();
  EXPECT_THAT(ended.error_message(), HasSubstr("entitlements of principal 'iij-reader' changed"));
  // The stream of a principal the reload left alone goes on.
  v1::PublishResponse fact;
  ASSERT_TRUE(Publish(*stub, kRoot, Batch({Revenue("IIJ", 2002, 1300000000)}), &fact).ok());
  const uint64_t last = fact.sequences(0);
  EXPECT_TRUE(HasSequence(root.WaitUntil([&](const auto& e) { return HasSequence(e, last); }), last));
  // A role taken away: root, now a publisher only, loses its stream.
  text.replace(text.find("root admin"), std::string("root admin").size(), "root publisher");
  WriteFile(tokens_, text);
  ASSERT_TRUE(server_->ReloadAuthTokens().ok());
  ended = root.WaitDone();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::PERMISSION_DENIED) << ended.error_message();
  EXPECT_THAT(ended.error_message(), HasSubstr("no longer has the role subscriber"));
  const std::string metrics = server_->MetricsText();
  EXPECT_THAT(metrics,
              HasSubstr("kessan_refused_calls_total{code=\"UNAUTHENTICATED\",reason=\"revoked\"} 1\n"));
  EXPECT_THAT(metrics,
              HasSubstr("kessan_refused_calls_total{code=\"PERMISSION_DENIED\",reason=\"revoked\"} 2\n"));
}

// --- Entitlements ----------------------------------------------------------

TEST_F(SecurityTest, EntitledPrincipalSeesOnlyItsIssuers) {
  Start(Options());
  SetUpAcme();
  auto stub = Plain();
  v1::GetSnapshotResponse all;
  ASSERT_TRUE(Snapshot(*stub, kReader, v1::Filter(), &all).ok());
  ASSERT_EQ(Issuers({all.events().begin(), all.events().end()}), (std::set<std::string>{"ACME", "IIJ"}));

  v1::GetSnapshotResponse mine;
  ASSERT_TRUE(Snapshot(*stub, kIijReader, v1::Filter(), &mine).ok());
  EXPECT_EQ(Issuers({mine.events().begin(), mine.events().end()}), std::set<std::string>{"IIJ"});
  // Naming another issuer, existing or not, gets the same refusal.
  v1::GetSnapshotResponse r;
  grpc::Status acme = Snapshot(*stub, kIijReader, Text<v1::Filter>(R"pb(issuers: "ACME")pb"), &r);
  grpc::Status nope = Snapshot(*stub, kIijReader, Text<v1::Filter>(R"pb(issuers: "NOPE")pb"), &r);
  EXPECT_EQ(acme.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(nope.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(acme.error_message(), "filter.issuers[0]: not entitled to issuer 'ACME'");
  EXPECT_EQ(nope.error_message(), "filter.issuers[0]: not entitled to issuer 'NOPE'");
  // An alias of an entitled issuer is fine.
  EXPECT_TRUE(Snapshot(*stub, kIijReader, Text<v1::Filter>(R"pb(issuers: "11J")pb"), &r).ok());

  // Subscribing to everything: the snapshot, then live, only IIJ.
  Stream live(*stub, kIijReader, v1::SubscribeRequest());
  live.WaitUntil(HasSnapshotEnd);
  v1::PublishResponse acme_fact, iij_fact;
  ASSERT_TRUE(Publish(*stub, kRoot, Batch({Revenue("ACME", 2003, 8800000000)}), &acme_fact).ok());
  ASSERT_TRUE(Publish(*stub, kRoot, Batch({Revenue("IIJ", 2002, 1300000000)}), &iij_fact).ok());
  const uint64_t last = iij_fact.sequences(0);
  std::vector<v1::FeedEvent> events = live.WaitUntil([&](const auto& e) { return HasSequence(e, last); });
  ASSERT_TRUE(HasSequence(events, last));
  EXPECT_EQ(Issuers(events), std::set<std::string>{"IIJ"});
  for (const auto& e : events) EXPECT_NE(e.sequence(), acme_fact.sequences(0));

  // Resume from the start: the journal's backlog, still only IIJ.
  v1::SubscribeRequest resume;
  resume.set_start(v1::START_MODE_FROM_SEQUENCE);
  resume.set_from_sequence(0);
  Stream resumed(*stub, kIijReader, resume);
  events = resumed.WaitUntil([&](const auto& e) { return HasSequence(e, last); });
  ASSERT_TRUE(HasSequence(events, last));
  EXPECT_EQ(Issuers(events), std::set<std::string>{"IIJ"});

  // A stream naming ACME is refused.
  v1::SubscribeRequest other;
  other.mutable_filter()->add_issuers("ACME");
  Stream refused(*stub, kIijReader, other);
  EXPECT_EQ(refused.WaitDone().error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SecurityTest, EntitledPublisherPublishesOnlyItsIssuers) {
  Start(Options());
  SetUpAcme();
  auto stub = Plain();
  EXPECT_TRUE(Publish(*stub, kIijFeeder, Batch({Revenue("11J", 2002, 1300000000)})).ok());
  grpc::Status s =
      Publish(*stub, kIijFeeder, Batch({Revenue("IIJ", 2002, 1300000000), Revenue("ACME", 2002, 1)}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "items[1]: not entitled to issuer 'ACME'");
  EXPECT_EQ(Publish(*stub, kIijFeeder, Acme()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

class ScenarioSecurityTest : public SecurityTest {
 protected:
  ServerOptions Options() {
    ServerOptions o = SecurityTest::Options();
    o.plugin_dir.clear();  // the bundled plugins
    return o;
  }
  grpc::Status Run(const std::string& token, const std::string& name, const std::string& issuer,
                   v1::ScenarioResult* result) {
    grpc::ClientContext context;
    Prepare(context, token, kWait);
    v1::RunScenarioRequest request;
    request.set_name(name);
    request.set_issuer(issuer);
    v1::RunScenarioResponse response;
    grpc::Status s = PlainScenarios()->RunScenario(&context, request, &response);
    if (result != nullptr) *result = response.result();
    return s;
  }
};

TEST_F(ScenarioSecurityTest, ScenariosRunOnlyOverEntitledInputs) {
  Start(Options());
  SetUpAcme();
  // Unrestricted, the inputs span two issuers; restricted to IIJ, only IIJ's.
  v1::ScenarioResult r;
  grpc::Status s = Run(kRoot, "revenue_outlook", "", &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("ACME"));
  s = Run(kIijAnalyst, "revenue_outlook", "", &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.issuer(), "IIJ");
  EXPECT_EQ(r.inputs_used_size(), 3);
  for (const auto& in : r.inputs_used()) EXPECT_EQ(in.key().issuer(), "IIJ");
  s = Run(kIijAnalyst, "revenue_outlook", "ACME", &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), Not(HasSubstr("Acme")));
  EXPECT_EQ(Run(kIijAnalyst, "revenue_outlook", "NOPE", &r).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // WatchScenario: the first result and re-runs see only IIJ; ACME's
  // publish triggers nothing.
  grpc::ClientContext context;
  Prepare(context, kIijAnalyst, kWait);
  v1::WatchScenarioRequest watch;
  watch.set_name("revenue_outlook");
  auto scenarios = PlainScenarios();
  auto reader = scenarios->WatchScenario(&context, watch);
  v1::WatchScenarioResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.trigger_sequence(), 0u);
  EXPECT_EQ(response.result().issuer(), "IIJ");
  auto stub = Plain();
  v1::PublishResponse acme_fact, iij_fact;
  ASSERT_TRUE(Publish(*stub, kRoot, Batch({Revenue("ACME", 2003, 8800000000)}), &acme_fact).ok());
  ASSERT_TRUE(Publish(*stub, kRoot, Batch({Revenue("IIJ", 2002, 1300000000)}), &iij_fact).ok());
  for (;;) {
    ASSERT_TRUE(reader->Read(&response));
    EXPECT_NE(response.trigger_sequence(), acme_fact.sequences(0));
    EXPECT_EQ(response.result().issuer(), "IIJ");
    for (const auto& in : response.result().inputs_used()) EXPECT_EQ(in.key().issuer(), "IIJ");
    if (response.trigger_sequence() == iij_fact.sequences(0)) break;
  }
  context.TryCancel();
  reader->Finish();
}

TEST_F(ScenarioSecurityTest, ARevocationEndsAnOpenWatch) {
  Start(Options());
  grpc::ClientContext context;
  Prepare(context, kIijAnalyst, kWait);
  v1::WatchScenarioRequest watch;
  watch.set_name("revenue_outlook");
  auto scenarios = PlainScenarios();
  auto reader = scenarios->WatchScenario(&context, watch);
  v1::WatchScenarioResponse response;
  ASSERT_TRUE(reader->Read(&response));
  // iij-analyst loses the analyst role.
  std::string text = Principals();
  const std::string line = absl::StrCat("iij-analyst analyst sha256:");
  ASSERT_NE(text.find(line), std::string::npos);
  text.replace(text.find(line), line.size(), "iij-analyst subscriber sha256:");
  WriteFile(tokens_, text);
  ASSERT_TRUE(server_->ReloadAuthTokens().ok());
  while (reader->Read(&response)) {
  }
  grpc::Status ended = reader->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::PERMISSION_DENIED) << ended.error_message();
  EXPECT_THAT(ended.error_message(), HasSubstr("no longer has the role analyst"));
}

// --- Limits ------------------------------------------------------------------

TEST_F(SecurityTest, MessageSizeAndBatchSizeLimits) {
  ServerOptions o = Options();
  o.max_message_bytes = 64 << 10;
  o.max_batch_items = 2;
  Start(o);
  auto stub = Plain();
  std::vector<v1::PublishItem> many;
  for (int i = 0; i < 3; ++i) many.push_back(Revenue("IIJ", 2002, 1300000000));
  grpc::Status s = Publish(*stub, kFeeder, Batch(many));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(), "batch size: 3 items, at most 2 per batch");
  v1::PublishItem big = Revenue("IIJ", 2002, 1300000000);
  big.mutable_fact()->mutable_provenance()->set_note(std::string(100 << 10, 'x'));
  s = Publish(*stub, kFeeder, Batch({big}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("larger than max"));
  // Everyone else, and the same caller within the limits, carry on.
  EXPECT_TRUE(Publish(*stub, kFeeder, Batch({Revenue("IIJ", 2002, 1300000000)})).ok());
  v1::GetSnapshotResponse r;
  EXPECT_TRUE(Snapshot(*stub, kReader, v1::Filter(), &r).ok());
}

TEST_F(SecurityTest, PublishRateLimitIsPerPrincipal) {
  ServerOptions o = Options();
  o.max_publish_rate = 0.01;  // one item per 100 s
  o.publish_burst = 2;
  Start(o);
  auto stub = Plain();
  ASSERT_TRUE(
      Publish(*stub, kFeeder, Batch({Revenue("IIJ", 2002, 1300000000), Revenue("IIJ", 2003, 1300000001)}))
          .ok());
  grpc::Status s = Publish(*stub, kFeeder, Batch({Revenue("IIJ", 2002, 1300000002)}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(),
              HasSubstr("publish rate: limit 0.01 items/s per principal (burst 2) exceeded"));
  EXPECT_TRUE(Publish(*stub, kFeeder2, Batch({Revenue("IIJ", 2002, 1300000003)})).ok());
  v1::GetSnapshotResponse r;
  EXPECT_TRUE(Snapshot(*stub, kReader, v1::Filter(), &r).ok());
}

TEST_F(SecurityTest, RetryKeysBelongToThePrincipal) {
  Start(Options());
  auto stub = Plain();
  v1::PublishRequest mine = Batch({Revenue("IIJ", 2002, 1300000000)});
  mine.set_publisher_id("desk-feed");
  mine.set_batch_key("b-1");
  v1::PublishResponse first;
  ASSERT_TRUE(Publish(*stub, kFeeder, mine, &first).ok());
  ASSERT_FALSE(first.duplicate());
  // Another principal with the same publisher_id and batch_key neither
  // gets the first batch back nor is refused: its batch is its own.
  v1::PublishRequest theirs = Batch({Revenue("IIJ", 2002, 1300000001)});
  theirs.set_publisher_id("desk-feed");
  theirs.set_batch_key("b-1");
  v1::PublishResponse other;
  grpc::Status s = Publish(*stub, kFeeder2, theirs, &other);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(other.duplicate());
  ASSERT_EQ(other.sequences_size(), 1);
  EXPECT_GT(other.sequences(0), first.sequences(0));
  // The first principal's retry is still recognised as its own.
  v1::PublishResponse retry;
  ASSERT_TRUE(Publish(*stub, kFeeder, mine, &retry).ok());
  EXPECT_TRUE(retry.duplicate());
  ASSERT_EQ(retry.sequences_size(), 1);
  EXPECT_EQ(retry.sequences(0), first.sequences(0));
}

TEST_F(SecurityTest, SubscriptionsPerConnectionLimit) {
  ServerOptions o = Options();
  o.max_subscriptions_per_connection = 2;
  Start(o);
  auto stub = Plain(1);
  v1::SubscribeRequest live;
  live.set_start(v1::START_MODE_LIVE_ONLY);
  live.set_heartbeat_interval_ms(100);
  auto first = std::make_unique<Stream>(*stub, kReader, live);
  Stream second(*stub, kReader, live);
  // Both are open once each has had a heartbeat.
  first->WaitUntil([](const auto& e) { return !e.empty(); });
  second.WaitUntil([](const auto& e) { return !e.empty(); });
  Stream third(*stub, kReader, live);
  grpc::Status s = third.WaitDone();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(), "subscriptions per connection: at most 2");
  // Another connection is not affected.
  auto other = Plain(2);
  Stream elsewhere(*other, kReader, live);
  EXPECT_FALSE(elsewhere.WaitUntil([](const auto& e) { return !e.empty(); }).empty());
  EXPECT_FALSE(second.done());
  // Closing a stream frees its place (the server sees the cancel shortly).
  first.reset();
  absl::Time end = absl::Now() + kWait;
  bool reopened = false;
  while (!reopened && absl::Now() < end) {
    Stream again(*stub, kReader, live);
    reopened = !again.WaitUntil([](const auto& e) { return !e.empty(); }).empty();
  }
  EXPECT_TRUE(reopened);
}

TEST_F(ScenarioSecurityTest, ConcurrentScenarioRunsLimit) {
  // The faulty plugin "spin" holds its run until the host's 5 s deadline.
  fs::create_directories(root_ / "plugins");
  fs::create_symlink(fs::path(KESSAN_TEST_FAULTY_DIR) / "spin.so", root_ / "plugins" / "spin.so");
  ServerOptions o = Options();
  o.plugin_dir = (root_ / "plugins").string();
  o.max_concurrent_scenario_runs = 1;
  Start(o);
  std::atomic<int> exhausted{0};
  std::vector<grpc::Status> results(2);
  std::vector<std::thread> runs;
  for (int i = 0; i < 2; ++i) {
    runs.emplace_back([&, i] { results[i] = Run(kIijAnalyst, "spin", "", nullptr); });
  }
  // While one run holds the only slot, the feed keeps serving.
  auto stub = Plain();
  v1::GetSnapshotResponse r;
  EXPECT_TRUE(Snapshot(*stub, kReader, v1::Filter(), &r).ok());
  for (auto& t : runs) t.join();
  for (const grpc::Status& s : results) {
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
      EXPECT_EQ(s.error_message(), "concurrent scenario runs: at most 1");
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
    }
  }
  EXPECT_EQ(exhausted.load(), 1);
}

}  // namespace
}  // namespace kessan
