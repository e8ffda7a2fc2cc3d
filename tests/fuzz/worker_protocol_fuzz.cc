// libFuzzer target: the plugin worker's message decoding
// (plugin/worker_protocol.h). The input is a byte stream as either end of
// the socket reads it: frames of a 4-byte length and a body. Each body is
// decoded as the worker decodes a request and as the host decodes a reply;
// what decodes must encode back to the same bytes, and the payloads are
// parsed as the plugin ABI's messages, as the plugin and the host do.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kessan/v1/plugin.pb.h"
#include "plugin/worker_protocol.h"

namespace wire = kessan::plugin_wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string stream(reinterpret_cast<const char*>(data), size);
  size_t at = 0;
  while (stream.size() - at >= 4) {
    const uint32_t length = wire::GetU32(stream.data() + at);
    if (length > wire::kMaxFrameBytes || length > stream.size() - at - 4) break;
    const std::string frame = stream.substr(at, 4 + length);
    const std::string body = frame.substr(4);
    at += 4 + length;

    wire::RequestView request;
    if (wire::DecodeRequest(body, &request)) {
      const std::string payload(request.payload, request.payload_size);
      if (request.payload + request.payload_size != body.data() + body.size()) std::abort();
      if (wire::EncodeRequest(static_cast<wire::Op>(request.op), request.cpu_seconds, payload) != frame)
        std::abort();
      kessan::v1::PluginRunRequest run;
      (void)run.ParseFromString(payload);
      kessan::v1::PluginDescribeRequest describe;
      (void)describe.ParseFromString(payload);
    } else if (body.size() >= 5) {
      std::abort();
    }

    wire::Reply reply;
    if (wire::DecodeReply(body, &reply)) {
      if (wire::EncodeReply(reply.status, reply.message, reply.payload) != frame) std::abort();
      kessan::v1::PluginRunResponse run;
      (void)run.ParseFromString(reply.payload);
      kessan::v1::PluginDescribeResponse describe;
      (void)describe.ParseFromString(reply.payload);
    }
  }
  return 0;
}
