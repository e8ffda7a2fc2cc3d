// VerifyJournalFile: the offline check of a journal (kessand --verify).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"

namespace kessan {

// What VerifyJournalFile found.
struct JournalFileCheck {
  int schema_version = 0;
  uint64_t rows = 0;
  uint64_t events = 0;
  // Damaged events, rows and gaps: one per line reported.
  uint64_t damaged = 0;
};

// VerifyJournalFile reads the journal at `path` read-only (nothing written,
// nothing converted) and checks every row: its structure, its checksums
// (schema 3; older journals have none to check), each event parsed whole
// and holding its own sequence, and sequences running on without a gap or
// overlap from the journal's first sequence. Calls `report` with one line
// per damaged event or row ("event 12 is damaged (checksum mismatch)"),
// then reads on. An error (DATA_LOSS or NOT_FOUND naming the file) when the
// file cannot be read at all. Not for a journal being converted.
absl::StatusOr<JournalFileCheck> VerifyJournalFile(const std::string& path,
                                                   const std::function<void(const std::string&)>& report);

}  // namespace kessan
