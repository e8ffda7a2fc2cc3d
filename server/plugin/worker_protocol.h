// The wire protocol between kessand's plugin host and kessan-plugin-worker.
//
// One AF_UNIX stream socket (fd 3 in the worker). Every message is a frame:
// a 4-byte little-endian length, then that many bytes.
//
//   host -> worker  request:  u8 op, u32 cpu_seconds, payload
//   worker -> host  reply:    i32 status, u32 message length, message, payload
//
// The payloads are the serialized kessan.v1 messages of the plugin ABI
// (PluginDescribeRequest/Response, PluginRunRequest/Response), passed through
// untouched: the worker never parses them, so it links no kessan.v1 code of
// its own and the plugin's copy of the generated messages is the only one in
// the worker process. Right after start the worker sends one unsolicited
// reply, the handshake: OK with payload "<major>.<minor>" (the plugin's ABI
// version), or FAILED_PRECONDITION / NOT_FOUND / INTERNAL and a message
// naming what went wrong, after which it exits.
//
// A worker that makes a system call outside its sandbox's allowlist sends
// one reply of status kStatusForbiddenSyscall whose message is the call's
// name, then exits with kExitForbiddenSyscall (see worker_main.cc).
//
// Header-only; used by both sides.
#pragma once

#include <cstdint>
#include <string>

namespace kessan::plugin_wire {

enum Op : uint8_t { kDescribe = 1, kRun = 2 };

// The worker exits with this code when an allocation fails under its
// memory limit.
inline constexpr int kExitOutOfMemory = 87;
// The worker exits with this code after a forbidden system call.
inline constexpr int kExitForbiddenSyscall = 88;
// The status of the reply sent for a forbidden system call: not a
// google.rpc.Code, so no plugin returns it by mistake.
inline constexpr int32_t kStatusForbiddenSyscall = -2;
// Frames above this size are refused by both sides.
inline constexpr uint32_t kMaxFrameBytes = 64u << 20;
// The worker's end of the socket.
inline constexpr int kWorkerFd = 3;

inline void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

inline std::string EncodeRequest(Op op, uint32_t cpu_seconds, const std::string& payload) {
  std::string body;
  body.push_back(static_cast<char>(op));
  PutU32(&body, cpu_seconds);
  body += payload;
  std::string frame;
  PutU32(&frame, static_cast<uint32_t>(body.size()));
  return frame + body;
}

inline std::string EncodeReply(int32_t status, const std::string& message, const std::string& payload) {
  std::string body;
  PutU32(&body, static_cast<uint32_t>(status));
  PutU32(&body, static_cast<uint32_t>(message.size()));
  body += message;
  body += payload;
  std::string frame;
  PutU32(&frame, static_cast<uint32_t>(body.size()));
  return frame + body;
}

// A request body (the frame without its length), decoded in place.
struct RequestView {
  uint8_t op = 0;
  uint32_t cpu_seconds = 0;
  const char* payload = nullptr;  // points into the body
  size_t payload_size = 0;
};

// Decodes a request body. False if malformed (shorter than op + budget).
inline bool DecodeRequest(const std::string& body, RequestView* request) {
  if (body.size() < 5) return false;
  request->op = static_cast<uint8_t>(body[0]);
  request->cpu_seconds = GetU32(body.data() + 1);
  request->payload = body.data() + 5;
  request->payload_size = body.size() - 5;
  return true;
}

struct Reply {
  int32_t status = 0;
  std::string message;
  std::string payload;
};

// Decodes a reply body (the frame without its length). False if malformed.
inline bool DecodeReply(const std::string& body, Reply* reply) {
  if (body.size() < 8) return false;
  reply->status = static_cast<int32_t>(GetU32(body.data()));
  uint32_t n = GetU32(body.data() + 4);
  if (n > body.size() - 8) return false;
  reply->message = body.substr(8, n);
  reply->payload = body.substr(8 + n);
  return true;
}

}  // namespace kessan::plugin_wire
