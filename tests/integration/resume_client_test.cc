// The resuming client against a real kessand process on 127.0.0.1: killed
// with SIGKILL mid-stream and restarted on the same port and journal, the
// subscriber delivers every event once, in order; a resume from before the
// retention horizon surfaces the Resync; `kessan subscribe` does the same.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "kessan/client.h"
#include "kessand_process.h"

namespace kessan {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

// Waits up to `timeout` for `pid` to exit; returns its wait status, or -1.
int WaitExit(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return -1;
}

// A revenue fact of IIJ for the 4th quarter of `fiscal_year`.
v1::PublishItem RevenueItem(int fiscal_year, int64_t units) {
  v1::PublishItem item;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      absl::StrCat(R"pb(
        fact {
          key {
            issuer: "IIJ"
            concept_id: "revenue"
            period { fiscal_year: )pb",
                   fiscal_year, R"pb( kind: PERIOD_KIND_QUARTER number: 4 }
          }
          value {
            money { currency_code: "JPY" units: )pb",
                   units, R"pb( }
            precision { decimals: -8 qualifier: QUALIFIER_EQUAL }
          }
          provenance { document: "resume-test" line_start: 1 line_end: 1 quote: "test" }
        })pb"),
      &item));
  return item;
}

v1::PublishRequest OneFact(int fiscal_year, int64_t units) {
  v1::PublishRequest request;
  *request.add_items() = RevenueItem(fiscal_year, units);
  return request;
}

// A kessand process on a fixed port and data dir, which the test kills
// and restarts; its output goes to `<data dir>.log`.
class Kessand {
 public:
  Kessand(const std::string& data_dir, std::vector<std::string> extra)
      : port_(PickFreePort()),
        process_(KESSAND_PATH, Args(data_dir, address(), std::move(extra)), data_dir + ".log") {}

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

  // Starts kessand and waits until it answers.
  void Start() {
    ASSERT_GT(port_, 0) << "no free port on 127.0.0.1";
    ASSERT_TRUE(process_.Start(address(), kWait))
        << "kessand exited or did not serve within " << kWait << ":\n"
        << ReadFile(process_.log());
  }
  // SIGKILL: no shutdown, no goodbye to the streams.
  void Kill() { process_.Kill(); }

 private:
  static std::vector<std::string> Args(const std::string& data_dir, const std::string& address,
                                       std::vector<std::string> extra) {
    std::vector<std::string> args = {"--listen=" + address, "--data_dir=" + data_dir,
                                     "--seed=" KESSAN_DATASET_FILE, "--plugin_dir=none"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  const int port_;
  KessandProcess process_;
};

// A SubscribeResuming() on its own thread, collecting events and notices.
class ResumingSubscriber {
 public:
  ResumingSubscriber(const std::string& address, v1::SubscribeRequest request, ResumeOptions resume = {})
      : client_(address) {
    resume.backoff.initial = absl::Milliseconds(50);
    resume.backoff.max = absl::Milliseconds(500);
    resume.backoff.max_attempts = 0;  // The call deadline bounds it.
    resume.on_notice = [this](const ResumeNotice& n) {
      absl::MutexLock lock(&mu_);
      notices_.push_back(n);
    };
    thread_ = std::thread([this, request, resume] {
      absl::Status status = client_.SubscribeResuming(
          request,
          [this](const v1::FeedEvent& e) {
            absl::MutexLock lock(&mu_);
            events_.push_back(e);
            return !stop_;
          },
          resume, CallOptions{.timeout = absl::Seconds(90)});
      absl::MutexLock lock(&mu_);
      status_ = status;
      done_ = true;
    });
  }
  ~ResumingSubscriber() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

  // Waits until an event with `sequence` arrived (or the call ended).
  std::vector<v1::FeedEvent> WaitForSequence(uint64_t sequence) {
    absl::MutexLock lock(&mu_);
    auto ready = [&] { return done_ || (!events_.empty() && events_.back().sequence() >= sequence); };
    mu_.AwaitWithTimeout(absl::Condition(&ready), kWait);
    return events_;
  }
  // Waits until the call ended; returns its status.
  absl::Status WaitDone() {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), kWait);
    return done_ ? status_ : absl::DeadlineExceededError("still subscribed");
  }
  std::vector<ResumeNotice> notices() {
    absl::MutexLock lock(&mu_);
    return notices_;
  }
  // Ends the subscription at the next event.
  void StopAtNextEvent() {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }

 private:
  Client client_;
  absl::Mutex mu_;
  std::vector<v1::FeedEvent> events_ ABSL_GUARDED_BY(mu_);
  std::vector<ResumeNotice> notices_ ABSL_GUARDED_BY(mu_);
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

bool Has(const std::vector<ResumeNotice>& notices, ResumeNotice::Kind kind) {
  for (const auto& n : notices) {
    if (n.kind == kind) return true;
  }
  return false;
}

class ResumeClientTest : public testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = std::filesystem::path(testing::TempDir()) /
                absl::StrCat("kessan_resume_", getpid(), "_",
                             testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(data_dir_);
  }
  void TearDown() override {
    server_.reset();
    if (!HasFailure()) {
      std::filesystem::remove_all(data_dir_);
      std::filesystem::remove(data_dir_.string() + ".log");
    }
  }

  void StartServer(std::vector<std::string> extra = {}) {
    server_ = std::make_unique<Kessand>(data_dir_.string(), std::move(extra));
    server_->Start();
  }

  // The journal's last sequence, asked of the running server.
  uint64_t Head() {
    Client client(server_->address());
    absl::StatusOr<v1::GetSnapshotResponse> snapshot = client.GetSnapshot(v1::Filter(), {.timeout = kWait});
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    return snapshot.ok() ? snapshot->sequence() : 0;
  }

  std::filesystem::path data_dir_;
  std::unique_ptr<Kessand> server_;
};

TEST_F(ResumeClientTest, SubscriberSurvivesAKillAndSeesEveryEventOnce) {
  ASSERT_NO_FATAL_FAILURE(StartServer({"--heartbeat_ms=200"}));
  Client publisher(server_->address());
  const uint64_t head = Head();
  ASSERT_GT(head, 0u);

  // Snapshot then live, every event (an empty filter, so the client also
  // checks that sequences are contiguous).
  v1::SubscribeRequest request;
  request.set_heartbeat_interval_ms(200);
  ResumingSubscriber subscriber(server_->address(), request);
  ASSERT_FALSE(subscriber.WaitForSequence(0).empty());  // Connected.

  std::vector<uint64_t> published;
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<v1::PublishResponse> r =
        publisher.PublishWithRetry(OneFact(1950 + i, i), {}, {.timeout = kWait});
    ASSERT_TRUE(r.ok()) << r.status();
    published.push_back(r->sequences(0));
  }
  subscriber.WaitForSequence(published[5]);
  server_->Kill();  // Mid-stream: the subscriber may not have all 20 yet.

  // A publish while the server is down is retried until it is back.
  v1::PublishRequest retried = OneFact(1990, 1);
  retried.set_publisher_id("resume-test");
  retried.set_batch_key("while-down");
  absl::StatusOr<v1::PublishResponse> while_down;
  std::thread retrying([&] {
    Client late(server_->address());
    while_down = late.PublishWithRetry(retried, {}, {.timeout = kWait});
  });
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_NO_FATAL_FAILURE(server_->Start());
  retrying.join();
  ASSERT_TRUE(while_down.ok()) << while_down.status();
  published.push_back(while_down->sequences(0));
  // Sent again, the same batch is not applied again.
  absl::StatusOr<v1::PublishResponse> again = publisher.PublishWithRetry(retried, {}, {.timeout = kWait});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate());
  EXPECT_EQ(again->sequences(0), while_down->sequences(0));

  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<v1::PublishResponse> r =
        publisher.PublishWithRetry(OneFact(2010 + i, i), {}, {.timeout = kWait});
    ASSERT_TRUE(r.ok()) << r.status();
    published.push_back(r->sequences(0));
  }
  const uint64_t last = published.back();
  EXPECT_EQ(last, head + 41);
  std::vector<v1::FeedEvent> events = subscriber.WaitForSequence(last);

  // The journaled events after the snapshot: head+1 .. last, each once.
  std::vector<uint64_t> live;
  bool after_snapshot = false;
  for (const v1::FeedEvent& e : events) {
    if (e.has_snapshot_end()) after_snapshot = true;
    if (after_snapshot && e.sequence() > 0) live.push_back(e.sequence());
  }
  std::vector<uint64_t> want;
  for (uint64_t s = head + 1; s <= last; ++s) want.push_back(s);
  EXPECT_EQ(live, want);
  std::vector<ResumeNotice> notices = subscriber.notices();
  EXPECT_TRUE(Has(notices, ResumeNotice::Kind::kDisconnected));
  EXPECT_TRUE(Has(notices, ResumeNotice::Kind::kResumed));
  EXPECT_FALSE(Has(notices, ResumeNotice::Kind::kResync));

  // The same events as the journal holds them.
  v1::SubscribeRequest replay;
  replay.set_start(v1::START_MODE_FROM_SEQUENCE);
  replay.set_from_sequence(head);
  std::vector<v1::FeedEvent> journal;
  absl::Status replayed = publisher.Subscribe(replay,
                                              [&](const v1::FeedEvent& e) {
                                                if (e.sequence() > 0) journal.push_back(e);
                                                return journal.size() < want.size();
                                              },
                                              {.timeout = kWait});
  ASSERT_TRUE(replayed.ok()) << replayed;
  size_t j = 0;
  for (const v1::FeedEvent& e : events) {
    if (e.sequence() <= head || !after_snapshot) continue;
    if (j < journal.size() && e.sequence() == journal[j].sequence()) {
      EXPECT_EQ(e.SerializeAsString(), journal[j].SerializeAsString());
      ++j;
    }
  }
  EXPECT_EQ(j, want.size());

  subscriber.StopAtNextEvent();
  EXPECT_TRUE(subscriber.WaitDone().ok());
}

TEST_F(ResumeClientTest, ResumeFromBeforeTheRetentionHorizonSurfacesTheResync) {
  ASSERT_NO_FATAL_FAILURE(StartServer({"--retain_events=40", "--heartbeat_ms=200"}));
  const uint64_t head = Head();

  // Live from the head; its reconnect waits until the journal has moved on.
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_FROM_SEQUENCE);
  request.set_from_sequence(head);
  request.set_heartbeat_interval_ms(200);
  absl::Notification may_reconnect;
  ResumeOptions resume;
  resume.sleep = [&](absl::Duration) { may_reconnect.WaitForNotificationWithTimeout(kWait); };
  ResumingSubscriber subscriber(server_->address(), request, resume);
  // Lets a subscriber still waiting to reconnect end when the test fails.
  struct Release {
    absl::Notification& n;
    ~Release() {
      if (!n.HasBeenNotified()) n.Notify();
    }
  } release{may_reconnect};
  subscriber.WaitForSequence(0);  // A heartbeat: the stream is up.

  server_->Kill();
  ASSERT_NO_FATAL_FAILURE(server_->Start());
  // 300 revisions of 5 items: the events after `head` are pruned.
  Client publisher(server_->address());
  for (int b = 0; b < 60; ++b) {  // a batch holds an item once
    v1::PublishRequest batch;
    for (int i = 0; i < 5; ++i) *batch.add_items() = RevenueItem(1920 + i, b * 5 + i);
    absl::StatusOr<v1::PublishResponse> r = publisher.PublishWithRetry(batch, {}, {.timeout = kWait});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  const uint64_t moved = Head();
  may_reconnect.Notify();

  // Resync, then a full snapshot as of `moved`, then live events.
  std::vector<v1::FeedEvent> events;
  const absl::Time deadline = absl::Now() + kWait;
  auto ended = [&] {
    for (const auto& e : events) {
      if (e.has_snapshot_end()) return true;
    }
    return false;
  };
  while (!ended() && absl::Now() < deadline) {
    events = subscriber.WaitForSequence(0);
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(ended());
  size_t resync = 0;
  while (resync < events.size() && !events[resync].has_resync()) ++resync;
  ASSERT_LT(resync, events.size()) << "no Resync event";
  EXPECT_EQ(events[resync].resync().requested_sequence(), head);
  EXPECT_GT(events[resync].resync().oldest_available_sequence(), head + 1);
  ASSERT_LT(resync + 1, events.size());
  EXPECT_TRUE(events[resync + 1].has_snapshot_begin());
  EXPECT_EQ(events[resync + 1].snapshot_begin().sequence(), moved);
  std::vector<ResumeNotice> notices = subscriber.notices();
  ASSERT_TRUE(Has(notices, ResumeNotice::Kind::kResync));

  ASSERT_TRUE(publisher.PublishWithRetry(OneFact(2050, 1), {}, {.timeout = kWait}).ok());
  events = subscriber.WaitForSequence(moved + 1);
  EXPECT_EQ(events.back().sequence(), moved + 1);
}

TEST_F(ResumeClientTest, CliSubscribeResumesAcrossARestart) {
  ASSERT_NO_FATAL_FAILURE(StartServer({"--heartbeat_ms=200"}));
  const uint64_t head = Head();
  const std::string out = data_dir_.string() + ".out";
  const std::string err = data_dir_.string() + ".err";
  pid_t cli = Spawn({KESSAN_CLI_PATH, "subscribe", "--server", server_->address(), "--from",
                     absl::StrCat(head), "--heartbeat-ms", "200", "--limit", "6"},
                    out, err);
  ASSERT_GT(cli, 0);
  Client publisher(server_->address());
  auto lines = [&] {
    return std::vector<std::string>(absl::StrSplit(ReadFile(out), '\n', absl::SkipEmpty()));
  };
  auto wait_lines = [&](size_t n) {
    const absl::Time deadline = absl::Now() + kWait;
    while (lines().size() < n && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
    return lines().size();
  };
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(publisher.PublishWithRetry(OneFact(2060 + i, i), {}, {.timeout = kWait}).ok());
  }
  EXPECT_GE(wait_lines(1), 1u);  // At least one seen before the kill.
  server_->Kill();
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_NO_FATAL_FAILURE(server_->Start());
  for (int i = 3; i < 6; ++i) {
    ASSERT_TRUE(publisher.PublishWithRetry(OneFact(2060 + i, i), {}, {.timeout = kWait}).ok());
  }
  const int status = WaitExit(cli, kWait);
  if (status == -1) kill(cli, SIGKILL), waitpid(cli, nullptr, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\nstderr:\n"
                                                             << ReadFile(err);

  std::vector<uint64_t> sequences;
  for (const std::string& line : lines()) {
    v1::FeedEvent event;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &event).ok()) << line;
    if (event.sequence() > 0) sequences.push_back(event.sequence());
  }
  std::vector<uint64_t> want;
  for (uint64_t s = head + 1; s <= head + 6; ++s) want.push_back(s);
  EXPECT_EQ(sequences, want) << ReadFile(out);
  const std::string notes = ReadFile(err);
  EXPECT_TRUE(absl::StrContains(notes, "kessan: stream ended (UNAVAILABLE")) << notes;
  EXPECT_TRUE(absl::StrContains(notes, "kessan: reconnected")) << notes;
  std::filesystem::remove(out);
  std::filesystem::remove(err);
}

}  // namespace
}  // namespace kessan
