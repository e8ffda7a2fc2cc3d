#include "feed/wire_run.h"

#include <cstring>

namespace kessan {

// grpc::Slice is a grpc_slice and nothing else, which grpc::ByteBuffer's
// constructor also relies on.
static_assert(sizeof(grpc::Slice) == sizeof(grpc_slice));

grpc_slice BorrowSlice(const grpc::Slice& s) {
  return *reinterpret_cast<const grpc_slice*>(&s);
}

WireRun::WireRun(std::vector<EventPtr> events) : events_(std::move(events)) {
  offsets_.reserve(events_.size() + 1);
  size_t total = 0;
  for (const EventPtr& e : events_) {
    offsets_.push_back(total);
    total += e->frame_size();
  }
  offsets_.push_back(total);
  // Never inlined (a small slice would be), so sub-slices share its count.
  bytes_ = grpc::Slice(grpc_slice_malloc_large(total), grpc::Slice::STEAL_REF);
  char* at = reinterpret_cast<char*>(const_cast<uint8_t*>(bytes_.begin()));
  for (const EventPtr& e : events_) {
    std::memcpy(at, e->frame().data(), e->frame_size());
    at += e->frame_size();
  }
}

bool WireRun::Locate(const EncodedEvent& e, size_t* begin, size_t* end) const {
  const uint64_t s = e.sequence();
  if (s < first_sequence() || s > last_sequence()) return false;
  const size_t i = s - first_sequence();
  if (events_[i].get() != &e) return false;
  *begin = offsets_[i];
  *end = offsets_[i + 1];
  return true;
}

void AppendWire(const std::vector<EventPtr>& events, const std::vector<WireRunPtr>& runs,
                std::vector<grpc_slice>* out) {
  const size_t first = out->size();
  const WireRun* open = nullptr;
  size_t open_begin = 0;
  size_t open_end = 0;
  auto close = [&] {
    if (open != nullptr) {
      out->push_back(grpc_slice_sub_no_ref(BorrowSlice(open->bytes()), open_begin, open_end));
    }
    open = nullptr;
  };
  size_t r = 0;
  for (const EventPtr& e : events) {
    while (r < runs.size() && runs[r]->last_sequence() < e->sequence()) ++r;
    size_t begin;
    size_t end;
    const WireRun* run =
        r < runs.size() && runs[r]->Locate(*e, &begin, &end) ? runs[r].get() : nullptr;
    if (run != nullptr && run == open && begin == open_end) {
      open_end = end;
      continue;
    }
    close();
    if (run != nullptr) {
      open = run;
      open_begin = begin;
      open_end = end;
    } else {
      grpc_slice frame = BorrowSlice(e->slice());
      // Frames next to each other in one buffer (a journal row's, on
      // replay) go out as one slice.
      if (out->size() > first && out->back().refcount != nullptr &&
          out->back().refcount == frame.refcount &&
          out->back().data.refcounted.bytes + out->back().data.refcounted.length ==
              frame.data.refcounted.bytes) {
        out->back().data.refcounted.length += frame.data.refcounted.length;
      } else {
        out->push_back(frame);
      }
    }
  }
  close();
}

}  // namespace kessan
