#include "testing/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kessan::test {

absl::StatusOr<std::unique_ptr<HttpConnection>> HttpConnection::Open(int port, int receive_buffer) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  if (receive_buffer > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int e = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect: ", strerror(e)));
  }
  return std::unique_ptr<HttpConnection>(new HttpConnection(fd));
}

HttpConnection::~HttpConnection() { close(fd_); }

absl::Status HttpConnection::Send(const std::string& method, const std::string& path,
                                  const std::map<std::string, std::string>& headers,
                                  const std::string& body) {
  std::string out = absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  for (const auto& [name, value] : headers) absl::StrAppend(&out, name, ": ", value, "\r\n");
  absl::StrAppend(&out, "Content-Length: ", body.size(), "\r\n\r\n", body);
  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError(absl::StrCat("send: ", strerror(errno)));
    sent += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status HttpConnection::Fill(absl::Time deadline) {
  for (;;) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return absl::DeadlineExceededError("no bytes from the server in time");
    pollfd p{fd_, POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(ms));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return absl::UnavailableError("the server closed the connection");
    if (n < 0) return absl::UnavailableError(absl::StrCat("recv: ", strerror(errno)));
    raw_.append(buf, static_cast<size_t>(n));
    return absl::OkStatus();
  }
}

absl::StatusOr<HttpResponse> HttpConnection::ReadHead(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  size_t end;
  while ((end = raw_.find("\r\n\r\n")) == std::string::npos) {
    if (absl::Status s = Fill(deadline); !s.ok()) return s;
  }
  const std::string head = raw_.substr(0, end);
  raw_.erase(0, end + 4);
  std::vector<std::string> lines = absl::StrSplit(head, "\r\n");
  HttpResponse r;
  std::vector<std::string> first = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  if (first.size() < 2 || !absl::SimpleAtoi(first[1], &r.status)) {
    return absl::InternalError(absl::StrCat("bad status line: ", lines[0]));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    r.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  chunked_ = r.headers["transfer-encoding"] == "chunked";
  content_length_ = -1;
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    absl::SimpleAtoi(it->second, &content_length_);
  }
  body_.clear();
  body_done_ = false;
  return r;
}

absl::Status HttpConnection::DecodeChunks(absl::Time deadline, size_t want) {
  while (!body_done_ && body_.size() < want) {
    const size_t line_end = raw_.find("\r\n");
    uint64_t size = 0;
    if (line_end != std::string::npos) {
      const std::string hex = raw_.substr(0, raw_.find_first_of(";\r"));
      if (!absl::SimpleHexAtoi(hex, &size)) return absl::InternalError(absl::StrCat("bad chunk size: ", hex));
      if (raw_.size() >= line_end + 2 + size + 2) {
        body_.append(raw_, line_end + 2, size);
        raw_.erase(0, line_end + 2 + size + 2);
        if (size == 0) body_done_ = true;
        continue;
      }
    }
    if (absl::Status s = Fill(deadline); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> HttpConnection::ReadResponse(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<HttpResponse> r = ReadHead(timeout);
  if (!r.ok()) return r;
  if (chunked_) {
    if (absl::Status s = DecodeChunks(deadline, SIZE_MAX); !s.ok()) return s;
    r->body = std::move(body_);
    body_.clear();
  } else if (content_length_ >= 0) {
    while (raw_.size() < static_cast<size_t>(content_length_)) {
      if (absl::Status s = Fill(deadline); !s.ok()) return s;
    }
    r->body = raw_.substr(0, content_length_);
    raw_.erase(0, content_length_);
  } else {
    for (;;) {  // until the server closes
      absl::Status s = Fill(deadline);
      if (absl::IsUnavailable(s)) break;
      if (!s.ok()) return s;
    }
    r->body = std::move(raw_);
    raw_.clear();
  }
  return r;
}

absl::StatusOr<ConnectEnvelope> HttpConnection::ReadEnvelope(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  auto need = [&](size_t n) -> absl::Status {
    if (chunked_) return DecodeChunks(deadline, n);
    while (body_.size() < n) {  // not chunked: the body runs to the end
      if (!raw_.empty()) {
        body_ += raw_;
        raw_.clear();
        continue;
      }
      if (absl::Status s = Fill(deadline); !s.ok()) return s;
    }
    return absl::OkStatus();
  };
  if (absl::Status s = need(5); !s.ok()) return s;
  if (body_.size() < 5) return absl::OutOfRangeError("the body ended");
  const auto* b = reinterpret_cast<const unsigned char*>(body_.data());
  const size_t n = (size_t{b[1]} << 24) | (size_t{b[2]} << 16) | (size_t{b[3]} << 8) | b[4];
  if (absl::Status s = need(5 + n); !s.ok()) return s;
  if (body_.size() < 5 + n) return absl::OutOfRangeError("the body ended inside an envelope");
  ConnectEnvelope e{b[0], body_.substr(5, n)};
  body_.erase(0, 5 + n);
  return e;
}

bool HttpConnection::AwaitClosed(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::Status s = Fill(deadline);
    if (absl::IsUnavailable(s)) return true;
    if (!s.ok()) return false;
    raw_.clear();
  }
}

absl::StatusOr<HttpResponse> HttpRequest(int port, const std::string& method, const std::string& path,
                                         const std::map<std::string, std::string>& headers,
                                         const std::string& body) {
  absl::StatusOr<std::unique_ptr<HttpConnection>> c = HttpConnection::Open(port);
  if (!c.ok()) return c.status();
  if (absl::Status s = (*c)->Send(method, path, headers, body); !s.ok()) return s;
  return (*c)->ReadResponse();
}

std::string Enveloped(const std::string& message) {
  const uint32_t n = static_cast<uint32_t>(message.size());
  std::string out = {0, static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                     static_cast<char>(n)};
  return out + message;
}

}  // namespace kessan::test
