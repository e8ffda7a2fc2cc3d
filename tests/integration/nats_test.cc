// kessand --journal nats against a real nats-server: it seeds the stream,
// serves and journals publishes there, and a kessand whose data_dir (its
// cache) was lost rebuilds everything from the stream, retries included.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>

#include "feed_test_util.h"
#include "kessand_process.h"
#include "testing/nats_cluster.h"

namespace kessan {
namespace {

using ::kessan::test::NatsCluster;

class NatsKessandTest : public testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<NatsCluster>> nats = NatsCluster::Start(1);
    ASSERT_TRUE(nats.ok()) << nats.status();
    nats_ = *std::move(nats);
    data_dir_ = std::filesystem::path(nats_->dir()) / "kessan-data";
    const int port = PickFreePort();
    ASSERT_NE(port, 0);
    address_ = absl::StrCat("127.0.0.1:", port);
    args_ = {"--listen",      address_,     "--data_dir", data_dir_.string(),
             "--journal",     "nats",       "--nats_url", nats_->url(),
             "--nats_stream", "KESSAN_E2E", "--seed",     KESSAN_DATASET_FILE,
             "--plugin_dir",  "none"};
  }
  void TearDown() override {
    process_.reset();
    if (HasFailure() && nats_ != nullptr) {
      std::cerr << nats_->Logs() << "\n==== kessand\n" << ReadFile(log_);
    }
  }

  void StartKessand() {
    process_ = std::make_unique<KessandProcess>(KESSAND_BINARY, args_, log_);
    ASSERT_TRUE(process_->Start(address_)) << ReadFile(log_);
    stub_ = v1::FeedService::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  uint64_t Head() {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::GetSnapshotRequest request;
    v1::GetSnapshotResponse response;
    EXPECT_TRUE(stub_->GetSnapshot(&context, request, &response).ok());
    return response.sequence();
  }

  v1::PublishResponse Publish(const std::string& batch_key, int64_t units) {
    v1::PublishRequest request = Batch({RevenueItem(2010, units), RevenueItem(2011, units)});
    request.set_publisher_id("e2e");
    request.set_batch_key(batch_key);
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::PublishResponse response;
    grpc::Status status = stub_->Publish(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::unique_ptr<NatsCluster> nats_;
  std::filesystem::path data_dir_;
  std::string address_;
  std::string log_ =
      (std::filesystem::path(testing::TempDir()) / absl::StrCat("kessand_nats_", getpid(), ".log")).string();
  std::vector<std::string> args_;
  std::unique_ptr<KessandProcess> process_;
  std::unique_ptr<v1::FeedService::Stub> stub_;
};

TEST_F(NatsKessandTest, TheStreamHoldsTheJournalAndRebuildsALostCache) {
  StartKessand();
  const uint64_t seeded = Head();
  ASSERT_GT(seeded, 0u);
  v1::PublishResponse first = Publish("b1", 100'000'000);
  ASSERT_EQ(first.sequences_size(), 2);
  EXPECT_EQ(first.sequences(0), seeded + 1);

  // kill -9, and the cache gone with the data_dir.
  process_->Kill();
  std::filesystem::remove_all(data_dir_);
  StartKessand();
  EXPECT_EQ(Head(), seeded + 2);
  // The retry of b1 applies once: its key came back from the stream.
  v1::PublishResponse retry = Publish("b1", 100'000'000);
  EXPECT_TRUE(retry.duplicate());
  ASSERT_EQ(retry.sequences_size(), 2);
  EXPECT_EQ(retry.sequences(0), seeded + 1);
  v1::PublishResponse second = Publish("b2", 200'000'000);
  ASSERT_EQ(second.sequences_size(), 2);
  EXPECT_EQ(second.sequences(0), seeded + 3);

  // A restart with the cache: the same head, nothing seeded again.
  process_->Kill();
  StartKessand();
  EXPECT_EQ(Head(), seeded + 4);
}

TEST(KessandJournalFlagTest, AnUnknownJournalExitsWithTwo) {
  const pid_t pid = Spawn({KESSAND_BINARY, "--journal", "postgres", "--listen", "127.0.0.1:0"});
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

}  // namespace
}  // namespace kessan
