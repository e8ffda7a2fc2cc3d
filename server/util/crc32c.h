// CRC32C (Castagnoli): the checksum of the journal's rows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace kessan::crc32c {

// Extend: the CRC32C of the bytes checksummed into `crc` followed by
// [data, data + size). Extend(0, ...) starts a checksum, so
// Extend(Extend(0, a), b) == Value(a + b). Uses the SSE4.2 instruction when
// the CPU has it, a table otherwise; both give the same values. Thread-safe.
uint32_t Extend(uint32_t crc, const void* data, size_t size);

// Value: the CRC32C of `bytes`. Value("123456789") == 0xE3069283.
inline uint32_t Value(absl::string_view bytes) { return Extend(0, bytes.data(), bytes.size()); }

// ExtendPortable: Extend without the SSE4.2 instruction (for tests).
uint32_t ExtendPortable(uint32_t crc, const void* data, size_t size);

}  // namespace kessan::crc32c
