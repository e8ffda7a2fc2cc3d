// Tests of server/plugin/plugin_host.cc with real plugins: the bundled
// dilution plugin and the misbehaving ones of tests/plugins/faulty.
#include "plugin/plugin_host.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "metrics/registry.h"
#include "metrics/scenario_metrics.h"

namespace kessan {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A directory with links to the plugins under test.
std::string PluginDir(const std::vector<std::string>& faulty) {
  static int counter = 0;
  fs::path dir = fs::path(::testing::TempDir()) /
                 ("plugin_host_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::create_symlink(fs::path(KESSAN_TEST_BUNDLED_DIR) / "dilution.so", dir / "dilution.so");
  for (const std::string& name : faulty) {
    fs::create_symlink(fs::path(KESSAN_TEST_FAULTY_DIR) / (name + ".so"), dir / (name + ".so"));
  }
  return dir.string();
}

PluginHostOptions Options(const std::vector<std::string>& faulty) {
  PluginHostOptions o;
  o.plugin_dir = PluginDir(faulty);
  o.worker_path = KESSAN_TEST_WORKER;
  o.call_timeout = absl::Seconds(2);
  o.limits.memory_bytes = 256ull << 20;
  o.limits.cpu_seconds = 10;
  return o;
}

v1::PluginRunRequest DilutionRequest() {
  v1::PluginRunRequest r;
  r.set_issuer("IIJ");
  v1::FeedEvent* e = r.add_inputs();
  e->set_sequence(7);
  v1::PrivatePlacement* pp = e->mutable_capital_action()->mutable_private_placement();
  e->mutable_capital_action()->set_action_id("private_placement_2003_06");
  pp->set_shares(8400);
  pp->mutable_issue_price()->set_currency_code("JPY");
  pp->mutable_issue_price()->set_units(418200);
  pp->mutable_amount_not_credited_per_share()->set_currency_code("JPY");
  pp->mutable_amount_not_credited_per_share()->set_units(209100);
  (*r.mutable_parameters())["shares_outstanding_before"].set_integer(48000);
  return r;
}

void ExpectDilutionWorks(PluginHost& host) {
  absl::StatusOr<v1::PluginRunResponse> r = host.Run("dilution", DilutionRequest());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outputs(0).money().units(), 3512880000);
}

TEST(PluginHostTest, ListsEveryPluginAndNamesTheAbiMismatch) {
  auto host = PluginHost::Create(Options({"crash", "abi2", "garbage"}));
  ASSERT_TRUE(host.ok()) << host.status();
  std::vector<v1::ScenarioInfo> list = (*host)->List();
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0].scenario().name(), "abi2");
  EXPECT_EQ(list[0].state(), v1::PLUGIN_STATE_FAILED);
  EXPECT_EQ(list[0].abi_version(), "2.0");
  EXPECT_THAT(list[0].error(), HasSubstr("plugin 'abi2' built for ABI 2.0, host speaks 1.0: major differs"));
  EXPECT_EQ(list[2].scenario().name(), "dilution");
  EXPECT_EQ(list[2].state(), v1::PLUGIN_STATE_READY);
  EXPECT_EQ(list[2].abi_version(), "1.0");
  EXPECT_EQ(list[2].scenario().parameters(0).name(), "shares_outstanding_before");

  absl::StatusOr<v1::PluginRunResponse> r = (*host)->Run("abi2", DilutionRequest());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("major differs"));
  EXPECT_EQ((*host)->Run("nope", DilutionRequest()).status().code(), absl::StatusCode::kNotFound);
}

TEST(PluginHostTest, WorkersAreReusedAcrossCalls) {
  auto host = PluginHost::Create(Options({}));
  ASSERT_TRUE(host.ok());
  ExpectDilutionWorks(**host);
  int pid = (*host)->worker_pid("dilution");
  ASSERT_GT(pid, 0);
  ExpectDilutionWorks(**host);
  EXPECT_EQ((*host)->worker_pid("dilution"), pid);
}

TEST(PluginHostTest, WorkerInheritsNoDescriptorOfTheHost) {
  // A listening socket without O_CLOEXEC, as a careless library might open.
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  auto host = PluginHost::Create(Options({}));
  ASSERT_TRUE(host.ok());
  int pid = (*host)->worker_pid("dilution");
  ASSERT_GT(pid, 0);
  std::vector<std::string> fds;
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    fds.push_back(e.path().filename().string());
  }
  std::sort(fds.begin(), fds.end());
  EXPECT_EQ(fds, (std::vector<std::string>{"0", "1", "2", "3"}));
  close(listener);
}

TEST(PluginHostTest, SegfaultIsInternalAndTheWorkerIsRespawned) {
  auto host = PluginHost::Create(Options({"crash"}));
  ASSERT_TRUE(host.ok());
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<v1::PluginRunResponse> r = (*host)->Run("crash", DilutionRequest());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
    EXPECT_THAT(r.status().message(), HasSubstr("plugin 'crash' crashed (signal 11, SIGSEGV)"));
    ExpectDilutionWorks(**host);
  }
}

TEST(PluginHostTest, InfiniteLoopIsDeadlineExceeded) {
  auto host = PluginHost::Create(Options({"spin"}));
  ASSERT_TRUE(host.ok());
  absl::Time start = absl::Now();
  absl::StatusOr<v1::PluginRunResponse> r = (*host)->Run("spin", DilutionRequest());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("plugin 'spin' did not answer in time"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ((*host)->worker_pid("spin"), 0);  // killed
  ExpectDilutionWorks(**host);
}

TEST(PluginHostTest, CpuLimitIsResourceExhausted) {
  PluginHostOptions o = Options({"spin"});
  o.limits.cpu_seconds = 1;
  o.call_timeout = absl::Seconds(30);
  auto host = PluginHost::Create(o);
  ASSERT_TRUE(host.ok());
  absl::StatusOr<v1::PluginRunResponse> r = (*host)->Run("spin", DilutionRequest());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("CPU limit of 1 s"));
}

TEST(PluginHostTest, MemoryBombIsResourceExhausted) {
  PluginHostOptions o = Options({"bomb"});
  // The memory limit ends it, not the deadline, however loaded the machine.
  o.call_timeout = absl::Seconds(30);
  auto host = PluginHost::Create(o);
  ASSERT_TRUE(host.ok());
  absl::StatusOr<v1::PluginRunResponse> r = (*host)->Run("bomb", DilutionRequest());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("plugin 'bomb' ran out of memory (limit 256 MiB)"));
  ExpectDilutionWorks(**host);
}

TEST(PluginHostTest, GarbageOutputIsInternal) {
  auto host = PluginHost::Create(Options({"garbage"}));
  ASSERT_TRUE(host.ok());
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<v1::PluginRunResponse> r = (*host)->Run("garbage", DilutionRequest());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
    EXPECT_THAT(r.status().message(),
                HasSubstr("plugin 'garbage' returned 11 bytes that are not a kessan.v1.PluginRunResponse"));
  }
}

TEST(PluginHostTest, RepeatedCrashesQuarantineThePlugin) {
  metrics::Registry registry;
  metrics::ScenarioMetrics scenario_metrics(registry);
  PluginHostOptions o = Options({"crash"});
  o.max_failures = 3;
  o.metrics = &scenario_metrics;
  auto host = PluginHost::Create(o);
  ASSERT_TRUE(host.ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((*host)->Run("crash", DilutionRequest()).status().code(), absl::StatusCode::kInternal);
  }
  absl::StatusOr<v1::PluginRunResponse> r = (*host)->Run("crash", DilutionRequest());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("plugin 'crash' is quarantined"));
  std::vector<v1::ScenarioInfo> list = (*host)->List();
  EXPECT_EQ(list[0].state(), v1::PLUGIN_STATE_QUARANTINED);
  ExpectDilutionWorks(**host);
  // Workers: the one that described it (and crashed on the first run),
  // then two restarts; one quarantine, which started none.
  metrics::ScenarioMetrics::Plugin crash = scenario_metrics.ForPlugin("crash");
  EXPECT_EQ(crash.worker_restarts->value(), 2u);
  EXPECT_EQ(crash.quarantines->value(), 1u);
}

TEST(PluginHostTest, QuarantineEnds) {
  PluginHostOptions o = Options({"crash"});
  o.max_failures = 1;
  o.quarantine_time = absl::Minutes(1);
  auto clock = std::make_shared<std::atomic<int64_t>>(absl::ToUnixSeconds(absl::Now()));
  o.now = [clock] { return absl::FromUnixSeconds(clock->load()); };
  auto host = PluginHost::Create(o);
  ASSERT_TRUE(host.ok());
  EXPECT_EQ((*host)->Run("crash", DilutionRequest()).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ((*host)->Run("crash", DilutionRequest()).status().code(), absl::StatusCode::kFailedPrecondition);
  clock->fetch_add(59);
  EXPECT_EQ((*host)->Run("crash", DilutionRequest()).status().code(), absl::StatusCode::kFailedPrecondition);
  clock->fetch_add(1);  // the minute is up
  EXPECT_EQ((*host)->Run("crash", DilutionRequest()).status().code(), absl::StatusCode::kInternal);
}

// --- The sandbox (README "Security"): each attack is refused, the call
// fails naming the system call, and the host carries on. ---

// A /proc/<pid>/status field ("Uid", "Seccomp", ...), or "".
std::string ProcStatus(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, field + ":"))
      return std::string(absl::StripAsciiWhitespace(line.substr(field.size() + 1)));
  }
  return "";
}

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

v1::PluginRunRequest WithText(const std::string& name, const std::string& value) {
  v1::PluginRunRequest r;
  (*r.mutable_parameters())[name].set_text(value);
  return r;
}

void ExpectForbidden(const absl::StatusOr<v1::PluginRunResponse>& r, const std::string& plugin,
                     const std::string& syscall) {
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal) << r.status();
  EXPECT_THAT(r.status().message(),
              HasSubstr("plugin '" + plugin + "' made a forbidden system call: " + syscall + ";"));
}

TEST(PluginHostSandboxTest, WorkerIsConfinedBeforeTheFirstCall) {
  auto host = PluginHost::Create(Options({}));
  ASSERT_TRUE(host.ok());
  ExpectDilutionWorks(**host);
  int pid = (*host)->worker_pid("dilution");
  ASSERT_GT(pid, 0);
  EXPECT_EQ(ProcStatus(pid, "NoNewPrivs"), "1");
  EXPECT_EQ(ProcStatus(pid, "Seccomp"), "2");  // a filter
  // Its own process group; an empty working directory, not ours.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::vector<std::string> fields = absl::StrSplit(text.substr(text.rfind(')') + 2), ' ');
  ASSERT_GT(fields.size(), 3u);
  EXPECT_EQ(fields[2], std::to_string(pid));  // pgrp
  fs::path cwd = fs::read_symlink("/proc/" + std::to_string(pid) + "/cwd");
  EXPECT_NE(cwd, fs::current_path());
  EXPECT_TRUE(fs::is_empty(cwd));
  // stdout and stderr are a pipe to the host, not the host's own.
  fs::path out = fs::read_symlink("/proc/" + std::to_string(pid) + "/fd/1");
  EXPECT_TRUE(absl::StartsWith(out.string(), "pipe:")) << out;
  EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(pid) + "/fd/2"), out);
  EXPECT_NE(fs::read_symlink("/proc/self/fd/1"), out);
  if (geteuid() == 0) {
    passwd* nobody = getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    EXPECT_THAT(ProcStatus(pid, "Uid"), HasSubstr(std::to_string(nobody->pw_uid)));
    EXPECT_THAT(ProcStatus(pid, "Uid"), ::testing::Not(HasSubstr("0\t")));
  }
}

TEST(PluginHostSandboxTest, PluginCannotWriteAFile) {
  auto host = PluginHost::Create(Options({"writer"}));
  ASSERT_TRUE(host.ok());
  fs::path dir = fs::path((*host)->options().plugin_dir) / "open";
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::all);  // writable by anyone: only the sandbox stops it
  ExpectForbidden((*host)->Run("writer", WithText("path", (dir / "pwned").string())), "writer", "openat");
  EXPECT_FALSE(fs::exists(dir / "pwned"));
  EXPECT_EQ((*host)->worker_pid("writer"), 0);  // replaced at the next call
  ExpectDilutionWorks(**host);
}

TEST(PluginHostSandboxTest, PluginCannotConnect) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto host = PluginHost::Create(Options({"connector"}));
  ASSERT_TRUE(host.ok());
  ExpectForbidden((*host)->Run("connector", WithText("port", std::to_string(ntohs(addr.sin_port)))),
                  "connector", "socket");
  EXPECT_LT(accept(listener, nullptr, nullptr), 0);  // no connection came
  EXPECT_EQ(errno, EAGAIN);
  close(listener);
  ExpectDilutionWorks(**host);
}

std::atomic<int> g_sigusr2{0};

TEST(PluginHostSandboxTest, PluginCannotSignalTheHost) {
  struct sigaction action {};
  action.sa_handler = [](int) { ++g_sigusr2; };
  sigemptyset(&action.sa_mask);
  struct sigaction previous {};
  ASSERT_EQ(sigaction(SIGUSR2, &action, &previous), 0);
  auto host = PluginHost::Create(Options({"killer"}));
  ASSERT_TRUE(host.ok());
  ExpectForbidden((*host)->Run("killer", v1::PluginRunRequest()), "killer", "kill");
  ExpectDilutionWorks(**host);
  EXPECT_EQ(g_sigusr2.load(), 0);
  sigaction(SIGUSR2, &previous, nullptr);
}

TEST(PluginHostSandboxTest, PluginStartsNoProcessThatOutlivesIt) {
  auto host = PluginHost::Create(Options({"forker"}));
  ASSERT_TRUE(host.ok());
  ExpectForbidden((*host)->Run("forker", v1::PluginRunRequest()), "forker", "clone");
  EXPECT_EQ(CountProcesses("forker.so"), 0);  // neither the worker nor a child of it
  ExpectDilutionWorks(**host);
}

// An ostream sink on kessand's logger, one message per line ("%v").
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    sink_->set_pattern("%v");
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  std::vector<std::string> Lines() {
    spdlog::default_logger()->flush();
    return absl::StrSplit(out_.str(), '\n', absl::SkipEmpty());
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

TEST(PluginHostSandboxTest, PluginOutputIsLoggedAsEscapedPluginLines) {
  LogCapture log;
  auto host = PluginHost::Create(Options({"forger"}));
  ASSERT_TRUE(host.ok());
  absl::StatusOr<v1::PluginRunResponse> r = (*host)->Run("forger", v1::PluginRunRequest());
  ASSERT_TRUE(r.ok()) << r.status();
  int forged = 0;
  for (const std::string& line : log.Lines()) {
    if (line.find("principal=ops") == std::string::npos) continue;
    ++forged;
    EXPECT_TRUE(absl::StartsWith(line, "plugin=forger output: \"")) << line;
  }
  EXPECT_EQ(forged, 2);  // stdout and stderr, each one line of its own
}

TEST(PluginHostTest, NullBufferWithASizeIsAnError) {
  auto host = PluginHost::Create(Options({"nullbuf"}));
  ASSERT_TRUE(host.ok());
  absl::StatusOr<v1::PluginRunResponse> r = (*host)->Run("nullbuf", DilutionRequest());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal) << r.status();
  EXPECT_THAT(r.status().message(),
              HasSubstr("plugin 'nullbuf': returned status OK with a null buffer of 16 bytes"));
}

TEST(PluginHostTest, LongErrorMessageIsCutAndClean) {
  auto host = PluginHost::Create(Options({"loud"}));
  ASSERT_TRUE(host.ok());
  absl::StatusOr<v1::PluginRunResponse> r = (*host)->Run("loud", DilutionRequest());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(r.status().message());
  EXPECT_LE(message.size(), kMaxPluginMessageBytes + 64);
  EXPECT_THAT(message, HasSubstr("[cut: 1048576 bytes in all]"));
  EXPECT_THAT(message, HasSubstr("no   [31mway"));
  for (char c : message) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << int(c);
}

// Found by plugin_output_fuzz: an output without a value, named with
// control characters, made an error message that quoted the name raw.
TEST(PluginHostTest, AnOutputsNameIsQuotedCleanAndShort) {
  v1::PluginRunResponse response;
  response.add_outputs()->set_name("grossers\x15\x1b[31m" + std::string(2000, 'x'));
  plugin_wire::Reply reply;
  reply.payload = response.SerializeAsString();
  absl::StatusOr<v1::PluginRunResponse> r = DecodeRunReply("fuzz", reply);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  const std::string message(r.status().message());
  EXPECT_THAT(message, HasSubstr("plugin 'fuzz' returned output 'grossers  [31mxxx"));
  EXPECT_THAT(message, HasSubstr("' without a value"));
  EXPECT_LE(message.size(), 200u);
  for (char c : message) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << int(c);
}

TEST(PluginHostTest, BoundedPluginMessageCutsAtACharacterBoundary) {
  EXPECT_EQ(BoundedPluginMessage("a\nb\x1b"
                                 "c\xc2\x85"
                                 "d"),
            "a b c d");
  EXPECT_EQ(BoundedPluginMessage("short"), "short");
  // "価" is 3 bytes: at 4 bytes the second one is dropped whole.
  EXPECT_EQ(BoundedPluginMessage("価格", 4), "価 [cut: 6 bytes in all]");
  EXPECT_EQ(BoundedPluginMessage(std::string(2000, 'x')).size(),
            1024 + std::string(" [cut: 2000 bytes in all]").size());
}

TEST(PluginHostTest, HangingDescribesAreParallelAndDoNotHoldUpCreate) {
  PluginHostOptions o = Options({});
  for (const char* alias : {"hang1", "hang2", "hang3"}) {
    fs::create_symlink(fs::path(KESSAN_TEST_FAULTY_DIR) / "hang.so",
                       fs::path(o.plugin_dir) / (std::string(alias) + ".so"));
  }
  o.call_timeout = absl::Seconds(2);
  absl::Time start = absl::Now();
  auto host = PluginHost::Create(o);
  ASSERT_TRUE(host.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));  // describing one after another would take 3 x 2 s
  std::vector<v1::ScenarioInfo> list = (*host)->List();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));  // in parallel: about one deadline
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0].scenario().name(), "dilution");
  EXPECT_EQ(list[0].state(), v1::PLUGIN_STATE_READY);
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(list[i].scenario().name(), "hang" + std::to_string(i));
    EXPECT_EQ(list[i].state(), v1::PLUGIN_STATE_FAILED);
    EXPECT_THAT(list[i].error(), HasSubstr("did not answer in time"));
  }
  ExpectDilutionWorks(**host);
}

TEST(PluginHostTest, MissingDirectoryIsAnError) {
  PluginHostOptions o;
  o.plugin_dir = "/nonexistent/kessan/plugins";
  o.worker_path = KESSAN_TEST_WORKER;
  EXPECT_EQ(PluginHost::Create(o).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace kessan
