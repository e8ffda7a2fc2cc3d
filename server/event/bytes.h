// Bytes: an immutable, reference-counted byte range.
#pragma once

#include <cstddef>
#include <memory>

#include "absl/strings/string_view.h"

namespace kessan {

// Bytes shares its buffer: a copy or a Sub() takes a reference (an atomic
// increment), never a copy of the bytes. The buffer is freed with its last
// reference. Thread-safe as std::shared_ptr is. The transport (rpc/) hands
// the same memory to gRPC without a copy.
class Bytes {
 public:
  Bytes() = default;

  // A new buffer of `size` bytes, left uninitialized: the caller fills it
  // through `*data` before it shares the result.
  static Bytes Allocate(size_t size, char** data);
  // A new buffer holding a copy of `s`.
  static Bytes CopyOf(absl::string_view s);

  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  absl::string_view view() const { return absl::string_view(data(), size_); }

  // [begin, end) of this range, sharing its buffer.
  Bytes Sub(size_t begin, size_t end) const;

  // True when both ranges are in one buffer.
  bool SharesBufferWith(const Bytes& other) const {
    return !data_.owner_before(other.data_) && !other.data_.owner_before(data_);
  }

 private:
  Bytes(std::shared_ptr<const char> data, size_t size) : data_(std::move(data)), size_(size) {}

  std::shared_ptr<const char> data_;  // aliases the buffer's owner
  size_t size_ = 0;
};

}  // namespace kessan
