#include "service/call_guard.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/validate.h"
#include "util/log.h"

namespace kessan {
namespace {

std::string CodeName(absl::StatusCode code) { return absl::StatusCodeToString(code); }

// For audit lines: control characters, '"' and '\\' as \xNN, so a
// client's strings cannot forge a line or a field.
// With `field`, blanks too (a bare field such as a certificate's name).
std::string Escape(absl::string_view s, bool field = false) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '"' || c == '\\' || (field && c == ' ')) {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// fmt formats std::string_view, not absl::string_view.
std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace

CallGuard::CallGuard(Feed& feed, CallGuardOptions options)
    : feed_(feed),
      options_(std::move(options)),
      publish_rate_(options_.publish_rate, options_.publish_burst),
      subscriptions_("subscriptions per connection", options_.max_subscriptions_per_connection),
      scenario_runs_("concurrent scenario runs", options_.max_concurrent_scenario_runs) {
  AuditLog();
  if (options_.tokens != nullptr) {
    tokens_listener_ =
        options_.tokens->AddListener([this](const auth::PrincipalTable& table) { streams_.Recheck(table); });
  }
}

CallGuard::~CallGuard() {
  if (tokens_listener_ >= 0) options_.tokens->RemoveListener(tokens_listener_);
}

std::shared_ptr<void> CallGuard::TrackStream(const auth::Principal& principal, auth::Role role,
                                             absl::string_view method, auth::OpenStreams::End end) {
  if (options_.tokens == nullptr) return nullptr;
  return streams_.Track(
      principal, role,
      [this, principal, method = std::string(method), end = std::move(end)](const absl::Status& status) {
        Count(metrics::Refusal::kRevoked, status);
        Audit(principal, method, status, "stream=ended-by-reload");
        end(status);
      });
}

absl::StatusOr<auth::Principal> CallGuard::Authenticate(const Caller& caller) {
  if (!enabled()) return auth::Principal::Anonymous();
  if (!caller.authorization.empty()) {
    absl::string_view value = absl::StripAsciiWhitespace(caller.authorization);
    if (!absl::StartsWithIgnoreCase(value, "bearer ")) {
      return absl::UnauthenticatedError("authorization: expected 'Bearer <token>'");
    }
    value = absl::StripAsciiWhitespace(value.substr(7));
    std::shared_ptr<const auth::PrincipalTable> table =
        options_.tokens != nullptr ? options_.tokens->table() : nullptr;
    const auth::Principal* p = table != nullptr ? table->FindByToken(value) : nullptr;
    if (p == nullptr) return absl::UnauthenticatedError("unknown or revoked token");
    return *p;
  }
  if (options_.client_certificates && !caller.certificate_name.empty()) {
    const std::string& cn = caller.certificate_name;
    if (options_.tokens == nullptr) {
      auth::Principal p = auth::Principal::Anonymous();
      p.name = cn;
      return p;
    }
    std::shared_ptr<const auth::PrincipalTable> table = options_.tokens->table();
    if (const auth::Principal* p = table->FindByCertificate(cn)) return *p;
    auth::Principal none;  // authenticated, but no role
    none.name = cn;
    return none;
  }
  return absl::UnauthenticatedError(
      "no credentials: send 'authorization: Bearer <token>'" +
      std::string(options_.client_certificates ? " or a client certificate" : ""));
}

absl::StatusOr<auth::Principal> CallGuard::Authorize(const Caller& caller, auth::Role role,
                                                     absl::string_view method) {
  absl::StatusOr<auth::Principal> principal = Counted(metrics::Refusal::kCredentials, Authenticate(caller));
  if (!principal.ok()) {
    AuditLog().warn("principal=- peer={} method={} outcome={} detail=\"{}\"", Escape(caller.peer, true),
                    Sv(method), CodeName(principal.status().code()), Escape(principal.status().message()));
    return principal.status();
  }
  if (!principal->Has(role)) {
    absl::Status denied = absl::PermissionDeniedError(
        absl::StrCat("principal '", principal->name, "' lacks the role ", auth::RoleName(role)));
    Count(metrics::Refusal::kRole, denied);
    Audit(*principal, method, denied);
    return denied;
  }
  return principal;
}

std::string CallGuard::ResolveIssuer(const std::string& id_or_alias) {
  if (id_or_alias.empty()) return "";
  v1::Filter filter;
  filter.add_issuers(id_or_alias);
  filter.add_event_kinds(v1::EVENT_KIND_ISSUER);
  absl::StatusOr<v1::GetSnapshotResponse> snapshot = feed_.Snapshot(filter);
  if (!snapshot.ok() || snapshot->events_size() != 1) return "";
  return snapshot->events(0).issuer().id();
}

absl::StatusOr<v1::Filter> CallGuard::Entitle(const auth::Principal& principal, const v1::Filter& filter) {
  return Counted(
      metrics::Refusal::kEntitlement,
      auth::EntitledFilter(principal, filter, [this](const std::string& i) { return ResolveIssuer(i); }));
}

absl::StatusOr<std::string> CallGuard::EntitleIssuer(const auth::Principal& principal,
                                                     const std::string& issuer) {
  return Counted(
      metrics::Refusal::kEntitlement,
      auth::EntitledIssuer(principal, issuer, [this](const std::string& i) { return ResolveIssuer(i); }));
}

absl::Status CallGuard::CheckPublish(const auth::Principal& principal, const v1::PublishRequest& request) {
  const int max = std::min(options_.max_batch_items, kMaxBatchItems);
  if (request.items_size() > max) {
    return Counted(metrics::Refusal::kBatchSize,
                   absl::ResourceExhaustedError(absl::StrCat("batch size: ", request.items_size(),
                                                             " items, at most ", max, " per batch")));
  }
  absl::Status entitled =
      auth::CheckPublish(principal, request, [this](const std::string& i) { return ResolveIssuer(i); });
  if (!entitled.ok()) return Counted(metrics::Refusal::kEntitlement, entitled);
  return Counted(metrics::Refusal::kPublishRate,
                 publish_rate_.Take(principal.name, static_cast<size_t>(request.items_size())));
}

absl::StatusOr<auth::Lease> CallGuard::AcquireSubscription(const Caller& caller) {
  return Counted(metrics::Refusal::kSubscriptionsPerConnection, subscriptions_.Acquire(caller.peer));
}

absl::StatusOr<auth::Lease> CallGuard::AcquireScenarioRun() {
  return Counted(metrics::Refusal::kScenarioRuns, scenario_runs_.Acquire(""));
}

void CallGuard::Count(metrics::Refusal reason, const absl::Status& status) const {
  if (!status.ok() && options_.refusals != nullptr) options_.refusals->Refused(reason, status.code());
}

void CallGuard::Audit(const auth::Principal& principal, absl::string_view method, const absl::Status& outcome,
                      absl::string_view detail) {
  if (outcome.ok()) {
    AuditLog().info("principal={} method={} outcome=OK{}{}", Escape(principal.name, true), Sv(method),
                    detail.empty() ? "" : " ", Sv(detail));
  } else {
    AuditLog().warn("principal={} method={} outcome={}{}{} detail=\"{}\"", Escape(principal.name, true),
                    Sv(method), CodeName(outcome.code()), detail.empty() ? "" : " ", Sv(detail),
                    Escape(outcome.message()));
  }
}

absl::Status CallGuard::Refuse(const auth::Principal& principal, absl::string_view method,
                               const absl::Status& status) {
  Audit(principal, method, status);
  return status;
}

}  // namespace kessan
