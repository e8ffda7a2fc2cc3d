#include "rpc/wire.h"

#include <utility>

namespace kessan {
namespace {

// What a response's slices keep alive.
struct Keep {
  std::vector<EventPtr> events;
  std::vector<WireRunPtr> runs;
};

void DeleteKeep(void* keep) { delete static_cast<Keep*>(keep); }

}  // namespace

// grpc::Slice is a grpc_slice and nothing else, which ByteBuffer's
// constructor relies on too.
static_assert(sizeof(grpc::Slice) == sizeof(grpc_slice));

void WireBuilder::Build(std::vector<EventPtr> events, std::vector<WireRunPtr> runs, grpc::ByteBuffer* out) {
  ranges_.clear();
  PlanWire(events, runs, &ranges_);
  auto* keep = new Keep{std::move(events), std::move(runs)};
  // The anchor holds the one reference to the refcount until the buffer
  // has taken its own (one per slice, on this uncontended count).
  grpc_slice anchor = grpc_slice_new_with_user_data(keep, 0, &DeleteKeep, keep);
  slices_.clear();
  for (absl::string_view r : ranges_) {
    grpc_slice s;
    s.refcount = anchor.refcount;
    s.data.refcounted.bytes = reinterpret_cast<uint8_t*>(const_cast<char*>(r.data()));
    s.data.refcounted.length = r.size();
    slices_.push_back(s);
  }
  {
    grpc::ByteBuffer fresh(reinterpret_cast<const grpc::Slice*>(slices_.data()), slices_.size());
    out->Swap(&fresh);
  }
  grpc_slice_unref(anchor);
}

}  // namespace kessan
