#include "event/bytes.h"

#include <cassert>
#include <cstring>

namespace kessan {

Bytes Bytes::Allocate(size_t size, char** data) {
  std::shared_ptr<char[]> buffer = std::make_shared_for_overwrite<char[]>(size == 0 ? 1 : size);
  *data = buffer.get();
  return Bytes(std::shared_ptr<const char>(buffer, buffer.get()), size);
}

Bytes Bytes::CopyOf(absl::string_view s) {
  char* at;
  Bytes bytes = Allocate(s.size(), &at);
  if (!s.empty()) std::memcpy(at, s.data(), s.size());
  return bytes;
}

Bytes Bytes::Sub(size_t begin, size_t end) const {
  assert(begin <= end && end <= size_);
  return Bytes(std::shared_ptr<const char>(data_, data_.get() + begin), end - begin);
}

}  // namespace kessan
