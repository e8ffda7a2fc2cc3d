// LocalHub: what a Server's in-process clients (include/kessan/local.h)
// share: the services and the delivery threads of their subscriptions.
#pragma once

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "feed/job_pool.h"
#include "kessan/local.h"
#include "service/services.h"

namespace kessan {

class LocalStream;

// Owned by the Server (shared with its LocalClients by weak references).
// Destroying it, before the services, ends every in-process subscription
// without on_end, waiting for callbacks under way.
class LocalHub {
 public:
  LocalHub(Services& services, int threads);
  ~LocalHub();

  static std::unique_ptr<LocalClient> Connect(const std::shared_ptr<LocalHub>& hub,
                                              const LocalCredentials& credentials);

  Services& services() { return services_; }
  JobPool& pool() { return pool_; }
  void Remember(std::shared_ptr<LocalStream> stream);
  void Forget(LocalStream* stream);

 private:
  Services& services_;
  absl::Mutex mu_;
  absl::flat_hash_map<LocalStream*, std::shared_ptr<LocalStream>> streams_ ABSL_GUARDED_BY(mu_);
  // Last: destroyed first, after the streams are cancelled.
  JobPool pool_;
};

}  // namespace kessan
