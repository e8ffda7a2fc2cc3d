// HttpServer: one HTTP/1.1 port speaking the Connect protocol
// (connectrpc.com/docs/protocol) for a table of unary and server-streaming
// procedures, plus GET /metrics and static files. No gRPC.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace kessan::http {

// Who calls, as the HTTP connection saw it.
struct HttpCall {
  std::string authorization;  // the Authorization header; empty: none
  std::string peer;           // "ipv4:127.0.0.1:41234" or "ipv6:[::1]:41234"
  // A unary request in the binary codec: its bytes, as the request was
  // parsed from them (valid during the call); empty for JSON.
  absl::string_view wire;
};

// MessageStream: the responses of one server-streaming call, pulled by the
// event loop. Start and Next run on the loop and must not block; `wake` may
// be called from any thread, at any time until the stream is destroyed, when
// Next may have more or the stream may have finished. Destroying the stream
// ends the call's work (the client went away, or the stream ended).
class MessageStream {
 public:
  virtual ~MessageStream() = default;
  virtual void Start(std::function<void()> wake) = 0;
  // Appends the binary encoding of the next response to `*out`; false when
  // none is ready now.
  virtual bool Next(std::string* out) = 0;
  // When Next has nothing: the final status, or nullopt while more may come.
  virtual std::optional<absl::Status> Finished() = 0;
};

// A procedure, "/package.Service/Method". Exactly one of unary and stream.
// Both run on a worker thread (they may block: a Publish waits for fsync);
// `request` is parsed already. `admit`, when set, runs first: a caller it
// refuses gets its error, not the request's parse error.
struct Procedure {
  std::function<absl::Status(const HttpCall&)> admit;
  const google::protobuf::Message* request_prototype = nullptr;
  const google::protobuf::Message* response_prototype = nullptr;
  std::function<absl::StatusOr<std::unique_ptr<google::protobuf::Message>>(
      const HttpCall&, google::protobuf::Message& request)>
      unary;
  std::function<absl::StatusOr<std::unique_ptr<MessageStream>>(const HttpCall&,
                                                               google::protobuf::Message& request)>
      stream;
};

struct HttpServerOptions {
  // host:port; port 0 picks a free one.
  std::string listen = "127.0.0.1:0";
  std::map<std::string, Procedure> procedures;
  // Largest request message; a larger body is refused.
  size_t max_message_bytes = 4 << 20;
  // Threads that run the procedures' calls.
  int worker_threads = 4;
  // A stream takes more responses only once the bytes its connection has not
  // yet sent fall below this.
  size_t stream_buffer_bytes = 64 << 10;
  // GET /metrics answers with this text (Prometheus exposition). Null: 404.
  std::function<std::string()> metrics;
  // GET of any other path serves the file under this directory ("/" is
  // index.html). Empty: none.
  std::string static_dir;
  // Seconds a connection may idle between requests, and a stream may wait
  // for its client to take written bytes.
  int idle_timeout_seconds = 60;
};

// HttpServer is thread-safe. One event-loop thread serves every connection
// and drives every stream; the procedures' calls run on a small fixed pool.
class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions options);
  // Shutdown().
  ~HttpServer();

  int port() const;
  // Streams open now.
  size_t open_streams() const;

  // Ends open streams with `status`, refuses new calls, waits for calls
  // running on the workers and stops. Idempotent.
  void Shutdown(const absl::Status& status = absl::UnavailableError("the server is shutting down"));

  class Impl;

 private:
  explicit HttpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// The file under `root` that `url_path` ("/app/main.js") names, or nullopt
// when it would leave root (.., symlinks out of it), is not a regular file, or
// has a type not served (.html .js .css .png .svg .map .json .txt .ico).
// Sets `*content_type`.
std::optional<std::string> StaticFilePath(const std::string& root, const std::string& url_path,
                                          std::string* content_type);

}  // namespace kessan::http
