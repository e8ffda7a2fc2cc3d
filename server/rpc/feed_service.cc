#include "rpc/feed_service.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "rpc/status_util.h"
#include "rpc/subscribe_stream.h"

namespace kessan {
namespace {

constexpr char kPublish[] = "/kessan.v1.FeedService/Publish";
constexpr char kGetSnapshot[] = "/kessan.v1.FeedService/GetSnapshot";
constexpr char kSubscribe[] = "/kessan.v1.FeedService/Subscribe";

}  // namespace

grpc::Status FeedServiceImpl::StreamedPublish(
    grpc::ServerContext* context,
    grpc::ServerUnaryStreamer<v1::PublishRequest, v1::PublishResponse>* stream) {
  absl::StatusOr<auth::Principal> principal = guard_.Authorize(*context, auth::Role::kPublisher, kPublish);
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  google::protobuf::Arena arena;
  auto* request = google::protobuf::Arena::CreateMessage<v1::PublishRequest>(&arena);
  if (!stream->Read(request)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "no request, or one that is not a kessan.v1.PublishRequest");
  }
  const std::string items = absl::StrCat("items=", request->items_size());
  if (absl::Status allowed = guard_.CheckPublish(*principal, *request); !allowed.ok()) {
    guard_.Audit(*principal, kPublish, allowed, items);
    return ToGrpcStatus(allowed);
  }
  absl::StatusOr<v1::PublishResponse> result =
      feed_.Publish(request, guard_.enabled() ? absl::string_view(principal->name) : "");
  guard_.Audit(*principal, kPublish, result.status(), items);
  if (!result.ok()) return ToGrpcStatus(result.status());
  if (!stream->Write(*result)) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the publisher went away");
  }
  return grpc::Status::OK;
}

grpc::Status FeedServiceImpl::GetSnapshot(grpc::ServerContext* context,
                                          const v1::GetSnapshotRequest* request,
                                          v1::GetSnapshotResponse* response) {
  absl::StatusOr<auth::Principal> principal = guard_.Authorize(*context, auth::Role::kSubscriber, kGetSnapshot);
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  absl::StatusOr<v1::Filter> filter = guard_.Entitle(*principal, request->filter());
  if (!filter.ok()) return guard_.Refuse(*principal, kGetSnapshot, filter.status());
  v1::GetSnapshotRequest entitled = *request;
  *entitled.mutable_filter() = *std::move(filter);
  absl::StatusOr<v1::GetSnapshotResponse> result = feed_.Snapshot(entitled);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* FeedServiceImpl::Subscribe(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw) {
  absl::StatusOr<auth::Principal> principal = guard_.Authorize(*context, auth::Role::kSubscriber, kSubscribe);
  if (!principal.ok()) return RefuseStream(ToGrpcStatus(principal.status()));
  v1::SubscribeRequest request;
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (!raw->Dump(&slices).ok()) {
    return RefuseStream(grpc::Status(grpc::StatusCode::INTERNAL, "cannot read request"));
  }
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  if (!request.ParseFromString(bytes)) {
    return RefuseStream(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                     "request is not a kessan.v1.SubscribeRequest"));
  }
  // The entitled filter also governs a resume: the subscription filters the
  // journal's backlog by it.
  absl::StatusOr<v1::Filter> filter = guard_.Entitle(*principal, request.filter());
  if (!filter.ok()) return RefuseStream(guard_.Refuse(*principal, kSubscribe, filter.status()));
  *request.mutable_filter() = *std::move(filter);
  absl::StatusOr<auth::Lease> lease = guard_.AcquireSubscription(*context);
  if (!lease.ok()) return RefuseStream(guard_.Refuse(*principal, kSubscribe, lease.status()));
  absl::StatusOr<std::shared_ptr<Subscription>> subscription = feed_.Subscribe(request);
  if (!subscription.ok()) return RefuseStream(ToGrpcStatus(subscription.status()));
  return StartSubscribeStream(feed_, *std::move(subscription), *std::move(lease));
}

}  // namespace kessan
