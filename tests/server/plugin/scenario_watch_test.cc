// Tests of server/plugin/scenario_watch.cc: watches re-run their scenario
// (the real dilution plugin, in its worker) as inputs change, on a few
// shared threads, and end when cancelled or stopped.
#include "plugin/scenario_watch.h"

#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "journal/sqlite_journal.h"
#include "testing/test_util.h"

namespace kessan {
namespace {

namespace fs = std::filesystem;
using ::kessan::test::Batch;
using ::kessan::test::Iij;
using ::kessan::test::Item;
using ::kessan::test::MakeCapitalAction;
using ::kessan::test::StatusIs;
using ::kessan::test::TempDir;

// A sink that records what it is given.
class RecordingSink final : public WatchSink {
 public:
  void OnResult(v1::WatchScenarioResponse response) override {
    absl::MutexLock lock(&mu_);
    results_.push_back(std::move(response));
  }
  void OnEnd(const absl::Status& status) override {
    absl::MutexLock lock(&mu_);
    end_ = status;
  }
  // Waits (at most 30 s) for `n` results; the trigger of the last.
  std::optional<uint64_t> AwaitResults(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return results_.size() >= n; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30))) return std::nullopt;
    return results_[n - 1].trigger_sequence();
  }
  std::optional<absl::Status> AwaitEnd() {
    absl::MutexLock lock(&mu_);
    auto ended = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return end_.has_value(); };
    mu_.AwaitWithTimeout(absl::Condition(&ended), absl::Seconds(30));
    return end_;
  }
  v1::WatchScenarioResponse result(size_t i) {
    absl::MutexLock lock(&mu_);
    return results_.at(i);
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::WatchScenarioResponse> results_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);
};

size_t ThreadCount() {
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator("/proc/self/task")) {
    (void)entry;
    ++n;
  }
  return n;
}

class ScenarioWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto journal = SqliteJournal::Open(dir_.File("journal.db"));
    ASSERT_TRUE(journal.ok()) << journal.status();
    Feed::Options options;
    options.tick = absl::ZeroDuration();
    auto feed = Feed::Open(*std::move(journal), options);
    ASSERT_TRUE(feed.ok()) << feed.status();
    feed_ = *std::move(feed);
    ASSERT_TRUE(feed_->Publish(Batch({Item(Iij()), Item(MakeCapitalAction("IIJ"))})).ok());
    // Workers run as --plugin_user (nobody) when the test runs as root: the
    // plugin's folder must be theirs to read.
    fs::permissions(dir_.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    fs::create_directories(dir_.File("plugins"));
    fs::permissions(dir_.File("plugins"), fs::perms::owner_all | fs::perms::group_read |
                                              fs::perms::group_exec | fs::perms::others_read |
                                              fs::perms::others_exec);
    fs::create_symlink(fs::path(KESSAN_TEST_BUNDLED_DIR) / "dilution.so",
                       dir_.File("plugins") + "/dilution.so");
    PluginHostOptions o;
    o.plugin_dir = dir_.File("plugins");
    o.worker_path = KESSAN_TEST_WORKER;
    o.call_timeout = absl::Seconds(20);
    auto host = PluginHost::Create(o);
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = *std::move(host);
    engine_ = std::make_unique<ScenarioEngine>(*feed_, *host_);
  }

  PreparedScenario Dilution() {
    google::protobuf::Map<std::string, v1::ParameterValue> params;
    params["shares_outstanding_before"].set_integer(48000);
    absl::StatusOr<PreparedScenario> p = engine_->Prepare("dilution", "IIJ", params);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : PreparedScenario();
  }

  // A new revision of the placement: 200 shares. Returns its sequence.
  uint64_t RevisePlacement() {
    v1::CapitalAction action = MakeCapitalAction("IIJ");
    action.mutable_private_placement()->set_shares(200);
    absl::StatusOr<v1::PublishResponse> r = feed_->Publish(Batch({Item(action)}));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->sequences(0) : 0;
  }

  TempDir dir_;
  std::unique_ptr<Feed> feed_;
  std::unique_ptr<PluginHost> host_;
  std::unique_ptr<ScenarioEngine> engine_;
};

TEST_F(ScenarioWatchTest, ManyWatchesShareAFewThreadsAndRunAgainOnAChange) {
  ScenarioWatcher watcher(*engine_, /*threads=*/2);
  const size_t subscribers_before = feed_->subscriber_count();
  constexpr int kWatches = 40;
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  std::vector<std::shared_ptr<Watch>> watches;
  auto start = [&] {
    sinks.push_back(std::make_shared<RecordingSink>());
    absl::StatusOr<std::shared_ptr<Watch>> w = watcher.Start(Dilution(), sinks.back());
    ASSERT_TRUE(w.ok()) << w.status();
    watches.push_back(*std::move(w));
  };
  // One watch first: its run starts what the plugin host starts once.
  start();
  ASSERT_EQ(sinks[0]->AwaitResults(1), std::optional<uint64_t>(0));
  const size_t threads_before = ThreadCount();
  for (int i = 1; i < kWatches; ++i) start();
  for (auto& sink : sinks) ASSERT_EQ(sink->AwaitResults(1), std::optional<uint64_t>(0));
  // Forty watches, no thread of their own (a transient one of the plugin
  // host may have ended meanwhile).
  EXPECT_LE(ThreadCount(), threads_before);
  EXPECT_EQ(feed_->subscriber_count(), subscribers_before + kWatches);
  const uint64_t revised = RevisePlacement();
  for (auto& sink : sinks) ASSERT_EQ(sink->AwaitResults(2), std::optional<uint64_t>(revised));
  EXPECT_NE(sinks[0]->result(0).result().SerializeAsString(),
            sinks[0]->result(1).result().SerializeAsString());
  for (auto& w : watches) w->Cancel();
  EXPECT_EQ(feed_->subscriber_count(), subscribers_before);
  EXPECT_EQ(watcher.watch_count(), 0u);
}

TEST_F(ScenarioWatchTest, StopEndsEveryWatchAndRefusesNewOnes) {
  ScenarioWatcher watcher(*engine_, /*threads=*/1);
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  ASSERT_TRUE(watcher.Start(Dilution(), a).ok());
  ASSERT_TRUE(watcher.Start(Dilution(), b).ok());
  ASSERT_TRUE(a->AwaitResults(1).has_value());
  watcher.Stop(absl::UnavailableError("shutting down"));
  EXPECT_THAT(a->AwaitEnd(), ::testing::Optional(StatusIs(absl::StatusCode::kUnavailable)));
  EXPECT_THAT(b->AwaitEnd(), ::testing::Optional(StatusIs(absl::StatusCode::kUnavailable)));
  EXPECT_THAT(watcher.Start(Dilution(), std::make_shared<RecordingSink>()),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(feed_->subscriber_count(), 0u);
}

}  // namespace
}  // namespace kessan
