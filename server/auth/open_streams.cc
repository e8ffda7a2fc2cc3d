#include "auth/open_streams.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kessan::auth {
namespace {

// Why `table` no longer grants what `had` opened a stream with; OK if it does.
absl::Status Revoked(const PrincipalTable& table, const Principal& had, Role role) {
  const Principal* now = table.FindByName(had.name);
  if (now == nullptr || now->credential != had.credential) {
    return absl::UnauthenticatedError(absl::StrCat(
        "principal '", had.name, "' was removed from the principals file, or its credential changed"));
  }
  if (!now->Has(role)) {
    return absl::PermissionDeniedError(
        absl::StrCat("principal '", had.name, "' no longer has the role ", RoleName(role)));
  }
  if (now->issuers != had.issuers || now->concepts != had.concepts) {
    return absl::PermissionDeniedError(absl::StrCat("the entitlements of principal '", had.name,
                                                    "' changed: call again to be entitled anew"));
  }
  return absl::OkStatus();
}

}  // namespace

std::shared_ptr<void> OpenStreams::Track(const Principal& principal, Role role, End end) {
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    id = next_id_++;
    streams_.emplace(id, Entry{principal, role, std::move(end)});
  }
  // The handle's deleter forgets the stream.
  return std::shared_ptr<void>(reinterpret_cast<void*>(id + 1), [this, id](void*) { Forget(id); });
}

void OpenStreams::Forget(uint64_t id) {
  absl::MutexLock lock(&mu_);
  streams_.erase(id);
}

size_t OpenStreams::Recheck(const PrincipalTable& table) {
  std::vector<std::pair<End, absl::Status>> ended;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = streams_.begin(); it != streams_.end();) {
      absl::Status why = Revoked(table, it->second.principal, it->second.role);
      if (why.ok()) {
        ++it;
        continue;
      }
      ended.emplace_back(std::move(it->second.end), std::move(why));
      it = streams_.erase(it);
    }
  }
  for (auto& [end, why] : ended) end(why);
  return ended.size();
}

size_t OpenStreams::size() {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

}  // namespace kessan::auth
