// Tests of server/plugin/plugin_host.cc with real plugins: the bundled
// dilution plugin and the misbehaving ones of tests/plugins/faulty.
#include "plugin/plugin_host.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "absl/time/clock.h"

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
  auto host = PluginHost::Create(Options({"bomb"}));
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
  PluginHostOptions o = Options({"crash"});
  o.max_failures = 3;
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
}

TEST(PluginHostTest, QuarantineEnds) {
  PluginHostOptions o = Options({"crash"});
  o.max_failures = 1;
  o.quarantine_time = absl::Milliseconds(200);
  auto host = PluginHost::Create(o);
  ASSERT_TRUE(host.ok());
  EXPECT_EQ((*host)->Run("crash", DilutionRequest()).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ((*host)->Run("crash", DilutionRequest()).status().code(), absl::StatusCode::kFailedPrecondition);
  absl::SleepFor(absl::Milliseconds(300));  // the quarantine is time-based by design
  EXPECT_EQ((*host)->Run("crash", DilutionRequest()).status().code(), absl::StatusCode::kInternal);
}

TEST(PluginHostTest, MissingDirectoryIsAnError) {
  PluginHostOptions o;
  o.plugin_dir = "/nonexistent/kessan/plugins";
  o.worker_path = KESSAN_TEST_WORKER;
  EXPECT_EQ(PluginHost::Create(o).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace kessan
