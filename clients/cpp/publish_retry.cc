// Client::PublishWithRetry(): a publish that is retried with the same batch
// key, so that it is applied once.

#include <algorithm>
#include <random>

#include "absl/strings/str_format.h"
#include "client_impl.h"
#include "kessan/client.h"

namespace kessan {
namespace {

std::string RandomHex(int digits) {
  static thread_local std::mt19937_64 engine(std::random_device{}());
  std::string hex;
  while (static_cast<int>(hex.size()) < digits) {
    hex += absl::StrFormat("%016x", engine());
  }
  hex.resize(digits);
  return hex;
}

}  // namespace

void AssignBatchIdentity(v1::PublishRequest& request) {
  if (request.publisher_id().empty()) {
    request.set_publisher_id("kessan-cpp-" + RandomHex(16));
  }
  if (request.batch_key().empty()) request.set_batch_key(RandomHex(32));
}

absl::StatusOr<v1::PublishResponse> Client::PublishWithRetry(
    v1::PublishRequest request, const PublishRetryOptions& retry,
    const CallOptions& call) {
  AssignBatchIdentity(request);
  const absl::Time deadline = call.timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + call.timeout;
  const auto sleep =
      retry.sleep ? retry.sleep : [](absl::Duration d) { absl::SleepFor(d); };
  Backoff backoff(retry.backoff, retry.random);
  for (;;) {
    const CallOptions attempt{
        .timeout = std::min(retry.attempt_timeout, deadline - absl::Now())};
    absl::StatusOr<v1::PublishResponse> response = Publish(request, attempt);
    if (response.ok()) return response;
    const absl::StatusCode code = response.status().code();
    if (code != absl::StatusCode::kUnavailable &&
        code != absl::StatusCode::kDeadlineExceeded) {
      return response;
    }
    if (absl::Now() >= deadline || backoff.Exhausted()) return response;
    sleep(std::min(backoff.NextDelay(), deadline - absl::Now()));
    // Not connected in time: the attempt below fails with UNAVAILABLE.
    impl_->Reconnect(std::min(deadline, absl::Now() + retry.attempt_timeout))
        .IgnoreError();
  }
}

}  // namespace kessan
