// A journal damaged on disk (issue 21 §4): a stored figure with one bit
// flipped, or the file's first page overwritten, is never served. gRPC
// callers get DATA_LOSS naming the event, kessand refuses to start naming
// the file and the event, and `kessand --verify` lists every damaged event.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_split.h"
#include "feed_test_util.h"
#include "google/protobuf/io/coded_stream.h"
#include "kessand_process.h"

namespace kessan {
namespace {

// Figures no other event holds.
constexpr int64_t kFigureA = 777'123'456'789;
constexpr int64_t kFigureB = 888'123'456'789;

// Flips the lowest bit of the last byte of money.units = `units` in the
// journal's rows, as damage on disk would (the row's checksums are left as
// they were), through a connection of its own. False if it is not found.
bool FlipBitOfFigure(const std::string& db_path, int64_t units) {
  uint8_t varint[10];
  const uint8_t* end =
      google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(static_cast<uint64_t>(units), varint);
  const std::string pattern = "\x10" + std::string(reinterpret_cast<const char*>(varint), end - varint);
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) return false;
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT first_sequence, events FROM commits", -1, &stmt, nullptr);
  int64_t row = -1;
  std::string events;
  while (row < 0 && sqlite3_step(stmt) == SQLITE_ROW) {
    events.assign(static_cast<const char*>(sqlite3_column_blob(stmt, 1)),
                  static_cast<size_t>(sqlite3_column_bytes(stmt, 1)));
    const size_t at = events.find(pattern);
    if (at == std::string::npos) continue;
    events[at + pattern.size() - 1] ^= 1;
    row = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  bool done = false;
  if (row >= 0) {
    sqlite3_prepare_v2(db, "UPDATE commits SET events = ? WHERE first_sequence = ?", -1, &stmt, nullptr);
    sqlite3_bind_blob(stmt, 1, events.data(), static_cast<int>(events.size()), SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, row);
    done = sqlite3_step(stmt) == SQLITE_DONE && sqlite3_changes(db) == 1;
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return done;
}

std::string Damaged(uint64_t sequence) {
  return absl::StrCat("event ", sequence, " is damaged (checksum mismatch)");
}

// ------------------------------------------------- a running server (gRPC)

class JournalDamageTest : public FeedServerTest {
 protected:
  uint64_t PublishFigure(int fiscal_year, int64_t units) {
    v1::PublishResponse response;
    grpc::Status status = Publish(Batch({RevenueItem(fiscal_year, units)}), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.sequences_size() == 1 ? response.sequences(0) : 0;
  }
  std::string JournalPath() const {
    return std::filesystem::absolute(data_dir_ / "kessan.db").lexically_normal().string();
  }
};

// The bit is flipped beneath the running server: its state and live
// events never see it, but every read of the journal through it does.
TEST_F(JournalDamageTest, AResumeThroughAFigureDamagedBeneathTheServerEndsWithDataLoss) {
  const uint64_t damaged = PublishFigure(2050, kFigureA);
  const uint64_t after = PublishFigure(2051, 1'000'000'000);
  ASSERT_EQ(after, damaged + 1);
  ASSERT_TRUE(FlipBitOfFigure(JournalPath(), kFigureA));
  const std::string message = absl::StrCat("journal ", JournalPath(), ": ", Damaged(damaged));

  for (const char* filter : {"", "issuers: 'IIJ'"}) {
    SCOPED_TRACE(absl::StrCat("filter: ", filter));
    v1::SubscribeRequest resume;
    resume.set_start(v1::START_MODE_FROM_SEQUENCE);
    resume.set_from_sequence(damaged - 1);
    *resume.mutable_filter() = ParseText<v1::Filter>(filter);
    StreamCollector stream(*stub_, resume);
    grpc::Status status = stream.WaitDone();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS) << status.error_message();
    EXPECT_EQ(status.error_message(), message);
    for (const v1::FeedEvent& e : stream.WaitFor(0)) EXPECT_LT(e.sequence(), damaged);
  }
  // From the damaged event on, nothing of it is needed.
  v1::SubscribeRequest past_it;
  past_it.set_start(v1::START_MODE_FROM_SEQUENCE);
  past_it.set_from_sequence(damaged);
  StreamCollector stream(*stub_, past_it);
  std::vector<v1::FeedEvent> events = stream.WaitFor(1);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].sequence(), after);

  // A past view reads it from the journal too.
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  v1::GetSnapshotRequest first_reported;
  first_reported.mutable_point_in_time()->set_view(v1::REVISION_VIEW_FIRST_REPORTED);
  v1::GetSnapshotResponse response;
  grpc::Status status = stub_->GetSnapshot(&context, first_reported, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS) << status.error_message();
  EXPECT_EQ(status.error_message(), message);

  // And a restart refuses.
  stub_.reset();
  server_.reset();
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.data_dir = data_dir_.string();
  options.plugin_dir = "none";
  absl::StatusOr<std::unique_ptr<Server>> restarted = Server::Start(options);
  EXPECT_EQ(restarted.status().code(), absl::StatusCode::kDataLoss) << restarted.status();
  EXPECT_EQ(restarted.status().message(), message);
}

// ---------------------------------------------------- the kessand binary

// The exit code and output of a kessand run to its end (at most 60 s).
struct Outcome {
  int exit_code = -1;  // -1: killed by a signal or still running at the limit
  std::string out, err;
};

class KessandJournalTest : public testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = std::filesystem::path(testing::TempDir()) /
                absl::StrCat("kessan_damage_", getpid(), "_",
                             testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(data_dir_);
    const int port = PickFreePort();
    ASSERT_NE(port, 0);
    address_ = absl::StrCat("127.0.0.1:", port);
    args_ = {"--listen",          address_,       "--data_dir", data_dir_.string(), "--seed",
             KESSAN_DATASET_FILE, "--plugin_dir", "none"};
  }
  void TearDown() override { std::filesystem::remove_all(data_dir_); }

  std::string JournalPath() const {
    return std::filesystem::absolute(data_dir_ / "kessan.db").lexically_normal().string();
  }

  // Starts kessand, publishes the two figures (their sequences), kills it.
  std::pair<uint64_t, uint64_t> SeedAndPublish() {
    KessandProcess kessand(KESSAND_BINARY, args_);
    EXPECT_TRUE(kessand.Start(address_));
    auto stub = v1::FeedService::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    uint64_t sequences[2] = {0, 0};
    int i = 0;
    for (int64_t figure : {kFigureA, kFigureB}) {
      grpc::ClientContext context;
      context.set_deadline(Deadline());
      v1::PublishResponse response;
      grpc::Status status = stub->Publish(&context, Batch({RevenueItem(2050 + i, figure)}), &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (response.sequences_size() == 1) sequences[i] = response.sequences(0);
      ++i;
    }
    return {sequences[0], sequences[1]};
  }

  // Runs kessand with `args` to its end.
  Outcome RunKessand(std::vector<std::string> args) {
    args.insert(args.begin(), KESSAND_BINARY);
    const std::string out = data_dir_.string() + ".out";
    const std::string err = data_dir_.string() + ".err";
    std::filesystem::remove(out);
    std::filesystem::remove(err);
    Outcome run;
    const pid_t pid = Spawn(args, out, err);
    EXPECT_GT(pid, 0);
    if (pid <= 0) return run;
    int status = 0;
    const absl::Time limit = absl::Now() + absl::Seconds(60);
    pid_t done = 0;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 && absl::Now() < limit) {
      absl::SleepFor(absl::Milliseconds(20));  // polling the child's end, bounded
    }
    if (done == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "kessand still running after 60 s";
    } else if (WIFEXITED(status)) {
      run.exit_code = WEXITSTATUS(status);
    }
    run.out = ReadFile(out);
    run.err = ReadFile(err);
    std::filesystem::remove(out);
    std::filesystem::remove(err);
    return run;
  }

  Outcome Verify() { return RunKessand({"--verify", "--data_dir", data_dir_.string()}); }

  std::filesystem::path data_dir_;
  std::string address_;
  std::vector<std::string> args_;
};

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

TEST_F(KessandJournalTest, DamagedEventsStopKessandAndVerifyListsThem) {
  const auto [a, b] = SeedAndPublish();
  ASSERT_GT(a, 0u);
  ASSERT_EQ(b, a + 1);
  {
    Outcome clean = Verify();
    EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
    EXPECT_EQ(Lines(clean.out).size(), 1u) << clean.out;
    EXPECT_NE(clean.out.find(absl::StrCat("verified ", b, " events in ")), std::string::npos) << clean.out;
    EXPECT_NE(clean.out.find(" rows: 0 damaged"), std::string::npos) << clean.out;
  }
  ASSERT_TRUE(FlipBitOfFigure(JournalPath(), kFigureA));
  ASSERT_TRUE(FlipBitOfFigure(JournalPath(), kFigureB));

  Outcome start = RunKessand(args_);
  EXPECT_EQ(start.exit_code, 1) << start.out << start.err;
  const std::string said = start.out + start.err;
  EXPECT_NE(said.find(absl::StrCat("DATA_LOSS: journal ", JournalPath(), ": ", Damaged(a))),
            std::string::npos)
      << said;
  EXPECT_NE(said.find(absl::StrCat("`kessand --verify --data_dir ", data_dir_.string(), "`")),
            std::string::npos)
      << said;
  EXPECT_EQ(said.find("listening"), std::string::npos) << said;

  Outcome verify = Verify();
  EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
  const std::vector<std::string> lines = Lines(verify.out);
  ASSERT_EQ(lines.size(), 3u) << verify.out;
  EXPECT_EQ(lines[0], Damaged(a));
  EXPECT_EQ(lines[1], Damaged(b));
  EXPECT_EQ(lines[2].substr(0, lines[2].find(" events")), absl::StrCat("verified ", b));
  EXPECT_NE(lines[2].find(" rows: 2 damaged"), std::string::npos) << lines[2];
}

TEST_F(KessandJournalTest, AnOverwrittenFirstPageStopsKessandNamingTheFile) {
  SeedAndPublish();
  {
    // The WAL copied in (a kessand stopped by kill -9 leaves it), so the
    // damage is in the file kessand reads first.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(JournalPath().c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  const std::string damaged = absl::StrCat("journal ", JournalPath(), " is damaged: ");
  {
    std::fstream file(JournalPath(), std::ios::in | std::ios::out | std::ios::binary);
    const std::string zeros(4096, '\0');
    file.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  Outcome start = RunKessand(args_);
  EXPECT_EQ(start.exit_code, 1) << start.out << start.err;
  EXPECT_NE((start.out + start.err).find(damaged + "its header is zeros (overwritten?)"), std::string::npos)
      << start.out << start.err;
  Outcome verify = Verify();
  EXPECT_EQ(verify.exit_code, 2) << verify.out << verify.err;
  EXPECT_NE(verify.err.find(damaged + "its header is zeros (overwritten?)"), std::string::npos) << verify.err;

  // Cut within the header.
  std::filesystem::resize_file(JournalPath(), 60);
  start = RunKessand(args_);
  EXPECT_EQ(start.exit_code, 1);
  EXPECT_NE((start.out + start.err).find(damaged + "it is 60 bytes"), std::string::npos)
      << start.out << start.err;
  EXPECT_EQ(std::filesystem::file_size(JournalPath()), 60u) << "kessand changed the file";
}

// kessand killed, then its WAL cut (the last commit lost): the journal ends
// below what was acknowledged. kessand refuses to start; with
// --accept_journal_loss it goes on as a new incarnation, and a subscriber
// resuming with the old one resyncs instead of getting new events under
// numbers it has seen.
TEST_F(KessandJournalTest, ALostWalTailStopsKessandUntilTheLossIsAccepted) {
  std::string incarnation;
  uint64_t a = 0, b = 0;
  {
    KessandProcess kessand(KESSAND_BINARY, args_);
    ASSERT_TRUE(kessand.Start(address_));
    auto stub = v1::FeedService::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    for (int64_t figure : {kFigureA, kFigureB}) {
      grpc::ClientContext context;
      context.set_deadline(Deadline());
      v1::PublishResponse response;
      ASSERT_TRUE(stub->Publish(&context, Batch({RevenueItem(2050, figure)}), &response).ok());
      ASSERT_EQ(response.sequences_size(), 1);
      (a == 0 ? a : b) = response.sequences(0);
    }
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::GetSnapshotResponse snapshot;
    ASSERT_TRUE(stub->GetSnapshot(&context, v1::GetSnapshotRequest(), &snapshot).ok());
    incarnation = snapshot.incarnation();
    ASSERT_EQ(snapshot.sequence(), b);
  }  // SIGKILL: the WAL stays
  ASSERT_EQ(b, a + 1);
  const std::string wal = JournalPath() + "-wal";
  ASSERT_TRUE(std::filesystem::exists(wal));
  const uintmax_t wal_size = std::filesystem::file_size(wal);
  ASSERT_GT(wal_size, 0u);
  // One byte off the last frame: SQLite's recovery drops that commit.
  std::filesystem::resize_file(wal, wal_size - 1);

  Outcome refused = RunKessand(args_);
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  const std::string said = refused.out + refused.err;
  EXPECT_NE(said.find(absl::StrCat("ends at sequence ", a, " but sequence ", b, " was acknowledged")),
            std::string::npos)
      << said;
  EXPECT_NE(said.find("--accept_journal_loss"), std::string::npos) << said;
  EXPECT_EQ(said.find("listening"), std::string::npos) << said;

  std::vector<std::string> accepting = args_;
  accepting.push_back("--accept_journal_loss");
  KessandProcess kessand(KESSAND_BINARY, accepting);
  ASSERT_TRUE(kessand.Start(address_));
  auto stub = v1::FeedService::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::GetSnapshotResponse snapshot;
    ASSERT_TRUE(stub->GetSnapshot(&context, v1::GetSnapshotRequest(), &snapshot).ok());
    EXPECT_EQ(snapshot.sequence(), a);
    EXPECT_NE(snapshot.incarnation(), incarnation);
    EXPECT_FALSE(snapshot.incarnation().empty());
  }
  {
    // Sequence b again, for another event.
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::PublishResponse response;
    ASSERT_TRUE(stub->Publish(&context, Batch({RevenueItem(2051, kFigureB)}), &response).ok());
    ASSERT_EQ(response.sequences_size(), 1);
    EXPECT_EQ(response.sequences(0), b);
  }
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  v1::SubscribeRequest resume;
  resume.set_start(v1::START_MODE_FROM_SEQUENCE);
  resume.set_from_sequence(a);
  resume.set_incarnation(incarnation);
  auto stream = stub->Subscribe(&context, resume);
  v1::SubscribeResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_GT(response.events_size(), 0);
  ASSERT_TRUE(response.events(0).has_resync()) << response.events(0).ShortDebugString();
  EXPECT_EQ(response.events(0).resync().requested_sequence(), a);
  context.TryCancel();
}

}  // namespace
}  // namespace kessan
