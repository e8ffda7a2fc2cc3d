// The principals file (--auth_tokens): who may call kessand, with which
// roles and entitlements, identified by a bearer token (stored hashed) or a
// client certificate's common name. TokenStore reloads it when it changes.
//
// Format: one principal per line; '#' starts a comment; fields are
// separated by blanks:
//
//   NAME ROLE[,ROLE...] CREDENTIAL [issuers=ID[,ID...]] [concepts=ID[,ID...]]
//
//   ROLE        subscriber | publisher | analyst | admin (admin: every role)
//   CREDENTIAL  sha256:<64 hex digits>  SHA-256 of the bearer token
//               x509:<common name>      a client certificate's CN (mTLS)
//
//   reader   subscriber            sha256:9f86d0...   issuers=IIJ
//   feeder   publisher,subscriber  sha256:60303a...   issuers=IIJ
//   desk     analyst,subscriber    x509:desk.example
//
// Names are unique, and so are credentials. Issuers are canonical ids
// (not aliases); without issuers= (concepts=) the principal sees every
// issuer (concept).
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "auth/principal.h"

namespace kessan::auth {

// Lower-case hex SHA-256 of `data` (OpenSSL's libcrypto).
std::string Sha256Hex(absl::string_view data);

// PrincipalTable: a parsed principals file. Immutable, thread-safe.
class PrincipalTable {
 public:
  // Parses the file's text. InvalidArgument names the line and the problem
  // (never a token or hash).
  static absl::StatusOr<PrincipalTable> Parse(absl::string_view text);

  // The principal whose token this is, or nullptr. Compares hashes in
  // constant time per entry.
  const Principal* FindByToken(absl::string_view token) const;
  // The principal of a client certificate with this common name, or nullptr.
  const Principal* FindByCertificate(absl::string_view common_name) const;
  // The principal named `name`, or nullptr.
  const Principal* FindByName(absl::string_view name) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Principal principal;
    std::string sha256;  // raw 32 bytes; empty for a certificate entry
    std::string common_name;
  };
  std::vector<Entry> entries_;
};

// TokenStore: the principals file, reloaded without restart. Thread-safe.
// A reload that fails (unreadable file, syntax error) keeps the previous
// table and logs the error.
class TokenStore {
 public:
  // Loads `path` (it must parse) and, with a non-zero `poll`, starts a
  // thread that reloads it whenever its mtime, size or inode changes.
  static absl::StatusOr<std::unique_ptr<TokenStore>> Open(const std::string& path,
                                                          absl::Duration poll = absl::Seconds(1));
  ~TokenStore();

  // Reads and parses the file now (e.g. on SIGHUP).
  absl::Status Reload();
  std::shared_ptr<const PrincipalTable> table() const;

  // Calls `fn` with the new table after each reload that parsed, on the
  // reloading thread, one reload at a time, until RemoveListener(id).
  int AddListener(std::function<void(const PrincipalTable&)> fn);
  void RemoveListener(int id);
  const std::string& path() const { return path_; }

 private:
  struct FileId {
    int64_t mtime_ns = 0;
    int64_t size = 0;
    ino_t inode = 0;
    bool operator==(const FileId&) const = default;
  };
  explicit TokenStore(std::string path) : path_(std::move(path)) {}
  void Poll(absl::Duration every);

  const std::string path_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const PrincipalTable> table_ ABSL_GUARDED_BY(mu_);
  FileId loaded_ ABSL_GUARDED_BY(mu_);
  absl::Mutex reload_mu_;  // one reload at a time
  absl::Mutex listeners_mu_ ABSL_ACQUIRED_AFTER(reload_mu_);
  std::map<int, std::function<void(const PrincipalTable&)>> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  int next_listener_ ABSL_GUARDED_BY(listeners_mu_) = 0;
  absl::Notification stop_;
  std::thread poller_;
};

}  // namespace kessan::auth
