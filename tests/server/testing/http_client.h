// A small blocking HTTP/1.1 client over a raw socket for the tests of the
// HTTP/Connect port: requests, Content-Length and chunked bodies, and the
// Connect envelopes of a streamed body, each read with a deadline.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kessan::test {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

struct ConnectEnvelope {
  uint8_t flags = 0;
  std::string payload;
};

class HttpConnection {
 public:
  // Connects to 127.0.0.1:port. `receive_buffer`, when not 0, sets SO_RCVBUF
  // first (a small one makes a client that stops reading stall sooner).
  static absl::StatusOr<std::unique_ptr<HttpConnection>> Open(int port, int receive_buffer = 0);
  ~HttpConnection();

  // Sends a request with Content-Length; `headers` as "Name: value" lines.
  absl::Status Send(const std::string& method, const std::string& path,
                    const std::map<std::string, std::string>& headers, const std::string& body);
  // Reads the status line and headers of the response.
  absl::StatusOr<HttpResponse> ReadHead(absl::Duration timeout = absl::Seconds(30));
  // Reads a whole response (head and body).
  absl::StatusOr<HttpResponse> ReadResponse(absl::Duration timeout = absl::Seconds(30));
  // After ReadHead: the next Connect envelope of the (chunked) body.
  absl::StatusOr<ConnectEnvelope> ReadEnvelope(absl::Duration timeout = absl::Seconds(30));
  // True once the server has closed the connection (waits up to timeout).
  bool AwaitClosed(absl::Duration timeout);

  int fd() const { return fd_; }

 private:
  explicit HttpConnection(int fd) : fd_(fd) {}
  // Reads more raw bytes; an error on timeout or end of stream.
  absl::Status Fill(absl::Time deadline);
  // Decodes chunks of raw_ into body_; true when the last chunk was seen.
  absl::Status DecodeChunks(absl::Time deadline, size_t want);

  int fd_;
  std::string raw_;   // bytes read, not yet consumed
  std::string body_;  // body bytes decoded, not yet consumed
  bool chunked_ = false;
  bool body_done_ = false;
  int64_t content_length_ = -1;
};

// One request on a fresh connection, its whole response.
absl::StatusOr<HttpResponse> HttpRequest(int port, const std::string& method, const std::string& path,
                                         const std::map<std::string, std::string>& headers,
                                         const std::string& body);

// The body of a server-streaming request: `message` in one envelope.
std::string Enveloped(const std::string& message);

}  // namespace kessan::test
