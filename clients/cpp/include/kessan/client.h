// kessan/client.h: a C++ client of kessan.v1.FeedService.
//
// The client speaks gRPC to a kessand server and reports every failure as an
// absl::Status carrying the server's code and message. No gRPC header is
// needed to use it.

#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kessan/backoff.h"
#include "kessan/resume.h"
#include "kessan/v1/feed.pb.h"

namespace kessan {

// The address kessand listens on by default.
inline constexpr char kDefaultServerAddress[] = "127.0.0.1:50051";

// ClientOptions
//
// How a Client reaches its server(s): plaintext unless tls_ca_file is set.
// The TLS and token settings apply to every server.
struct ClientOptions {
  // "host:port" or any gRPC target URI ("unix:/run/kessan.sock"). Used
  // when `servers` is empty.
  std::string address = kDefaultServerAddress;
  // Replicas of one feed, in the order they are tried (see Client). Non-
  // empty: replaces `address`. An empty entry makes every call fail with
  // INVALID_ARGUMENT.
  std::vector<std::string> servers;
  // Called when the client moves from server `from` to server `to` because
  // a call to `from` failed with `status`; on the thread of that call. May
  // be empty.
  std::function<void(const std::string& from, const std::string& to, const absl::Status& status)> on_failover;
  // Largest response the client accepts, in bytes; a snapshot of a large
  // data set can exceed gRPC's default of 4 MiB. Negative: no limit.
  int max_receive_message_bytes = 64 << 20;
  // Keepalive pings, also while no call is open, so a dead connection is
  // noticed on a quiet stream (kessand accepts pings every 5 s or more).
  // Zero keepalive_time: no pings.
  absl::Duration keepalive_time = absl::Seconds(20);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  // Bounds of the channel's own reconnect backoff (gRPC's default grows to
  // 120 s, which would keep a resumed subscription waiting long after the
  // server is back).
  absl::Duration reconnect_backoff_initial = absl::Milliseconds(100);
  absl::Duration reconnect_backoff_max = absl::Seconds(5);

  // Security (kessand's --tls_cert, --tls_client_ca, --auth_tokens).
  // PEM file of the CA(s) that signed the server's certificate; non-empty
  // turns TLS on. An unreadable file makes every call fail (UNAVAILABLE).
  std::string tls_ca_file;
  // mTLS: PEM files of this client's certificate and private key.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Bearer token sent on every call ("authorization: Bearer <token>").
  std::string token;
};

// PublishRetryOptions
//
// How Client::PublishWithRetry() retries.
struct PublishRetryOptions {
  BackoffOptions backoff = {.max_attempts = 10};
  // Deadline of each attempt; one that passes is retried.
  absl::Duration attempt_timeout = absl::Seconds(10);
  // For tests: the source of jitter and the sleep between attempts.
  Backoff::Random random;
  std::function<void(absl::Duration)> sleep;
};

// AssignBatchIdentity()
//
// Fills an empty publisher_id ("kessan-cpp-" and 16 random hex digits) and
// an empty batch_key (32 random hex digits) of `request`, so that a retry
// of it is recognised by the server and applied once.
void AssignBatchIdentity(v1::PublishRequest& request);

// ParseServerList()
//
// Splits "a:1,b:2" into its servers, spaces around each trimmed.
// INVALID_ARGUMENT for an empty list or an empty server ("a:1,,b:2").
absl::StatusOr<std::vector<std::string>> ParseServerList(absl::string_view list);

// CallOptions
//
// Per-call settings.
struct CallOptions {
  // Deadline for the whole call, counted from its start. A call that
  // outlives it fails with DEADLINE_EXCEEDED (for Subscribe: the stream is
  // cancelled). absl::InfiniteDuration() means no deadline.
  absl::Duration timeout = absl::InfiniteDuration();
};

// Client
//
// A connection to a FeedService, on one server or on several replicas of
// the same feed (ClientOptions::servers). Channels connect lazily, on the
// first call; a server that cannot be reached makes that call fail with
// UNAVAILABLE.
//
// Failover: every call goes to the current server (the first at the
// start). Only UNAVAILABLE (unreachable, connection lost, shutting down)
// moves the client to the next server, round robin; other errors
// (INVALID_ARGUMENT, PERMISSION_DENIED, ...) are the server's answer and
// stay. GetSnapshot() tries each server once; SubscribeResuming() and
// PublishWithRetry() go on to the next server at once and back off between
// full rounds; Publish() and Subscribe() are not retried (the next call
// goes to the next server).
//
// Thread-safe: one Client may serve concurrent calls from several threads.
// Subscribe blocks its calling thread until the stream ends.
//
// Example:
//
//   kessan::Client client("127.0.0.1:50051");
//   kessan::v1::Filter filter;
//   filter.add_issuers("IIJ");
//   absl::StatusOr<kessan::v1::GetSnapshotResponse> snapshot =
//       client.GetSnapshot(filter);
//   if (!snapshot.ok()) return snapshot.status();
class Client {
 public:
  // Called for each event of a subscription, in sequence order, on the
  // thread that called Subscribe. Returning false ends the subscription.
  using EventCallback = std::function<bool(const v1::FeedEvent& event)>;

  explicit Client(std::string address = kDefaultServerAddress);
  explicit Client(ClientOptions options);
  ~Client();

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The server in use: the first until a failover.
  const std::string& address() const;
  // Every server, in order (one for a single `address`).
  const std::vector<std::string>& servers() const;

  // Publishes a batch; the server applies all of it or none. Returns the
  // sequences assigned, once the batch is durable.
  absl::StatusOr<v1::PublishResponse> Publish(const v1::PublishRequest& request,
                                              const CallOptions& call = {});

  // Returns the latest state that matches `filter`.
  absl::StatusOr<v1::GetSnapshotResponse> GetSnapshot(const v1::Filter& filter, const CallOptions& call = {});
  // The same, with every field of the request.
  absl::StatusOr<v1::GetSnapshotResponse> GetSnapshot(const v1::GetSnapshotRequest& request,
                                                      const CallOptions& call = {});

  // Streams the events that match `request`, calling `on_event` for each,
  // and blocks until one of:
  //   - the server ends the stream: returns OK;
  //   - `on_event` returns false: the call is cancelled, returns OK;
  //   - the server or the transport fails, or the deadline passes: returns
  //     that error (events delivered before it stay delivered).
  absl::Status Subscribe(const v1::SubscribeRequest& request, EventCallback on_event,
                         const CallOptions& call = {});

  // Like Subscribe(), but a stream that ends for a retryable reason (see
  // IsRetryableSubscribeEnd(): connection lost, server restarting, a
  // stalled stream, a slow-consumer disconnect) is resumed after a backoff
  // with full jitter, with START_MODE_FROM_SEQUENCE from the last journaled
  // sequence delivered; a stream that ended inside a snapshot starts the
  // snapshot over. `on_event` sees every journaled event once, in order
  // (ResumeTracker's rules); reconnects and resyncs are reported to
  // `resume.on_notice`. LIVE_ONLY first asks GetSnapshot for the journal's
  // last sequence (with a filter that matches nothing) and resumes from
  // there. A request without a heartbeat interval gets
  // `resume.heartbeat_interval`, so that a silent stream can be told from a
  // quiet one.
  //
  // Returns OK when `on_event` returns false or the server ends the stream
  // cleanly; DATA_LOSS if the server broke the sequence rules; otherwise
  // the status that ended the last stream: a non-retryable one at once, a
  // retryable one after `resume.backoff.max_attempts` attempts without
  // progress. `call.timeout` bounds the whole subscription, reconnects
  // included.
  //
  // With several servers, a stream that ends with UNAVAILABLE or stalls
  // moves to the next server at once and resumes there from the same
  // sequence (replicas share the journal's sequences); after a full round
  // of failed servers the backoff applies, one attempt per round.
  absl::Status SubscribeResuming(const v1::SubscribeRequest& request, EventCallback on_event,
                                 const ResumeOptions& resume = {}, const CallOptions& call = {});

  // Publishes `request` with a publisher_id and batch_key (AssignBatchIdentity()
  // fills the empty ones), retrying UNAVAILABLE and DEADLINE_EXCEEDED after
  // a backoff. The server applies a batch key once: a retry of a batch that
  // was applied returns the original sequences with duplicate = true. Other
  // errors (INVALID_ARGUMENT, ALREADY_EXISTS for a key reused with other
  // items) return at once. `call.timeout` bounds all attempts together.
  // With several servers, UNAVAILABLE sends the same batch (same
  // publisher_id and batch_key) to the next server at once; the backoff
  // applies after each full round.
  absl::StatusOr<v1::PublishResponse> PublishWithRetry(v1::PublishRequest request,
                                                       const PublishRetryOptions& retry = {},
                                                       const CallOptions& call = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kessan
