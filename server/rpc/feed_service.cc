#include "rpc/feed_service.h"

#include <memory>

#include "google/protobuf/arena.h"
#include "rpc/grpc_caller.h"
#include "rpc/metrics_interceptor.h"
#include "rpc/status_util.h"
#include "rpc/subscribe_stream.h"
#include "rpc/unary_call.h"

namespace kessan {
namespace {

// A publish's request and events are parsed onto an arena whose first block
// is the serving thread's own, reused call after call: a batch of 1,000
// 200-byte facts takes ~0.9 MB. A block after it is 1 MiB too.
constexpr size_t kPublishFirstBlock = 1 << 20;

google::protobuf::ArenaOptions PublishArenaOptions() {
  thread_local const std::unique_ptr<char[]> block(new char[kPublishFirstBlock]);
  google::protobuf::ArenaOptions options;
  options.initial_block = block.get();
  options.initial_block_size = kPublishFirstBlock;
  options.max_block_size = kPublishFirstBlock;
  return options;
}

}  // namespace

grpc::Status FeedServiceImpl::BytesPublish(
    grpc::ServerContext* context, grpc::ServerUnaryStreamer<grpc::ByteBuffer, grpc::ByteBuffer>* stream) {
  google::protobuf::Arena arena(PublishArenaOptions());
  auto* request = google::protobuf::Arena::CreateMessage<v1::PublishRequest>(&arena);
  return ServeUnaryBytes<v1::PublishRequest, v1::PublishResponse>(
      *context, *stream, request, services_, kPublishMethod, publish_metrics_,
      [&](const Caller& caller, absl::Span<const absl::string_view> pieces) {
        const std::vector<ItemBody> bodies = PublishItemBodies(pieces, &arena);
        return services_.Publish(caller, request, &bodies);
      });
}

grpc::Status FeedServiceImpl::StreamedGetSnapshot(
    grpc::ServerContext* context,
    grpc::ServerUnaryStreamer<v1::GetSnapshotRequest, v1::GetSnapshotResponse>* stream) {
  v1::GetSnapshotRequest request;
  return ServeUnary(*context, *stream, &request, services_, kGetSnapshotMethod, get_snapshot_metrics_,
                    [&](const Caller& caller) { return services_.GetSnapshot(caller, std::move(request)); });
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
