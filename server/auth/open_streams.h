// OpenStreams: the long-lived calls of each principal, ended when a reload
// of the principals file takes away what they were opened with.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "auth/principal.h"
#include "auth/token_store.h"

namespace kessan::auth {

// OpenStreams tracks each open stream (Subscribe, WatchScenario) with the
// principal, credential and role it was opened with. Recheck ends, through
// the stream's own `end`, each stream that the new principals table no
// longer grants: UNAUTHENTICATED when its principal or credential is gone,
// PERMISSION_DENIED when the role is gone or its entitlements (issuers,
// concepts) changed, since the stream's filter was entitled under the old
// ones. Thread-safe.
class OpenStreams {
 public:
  // Ends a stream with `status`; called at most once, outside any lock of
  // this class, and must not block.
  using End = std::function<void(const absl::Status& status)>;

  // Tracks a stream until the returned handle is dropped.
  std::shared_ptr<void> Track(const Principal& principal, Role role, End end);

  // Ends the tracked streams that `table` no longer grants; returns how many.
  size_t Recheck(const PrincipalTable& table);

  size_t size();

 private:
  struct Entry {
    Principal principal;
    Role role;
    End end;
  };
  void Forget(uint64_t id);

  absl::Mutex mu_;
  std::map<uint64_t, Entry> streams_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kessan::auth
