// kessan.v1.ScenarioService end to end: an in-process kessan::Server with
// the IIJ data set, the bundled plugins and the misbehaving ones, driven
// over loopback gRPC.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "kessan/server.h"
#include "kessan/v1/feed.grpc.pb.h"
#include "kessan/v1/scenario.grpc.pb.h"

namespace kessan {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const v1::Output* Find(const v1::ScenarioResult& r, const std::string& name) {
  for (const v1::Output& o : r.outputs()) {
    if (o.name() == name) return &o;
  }
  return nullptr;
}

// Captures kessand's log and its audit log, one "logger|message" a line.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    sink_->set_pattern("%n|%v");
    spdlog::default_logger()->sinks().push_back(sink_);
    std::shared_ptr<spdlog::logger> audit = spdlog::get("audit");
    if (audit == nullptr) {  // as kessand would make it, with our sink
      const auto& sinks = spdlog::default_logger()->sinks();
      audit = std::make_shared<spdlog::logger>("audit", sinks.begin(), sinks.end());
      spdlog::register_logger(audit);
    } else {
      audit->sinks().push_back(sink_);
    }
  }
  ~LogCapture() {
    for (auto logger : {spdlog::default_logger(), spdlog::get("audit")}) {
      auto& sinks = logger->sinks();
      sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    }
  }
  std::vector<std::string> Lines() {
    std::vector<std::string> lines;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

std::atomic<int> g_sigusr2{0};

// Processes whose command line mentions `text`.
int CountProcesses(const std::string& text) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::ifstream in(e.path() / "cmdline");
    std::stringstream cmdline;
    cmdline << in.rdbuf();
    if (cmdline.str().find(text) != std::string::npos) ++n;
  }
  return n;
}

// The faulty plugins every test gets.
const std::vector<std::string> kFaulty = {"crash", "spin", "bomb", "garbage", "abi2"};

class ScenarioServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(kFaulty); }

  // Starts kessand with the bundled plugins and `faulty` ones ("name" or
  // "alias=name" for a second link to one plugin).
  void StartServer(const std::vector<std::string>& faulty) {
    static int counter = 0;
    root_ = fs::path(::testing::TempDir()) /
            ("scenario_service_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(root_);
    fs::create_directories(root_ / "plugins");
    for (const char* p : {"dilution", "revenue_outlook", "implied_comparatives"}) {
      fs::create_symlink(fs::path(KESSAN_TEST_BUNDLED_DIR) / (std::string(p) + ".so"),
                         root_ / "plugins" / (std::string(p) + ".so"));
    }
    for (const std::string& f : faulty) {
      size_t eq = f.find('=');
      std::string alias = f.substr(0, eq), name = eq == std::string::npos ? f : f.substr(eq + 1);
      fs::create_symlink(fs::path(KESSAN_TEST_FAULTY_DIR) / (name + ".so"),
                         root_ / "plugins" / (alias + ".so"));
    }
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.data_dir = (root_ / "data").string();
    options.seed_path = KESSAN_TEST_SEED;
    options.plugin_dir = (root_ / "plugins").string();
    auto server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                   grpc::InsecureChannelCredentials());
    scenarios_ = v1::ScenarioService::NewStub(channel_);
    feed_ = v1::FeedService::NewStub(channel_);
  }
  void TearDown() override { StopServer(); }

  void StopServer() {
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(2));
    server_.reset();
    fs::remove_all(root_);
  }

  // A live feed subscription of capital actions.
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> Subscribe(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::SubscribeRequest sub;
    sub.set_start(v1::START_MODE_LIVE_ONLY);
    sub.mutable_filter()->add_event_kinds(v1::EVENT_KIND_CAPITAL_ACTION);
    return feed_->Subscribe(context, sub);
  }

  // Publishes a revision and expects `stream` to receive it.
  void ExpectStreamLive(grpc::ClientReader<v1::SubscribeResponse>* stream, int64_t shares) {
    v1::PublishResponse published = RevisePlacement(shares);
    v1::SubscribeResponse events;
    bool seen = false;
    while (!seen && stream->Read(&events)) {
      for (const v1::FeedEvent& e : events.events()) seen = seen || e.sequence() == published.sequences(0);
    }
    EXPECT_TRUE(seen) << "the live subscriber did not get sequence " << published.sequences(0);
  }

  void ExpectDilutionWorks() {
    v1::ScenarioResult r;
    grpc::Status s = Run("dilution", {{"shares_outstanding_before", "48000"}}, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_GT(Find(r, "gross_proceeds")->money().units(), 0);
  }

  grpc::Status Run(const std::string& name, std::map<std::string, std::string> params,
                   v1::ScenarioResult* result, const google::protobuf::Timestamp* as_of = nullptr) {
    v1::RunScenarioRequest request;
    request.set_name(name);
    for (const auto& [k, v] : params) (*request.mutable_parameters())[k].set_text(v);
    if (as_of != nullptr) *request.mutable_as_of() = *as_of;
    v1::RunScenarioResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status status = scenarios_->RunScenario(&context, request, &response);
    if (result != nullptr) *result = response.result();
    return status;
  }

  // Publishes the seed's placement again with `shares`: a new revision.
  v1::PublishResponse RevisePlacement(int64_t shares) {
    v1::GetSnapshotRequest snap;
    snap.mutable_filter()->add_event_kinds(v1::EVENT_KIND_CAPITAL_ACTION);
    v1::GetSnapshotResponse current;
    grpc::ClientContext c1;
    EXPECT_TRUE(feed_->GetSnapshot(&c1, snap, &current).ok());
    EXPECT_EQ(current.events_size(), 1);
    v1::CapitalAction action = current.events(0).capital_action();
    action.clear_revision();
    action.clear_supersedes_sequence();
    action.clear_known_at();
    action.mutable_private_placement()->set_shares(shares);
    v1::PublishRequest publish;
    *publish.add_items()->mutable_capital_action() = action;
    v1::PublishResponse published;
    grpc::ClientContext c2;
    grpc::Status s = feed_->Publish(&c2, publish, &published);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return published;
  }

  v1::PublishResponse ReviseFy2002Revenue(int64_t units) {
    v1::GetSnapshotRequest snap;
    snap.mutable_filter()->add_concepts("revenue");
    snap.mutable_filter()->add_event_kinds(v1::EVENT_KIND_FACT);
    v1::GetSnapshotResponse current;
    grpc::ClientContext c1;
    EXPECT_TRUE(feed_->GetSnapshot(&c1, snap, &current).ok());
    v1::PublishRequest publish;
    for (const v1::FeedEvent& e : current.events()) {
      if (e.fact().key().period().kind() != v1::PERIOD_KIND_FULL_YEAR || !e.fact().key().segment().empty())
        continue;
      v1::Fact fact = e.fact();
      fact.clear_revision();
      fact.clear_supersedes_sequence();
      fact.clear_known_at();
      fact.mutable_value()->mutable_money()->set_units(units);
      *publish.add_items()->mutable_fact() = fact;
    }
    EXPECT_EQ(publish.items_size(), 1);
    v1::PublishResponse published;
    grpc::ClientContext c2;
    grpc::Status s = feed_->Publish(&c2, publish, &published);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return published;
  }

  fs::path root_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ScenarioService::Stub> scenarios_;
  std::unique_ptr<v1::FeedService::Stub> feed_;
};

TEST_F(ScenarioServiceTest, ListsScenariosWithParametersAndInputs) {
  v1::ListScenariosResponse list;
  grpc::ClientContext context;
  ASSERT_TRUE(scenarios_->ListScenarios(&context, v1::ListScenariosRequest(), &list).ok());
  std::map<std::string, v1::ScenarioInfo> by_name;
  for (const v1::ScenarioInfo& info : list.scenarios()) by_name[info.scenario().name()] = info;
  ASSERT_EQ(by_name.size(), 8u);
  EXPECT_EQ(by_name["dilution"].state(), v1::PLUGIN_STATE_READY);
  EXPECT_EQ(by_name["dilution"].scenario().parameters(0).name(), "shares_outstanding_before");
  EXPECT_EQ(by_name["dilution"].scenario().parameters(0).type(), v1::PARAMETER_TYPE_INTEGER);
  EXPECT_EQ(by_name["revenue_outlook"].scenario().inputs_size(), 3);
  EXPECT_EQ(by_name["abi2"].state(), v1::PLUGIN_STATE_FAILED);
  EXPECT_THAT(by_name["abi2"].error(), HasSubstr("built for ABI 2.0, host speaks 1.0: major differs"));
}

TEST_F(ScenarioServiceTest, DilutionOfTheIijPlacement) {
  v1::ScenarioResult r;
  grpc::Status s = Run("dilution", {{"shares_outstanding_before", "48000"}}, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.issuer(), "IIJ");
  EXPECT_EQ(Find(r, "gross_proceeds")->money().units(), 3512880000);
  EXPECT_EQ(Find(r, "gross_proceeds")->money().currency_code(), "JPY");
  EXPECT_EQ(Find(r, "stated_capital_increase")->money().units(), 1756440000);
  EXPECT_EQ(Find(r, "capital_reserve_increase")->money().units(), 1756440000);
  EXPECT_EQ(Find(r, "pro_forma_shares")->count(), 56400);
  ASSERT_EQ(r.inputs_used_size(), 1);
  EXPECT_EQ(r.inputs_used(0).action_id(), "private_placement_2003_06");
  EXPECT_EQ(r.inputs_used(0).event_kind(), v1::EVENT_KIND_CAPITAL_ACTION);
  EXPECT_GT(r.inputs_used(0).sequence(), 0u);
  EXPECT_EQ(r.inputs_used(0).revision(), 1);
  EXPECT_FALSE(Find(r, "gross_proceeds")->derivation().empty());
  EXPECT_EQ(r.parameters().at("shares_outstanding_before").integer(), 48000);
}

TEST_F(ScenarioServiceTest, BadParametersAreInvalidArgumentNamingTheParameter) {
  grpc::Status s = Run("dilution", {}, nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("parameter shares_outstanding_before: required"));
  s = Run("dilution", {{"shares_outstanding_before", "lots"}}, nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("parameter shares_outstanding_before: expected an integer"));
  s = Run("dilution", {{"shares_outstanding_before", "0"}}, nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("parameter shares_outstanding_before: 0 is below the minimum 1"));
  s = Run("revenue_outlook", {{"base_growth", "11"}}, nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("parameter base_growth"));
  s = Run("no_such_scenario", {}, nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ScenarioServiceTest, RevenueOutlookAndImpliedComparativesOnTheSeed) {
  v1::ScenarioResult r;
  grpc::Status s = Run("revenue_outlook", {}, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Find(r, "revenue_base")->money().units(), 50600000000);
  EXPECT_EQ(Find(r, "revenue_guidance_bound")->money().units(), 48400000000);
  EXPECT_EQ(r.inputs_used_size(), 3);
  s = Run("implied_comparatives", {}, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Find(r, "revenue_FY2001Q4")->money_interval().low().units(), 11600928074);
  EXPECT_EQ(Find(r, "revenue_FY2001Q4")->money_interval().high().units(), 12540640967);
  EXPECT_EQ(Find(r, "revenue_FY2001")->money_interval().low().units(), 39420027186);
  EXPECT_EQ(Find(r, "adjusted_ebitda_FY2001Q4")->money_interval().low().units(), 974495217);
  EXPECT_EQ(r.inputs_used_size(), 8);
}

TEST_F(ScenarioServiceTest, AsOfReadsTheStateTheFeedKnewThen) {
  v1::PublishResponse published = RevisePlacement(9000);
  google::protobuf::Timestamp before = published.events(0).time();
  if (before.nanos() > 0) {
    before.set_nanos(before.nanos() - 1);
  } else {
    before.set_seconds(before.seconds() - 1);
    before.set_nanos(999999999);
  }
  v1::ScenarioResult then, now;
  ASSERT_TRUE(Run("dilution", {{"shares_outstanding_before", "48000"}}, &then, &before).ok());
  ASSERT_TRUE(Run("dilution", {{"shares_outstanding_before", "48000"}}, &now).ok());
  EXPECT_EQ(Find(then, "gross_proceeds")->money().units(), 3512880000);
  EXPECT_EQ(then.inputs_used(0).revision(), 1);
  EXPECT_TRUE(then.has_as_of());
  EXPECT_EQ(Find(now, "gross_proceeds")->money().units(), 9000LL * 418200);
  EXPECT_EQ(now.inputs_used(0).revision(), 2);
  EXPECT_EQ(now.inputs_used(0).sequence(), published.sequences(0));
}

TEST_F(ScenarioServiceTest, WatchSendsANewResultWhenThePlacementIsRevised) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::WatchScenarioRequest request;
  request.set_name("dilution");
  (*request.mutable_parameters())["shares_outstanding_before"].set_text("48000");
  auto stream = scenarios_->WatchScenario(&context, request);
  v1::WatchScenarioResponse first, second;
  ASSERT_TRUE(stream->Read(&first));
  EXPECT_EQ(first.trigger_sequence(), 0u);
  EXPECT_EQ(Find(first.result(), "gross_proceeds")->money().units(), 3512880000);
  v1::PublishResponse published = RevisePlacement(9000);
  ASSERT_TRUE(stream->Read(&second));
  EXPECT_EQ(second.trigger_sequence(), published.sequences(0));
  EXPECT_EQ(Find(second.result(), "gross_proceeds")->money().units(), 3763800000);
  EXPECT_EQ(second.result().inputs_used(0).revision(), 2);
  context.TryCancel();
  while (stream->Read(&second)) {
  }
}

TEST_F(ScenarioServiceTest, WatchSendsANewResultWhenAnInputFactIsRevised) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::WatchScenarioRequest request;
  request.set_name("revenue_outlook");
  auto stream = scenarios_->WatchScenario(&context, request);
  v1::WatchScenarioResponse first, second;
  ASSERT_TRUE(stream->Read(&first));
  EXPECT_EQ(Find(first.result(), "revenue_base")->money().units(), 50600000000);
  v1::PublishResponse published = ReviseFy2002Revenue(45000000000);
  ASSERT_TRUE(stream->Read(&second));
  EXPECT_EQ(second.trigger_sequence(), published.sequences(0));
  EXPECT_EQ(Find(second.result(), "revenue_base")->money().units(), 51750000000);
  context.TryCancel();
  while (stream->Read(&second)) {
  }
}

TEST_F(ScenarioServiceTest, WatchReRunsWhenAnInputIsRetracted) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::WatchScenarioRequest request;
  request.set_name("dilution");
  (*request.mutable_parameters())["shares_outstanding_before"].set_text("48000");
  auto stream = scenarios_->WatchScenario(&context, request);
  v1::WatchScenarioResponse update;
  ASSERT_TRUE(stream->Read(&update));

  // A second (made-up) placement becomes the latest one...
  v1::GetSnapshotRequest snap;
  snap.mutable_filter()->add_event_kinds(v1::EVENT_KIND_CAPITAL_ACTION);
  v1::GetSnapshotResponse current;
  grpc::ClientContext c1;
  ASSERT_TRUE(feed_->GetSnapshot(&c1, snap, &current).ok());
  v1::CapitalAction second = current.events(0).capital_action();
  second.clear_revision();
  second.clear_known_at();
  second.set_action_id("private_placement_2004_01");
  second.mutable_private_placement()->set_shares(10000);
  v1::PublishRequest publish;
  *publish.add_items()->mutable_capital_action() = second;
  v1::PublishResponse published;
  grpc::ClientContext c2;
  grpc::Status s = feed_->Publish(&c2, publish, &published);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(stream->Read(&update));
  EXPECT_EQ(Find(update.result(), "gross_proceeds")->money().units(), 10000LL * 418200);

  // ... and its retraction brings the first one back.
  v1::PublishRequest retract;
  v1::Retraction* r = retract.add_items()->mutable_retraction();
  r->mutable_item()->mutable_capital_action()->set_issuer("IIJ");
  r->mutable_item()->mutable_capital_action()->set_action_id("private_placement_2004_01");
  r->set_reason("made up for a test");
  *r->mutable_provenance() = second.provenance();
  grpc::ClientContext c3;
  s = feed_->Publish(&c3, retract, &published);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(stream->Read(&update));
  EXPECT_EQ(update.trigger_sequence(), published.sequences(0));
  EXPECT_EQ(Find(update.result(), "gross_proceeds")->money().units(), 3512880000);
  context.TryCancel();
  while (stream->Read(&update)) {
  }
}

TEST_F(ScenarioServiceTest, WatchWithBadParametersIsRefused) {
  grpc::ClientContext context;
  v1::WatchScenarioRequest request;
  request.set_name("dilution");
  auto stream = scenarios_->WatchScenario(&context, request);
  v1::WatchScenarioResponse response;
  EXPECT_FALSE(stream->Read(&response));
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("shares_outstanding_before"));
}

// Every kind of misbehaving plugin fails its own call with a clear status
// while a feed subscription and a scenario watch stay up and keep working.
TEST_F(ScenarioServiceTest, MisbehavingPluginsCostOneCallNotTheServer) {
  grpc::ClientContext sub_context;
  sub_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::SubscribeRequest sub;
  sub.set_start(v1::START_MODE_LIVE_ONLY);
  sub.mutable_filter()->add_event_kinds(v1::EVENT_KIND_CAPITAL_ACTION);
  auto feed_stream = feed_->Subscribe(&sub_context, sub);

  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::WatchScenarioRequest watch;
  watch.set_name("dilution");
  (*watch.mutable_parameters())["shares_outstanding_before"].set_integer(48000);
  auto watch_stream = scenarios_->WatchScenario(&watch_context, watch);
  v1::WatchScenarioResponse update;
  ASSERT_TRUE(watch_stream->Read(&update));

  struct Case {
    const char* plugin;
    grpc::StatusCode code;
    const char* says;
  };
  for (const Case& c : {Case{"crash", grpc::StatusCode::INTERNAL, "crashed (signal 11, SIGSEGV)"},
                        Case{"garbage", grpc::StatusCode::INTERNAL, "not a kessan.v1.PluginRunResponse"},
                        Case{"bomb", grpc::StatusCode::RESOURCE_EXHAUSTED, "ran out of memory"},
                        Case{"spin", grpc::StatusCode::DEADLINE_EXCEEDED, "did not answer in time"},
                        Case{"abi2", grpc::StatusCode::FAILED_PRECONDITION, "major differs"}}) {
    grpc::Status s = Run(c.plugin, {}, nullptr);
    // On a loaded machine the bomb may meet its 5 s deadline before its
    // memory limit: either ends the call (PluginHostTest.MemoryBomb* checks
    // the limit itself); what matters here is what follows.
    if (std::string(c.plugin) == "bomb" && s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      EXPECT_THAT(s.error_message(), HasSubstr("did not answer in time")) << c.plugin;
    } else {
      EXPECT_EQ(s.error_code(), c.code) << c.plugin << ": " << s.error_message();
      EXPECT_THAT(s.error_message(), HasSubstr(c.says)) << c.plugin;
    }
    v1::ScenarioResult r;
    s = Run("dilution", {{"shares_outstanding_before", "48000"}}, &r);
    ASSERT_TRUE(s.ok()) << "after " << c.plugin << ": " << s.error_message();
    EXPECT_EQ(Find(r, "gross_proceeds")->money().units(), 3512880000);
  }

  // Both streams are still alive: a revision reaches each of them.
  v1::PublishResponse published = RevisePlacement(8500);
  // (Control events such as heartbeats carry sequence 0: skip them.)
  v1::SubscribeResponse events;
  bool seen = false;
  while (!seen && feed_stream->Read(&events)) {
    for (const v1::FeedEvent& e : events.events()) seen = seen || e.sequence() == published.sequences(0);
  }
  EXPECT_TRUE(seen);
  ASSERT_TRUE(watch_stream->Read(&update));
  EXPECT_EQ(update.trigger_sequence(), published.sequences(0));
  EXPECT_EQ(Find(update.result(), "gross_proceeds")->money().units(), 8500LL * 418200);
  sub_context.TryCancel();
  watch_context.TryCancel();
  while (feed_stream->Read(&events)) {
  }
  while (watch_stream->Read(&update)) {
  }
}

// --- The plugin sandbox (README "Security"), against a live subscriber. ---

// Each attack of a plugin on kessand is refused with an error naming the
// system call, its worker is replaced, and kessand keeps serving a live
// subscriber throughout.
TEST_F(ScenarioServiceTest, SandboxRefusesEveryAttackWhileTheFeedServes) {
  StopServer();
  StartServer({"writer", "connector", "killer", "forker", "forger"});
  LogCapture log;
  grpc::ClientContext sub_context;
  auto feed_stream = Subscribe(&sub_context);
  struct sigaction action {};
  action.sa_handler = [](int) { ++g_sigusr2; };
  sigemptyset(&action.sa_mask);
  struct sigaction previous {};
  ASSERT_EQ(sigaction(SIGUSR2, &action, &previous), 0);
  fs::create_directories(root_ / "open");
  fs::permissions(root_ / "open", fs::perms::all);  // writable by anyone: only the sandbox stops it

  struct Case {
    const char* plugin;
    std::map<std::string, std::string> params;
    const char* syscall;
  };
  for (const Case& c : {Case{"writer", {{"path", (root_ / "open" / "pwned").string()}}, "openat"},
                        Case{"writer", {{"path", (root_ / "data" / "kessan.db").string()}}, "openat"},
                        Case{"connector", {{"port", std::to_string(server_->port())}}, "socket"},
                        Case{"killer", {}, "kill"}, Case{"forker", {}, "clone"}}) {
    grpc::Status s = Run(c.plugin, c.params, nullptr);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL) << c.plugin << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(std::string("plugin '") + c.plugin +
                                             "' made a forbidden system call: " + c.syscall + ";"));
    ExpectDilutionWorks();
  }
  EXPECT_FALSE(fs::exists(root_ / "open" / "pwned"));
  EXPECT_EQ(g_sigusr2.load(), 0);
  EXPECT_EQ(CountProcesses("forker.so"), 0);  // neither its worker nor a child of it
  sigaction(SIGUSR2, &previous, nullptr);

  // Forged log lines end up inside plugin=forger lines, escaped.
  ASSERT_TRUE(Run("forger", {}, nullptr).ok());
  int forged = 0;
  for (const std::string& line : log.Lines()) {
    if (line.find("principal=ops") == std::string::npos) continue;
    ++forged;
    EXPECT_TRUE(absl::StartsWith(line, "kessan|plugin=forger output: \"") ||
                absl::StartsWith(line, "|plugin=forger output: \""))
        << line;
  }
  EXPECT_EQ(forged, 2);

  ExpectStreamLive(feed_stream.get(), 8500);
  // The journal is intact: the writer did not truncate it.
  v1::GetSnapshotResponse snapshot;
  grpc::ClientContext c;
  ASSERT_TRUE(feed_->GetSnapshot(&c, v1::GetSnapshotRequest(), &snapshot).ok());
  EXPECT_GT(snapshot.events_size(), 10);
  sub_context.TryCancel();
  v1::SubscribeResponse ignored;
  while (feed_stream->Read(&ignored)) {
  }
}

// A plugin cannot read the journal (every issuer's data) past the
// entitlements: kessan.db is kessand's alone, and Landlock confines reads.
TEST_F(ScenarioServiceTest, PluginCannotReadTheJournal) {
  const long landlock = syscall(SYS_landlock_create_ruleset, nullptr, 0, 1 /* VERSION */);
  if (geteuid() != 0 && landlock <= 0) {
    GTEST_SKIP() << "neither root (workers as nobody) nor Landlock: a worker runs as kessand's user";
  }
  StopServer();
  StartServer({"snoop"});
  grpc::ClientContext sub_context;
  auto feed_stream = Subscribe(&sub_context);
  const fs::path journal = root_ / "data" / "kessan.db";
  ASSERT_TRUE(fs::exists(journal));
  grpc::Status s = Run("snoop", {{"path", journal.string()}}, nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("Permission denied"));
  // The same plugin reads a file it may read (its own library).
  v1::ScenarioResult r;
  s = Run("snoop", {{"path", (fs::path(KESSAN_TEST_FAULTY_DIR) / "snoop.so").string()}}, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Find(r, "bytes_read")->count(), 64);
  ExpectStreamLive(feed_stream.get(), 8600);
  sub_context.TryCancel();
  v1::SubscribeResponse ignored;
  while (feed_stream->Read(&ignored)) {
  }
}

// A plugin's 1 MiB error with control characters reaches the client (and
// the audit log) cut to 1 KiB, clean, saying so; the client's other
// streams on the same connection carry on.
TEST_F(ScenarioServiceTest, LongPluginErrorIsCutAndOtherStreamsCarryOn) {
  StopServer();
  StartServer({"loud"});
  LogCapture log;
  grpc::ClientContext sub_context;
  auto feed_stream = Subscribe(&sub_context);
  grpc::Status s = Run("loud", {}, nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LE(s.error_message().size(), 1100u);
  EXPECT_THAT(s.error_message(), HasSubstr("[cut: 1048576 bytes in all]"));
  for (char c : s.error_message()) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20) << int(c);
  int audited = 0;
  for (const std::string& line : log.Lines()) {
    if (!absl::StartsWith(line, "audit|") || line.find("scenario=loud") == std::string::npos) continue;
    ++audited;
    EXPECT_LE(line.size(), 1500u);
    EXPECT_THAT(line, HasSubstr("[cut: 1048576 bytes in all]"));
  }
  EXPECT_EQ(audited, 1);
  ExpectStreamLive(feed_stream.get(), 8700);
  ExpectDilutionWorks();
  sub_context.TryCancel();
  v1::SubscribeResponse ignored;
  while (feed_stream->Read(&ignored)) {
  }
}

// Three plugins that hang in describe() do not delay the port: the feed
// serves at once, and the scenarios are listed after one describe deadline.
TEST_F(ScenarioServiceTest, HangingDescribesDoNotHoldUpTheFeed) {
  StopServer();
  absl::Time start = absl::Now();
  StartServer({"hang1=hang", "hang2=hang", "hang3=hang"});
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));  // one after another would take 3 x 5 s
  grpc::ClientContext sub_context;
  auto feed_stream = Subscribe(&sub_context);
  ExpectStreamLive(feed_stream.get(), 8800);
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));

  v1::ListScenariosResponse list;
  grpc::ClientContext context;
  ASSERT_TRUE(scenarios_->ListScenarios(&context, v1::ListScenariosRequest(), &list).ok());
  std::map<std::string, v1::ScenarioInfo> by_name;
  for (const v1::ScenarioInfo& info : list.scenarios()) by_name[info.scenario().name()] = info;
  ASSERT_EQ(by_name.size(), 6u);
  EXPECT_EQ(by_name["dilution"].state(), v1::PLUGIN_STATE_READY);
  for (const char* hang : {"hang1", "hang2", "hang3"}) {
    EXPECT_EQ(by_name[hang].state(), v1::PLUGIN_STATE_FAILED);
    EXPECT_THAT(by_name[hang].error(), HasSubstr("did not answer in time"));
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(12));  // in parallel: about one deadline (5 s)
  sub_context.TryCancel();
  v1::SubscribeResponse ignored;
  while (feed_stream->Read(&ignored)) {
  }
}

}  // namespace
}  // namespace kessan
