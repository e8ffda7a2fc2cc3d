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
  if (!stream->Read(request)) return NotARequest("kessan.v1.PublishRequest");
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

grpc::Status FeedServiceImpl::StreamedGetSnapshot(
    grpc::ServerContext* context,
    grpc::ServerUnaryStreamer<v1::GetSnapshotRequest, v1::GetSnapshotResponse>* stream) {
  absl::StatusOr<auth::Principal> principal = guard_.Authorize(*context, auth::Role::kSubscriber, kGetSnapshot);
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  v1::GetSnapshotRequest request;
  if (!stream->Read(&request)) return NotARequest("kessan.v1.GetSnapshotRequest");
  absl::StatusOr<v1::Filter> filter = guard_.Entitle(*principal, request.filter());
  if (!filter.ok()) return guard_.Refuse(*principal, kGetSnapshot, filter.status());
  *request.mutable_filter() = *std::move(filter);
  absl::StatusOr<v1::GetSnapshotResponse> result = feed_.Snapshot(request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  if (!stream->Write(*result)) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the caller went away");
  }
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* FeedServiceImpl::Subscribe(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw) {
  absl::StatusOr<auth::Principal> principal = guard_.Authorize(*context, auth::Role::kSubscriber, kSubscribe);
  if (!principal.ok()) return RefuseStream(ToGrpcStatus(principal.status()));
  v1::SubscribeRequest request;
  if (!ParseRequest(*raw, &request)) {
    return RefuseStream(NotARequest("kessan.v1.SubscribeRequest"));
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
  // A reload of the principals file that revokes the caller ends the stream.
  std::weak_ptr<Subscription> weak = *subscription;
  std::shared_ptr<void> tracked = guard_.TrackStream(
      *principal, auth::Role::kSubscriber, kSubscribe, [weak](const absl::Status& status) {
        if (std::shared_ptr<Subscription> s = weak.lock()) {
          s->Close(status);
          s->Wake();
        }
      });
  auto held = std::make_shared<std::pair<auth::Lease, std::shared_ptr<void>>>(
      *std::move(lease), std::move(tracked));
  return StartSubscribeStream(feed_, *std::move(subscription), std::move(held));
}

}  // namespace kessan
