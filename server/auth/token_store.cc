#include "auth/token_store.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "util/log.h"

namespace kessan::auth {
namespace {

std::string RawSha256(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1) return "";
  return std::string(reinterpret_cast<const char*>(digest), size);
}

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::Status LineError(int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", what));
}

std::vector<std::string> List(absl::string_view value) {
  std::vector<std::string> out;
  for (absl::string_view v : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(v));
  }
  return out;
}

}  // namespace

std::string Sha256Hex(absl::string_view data) { return absl::BytesToHexString(RawSha256(data)); }

absl::StatusOr<PrincipalTable> PrincipalTable::Parse(absl::string_view text) {
  PrincipalTable table;
  std::set<std::string> names, credentials;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    if (fields.size() < 3)
      return LineError(number, "expected NAME ROLES CREDENTIAL [issuers=...] [concepts=...]");
    Entry entry;
    entry.principal.name = std::string(fields[0]);
    if (!names.insert(entry.principal.name).second) {
      return LineError(number, absl::StrCat("principal '", entry.principal.name, "' appears twice"));
    }
    for (absl::string_view r : absl::StrSplit(fields[1], ',', absl::SkipEmpty())) {
      absl::optional<Role> role = ParseRole(r);
      if (!role) {
        return LineError(number,
                         absl::StrCat("unknown role '", r, "' (subscriber, publisher, analyst, admin)"));
      }
      entry.principal.roles |= static_cast<uint32_t>(*role);
    }
    if (entry.principal.roles == 0) return LineError(number, "no role");
    absl::string_view credential = fields[2];
    if (absl::ConsumePrefix(&credential, "sha256:")) {
      if (credential.size() != 64 || !IsHex(credential)) {
        return LineError(number, "sha256: needs 64 hex digits (the SHA-256 of the token)");
      }
      entry.sha256 = absl::HexStringToBytes(absl::AsciiStrToLower(credential));
      entry.principal.credential = absl::StrCat("sha256:", absl::AsciiStrToLower(credential));
    } else if (absl::ConsumePrefix(&credential, "x509:")) {
      if (credential.empty()) return LineError(number, "x509: needs the certificate's common name");
      entry.common_name = std::string(credential);
      entry.principal.credential = absl::StrCat("x509:", credential);
    } else {
      return LineError(number, "the credential is sha256:<hex of the token's SHA-256> or x509:<common name>");
    }
    if (!credentials.insert(absl::StrCat(entry.sha256, "|", entry.common_name)).second) {
      return LineError(number, "the same credential appears twice");
    }
    for (size_t i = 3; i < fields.size(); ++i) {
      absl::string_view f = fields[i];
      if (absl::ConsumePrefix(&f, "issuers=")) {
        entry.principal.issuers = List(f);
        if (entry.principal.issuers.empty()) return LineError(number, "issuers= lists no issuer");
      } else if (absl::ConsumePrefix(&f, "concepts=")) {
        entry.principal.concepts = List(f);
        if (entry.principal.concepts.empty()) return LineError(number, "concepts= lists no concept");
      } else {
        return LineError(number, absl::StrCat("unknown field '", fields[i], "' (issuers=..., concepts=...)"));
      }
    }
    table.entries_.push_back(std::move(entry));
  }
  return table;
}

const Principal* PrincipalTable::FindByToken(absl::string_view token) const {
  if (token.empty()) return nullptr;
  const std::string digest = RawSha256(token);
  const Principal* found = nullptr;
  for (const Entry& e : entries_) {
    if (e.sha256.size() == digest.size() &&
        CRYPTO_memcmp(e.sha256.data(), digest.data(), digest.size()) == 0) {
      found = &e.principal;
    }
  }
  return found;
}

const Principal* PrincipalTable::FindByCertificate(absl::string_view common_name) const {
  if (common_name.empty()) return nullptr;
  for (const Entry& e : entries_) {
    if (!e.common_name.empty() && e.common_name == common_name) return &e.principal;
  }
  return nullptr;
}

const Principal* PrincipalTable::FindByName(absl::string_view name) const {
  for (const Entry& e : entries_) {
    if (e.principal.name == name) return &e.principal;
  }
  return nullptr;
}

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Open(const std::string& path, absl::Duration poll) {
  std::unique_ptr<TokenStore> store(new TokenStore(path));
  absl::Status loaded = store->Reload();
  if (!loaded.ok()) return loaded;
  if (poll > absl::ZeroDuration()) {
    store->poller_ = std::thread([s = store.get(), poll] { s->Poll(poll); });
  }
  return store;
}

TokenStore::~TokenStore() {
  stop_.Notify();
  if (poller_.joinable()) poller_.join();
}

absl::Status TokenStore::Reload() {
  absl::MutexLock reload(&reload_mu_);
  struct stat st {};
  FileId id;
  if (stat(path_.c_str(), &st) == 0) {
    id = {static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          static_cast<int64_t>(st.st_size), st.st_ino};
  }
  std::ifstream in(path_);
  std::stringstream text;
  text << in.rdbuf();
  absl::Status status;
  if (!in.is_open() || in.bad()) {
    status = absl::NotFoundError(absl::StrCat("auth_tokens ", path_, ": cannot read the file"));
  }
  absl::StatusOr<PrincipalTable> table = status.ok() ? PrincipalTable::Parse(text.str()) : status;
  std::shared_ptr<const PrincipalTable> loaded;
  {
    absl::MutexLock lock(&mu_);
    loaded_ = id;  // do not retry a broken file until it changes again
    if (!table.ok()) {
      status = absl::Status(table.status().code(),
                            absl::StrCat("auth_tokens ", path_, ": ", table.status().message()));
      if (table_ != nullptr)
        Log().error("{}; keeping the previous {} principals", status.ToString(), table_->size());
      return status;
    }
    table_ = std::make_shared<const PrincipalTable>(*std::move(table));
    Log().info("auth_tokens {}: {} principals", path_, table_->size());
    loaded = table_;
  }
  absl::MutexLock listeners(&listeners_mu_);
  for (const auto& [listener, fn] : listeners_) fn(*loaded);
  return absl::OkStatus();
}

int TokenStore::AddListener(std::function<void(const PrincipalTable&)> fn) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_[next_listener_] = std::move(fn);
  return next_listener_++;
}

void TokenStore::RemoveListener(int id) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(id);
}

std::shared_ptr<const PrincipalTable> TokenStore::table() const {
  absl::MutexLock lock(&mu_);
  return table_;
}

void TokenStore::Poll(absl::Duration every) {
  while (!stop_.WaitForNotificationWithTimeout(every)) {
    struct stat st {};
    FileId id;
    if (stat(path_.c_str(), &st) == 0) {
      id = {static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
            static_cast<int64_t>(st.st_size), st.st_ino};
    }
    bool changed;
    {
      absl::MutexLock lock(&mu_);
      changed = !(id == loaded_);
    }
    if (changed) Reload().IgnoreError();
  }
}

}  // namespace kessan::auth
