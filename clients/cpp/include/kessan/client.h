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

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kessan/v1/feed.pb.h"

namespace kessan {

// The address kessand listens on by default.
inline constexpr char kDefaultServerAddress[] = "127.0.0.1:50051";

// ClientOptions
//
// How a Client reaches its server. The channel is insecure (plaintext) for
// now; transport security will be added here as further fields.
struct ClientOptions {
  // "host:port" or any gRPC target URI ("unix:/run/kessan.sock").
  std::string address = kDefaultServerAddress;
  // Largest response the client accepts, in bytes; a snapshot of a large
  // data set can exceed gRPC's default of 4 MiB. Negative: no limit.
  int max_receive_message_bytes = 64 << 20;
};

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
// A connection to one FeedService. The channel connects lazily, on the first
// call; a server that cannot be reached makes that call fail with
// UNAVAILABLE.
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

  // The address this client connects to.
  const std::string& address() const;

  // Publishes a batch; the server applies all of it or none. Returns the
  // sequences assigned, once the batch is durable.
  absl::StatusOr<v1::PublishResponse> Publish(const v1::PublishRequest& request,
                                              const CallOptions& call = {});

  // Returns the latest state that matches `filter`.
  absl::StatusOr<v1::GetSnapshotResponse> GetSnapshot(
      const v1::Filter& filter, const CallOptions& call = {});
  // The same, with every field of the request.
  absl::StatusOr<v1::GetSnapshotResponse> GetSnapshot(
      const v1::GetSnapshotRequest& request, const CallOptions& call = {});

  // Streams the events that match `request`, calling `on_event` for each,
  // and blocks until one of:
  //   - the server ends the stream: returns OK;
  //   - `on_event` returns false: the call is cancelled, returns OK;
  //   - the server or the transport fails, or the deadline passes: returns
  //     that error (events delivered before it stay delivered).
  absl::Status Subscribe(const v1::SubscribeRequest& request,
                         EventCallback on_event, const CallOptions& call = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kessan
