// The Connect protocol's wire pieces (connectrpc.com/docs/protocol), without
// any I/O: envelopes, error codes and their HTTP statuses, error and
// end-of-stream JSON, the codecs, and connect-timeout-ms.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"

namespace kessan::connect {

// Envelope flags of a streaming message.
inline constexpr uint8_t kFlagCompressed = 0x01;
inline constexpr uint8_t kFlagEndStream = 0x02;
inline constexpr size_t kEnvelopeHeader = 5;

// Appends a 5-byte envelope header (flags, big-endian length) and `payload`.
void AppendEnvelope(uint8_t flags, absl::string_view payload, std::string* out);

// One enveloped message read from the front of a buffer.
struct Envelope {
  uint8_t flags = 0;
  absl::string_view payload;
};
// Reads the one envelope a server-streaming request body must hold: an
// INVALID_ARGUMENT when it is cut short, has bytes after it, is compressed,
// or its payload exceeds `max_bytes` (RESOURCE_EXHAUSTED).
absl::StatusOr<Envelope> ReadSingleEnvelope(absl::string_view body, size_t max_bytes);

// The codec of a call: protobuf's binary or its proto3 JSON mapping.
enum class Codec { kProto, kJson };

// What a content-type asks for. `streaming` is true for application/connect+*.
struct ContentType {
  Codec codec = Codec::kJson;
  bool streaming = false;
};
// Parses "application/json", "application/proto", "application/connect+json",
// "application/connect+proto" (parameters such as charset=utf-8 ignored);
// nullopt for anything else.
std::optional<ContentType> ParseContentType(absl::string_view header);
// The content-type of a response in `type`'s codec and kind.
std::string ContentTypeName(ContentType type);

// Connect's name of a code ("invalid_argument", "canceled", ...).
absl::string_view CodeName(absl::StatusCode code);
// The code a Connect name stands for; nullopt when unknown.
std::optional<absl::StatusCode> CodeFromName(absl::string_view name);
// The HTTP status of a unary error of `code` (Connect's table: invalid_argument
// 400, unauthenticated 401, permission_denied 403, unimplemented 501, ...).
int HttpStatus(absl::StatusCode code);

// {"code":"...","message":"..."}: a unary error's body.
std::string ErrorJson(const absl::Status& status);
// The end-of-stream message's JSON: {} on OK, else {"error":{...}}.
std::string EndStreamJson(const absl::Status& status);

// Parses `bytes` into `message` in `codec`. JSON follows proto3's mapping
// (field names as in JSON or in the .proto) and refuses unknown fields. Errors
// are INVALID_ARGUMENT naming the message type and what was wrong.
absl::Status Parse(Codec codec, absl::string_view bytes, google::protobuf::Message* message);
// Encodes `message` in `codec` (JSON: proto3 JSON names, defaults omitted).
absl::StatusOr<std::string> Serialize(Codec codec, const google::protobuf::Message& message);

// The connect-timeout-ms header: at most 10 digits, a positive count of
// milliseconds. Empty: no timeout (InfiniteDuration).
absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view header);

}  // namespace kessan::connect
