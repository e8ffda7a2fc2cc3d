// Clients with several servers against real kessand processes on
// 127.0.0.1. Two kessands may not share a data dir at once, so a failover
// is tested as a replica move: kessand A is killed and kessand B starts on
// A's journal at another port. The resuming subscriber moves to B and
// delivers every event once, in order; a publish retried across the move
// is applied once; a dead first server is skipped; a refusal stays put.
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
#include "absl/time/time.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "kessan/client.h"
#include "kessand_process.h"

namespace kessan {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

v1::PublishRequest OneFact(int fiscal_year, int64_t units) {
  v1::PublishRequest request;
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
          provenance { document: "failover-test" line_start: 1 line_end: 1 quote: "test" }
        })pb"),
      request.add_items()));
  return request;
}

// Waits up to `timeout` for `pid` to exit; returns its wait status, or -1.
int WaitExit(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    absl::SleepFor(absl::Milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

// Failovers a client reported: "from>to".
class FailoverLog {
 public:
  ClientOptions Options(std::vector<std::string> servers) {
    ClientOptions options;
    options.servers = std::move(servers);
    options.on_failover = [this](const std::string& from, const std::string& to, const absl::Status&) {
      absl::MutexLock lock(&mu_);
      moves_.push_back(from + ">" + to);
    };
    return options;
  }
  std::vector<std::string> moves() {
    absl::MutexLock lock(&mu_);
    return moves_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> moves_ ABSL_GUARDED_BY(mu_);
};

// A SubscribeResuming() on its own thread, collecting events and notices.
class Subscriber {
 public:
  Subscriber(ClientOptions options, v1::SubscribeRequest request) : client_(std::move(options)) {
    ResumeOptions resume;
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
  ~Subscriber() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

  // Waits until an event with `sequence` or more arrived (any event for 0),
  // or the call ended.
  std::vector<v1::FeedEvent> WaitForSequence(uint64_t sequence) {
    absl::MutexLock lock(&mu_);
    auto ready = [&] { return done_ || (!events_.empty() && events_.back().sequence() >= sequence); };
    mu_.AwaitWithTimeout(absl::Condition(&ready), kWait);
    return events_;
  }
  absl::Status WaitDone() {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), kWait);
    return done_ ? status_ : absl::DeadlineExceededError("still subscribed");
  }
  void StopAtNextEvent() {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  std::vector<ResumeNotice> notices() {
    absl::MutexLock lock(&mu_);
    return notices_;
  }
  Client& client() { return client_; }

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

class FailoverClientTest : public testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = std::filesystem::path(testing::TempDir()) /
                absl::StrCat("kessan_failover_", getpid(), "_",
                             testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(data_dir_);
    port_a_ = PickFreePort();
    port_b_ = PickFreePort();
    ASSERT_GT(port_a_, 0);
    ASSERT_GT(port_b_, 0);
    ASSERT_NE(port_a_, port_b_);
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    if (!HasFailure()) {
      std::filesystem::remove_all(data_dir_);
      std::filesystem::remove(log());
    }
  }

  std::string a() const { return absl::StrCat("127.0.0.1:", port_a_); }
  std::string b() const { return absl::StrCat("127.0.0.1:", port_b_); }
  std::string log() const { return data_dir_.string() + ".log"; }

  // Starts kessand on `address` and the test's data dir.
  std::unique_ptr<KessandProcess> Start(const std::string& address) {
    auto process = std::make_unique<KessandProcess>(
        KESSAND_PATH,
        std::vector<std::string>{"--listen=" + address, "--data_dir=" + data_dir_.string(),
                                 "--seed=" KESSAN_DATASET_FILE, "--plugin_dir=none", "--heartbeat_ms=200"},
        log());
    EXPECT_TRUE(process->Start(address, kWait)) << "kessand on " << address << " did not serve:\n"
                                                << ReadFile(log());
    return process;
  }

  // The journal's last sequence, asked of `address`.
  uint64_t Head(const std::string& address) {
    absl::StatusOr<v1::GetSnapshotResponse> snapshot =
        Client(address).GetSnapshot(v1::Filter(), {.timeout = kWait});
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    return snapshot.ok() ? snapshot->sequence() : 0;
  }

  std::filesystem::path data_dir_;
  int port_a_ = 0;
  int port_b_ = 0;
  std::unique_ptr<KessandProcess> a_;
  std::unique_ptr<KessandProcess> b_;
};

TEST_F(FailoverClientTest, SubscriberMovesToTheReplicaAndSeesEveryEventOnce) {
  a_ = Start(a());
  ASSERT_FALSE(HasFailure());
  const uint64_t head = Head(a());
  ASSERT_GT(head, 0u);

  // Every event (an empty filter: the client also checks that sequences
  // are contiguous), snapshot then live.
  FailoverLog subscriber_moves;
  v1::SubscribeRequest request;
  request.set_heartbeat_interval_ms(200);
  Subscriber subscriber(subscriber_moves.Options({a(), b()}), request);
  ASSERT_FALSE(subscriber.WaitForSequence(0).empty());  // Connected.

  FailoverLog publisher_moves;
  Client publisher(publisher_moves.Options({a(), b()}));
  std::vector<uint64_t> published;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<v1::PublishResponse> r =
        publisher.PublishWithRetry(OneFact(1950 + i, i), {}, {.timeout = kWait});
    ASSERT_TRUE(r.ok()) << r.status();
    published.push_back(r->sequences(0));
  }
  subscriber.WaitForSequence(published[4]);
  a_->Kill();  // Mid-stream: the subscriber may not have all 10 yet.

  // Sent to A, then to B, with the same batch key, until B serves.
  v1::PublishRequest moved = OneFact(1990, 1);
  moved.set_publisher_id("failover-test");
  moved.set_batch_key("across-the-move");
  absl::StatusOr<v1::PublishResponse> across;
  std::thread retrying([&] {
    PublishRetryOptions retry;
    retry.backoff = {.initial = absl::Milliseconds(50), .max = absl::Milliseconds(500), .max_attempts = 0};
    across = publisher.PublishWithRetry(moved, retry, {.timeout = kWait});
  });
  b_ = Start(b());
  retrying.join();
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(across.ok()) << across.status();
  EXPECT_FALSE(across->duplicate());
  published.push_back(across->sequences(0));
  EXPECT_EQ(publisher.address(), b());
  ASSERT_FALSE(publisher_moves.moves().empty());
  EXPECT_EQ(publisher_moves.moves().front(), a() + ">" + b());

  // Sent again, to B, the batch is not applied again.
  absl::StatusOr<v1::PublishResponse> again = publisher.PublishWithRetry(moved, {}, {.timeout = kWait});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate());
  EXPECT_EQ(again->sequences(0), across->sequences(0));

  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<v1::PublishResponse> r =
        publisher.PublishWithRetry(OneFact(2010 + i, i), {}, {.timeout = kWait});
    ASSERT_TRUE(r.ok()) << r.status();
    published.push_back(r->sequences(0));
  }
  const uint64_t last = published.back();
  EXPECT_EQ(last, head + 21);
  std::vector<v1::FeedEvent> events = subscriber.WaitForSequence(last);

  // The journaled events after the snapshot: head+1 .. last, each once, in
  // order.
  std::vector<uint64_t> live;
  bool after_snapshot = false;
  for (const v1::FeedEvent& e : events) {
    if (e.has_snapshot_end()) after_snapshot = true;
    if (after_snapshot && e.sequence() > 0) live.push_back(e.sequence());
  }
  std::vector<uint64_t> want;
  for (uint64_t s = head + 1; s <= last; ++s) want.push_back(s);
  EXPECT_EQ(live, want);
  EXPECT_EQ(published, want);

  // It resumed on B, from a sequence it had.
  bool resumed_on_b = false;
  for (const ResumeNotice& n : subscriber.notices()) {
    EXPECT_NE(n.kind, ResumeNotice::Kind::kResync);
    if (n.kind == ResumeNotice::Kind::kResumed && n.server == b()) {
      resumed_on_b = true;
      EXPECT_GE(n.resume_from, published[4]);
    }
  }
  EXPECT_TRUE(resumed_on_b);
  EXPECT_EQ(subscriber.client().address(), b());
  ASSERT_FALSE(subscriber_moves.moves().empty());
  EXPECT_EQ(subscriber_moves.moves().front(), a() + ">" + b());

  subscriber.StopAtNextEvent();
  EXPECT_TRUE(subscriber.WaitDone().ok());
}

TEST_F(FailoverClientTest, ADeadFirstServerIsSkipped) {
  b_ = Start(b());  // Nothing listens on A.
  ASSERT_FALSE(HasFailure());
  const uint64_t head = Head(b());

  FailoverLog moves;
  Client snapshots(moves.Options({a(), b()}));
  absl::StatusOr<v1::GetSnapshotResponse> snapshot = snapshots.GetSnapshot(v1::Filter(), {.timeout = kWait});
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->sequence(), head);
  EXPECT_EQ(snapshots.address(), b());
  EXPECT_EQ(moves.moves(), std::vector<std::string>{a() + ">" + b()});

  Client publisher(ClientOptions{.servers = {a(), b()}});
  absl::StatusOr<v1::PublishResponse> published =
      publisher.PublishWithRetry(OneFact(2040, 1), {}, {.timeout = kWait});
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_EQ(published->sequences(0), head + 1);

  // A resuming subscription from head-2 gets head-1 .. head+1.
  v1::SubscribeRequest request;
  request.set_start(v1::START_MODE_FROM_SEQUENCE);
  request.set_from_sequence(head - 2);
  std::vector<uint64_t> sequences;
  Client subscriber(ClientOptions{.servers = {a(), b()}});
  absl::Status status = subscriber.SubscribeResuming(request,
                                                     [&](const v1::FeedEvent& e) {
                                                       if (e.sequence() > 0)
                                                         sequences.push_back(e.sequence());
                                                       return sequences.size() < 3;
                                                     },
                                                     {}, {.timeout = kWait});
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(sequences, (std::vector<uint64_t>{head - 1, head, head + 1}));
  EXPECT_EQ(subscriber.address(), b());
}

TEST_F(FailoverClientTest, ARefusalDoesNotFailOver) {
  a_ = Start(a());  // Nothing listens on B.
  ASSERT_FALSE(HasFailure());
  FailoverLog moves;
  Client client(moves.Options({a(), b()}));
  v1::SubscribeRequest request;
  request.mutable_filter()->add_issuers("NOPE");
  absl::Status status =
      client.SubscribeResuming(request, [](const v1::FeedEvent&) { return true; }, {}, {.timeout = kWait});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  v1::PublishRequest bad = OneFact(2041, 1);
  bad.mutable_items(0)->mutable_fact()->mutable_key()->set_issuer("");
  absl::StatusOr<v1::PublishResponse> refused = client.PublishWithRetry(bad, {}, {.timeout = kWait});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_EQ(client.address(), a());
  EXPECT_TRUE(moves.moves().empty());
}

TEST_F(FailoverClientTest, CliSkipsADeadServer) {
  b_ = Start(b());  // Nothing listens on A.
  ASSERT_FALSE(HasFailure());
  const uint64_t head = Head(b());
  const std::string out = data_dir_.string() + ".out";
  const std::string err = data_dir_.string() + ".err";
  const std::string servers = a() + "," + b();

  pid_t cli = Spawn({KESSAN_CLI_PATH, "subscribe", "--server", servers, "--from", absl::StrCat(head - 2),
                     "--limit", "2", "--timeout", "30s"},
                    out, err);
  ASSERT_GT(cli, 0);
  int status = WaitExit(cli, kWait);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\nstderr:\n"
                                                             << ReadFile(err);
  std::vector<uint64_t> sequences;
  for (absl::string_view line : absl::StrSplit(ReadFile(out), '\n', absl::SkipEmpty())) {
    v1::FeedEvent event;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &event).ok()) << line;
    if (event.sequence() > 0) sequences.push_back(event.sequence());
  }
  EXPECT_EQ(sequences, (std::vector<uint64_t>{head - 1, head}));
  const std::string notes = ReadFile(err);
  EXPECT_TRUE(absl::StrContains(notes, absl::StrCat("kessan: server ", a(), " failed (UNAVAILABLE")))
      << notes;
  EXPECT_TRUE(absl::StrContains(notes, absl::StrCat("switching to ", b()))) << notes;

  std::filesystem::remove(out);
  cli = Spawn({KESSAN_CLI_PATH, "snapshot", "--server", servers, "--jsonl", "--timeout", "30s"}, out, err);
  ASSERT_GT(cli, 0);
  status = WaitExit(cli, kWait);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\nstderr:\n"
                                                             << ReadFile(err);
  EXPECT_FALSE(ReadFile(out).empty());

  // An empty server in the list is a usage error (exit 2).
  cli = Spawn({KESSAN_CLI_PATH, "snapshot", "--server", a() + ",,"}, out, err);
  ASSERT_GT(cli, 0);
  status = WaitExit(cli, kWait);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << "status " << status;
  EXPECT_TRUE(absl::StrContains(ReadFile(err), "empty server")) << ReadFile(err);
  // Scenario commands take one server.
  cli = Spawn({KESSAN_CLI_PATH, "scenarios", "--server", servers}, out, err);
  ASSERT_GT(cli, 0);
  status = WaitExit(cli, kWait);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << "status " << status;
  EXPECT_TRUE(absl::StrContains(ReadFile(err), "scenario commands take one --server")) << ReadFile(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
}

}  // namespace
}  // namespace kessan
