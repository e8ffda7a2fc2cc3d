#include "rpc/feed_service.h"

#include "google/protobuf/arena.h"
#include "rpc/grpc_caller.h"
#include "rpc/metrics_interceptor.h"
#include "rpc/status_util.h"
#include "rpc/subscribe_stream.h"

namespace kessan {

grpc::Status FeedServiceImpl::StreamedPublish(
    grpc::ServerContext* context,
    grpc::ServerUnaryStreamer<v1::PublishRequest, v1::PublishResponse>* stream) {
  CallMetrics metrics(publish_metrics_);
  const Caller caller = GrpcCaller(*context, services_.wants_certificate_names());
  google::protobuf::Arena arena;
  auto* request = google::protobuf::Arena::CreateMessage<v1::PublishRequest>(&arena);
  if (!stream->Read(request)) {
    if (absl::Status admitted = services_.Admit(caller, kPublishMethod); !admitted.ok()) {
      return metrics.Handled(ToGrpcStatus(admitted));
    }
    return metrics.Handled(NotARequest("kessan.v1.PublishRequest"));
  }
  metrics.Received();
  absl::StatusOr<v1::PublishResponse> result = services_.Publish(caller, request);
  if (!result.ok()) return metrics.Handled(ToGrpcStatus(result.status()));
  metrics.Sent();
  if (!stream->Write(*result)) {
    return metrics.Handled(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the publisher went away"));
  }
  return metrics.Handled(grpc::Status::OK);
}

grpc::Status FeedServiceImpl::StreamedGetSnapshot(
    grpc::ServerContext* context,
    grpc::ServerUnaryStreamer<v1::GetSnapshotRequest, v1::GetSnapshotResponse>* stream) {
  CallMetrics metrics(get_snapshot_metrics_);
  const Caller caller = GrpcCaller(*context, services_.wants_certificate_names());
  v1::GetSnapshotRequest request;
  if (!stream->Read(&request)) {
    if (absl::Status admitted = services_.Admit(caller, kGetSnapshotMethod); !admitted.ok()) {
      return metrics.Handled(ToGrpcStatus(admitted));
    }
    return metrics.Handled(NotARequest("kessan.v1.GetSnapshotRequest"));
  }
  metrics.Received();
  absl::StatusOr<v1::GetSnapshotResponse> result = services_.GetSnapshot(caller, std::move(request));
  if (!result.ok()) return metrics.Handled(ToGrpcStatus(result.status()));
  metrics.Sent();
  if (!stream->Write(*result)) {
    return metrics.Handled(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the caller went away"));
  }
  return metrics.Handled(grpc::Status::OK);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* FeedServiceImpl::Subscribe(grpc::CallbackServerContext* context,
                                                                       const grpc::ByteBuffer* raw) {
  const Caller caller = GrpcCaller(*context, services_.wants_certificate_names());
  v1::SubscribeRequest request;
  if (!ParseRequest(*raw, &request)) {
    if (absl::Status admitted = services_.Admit(caller, kSubscribeMethod); !admitted.ok()) {
      return RefuseStream(ToGrpcStatus(admitted), subscribe_metrics_, /*received=*/false);
    }
    return RefuseStream(NotARequest("kessan.v1.SubscribeRequest"), subscribe_metrics_, /*received=*/false);
  }
  absl::StatusOr<std::unique_ptr<FeedStream>> stream = services_.Subscribe(caller, std::move(request));
  if (!stream.ok()) return RefuseStream(ToGrpcStatus(stream.status()), subscribe_metrics_, /*received=*/true);
  return StartSubscribeStream(*std::move(stream), subscribe_metrics_);
}

}  // namespace kessan
