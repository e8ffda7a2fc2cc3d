#include "http/connect.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kessan/v1/feed.pb.h"

namespace kessan::connect {
namespace {

using ::testing::HasSubstr;

TEST(ConnectTest, EnvelopeRoundTrip) {
  std::string body;
  AppendEnvelope(0, "hello", &body);
  ASSERT_EQ(body.size(), 10u);
  EXPECT_EQ(body.substr(0, 5), std::string("\0\0\0\0\5", 5));
  absl::StatusOr<Envelope> e = ReadSingleEnvelope(body, 100);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->flags, 0);
  EXPECT_EQ(e->payload, "hello");
}

TEST(ConnectTest, EnvelopeRefusals) {
  EXPECT_THAT(ReadSingleEnvelope("abc", 100).status().message(), HasSubstr("not an enveloped message"));
  std::string two;
  AppendEnvelope(0, "a", &two);
  AppendEnvelope(0, "b", &two);
  EXPECT_THAT(ReadSingleEnvelope(two, 100).status().message(), HasSubstr("exactly one message"));
  std::string big;
  AppendEnvelope(0, std::string(200, 'x'), &big);
  EXPECT_EQ(ReadSingleEnvelope(big, 100).status().code(), absl::StatusCode::kResourceExhausted);
  std::string compressed;
  AppendEnvelope(kFlagCompressed, "x", &compressed);
  EXPECT_THAT(ReadSingleEnvelope(compressed, 100).status().message(), HasSubstr("compressed"));
}

TEST(ConnectTest, ContentTypes) {
  EXPECT_EQ(ParseContentType("application/json; charset=utf-8")->codec, Codec::kJson);
  EXPECT_FALSE(ParseContentType("application/json")->streaming);
  EXPECT_EQ(ParseContentType("application/proto")->codec, Codec::kProto);
  EXPECT_TRUE(ParseContentType("Application/Connect+Proto")->streaming);
  EXPECT_EQ(ParseContentType("application/connect+json")->codec, Codec::kJson);
  EXPECT_FALSE(ParseContentType("text/plain").has_value());
  EXPECT_FALSE(ParseContentType("application/grpc").has_value());
  EXPECT_EQ(ContentTypeName({Codec::kProto, true}), "application/connect+proto");
  EXPECT_EQ(ContentTypeName({Codec::kJson, false}), "application/json");
}

TEST(ConnectTest, CodesAndHttpStatuses) {
  EXPECT_EQ(CodeName(absl::StatusCode::kCancelled), "canceled");
  EXPECT_EQ(CodeName(absl::StatusCode::kInvalidArgument), "invalid_argument");
  EXPECT_EQ(HttpStatus(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatus(absl::StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatus(absl::StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatus(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatus(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatus(absl::StatusCode::kFailedPrecondition), 400);
  EXPECT_EQ(HttpStatus(absl::StatusCode::kUnimplemented), 501);
  EXPECT_EQ(HttpStatus(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatus(absl::StatusCode::kDeadlineExceeded), 504);
  for (int c = 1; c <= 16; ++c) {
    const auto code = static_cast<absl::StatusCode>(c);
    EXPECT_EQ(CodeFromName(CodeName(code)), code) << c;
  }
  EXPECT_FALSE(CodeFromName("nope").has_value());
}

TEST(ConnectTest, ErrorJsonEscapes) {
  EXPECT_EQ(ErrorJson(absl::InvalidArgumentError("items[0].fact: \"x\"\n")),
            R"({"code":"invalid_argument","message":"items[0].fact: \"x\"\n"})");
  EXPECT_EQ(ErrorJson(absl::Status(absl::StatusCode::kInternal, std::string("a\x01", 2))),
            R"({"code":"internal","message":"a\u0001"})");
  EXPECT_EQ(EndStreamJson(absl::OkStatus()), "{}");
  EXPECT_EQ(EndStreamJson(absl::UnavailableError("bye")),
            R"({"error":{"code":"unavailable","message":"bye"}})");
}

TEST(ConnectTest, JsonParseNamesTheField) {
  v1::SubscribeRequest r;
  ASSERT_TRUE(Parse(Codec::kJson, R"({"filter":{"issuers":["IIJ"]},"fromSequence":"7"})", &r).ok());
  EXPECT_EQ(r.filter().issuers(0), "IIJ");
  EXPECT_EQ(r.from_sequence(), 7u);
  ASSERT_TRUE(Parse(Codec::kJson, R"({"from_sequence":8,"start":"START_MODE_FROM_SEQUENCE"})", &r).ok());
  EXPECT_EQ(r.from_sequence(), 8u);
  absl::Status unknown = Parse(Codec::kJson, R"({"filter":{"issuer":["IIJ"]}})", &r);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.message()), HasSubstr("issuer: Cannot find field"));
  EXPECT_THAT(std::string(unknown.message()), HasSubstr("kessan.v1.SubscribeRequest"));
  absl::Status bad = Parse(Codec::kJson, "{oops", &r);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  absl::Status type = Parse(Codec::kJson, R"({"fromSequence":"x"})", &r);
  EXPECT_THAT(std::string(type.message()), HasSubstr("from_sequence"));
  EXPECT_EQ(Parse(Codec::kProto, "\xff\xff\xff", &r).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConnectTest, SerializeUsesJsonNames) {
  v1::SubscribeRequest r;
  r.set_from_sequence(42);
  absl::StatusOr<std::string> json = Serialize(Codec::kJson, r);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, R"({"fromSequence":"42"})");
  absl::StatusOr<std::string> bytes = Serialize(Codec::kProto, r);
  ASSERT_TRUE(bytes.ok());
  v1::SubscribeRequest back;
  ASSERT_TRUE(back.ParseFromString(*bytes));
  EXPECT_EQ(back.from_sequence(), 42u);
}

TEST(ConnectTest, Timeouts) {
  EXPECT_EQ(*ParseTimeout(""), absl::InfiniteDuration());
  EXPECT_EQ(*ParseTimeout("1500"), absl::Milliseconds(1500));
  EXPECT_FALSE(ParseTimeout("0").ok());
  EXPECT_FALSE(ParseTimeout("-5").ok());
  EXPECT_FALSE(ParseTimeout("12345678901").ok());
  EXPECT_FALSE(ParseTimeout("1s").ok());
}

}  // namespace
}  // namespace kessan::connect
