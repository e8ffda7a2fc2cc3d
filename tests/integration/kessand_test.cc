// Tests of the kessand binary as a process: its command line, and the gRPC
// services it serves beside Kessan's own (health, reflection), as a client
// such as `buf curl` sees them.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/wire_format_lite.h"
#include "kessand_process.h"

namespace kessan {
namespace {

std::chrono::system_clock::time_point Deadline() {
  return absl::ToChronoTime(absl::Now() + absl::Seconds(30));
}

std::filesystem::path TestPath(const std::string& what) {
  return std::filesystem::path(testing::TempDir()) /
         absl::StrCat("kessand_test_", getpid(), "_",
                      testing::UnitTest::GetInstance()->current_test_info()->name(), what);
}

struct Exit {
  int status = -1;  // waitpid's
  std::string out;
};

// Runs kessand with `args` to its exit (killed after 30 s); its stdout and
// stderr together.
Exit RunKessand(const std::vector<std::string>& args) {
  const std::string out = TestPath(".out").string();
  std::filesystem::remove(out);
  std::vector<std::string> argv{KESSAND_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  Exit exit;
  const pid_t pid = Spawn(argv, out, out);
  if (pid < 0) return exit;
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (waitpid(pid, &exit.status, WNOHANG) == 0) {
    if (absl::Now() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &exit.status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  exit.out = ReadFile(out);
  std::filesystem::remove(out);
  return exit;
}

// --help lists kessand's own flags with their help, and exits 0.
TEST(KessandHelpTest, HelpListsTheFlags) {
  for (const char* help : {"--help", "--helpshort"}) {
    Exit run = RunKessand({help});
    ASSERT_TRUE(WIFEXITED(run.status)) << help << ": " << run.out;
    EXPECT_EQ(WEXITSTATUS(run.status), 0) << help << ": " << run.out;
    EXPECT_EQ(run.out.find("No flags matched"), std::string::npos) << help << ": " << run.out;
    for (const char* flag : {"--listen", "--data_dir", "--seed", "--auth_tokens", "--plugin_dir"}) {
      EXPECT_NE(run.out.find(flag), std::string::npos) << help << " lacks " << flag << ": " << run.out;
    }
    EXPECT_NE(run.out.find("host:port to serve on"), std::string::npos) << help << ": " << run.out;
    EXPECT_NE(run.out.find("kessand --listen HOST:PORT"), std::string::npos) << help << ": " << run.out;
  }
}

// A kessand on 127.0.0.1 with an empty journal and no plugins.
class KessandTest : public testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = TestPath("_data");
    std::filesystem::remove_all(data_dir_);
    port_ = PickFreePort();
    ASSERT_NE(port_, 0);
    process_ = std::make_unique<KessandProcess>(
        KESSAND_BINARY,
        std::vector<std::string>{absl::StrCat("--listen=127.0.0.1:", port_),
                                 "--data_dir=" + data_dir_.string(), "--plugin_dir=none"},
        TestPath(".log").string());
    ASSERT_TRUE(process_->Start(absl::StrCat("127.0.0.1:", port_))) << ReadFile(process_->log());
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    process_.reset();
    std::filesystem::remove_all(data_dir_);
    std::filesystem::remove(TestPath(".log"));
  }

  // grpc.health.v1.Health/Check for `service`: the call's status, and the
  // response's serving status (HealthCheckResponse field 1: 1 SERVING, 2
  // NOT_SERVING), encoded here: the test links no health.proto of its own.
  grpc::Status Check(const std::string& service, uint64_t* serving_status) {
    std::string request;
    request.push_back('\x0a');  // field 1, length-delimited
    request.push_back(static_cast<char>(service.size()));
    request += service;
    grpc::GenericStub generic(channel_);
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    grpc::CompletionQueue cq;
    grpc::Slice slice(request);
    grpc::ByteBuffer out(&slice, 1), in;
    auto call = generic.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", out, &cq);
    call->StartCall();
    grpc::Status status;
    call->Finish(&in, &status, reinterpret_cast<void*>(1));
    void* tag;
    bool ok;
    EXPECT_TRUE(cq.Next(&tag, &ok));
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    *serving_status = 0;
    std::vector<grpc::Slice> slices;
    if (status.ok() && in.Dump(&slices).ok()) {
      std::string bytes;
      for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      google::protobuf::UnknownFieldSet fields;
      EXPECT_TRUE(fields.ParseFromString(bytes));
      for (int i = 0; i < fields.field_count(); ++i) {
        if (fields.field(i).number() == 1) *serving_status = fields.field(i).varint();
      }
    }
    return status;
  }

  std::filesystem::path data_dir_;
  int port_ = 0;
  std::unique_ptr<KessandProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
};

// Health answers for the server and for each of its services by name.
TEST_F(KessandTest, HealthAnswersForEachServiceByName) {
  for (const char* service : {"", "kessan.v1.FeedService", "kessan.v1.ScenarioService"}) {
    uint64_t serving = 0;
    grpc::Status status = Check(service, &serving);
    ASSERT_TRUE(status.ok()) << "'" << service << "': " << status.error_message();
    EXPECT_EQ(serving, 1u) << "'" << service << "' is not SERVING";
  }
  uint64_t serving = 0;
  EXPECT_EQ(Check("kessan.v1.NoSuchService", &serving).error_code(), grpc::StatusCode::NOT_FOUND);
}

// The length-delimited values of field `number` in message bytes `bytes`.
std::vector<std::string> Fields(const std::string& bytes, int number) {
  google::protobuf::UnknownFieldSet fields;
  EXPECT_TRUE(fields.ParseFromString(bytes));
  std::vector<std::string> out;
  for (int i = 0; i < fields.field_count(); ++i) {
    if (fields.field(i).number() == number &&
        fields.field(i).type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      out.push_back(fields.field(i).length_delimited());
    }
  }
  return out;
}

// A client of reflection v1alpha (what `buf curl --list-methods` and grpcurl
// use): one ServerReflectionInfo stream; messages encoded and decoded here,
// by field number (reflection.proto), as the test has no reflection stubs.
class ReflectionClient {
 public:
  // ServerReflectionRequest fields.
  static constexpr int kFileContainingSymbol = 4;
  static constexpr int kListServices = 7;
  // ServerReflectionResponse fields.
  static constexpr int kFileDescriptorResponse = 4;  // repeated bytes file_descriptor_proto = 1
  static constexpr int kListServicesResponse = 6;    // repeated ServiceResponse service = 1 (name = 1)
  static constexpr int kErrorResponse = 7;

  explicit ReflectionClient(std::shared_ptr<grpc::Channel> channel) : generic_(std::move(channel)) {
    context_.set_deadline(Deadline());
    call_ = generic_.PrepareCall(&context_, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                 &cq_);
    call_->StartCall(this);
    ok_ = Next();
  }
  ~ReflectionClient() {
    context_.TryCancel();
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }
  bool ready() const { return ok_; }

  // Sends a request whose string field `field` is `value`; the response's
  // bytes, or nullopt if the stream failed.
  std::optional<std::string> Ask(int field, const std::string& value) {
    std::string request;
    google::protobuf::io::StringOutputStream stream(&request);
    {
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.WriteTag(google::protobuf::internal::WireFormatLite::MakeTag(
          field, google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
      coded.WriteVarint32(static_cast<uint32_t>(value.size()));
      coded.WriteString(value);
    }
    grpc::Slice slice(request);
    grpc::ByteBuffer out(&slice, 1), in;
    call_->Write(out, this);
    if (!Next()) return std::nullopt;
    call_->Read(&in, this);
    if (!Next()) return std::nullopt;
    std::vector<grpc::Slice> slices;
    if (!in.Dump(&slices).ok()) return std::nullopt;
    std::string received;
    for (const grpc::Slice& s : slices) received.append(reinterpret_cast<const char*>(s.begin()), s.size());
    return received;
  }

 private:
  bool Next() {
    void* tag = nullptr;
    bool ok = false;
    return cq_.Next(&tag, &ok) && ok;
  }

  grpc::GenericStub generic_;
  grpc::ClientContext context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool ok_ = false;
};

// Every service reflection lists can be described, gRPC's health service
// included: `buf curl --list-methods` needs each one's descriptor.
TEST_F(KessandTest, ReflectionDescribesEveryServiceItLists) {
  ReflectionClient reflection(channel_);
  ASSERT_TRUE(reflection.ready());
  std::optional<std::string> listed = reflection.Ask(ReflectionClient::kListServices, "*");
  ASSERT_TRUE(listed.has_value());
  std::vector<std::string> lists = Fields(*listed, ReflectionClient::kListServicesResponse);
  ASSERT_EQ(lists.size(), 1u);
  std::vector<std::string> services;
  for (const std::string& service : Fields(lists[0], 1)) {
    std::vector<std::string> name = Fields(service, 1);
    ASSERT_EQ(name.size(), 1u);
    services.push_back(name[0]);
  }
  for (const char* expected :
       {"grpc.health.v1.Health", "kessan.v1.FeedService", "kessan.v1.ScenarioService"}) {
    EXPECT_NE(std::find(services.begin(), services.end(), expected), services.end())
        << expected << " not listed";
  }

  for (const std::string& name : services) {
    std::optional<std::string> answer = reflection.Ask(ReflectionClient::kFileContainingSymbol, name);
    ASSERT_TRUE(answer.has_value()) << name;
    std::vector<std::string> errors = Fields(*answer, ReflectionClient::kErrorResponse);
    EXPECT_TRUE(errors.empty()) << name << ": " << (errors.empty() ? "" : errors[0]);  // "Symbol not found"
    std::vector<std::string> files = Fields(*answer, ReflectionClient::kFileDescriptorResponse);
    ASSERT_EQ(files.size(), 1u) << name;
    // The file that defines the service is among those sent (gRPC 1.51
    // also repeats the files of earlier answers on the stream).
    bool defined = false;
    for (const std::string& bytes : Fields(files[0], 1)) {
      google::protobuf::FileDescriptorProto file;
      ASSERT_TRUE(file.ParseFromString(bytes));
      for (const auto& service : file.service()) {
        defined = defined || absl::StrCat(file.package(), ".", service.name()) == name;
      }
    }
    EXPECT_TRUE(defined) << name << " is in none of the files sent";
  }
}

}  // namespace
}  // namespace kessan
