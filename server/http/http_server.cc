#include "http/http_server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "feed/job_pool.h"
#include "http/connect.h"

namespace kessan::http {
namespace {

using google::protobuf::Message;

// libevent's locking, so that other threads may activate the loop's events.
void UseThreads() {
  static std::once_flag once;
  std::call_once(once, [] { evthread_use_pthreads(); });
}

// host and port of "host:port" or "[v6]:port".
absl::Status SplitHostPort(const std::string& listen, std::string* host, uint16_t* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("http_listen '", listen, "': host:port"));
  }
  *host = listen.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']')
    *host = host->substr(1, host->size() - 2);
  uint32_t p = 0;
  if (host->empty() || !absl::SimpleAtoi(listen.substr(colon + 1), &p) || p > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("http_listen '", listen, "': host:port, port 0..65535"));
  }
  *port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

std::string Header(evhttp_request* req, const char* name) {
  const char* v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string Peer(evhttp_request* req) {
  evhttp_connection* conn = evhttp_request_get_connection(req);
  if (conn == nullptr) return "";
  char* address = nullptr;
  uint16_t port = 0;
  evhttp_connection_get_peer(conn, &address, &port);
  if (address == nullptr) return "";
  if (std::string(address).find(':') != std::string::npos) return absl::StrCat("ipv6:[", address, "]:", port);
  return absl::StrCat("ipv4:", address, ":", port);
}

// Replies `body` with `status` and `content_type` (evhttp frees a request
// whose client went away).
void Reply(evhttp_request* req, int status, const std::string& content_type, const std::string& body) {
  evkeyvalq* out = evhttp_request_get_output_headers(req);
  evhttp_add_header(out, "Content-Type", content_type.c_str());
  evbuffer* buf = evbuffer_new();
  evbuffer_add(buf, body.data(), body.size());
  evhttp_send_reply(req, status, nullptr, buf);
  evbuffer_free(buf);
}

void ReplyError(evhttp_request* req, const absl::Status& status, int http_status = 0) {
  Reply(req, http_status != 0 ? http_status : connect::HttpStatus(status.code()), "application/json",
        connect::ErrorJson(status));
}

// A body of one end-of-stream message: how a stream that never started ends.
void ReplyEndStream(evhttp_request* req, connect::ContentType type, const absl::Status& status) {
  std::string body;
  connect::AppendEnvelope(connect::kFlagEndStream, connect::EndStreamJson(status), &body);
  Reply(req, 200, connect::ContentTypeName(type), body);
}

}  // namespace

class HttpServer::Impl : public std::enable_shared_from_this<Impl> {
 public:
  explicit Impl(HttpServerOptions o) : options(std::move(o)) {}
  ~Impl();

  absl::Status Listen();
  void Post(std::function<void()> job);
  // Runs `job` on the loop and waits for it.
  void RunOnLoop(std::function<void()> job);
  void Shutdown(const absl::Status& status);

  const HttpServerOptions options;
  int port = 0;
  std::atomic<size_t> open_streams{0};

 private:
  // One call in progress (loop only).
  struct Call {
    ~Call() {
      if (timer != nullptr) event_free(timer);
    }
    uint64_t id = 0;
    evhttp_request* req = nullptr;
    const Procedure* procedure = nullptr;
    connect::ContentType type;
    event* timer = nullptr;
    Impl* impl = nullptr;
    // Streams only.
    std::unique_ptr<MessageStream> stream;
    evhttp_connection* conn = nullptr;
    bool writing = false;  // a chunk not yet all sent
  };
  struct WakeState {
    std::weak_ptr<Impl> impl;
    uint64_t id = 0;
    std::atomic<bool> pending{false};
  };

  static void OnRequest(evhttp_request* req, void* arg) { static_cast<Impl*>(arg)->Handle(req); }
  static void OnPosted(evutil_socket_t, short, void* arg);
  static void OnChunkWritten(evhttp_connection* conn, void* arg);
  static void OnClose(evhttp_connection* conn, void* arg);
  static void OnDeadline(evutil_socket_t, short, void* arg);

  void Handle(evhttp_request* req);
  void HandleGet(evhttp_request* req, const std::string& path);
  void HandleCall(evhttp_request* req, const std::string& path, const Procedure& procedure);
  Call* Find(uint64_t id);
  void FinishUnary(uint64_t id, int status, std::string content_type, std::string body);
  void StartStream(uint64_t id, absl::StatusOr<std::unique_ptr<MessageStream>> stream);
  void Pump(uint64_t id);
  // Sends the end-of-stream message and forgets the call.
  void EndStream(Call* call, const absl::Status& status);
  void Forget(uint64_t id);

  event_base* base_ = nullptr;
  evhttp* http_ = nullptr;
  event* posted_event_ = nullptr;
  std::thread loop_;
  std::unique_ptr<JobPool> workers_;

  absl::Mutex mu_;
  std::deque<std::function<void()>> posted_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;  // the loop runs no more jobs
  std::atomic<bool> shutting_down_{false};

  // Loop only.
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Call>> calls_;
  std::unordered_map<evhttp_connection*, uint64_t> streams_;
};

HttpServer::Impl::~Impl() {
  if (http_ != nullptr) evhttp_free(http_);
  if (posted_event_ != nullptr) event_free(posted_event_);
  if (base_ != nullptr) event_base_free(base_);
}

absl::Status HttpServer::Impl::Listen() {
  UseThreads();
  std::string host;
  uint16_t wanted = 0;
  if (absl::Status s = SplitHostPort(options.listen, &host, &wanted); !s.ok()) return s;
  base_ = event_base_new();
  http_ = base_ == nullptr ? nullptr : evhttp_new(base_);
  if (http_ == nullptr) return absl::InternalError("http: cannot create the event loop");
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
  evhttp_set_max_body_size(http_,
                           static_cast<ev_ssize_t>(options.max_message_bytes + connect::kEnvelopeHeader));
  evhttp_set_max_headers_size(http_, 64 << 10);
  evhttp_set_timeout(http_, options.idle_timeout_seconds);
  evhttp_set_gencb(http_, &Impl::OnRequest, this);
  evhttp_bound_socket* bound = evhttp_bind_socket_with_handle(http_, host.c_str(), wanted);
  if (bound == nullptr)
    return absl::UnavailableError(absl::StrCat("http: cannot listen on ", options.listen));
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return absl::InternalError("http: getsockname failed");
  }
  port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                          : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  posted_event_ = event_new(base_, -1, EV_PERSIST, &Impl::OnPosted, this);
  workers_ = std::make_unique<JobPool>(std::max(1, options.worker_threads));
  loop_ = std::thread([this] { event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY); });
  return absl::OkStatus();
}

void HttpServer::Impl::Post(std::function<void()> job) {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    posted_.push_back(std::move(job));
    if (posted_.size() > 1) return;  // already activated, not yet drained
  }
  event_active(posted_event_, EV_READ, 0);
}

void HttpServer::Impl::OnPosted(evutil_socket_t, short, void* arg) {
  auto* impl = static_cast<Impl*>(arg);
  std::deque<std::function<void()>> jobs;
  {
    absl::MutexLock lock(&impl->mu_);
    jobs.swap(impl->posted_);
  }
  for (auto& job : jobs) job();
}

void HttpServer::Impl::RunOnLoop(std::function<void()> job) {
  absl::Notification done;
  Post([&] {
    job();
    done.Notify();
  });
  done.WaitForNotification();
}

HttpServer::Impl::Call* HttpServer::Impl::Find(uint64_t id) {
  auto it = calls_.find(id);
  return it == calls_.end() ? nullptr : it->second.get();
}

void HttpServer::Impl::Forget(uint64_t id) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  std::unique_ptr<Call> call = std::move(it->second);
  calls_.erase(it);
  if (call->conn != nullptr) {
    streams_.erase(call->conn);
    --open_streams;
  }
}

void HttpServer::Impl::Handle(evhttp_request* req) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* raw_path = uri == nullptr ? nullptr : evhttp_uri_get_path(uri);
  const std::string path = raw_path == nullptr ? "/" : raw_path;
  // Read before the workers are touched: Shutdown sets it, then stops them.
  if (shutting_down_) return ReplyError(req, absl::UnavailableError("the server is shutting down"));
  const evhttp_cmd_type method = evhttp_request_get_command(req);
  if (method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD) return HandleGet(req, path);
  auto it = options.procedures.find(path);
  if (it == options.procedures.end()) {
    return ReplyError(req, absl::UnimplementedError(absl::StrCat("no procedure ", path)), 404);
  }
  HandleCall(req, path, it->second);
}

void HttpServer::Impl::HandleGet(evhttp_request* req, const std::string& path) {
  if (path == "/metrics" && options.metrics) {
    const uint64_t id = next_id_++;
    auto call = std::make_unique<Call>();
    call->id = id;
    call->req = req;
    calls_[id] = std::move(call);
    workers_->Post([this, id] {
      std::string text = options.metrics();
      Post([this, id, text = std::move(text)]() mutable {
        FinishUnary(id, 200, "text/plain; version=0.0.4; charset=utf-8", std::move(text));
      });
    });
    return;
  }
  std::string content_type;
  std::optional<std::string> file;
  char* decoded = evhttp_uridecode(path.c_str(), 0, nullptr);
  if (!options.static_dir.empty() && decoded != nullptr) {
    file = StaticFilePath(options.static_dir, decoded, &content_type);
  }
  free(decoded);
  if (!file) return Reply(req, 404, "text/plain; charset=utf-8", "not found\n");
  const int fd = open(file->c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0) {
    if (fd >= 0) close(fd);
    return Reply(req, 404, "text/plain; charset=utf-8", "not found\n");
  }
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", content_type.c_str());
  evbuffer* buf = evbuffer_new();
  evbuffer_add_file(buf, fd, 0, st.st_size);  // owns fd
  evhttp_send_reply(req, 200, "OK", buf);
  evbuffer_free(buf);
}

void HttpServer::Impl::HandleCall(evhttp_request* req, const std::string& path, const Procedure& procedure) {
  const bool is_stream = static_cast<bool>(procedure.stream);
  std::optional<connect::ContentType> type = connect::ParseContentType(Header(req, "Content-Type"));
  if (!type || type->streaming != is_stream) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Accept-Post",
                      is_stream ? "application/connect+json, application/connect+proto"
                                : "application/json, application/proto");
    return ReplyError(req,
                      absl::InvalidArgumentError(
                          absl::StrCat("content-type '", Header(req, "Content-Type"), "': ", path, " takes ",
                                       is_stream ? "application/connect+json or application/connect+proto"
                                                 : "application/json or application/proto")),
                      415);
  }
  auto refuse = [&](const absl::Status& status) {
    if (is_stream) return ReplyEndStream(req, *type, status);
    ReplyError(req, status);
  };
  if (std::string v = Header(req, "Connect-Protocol-Version"); !v.empty() && v != "1") {
    return refuse(absl::InvalidArgumentError(absl::StrCat("connect-protocol-version '", v, "': 1")));
  }
  const std::string encoding = Header(req, is_stream ? "Connect-Content-Encoding" : "Content-Encoding");
  if (!encoding.empty() && encoding != "identity") {
    evhttp_add_header(evhttp_request_get_output_headers(req),
                      is_stream ? "Connect-Accept-Encoding" : "Accept-Encoding", "identity");
    return refuse(absl::UnimplementedError(
        absl::StrCat("content encoding '", encoding, "': only identity (no compression)")));
  }
  absl::StatusOr<absl::Duration> timeout = connect::ParseTimeout(Header(req, "Connect-Timeout-Ms"));
  if (!timeout.ok()) return refuse(timeout.status());

  evbuffer* in = evhttp_request_get_input_buffer(req);
  std::string body(evbuffer_get_length(in), '\0');
  evbuffer_copyout(in, body.data(), body.size());
  if (is_stream) {
    absl::StatusOr<connect::Envelope> envelope = connect::ReadSingleEnvelope(body, options.max_message_bytes);
    if (!envelope.ok()) return refuse(envelope.status());
    body = std::string(envelope->payload);
  } else if (body.size() > options.max_message_bytes) {
    return refuse(absl::ResourceExhaustedError(absl::StrCat(
        "request message: ", body.size(), " bytes, more than the limit of ", options.max_message_bytes)));
  }

  const uint64_t id = next_id_++;
  auto call = std::make_unique<Call>();
  call->id = id;
  call->req = req;
  call->procedure = &procedure;
  call->type = *type;
  call->impl = this;
  if (*timeout != absl::InfiniteDuration()) {
    call->timer = evtimer_new(base_, &Impl::OnDeadline, call.get());
    const timeval tv = absl::ToTimeval(*timeout);
    evtimer_add(call->timer, &tv);
  }
  calls_[id] = std::move(call);

  HttpCall who{Header(req, "Authorization"), Peer(req)};
  workers_->Post([this, id, &procedure, type = *type, who = std::move(who), body = std::move(body)] {
    std::unique_ptr<Message> request(procedure.request_prototype->New());
    absl::Status parsed = procedure.admit ? procedure.admit(who) : absl::OkStatus();
    if (parsed.ok()) parsed = connect::Parse(type.codec, body, request.get());
    if (procedure.stream) {
      absl::StatusOr<std::unique_ptr<MessageStream>> stream =
          parsed.ok() ? procedure.stream(who, *request)
                      : absl::StatusOr<std::unique_ptr<MessageStream>>(parsed);
      Post([this, id, stream = std::make_shared<decltype(stream)>(std::move(stream))]() mutable {
        StartStream(id, std::move(*stream));
      });
      return;
    }
    HttpCall unary_call = who;
    if (type.codec == connect::Codec::kProto) unary_call.wire = body;
    absl::StatusOr<std::unique_ptr<Message>> response =
        parsed.ok() ? procedure.unary(unary_call, *request)
                    : absl::StatusOr<std::unique_ptr<Message>>(parsed);
    absl::StatusOr<std::string> bytes = response.ok() ? connect::Serialize(type.codec, **response)
                                                      : absl::StatusOr<std::string>(response.status());
    int status = 200;
    std::string content_type = connect::ContentTypeName(type);
    std::string out;
    if (bytes.ok()) {
      out = *std::move(bytes);
    } else {
      status = connect::HttpStatus(bytes.status().code());
      content_type = "application/json";
      out = connect::ErrorJson(bytes.status());
    }
    Post([this, id, status, content_type = std::move(content_type), out = std::move(out)]() mutable {
      FinishUnary(id, status, std::move(content_type), std::move(out));
    });
  });
}

void HttpServer::Impl::FinishUnary(uint64_t id, int status, std::string content_type, std::string body) {
  Call* call = Find(id);
  if (call == nullptr) return;  // answered already (deadline)
  Reply(call->req, status, content_type, body);
  Forget(id);
}

void HttpServer::Impl::OnDeadline(evutil_socket_t, short, void* arg) {
  auto* call = static_cast<Call*>(arg);
  Impl* impl = call->impl;
  const absl::Status late = absl::DeadlineExceededError("connect-timeout-ms elapsed");
  if (call->stream != nullptr) return impl->EndStream(call, late);
  if (call->procedure != nullptr && call->procedure->stream) {
    ReplyEndStream(call->req, call->type, late);
  } else {
    ReplyError(call->req, late);
  }
  impl->Forget(call->id);
}

void HttpServer::Impl::StartStream(uint64_t id, absl::StatusOr<std::unique_ptr<MessageStream>> stream) {
  Call* call = Find(id);
  if (call == nullptr) return;  // timed out while opening
  evhttp_request* req = call->req;
  evhttp_connection* conn = evhttp_request_get_connection(req);
  if (!stream.ok() || conn == nullptr || shutting_down_) {
    // A request whose client went away is freed by the reply.
    ReplyEndStream(req, call->type,
                   stream.ok() ? absl::UnavailableError("the server is shutting down") : stream.status());
    return Forget(id);
  }
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                    connect::ContentTypeName(call->type).c_str());
  evhttp_send_reply_start(req, 200, "OK");
  // A stream may be quiet for long: no read timeout; a client that takes
  // nothing of what is written for idle_timeout is cut off.
  const timeval write_timeout = {options.idle_timeout_seconds, 0};
  bufferevent_set_timeouts(evhttp_connection_get_bufferevent(conn), nullptr, &write_timeout);
  evhttp_connection_set_closecb(conn, &Impl::OnClose, this);
  call->conn = conn;
  streams_[conn] = id;
  ++open_streams;
  call->stream = *std::move(stream);
  auto wake = std::make_shared<WakeState>();
  wake->impl = weak_from_this();
  wake->id = id;
  call->stream->Start([wake] {
    if (wake->pending.exchange(true)) return;
    if (std::shared_ptr<Impl> impl = wake->impl.lock()) {
      Impl* raw = impl.get();
      raw->Post([raw, wake] {
        wake->pending = false;
        raw->Pump(wake->id);
      });
    }
  });
  Pump(id);
}

void HttpServer::Impl::Pump(uint64_t id) {
  Call* call = Find(id);
  if (call == nullptr || call->stream == nullptr || call->writing) return;
  std::string chunk;
  std::string message;
  std::unique_ptr<Message> decoded;
  while (chunk.size() < options.stream_buffer_bytes && call->stream->Next(&message)) {
    if (call->type.codec == connect::Codec::kJson) {
      if (decoded == nullptr) decoded.reset(call->procedure->response_prototype->New());
      decoded->Clear();
      absl::StatusOr<std::string> json = decoded->ParseFromString(message)
                                             ? connect::Serialize(connect::Codec::kJson, *decoded)
                                             : absl::InternalError("a response that does not parse");
      if (!json.ok()) return EndStream(call, json.status());
      connect::AppendEnvelope(0, *json, &chunk);
    } else {
      connect::AppendEnvelope(0, message, &chunk);
    }
    message.clear();
  }
  if (!chunk.empty()) {
    evbuffer* buf = evbuffer_new();
    evbuffer_add(buf, chunk.data(), chunk.size());
    call->writing = true;
    evhttp_send_reply_chunk_with_cb(call->req, buf, &Impl::OnChunkWritten, this);
    evbuffer_free(buf);
    return;
  }
  if (std::optional<absl::Status> done = call->stream->Finished()) EndStream(call, *done);
}

void HttpServer::Impl::OnChunkWritten(evhttp_connection* conn, void* arg) {
  auto* impl = static_cast<Impl*>(arg);
  auto it = impl->streams_.find(conn);
  if (it == impl->streams_.end()) return;
  const uint64_t id = it->second;
  impl->Find(id)->writing = false;
  impl->Pump(id);
}

void HttpServer::Impl::EndStream(Call* call, const absl::Status& status) {
  evhttp_request* req = call->req;
  evhttp_connection* conn = evhttp_request_get_connection(req);
  if (conn != nullptr) {
    evhttp_connection_set_closecb(conn, nullptr, nullptr);
    // The connection may serve another request: its timeouts again.
    const timeval idle = {options.idle_timeout_seconds, 0};
    bufferevent_set_timeouts(evhttp_connection_get_bufferevent(conn), &idle, &idle);
    std::string end;
    connect::AppendEnvelope(connect::kFlagEndStream, connect::EndStreamJson(status), &end);
    evbuffer* buf = evbuffer_new();
    evbuffer_add(buf, end.data(), end.size());
    evhttp_send_reply_chunk(req, buf);
    evbuffer_free(buf);
  }
  // Frees the request once sent, or now if its client went away.
  evhttp_send_reply_end(req);
  Forget(call->id);
}

void HttpServer::Impl::OnClose(evhttp_connection* conn, void* arg) {
  auto* impl = static_cast<Impl*>(arg);
  auto it = impl->streams_.find(conn);
  if (it == impl->streams_.end()) return;
  Call* call = impl->Find(it->second);
  // The client went away mid-stream: evhttp has detached the request, which
  // is ours to free.
  if (evhttp_request_get_connection(call->req) == nullptr) evhttp_send_reply_end(call->req);
  impl->Forget(call->id);
}

void HttpServer::Impl::Shutdown(const absl::Status& status) {
  if (shutting_down_.exchange(true)) return;
  RunOnLoop([&] {
    std::vector<Call*> streams;
    for (auto& [id, call] : calls_) {
      if (call->stream != nullptr) streams.push_back(call.get());
    }
    for (Call* call : streams) EndStream(call, status);
  });
  workers_.reset();  // waits for the calls running; their replies are posted
  RunOnLoop([&] {
    std::vector<uint64_t> ids;
    for (auto& [id, call] : calls_) ids.push_back(id);
    for (uint64_t id : ids) {
      Call* call = Find(id);
      if (call->stream != nullptr) {
        EndStream(call, status);
      } else if (call->procedure != nullptr && call->procedure->stream) {
        ReplyEndStream(call->req, call->type, status);
        Forget(id);
      } else {
        ReplyError(call->req, status);
        Forget(id);
      }
    }
    // Time to write what is queued, then stop.
    const timeval flush = {0, 200 * 1000};
    event_base_loopexit(base_, &flush);
  });
  loop_.join();
  std::deque<std::function<void()>> dropped;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    dropped.swap(posted_);
  }
}

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options) {
  for (const auto& [path, procedure] : options.procedures) {
    if (static_cast<bool>(procedure.unary) == static_cast<bool>(procedure.stream) ||
        procedure.request_prototype == nullptr || procedure.response_prototype == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("procedure ", path, ": one of unary and stream, and both types"));
    }
  }
  auto impl = std::make_shared<Impl>(std::move(options));
  if (absl::Status s = impl->Listen(); !s.ok()) return s;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const { return impl_->port; }

size_t HttpServer::open_streams() const { return impl_->open_streams.load(); }

void HttpServer::Shutdown(const absl::Status& status) { impl_->Shutdown(status); }

std::optional<std::string> StaticFilePath(const std::string& root, const std::string& url_path,
                                          std::string* content_type) {
  namespace fs = std::filesystem;
  static const std::pair<const char*, const char*> kTypes[] = {{".html", "text/html; charset=utf-8"},
                                                               {".js", "text/javascript; charset=utf-8"},
                                                               {".css", "text/css; charset=utf-8"},
                                                               {".png", "image/png"},
                                                               {".svg", "image/svg+xml"},
                                                               {".map", "application/json"},
                                                               {".json", "application/json"},
                                                               {".txt", "text/plain; charset=utf-8"},
                                                               {".ico", "image/x-icon"}};
  if (url_path.empty() || url_path[0] != '/' || url_path.find('\0') != std::string::npos) return std::nullopt;
  for (absl::string_view part : absl::StrSplit(url_path, '/')) {
    if (part == ".." || part == ".") return std::nullopt;
  }
  std::error_code ec;
  const fs::path base = fs::canonical(root, ec);
  if (ec) return std::nullopt;
  fs::path wanted = base / fs::path(url_path.substr(1));
  if (url_path.back() == '/') wanted /= "index.html";
  const fs::path real = fs::canonical(wanted, ec);
  if (ec || !fs::is_regular_file(real, ec)) return std::nullopt;
  // Symbolic links may not lead out of root.
  const std::string prefix = base.string() + "/";
  if (!absl::StartsWith(real.string(), prefix)) return std::nullopt;
  for (const auto& [ext, type] : kTypes) {
    if (real.extension() == ext) {
      *content_type = type;
      return real.string();
    }
  }
  return std::nullopt;
}

}  // namespace kessan::http
