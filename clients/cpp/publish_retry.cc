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

absl::StatusOr<v1::PublishResponse> Client::PublishWithRetry(v1::PublishRequest request,
                                                             const PublishRetryOptions& retry,
                                                             const CallOptions& call) {
  AssignBatchIdentity(request);
  if (!impl_->config_status.ok()) return impl_->config_status;
  const absl::Time deadline =
      call.timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + call.timeout;
  const auto sleep = retry.sleep ? retry.sleep : [](absl::Duration d) { absl::SleepFor(d); };
  Backoff backoff(retry.backoff, retry.random);
  // Servers that failed one after the other since the last backoff.
  size_t failed_in_round = 0;
  for (bool again = false;; again = true) {
    const size_t server = impl_->Current();
    if (again) {
      // Not connected in time: the attempt below fails with UNAVAILABLE.
      impl_->Reconnect(server, std::min(deadline, absl::Now() + retry.attempt_timeout)).IgnoreError();
    }
    absl::StatusOr<v1::PublishResponse> response =
        impl_->PublishOn(server, request, std::min(deadline, absl::Now() + retry.attempt_timeout));
    if (response.ok()) return response;
    const absl::StatusCode code = response.status().code();
    if (code != absl::StatusCode::kUnavailable && code != absl::StatusCode::kDeadlineExceeded) {
      return response;
    }
    if (absl::Now() >= deadline) return response;
    // The same batch key on the next server at once; a backoff after each
    // full round.
    bool wait = true;
    if (impl_->size() > 1 && internal::FailsOver(response.status())) {
      impl_->Failover(server, response.status());
      wait = ++failed_in_round >= impl_->size();
      if (wait) failed_in_round = 0;
    }
    if (!wait) continue;
    if (backoff.Exhausted()) return response;
    sleep(std::min(backoff.NextDelay(), deadline - absl::Now()));
  }
}

}  // namespace kessan
