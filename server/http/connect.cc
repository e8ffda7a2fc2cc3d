#include "http/connect.h"

#include <google/protobuf/util/json_util.h>

#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace kessan::connect {
namespace {

struct CodeInfo {
  absl::StatusCode code;
  absl::string_view name;
  int http;
};

// Connect's codes and the HTTP status of each (protocol spec, "Error Codes").
constexpr std::array<CodeInfo, 16> kCodes = {{
    {absl::StatusCode::kCancelled, "canceled", 499},
    {absl::StatusCode::kUnknown, "unknown", 500},
    {absl::StatusCode::kInvalidArgument, "invalid_argument", 400},
    {absl::StatusCode::kDeadlineExceeded, "deadline_exceeded", 504},
    {absl::StatusCode::kNotFound, "not_found", 404},
    {absl::StatusCode::kAlreadyExists, "already_exists", 409},
    {absl::StatusCode::kPermissionDenied, "permission_denied", 403},
    {absl::StatusCode::kResourceExhausted, "resource_exhausted", 429},
    {absl::StatusCode::kFailedPrecondition, "failed_precondition", 400},
    {absl::StatusCode::kAborted, "aborted", 409},
    {absl::StatusCode::kOutOfRange, "out_of_range", 400},
    {absl::StatusCode::kUnimplemented, "unimplemented", 501},
    {absl::StatusCode::kInternal, "internal", 500},
    {absl::StatusCode::kUnavailable, "unavailable", 503},
    {absl::StatusCode::kDataLoss, "data_loss", 500},
    {absl::StatusCode::kUnauthenticated, "unauthenticated", 401},
}};

const CodeInfo& Info(absl::StatusCode code) {
  for (const CodeInfo& info : kCodes) {
    if (info.code == code) return info;
  }
  return kCodes[1];  // unknown
}

// A JSON string literal of `text` (RFC 8259 escapes; UTF-8 passes through).
std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace

void AppendEnvelope(uint8_t flags, absl::string_view payload, std::string* out) {
  const uint32_t n = static_cast<uint32_t>(payload.size());
  const char header[kEnvelopeHeader] = {static_cast<char>(flags), static_cast<char>(n >> 24),
                                        static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                                        static_cast<char>(n)};
  out->append(header, kEnvelopeHeader);
  out->append(payload.data(), payload.size());
}

absl::StatusOr<Envelope> ReadSingleEnvelope(absl::string_view body, size_t max_bytes) {
  if (body.size() < kEnvelopeHeader) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request body: ", body.size(), " bytes, not an enveloped message (5-byte header, then the message)"));
  }
  const auto* b = reinterpret_cast<const unsigned char*>(body.data());
  Envelope e;
  e.flags = b[0];
  const uint64_t n = (uint64_t{b[1]} << 24) | (uint64_t{b[2]} << 16) | (uint64_t{b[3]} << 8) | b[4];
  if (n > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("request message: ", n, " bytes, more than the limit of ", max_bytes));
  }
  if (body.size() - kEnvelopeHeader != n) {
    return absl::InvalidArgumentError(absl::StrCat("request body: the envelope announces ", n, " bytes but ",
                                                   body.size() - kEnvelopeHeader,
                                                   " follow (a server stream takes exactly one message)"));
  }
  if (e.flags & kFlagCompressed) {
    return absl::InvalidArgumentError(
        "request envelope: compressed flag set without a connect-content-encoding");
  }
  if (e.flags != 0) {
    return absl::InvalidArgumentError(absl::StrCat("request envelope: unknown flags 0x", absl::Hex(e.flags)));
  }
  e.payload = body.substr(kEnvelopeHeader);
  return e;
}

std::optional<ContentType> ParseContentType(absl::string_view header) {
  absl::string_view type = header.substr(0, header.find(';'));
  type = absl::StripAsciiWhitespace(type);
  const std::string lower = absl::AsciiStrToLower(type);
  if (lower == "application/json") return ContentType{Codec::kJson, false};
  if (lower == "application/proto") return ContentType{Codec::kProto, false};
  if (lower == "application/connect+json") return ContentType{Codec::kJson, true};
  if (lower == "application/connect+proto") return ContentType{Codec::kProto, true};
  return std::nullopt;
}

std::string ContentTypeName(ContentType type) {
  return absl::StrCat("application/", type.streaming ? "connect+" : "",
                      type.codec == Codec::kJson ? "json" : "proto");
}

absl::string_view CodeName(absl::StatusCode code) { return Info(code).name; }

std::optional<absl::StatusCode> CodeFromName(absl::string_view name) {
  for (const CodeInfo& info : kCodes) {
    if (info.name == name) return info.code;
  }
  return std::nullopt;
}

int HttpStatus(absl::StatusCode code) { return Info(code).http; }

std::string ErrorJson(const absl::Status& status) {
  std::string out = absl::StrCat("{\"code\":", JsonString(CodeName(status.code())));
  if (!status.message().empty()) absl::StrAppend(&out, ",\"message\":", JsonString(status.message()));
  out += "}";
  return out;
}

std::string EndStreamJson(const absl::Status& status) {
  if (status.ok()) return "{}";
  return absl::StrCat("{\"error\":", ErrorJson(status), "}");
}

absl::Status Parse(Codec codec, absl::string_view bytes, google::protobuf::Message* message) {
  const std::string& type = message->GetDescriptor()->full_name();
  if (codec == Codec::kProto) {
    if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return absl::InvalidArgumentError(absl::StrCat("request: bytes that are not a ", type));
    }
    return absl::OkStatus();
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(bytes.data(), bytes.size()), message, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request: not a ", type, " in JSON: ", std::string(parsed.message())));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Serialize(Codec codec, const google::protobuf::Message& message) {
  std::string out;
  if (codec == Codec::kProto) {
    if (!message.SerializeToString(&out)) return absl::InternalError("response: cannot encode");
    return out;
  }
  const auto printed = google::protobuf::util::MessageToJsonString(message, &out);
  if (!printed.ok()) {
    return absl::InternalError(
        absl::StrCat("response: cannot encode as JSON: ", std::string(printed.message())));
  }
  return out;
}

absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view header) {
  if (header.empty()) return absl::InfiniteDuration();
  uint64_t ms = 0;
  if (header.size() > 10 || !absl::ascii_isdigit(header[0]) || !absl::SimpleAtoi(header, &ms) || ms == 0) {
    return absl::InvalidArgumentError(absl::StrCat("connect-timeout-ms '", header,
                                                   "': a positive count of milliseconds, at most 10 digits"));
  }
  return absl::Milliseconds(ms);
}

}  // namespace kessan::connect
