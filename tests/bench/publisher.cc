#include "publisher.h"

#include <chrono>
#include <cstdio>

#include "bench_events.h"

namespace kessan::bench {

struct Publisher::Call {
  grpc::ClientContext context;
  v1::PublishResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::PublishResponse>> rpc;
  uint64_t count = 0;
  uint64_t sent_ns = 0;
};

Publisher::Publisher(std::shared_ptr<grpc::Channel> channel, int pad)
    : stub_(v1::FeedService::NewStub(std::move(channel))),
      pad_(pad),
      ack_hist_(std::make_unique<Histogram>()) {
  // Like any high-rate publisher: the sequences are all it needs back.
  request_.set_omit_events(true);
}

Publisher::~Publisher() {
  Drain(30);
  cq_.Shutdown();
  void* tag;
  bool ok;
  while (cq_.Next(&tag, &ok)) delete static_cast<Call*>(tag);
}

void Publisher::Send(const std::vector<uint64_t>& send_ns) {
  auto* items = request_.mutable_items();
  while (items->size() > static_cast<int>(send_ns.size())) items->RemoveLast();
  for (size_t i = 0; i < send_ns.size(); ++i) {
    v1::PublishItem* item =
        i < static_cast<size_t>(items->size()) ? items->Mutable(static_cast<int>(i)) : request_.add_items();
    FillFact(item, index_++, send_ns[i], pad_);
  }
  Start();
}

void Publisher::Send(size_t count, uint64_t send_ns) {
  std::vector<uint64_t> times(count, send_ns);
  Send(times);
}

void Publisher::Start() {
  auto* call = new Call;
  call->count = static_cast<uint64_t>(request_.items_size());
  call->sent_ns = NowNs();
  call->context.set_wait_for_ready(true);
  // The request is serialized here; request_ may change afterwards.
  call->rpc = stub_->PrepareAsyncPublish(&call->context, request_, &cq_);
  call->rpc->StartCall();
  call->rpc->Finish(&call->response, &call->status, call);
  ++in_flight_;
  ++rpcs_;
  sent_ += call->count;
}

bool Publisher::Poll(uint64_t deadline_ns) {
  if (in_flight_ == 0) return false;
  uint64_t now = NowNs();
  auto wait = std::chrono::nanoseconds(deadline_ns > now ? deadline_ns - now : 0);
  void* tag;
  bool ok;
  auto st = cq_.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + wait);
  if (st != grpc::CompletionQueue::GOT_EVENT) return false;
  auto* call = static_cast<Call*>(tag);
  --in_flight_;
  ack_hist_->Add((NowNs() - call->sent_ns) / 1000);
  if (!ok || !call->status.ok()) {
    if (errors_++ < 3) {
      std::fprintf(stderr, "kessan-bench: publish failed: %d %s\n",
                   static_cast<int>(call->status.error_code()), call->status.error_message().c_str());
    }
  } else {
    acked_ += call->count;
    for (uint64_t s : call->response.sequences()) last_sequence_ = std::max(last_sequence_, s);
  }
  delete call;
  return true;
}

void Publisher::Drain(int timeout_s) {
  uint64_t deadline = NowNs() + static_cast<uint64_t>(timeout_s) * 1000000000ull;
  while (in_flight_ > 0 && NowNs() < deadline) Poll(deadline);
}

}  // namespace kessan::bench
