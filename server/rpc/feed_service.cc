#include "rpc/feed_service.h"

#include "rpc/status_util.h"
#include "rpc/subscribe_stream.h"

namespace kessan {

grpc::Status FeedServiceImpl::Publish(grpc::ServerContext*,
                                      const v1::PublishRequest* request,
                                      v1::PublishResponse* response) {
  absl::StatusOr<v1::PublishResponse> result = feed_.Publish(*request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status FeedServiceImpl::GetSnapshot(grpc::ServerContext*,
                                          const v1::GetSnapshotRequest* request,
                                          v1::GetSnapshotResponse* response) {
  absl::StatusOr<v1::GetSnapshotResponse> result = feed_.Snapshot(*request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* FeedServiceImpl::Subscribe(
    grpc::CallbackServerContext*, const grpc::ByteBuffer* raw) {
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
  absl::StatusOr<std::shared_ptr<Subscription>> subscription = feed_.Subscribe(request);
  if (!subscription.ok()) return RefuseStream(ToGrpcStatus(subscription.status()));
  return StartSubscribeStream(feed_, *std::move(subscription));
}

}  // namespace kessan
