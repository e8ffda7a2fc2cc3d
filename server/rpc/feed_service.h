// FeedServiceImpl: kessan.v1.FeedService over gRPC, calling Services.
#pragma once

#include "google/protobuf/descriptor.h"
#include "kessan/v1/feed.grpc.pb.h"
#include "metrics/rpc_metrics.h"
#include "service/services.h"

namespace kessan {

// Publish as a streamed unary call of bytes (in place of the generated
// handler): BytesPublish parses the request itself, onto an arena, and finds
// the items' bytes, which Feed::Publish encodes facts and guidance from.
template <class Base>
class WithBytesMethod_Publish : public Base {
 public:
  WithBytesMethod_Publish() {
    grpc::Service::MarkMethodStreamed(
        google::protobuf::DescriptorPool::generated_pool()
            ->FindServiceByName("kessan.v1.FeedService")
            ->FindMethodByName("Publish")
            ->index(),
        new grpc::internal::StreamedUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
            [this](grpc::ServerContext* context,
                   grpc::ServerUnaryStreamer<grpc::ByteBuffer, grpc::ByteBuffer>* stream) {
              return BytesPublish(context, stream);
            }));
  }
  virtual grpc::Status BytesPublish(
      grpc::ServerContext* context,
      grpc::ServerUnaryStreamer<grpc::ByteBuffer, grpc::ByteBuffer>* stream) = 0;
};

// Publish (streamed unary of bytes, to read the request onto an arena) and
// GetSnapshot run on gRPC's synchronous pool (a publish waits for the
// journal's fsync), streamed so that bytes that are not a request are
// INVALID_ARGUMENT like any bad input; Subscribe is a raw callback stream that writes the
// events' pre-encoded bytes, several queued events per message, one write
// in flight. Each method records its own metrics (CallMetrics, without the
// interceptor: SelfRecordedMethods). Services and the metrics must outlive it.
class FeedServiceImpl final
    : public WithBytesMethod_Publish<v1::FeedService::WithStreamedUnaryMethod_GetSnapshot<
          v1::FeedService::WithRawCallbackMethod_Subscribe<v1::FeedService::Service>>> {
 public:
  // The methods whose calls the metrics interceptor leaves to the handler.
  static std::vector<std::string> SelfRecordedMethods() {
    return {kPublishMethod, kGetSnapshotMethod, kSubscribeMethod};
  }

  FeedServiceImpl(Services& services, const metrics::RpcMetrics& metrics)
      : services_(services),
        publish_metrics_(metrics.Find(kPublishMethod)),
        get_snapshot_metrics_(metrics.Find(kGetSnapshotMethod)),
        subscribe_metrics_(metrics.Find(kSubscribeMethod)) {}

  // Publish, read into a protobuf arena: its thousands of submessages are
  // allocated and freed in blocks, not one by one.
  grpc::Status BytesPublish(grpc::ServerContext* context,
                            grpc::ServerUnaryStreamer<grpc::ByteBuffer, grpc::ByteBuffer>* stream) override;
  grpc::Status StreamedGetSnapshot(
      grpc::ServerContext* context,
      grpc::ServerUnaryStreamer<v1::GetSnapshotRequest, v1::GetSnapshotResponse>* stream) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request) override;

 private:
  Services& services_;
  const metrics::RpcMetrics::Series& publish_metrics_;
  const metrics::RpcMetrics::Series& get_snapshot_metrics_;
  const metrics::RpcMetrics::Series& subscribe_metrics_;
};

}  // namespace kessan
