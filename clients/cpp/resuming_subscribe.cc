// Client::SubscribeResuming(): a subscription that resumes after its stream
// ended, from the last journaled sequence it delivered.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client_impl.h"
#include "grpc_status.h"
#include "kessan/resume.h"

namespace kessan {
namespace {

// A concept no item has: a GetSnapshot filtered on it returns only the
// journal's last sequence.
constexpr char kNoSuchConcept[] = "zz_kessan_client_no_such_concept";

// StallWatchdog
//
// Cancels `context` when the caller has waited for the stream longer than
// `limit` without anything arriving. Time spent outside Read() (in the
// caller's callback) does not count. Thread-safe.
class StallWatchdog {
 public:
  StallWatchdog(grpc::ClientContext& context, absl::Duration limit)
      : context_(context), limit_(limit), thread_([this] { Run(); }) {}

  ~StallWatchdog() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

  // Around each Read().
  void WaitingStarts() { Set(true); }
  void WaitingEnds() { Set(false); }

  bool fired() {
    absl::MutexLock lock(&mu_);
    return fired_;
  }

 private:
  void Set(bool waiting) {
    absl::MutexLock lock(&mu_);
    waiting_ = waiting;
    since_ = absl::Now();
    ++generation_;
  }

  void Run() {
    absl::MutexLock lock(&mu_);
    while (!stop_) {
      const uint64_t generation = generation_;
      auto changed = [this, generation]()
                         ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_ || generation_ != generation; };
      if (!waiting_) {
        mu_.Await(absl::Condition(&changed));
        continue;
      }
      if (!mu_.AwaitWithDeadline(absl::Condition(&changed), since_ + limit_)) {
        fired_ = true;
        context_.TryCancel();
        return;
      }
    }
  }

  grpc::ClientContext& context_;
  const absl::Duration limit_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time since_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // Last: starts once the fields are set.
};

// How one stream ended.
struct StreamEnd {
  absl::Status status;
  // The caller's callback said stop, the feed broke its rules or the caller's
  // deadline passed: do not resume.
  bool final = false;
  // The stream delivered an event to the caller (a duplicate does not
  // count).
  bool progress = false;
  // The stall watchdog ended it.
  bool stalled = false;
};

// A server that is unreachable, gone or silent: the next one may serve.
bool MovesToNextServer(const StreamEnd& end) { return end.stalled || internal::FailsOver(end.status); }

uint32_t HeartbeatMs(absl::Duration interval) {
  return static_cast<uint32_t>(std::clamp<int64_t>(absl::ToInt64Milliseconds(interval), 100, 60000));
}

}  // namespace

absl::Status Client::SubscribeResuming(const v1::SubscribeRequest& request_in, EventCallback on_event,
                                       const ResumeOptions& resume, const CallOptions& call) {
  const absl::Time deadline =
      call.timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + call.timeout;
  v1::SubscribeRequest request = request_in;
  if (request.heartbeat_interval_ms() == 0) {
    request.set_heartbeat_interval_ms(HeartbeatMs(resume.heartbeat_interval));
  }
  // The server clamps the interval to [100 ms, 60 s]; so does the stall
  // limit.
  const absl::Duration stall_limit =
      absl::Milliseconds(HeartbeatMs(absl::Milliseconds(request.heartbeat_interval_ms()))) *
      std::max(1, resume.stall_heartbeats);
  const auto sleep = resume.sleep ? resume.sleep : [](absl::Duration d) { absl::SleepFor(d); };
  auto notify = [&](const ResumeNotice& notice) {
    if (resume.on_notice) resume.on_notice(notice);
  };
  Backoff backoff(resume.backoff, resume.random);
  ResumeTracker tracker(request);
  if (!impl_->config_status.ok()) return impl_->config_status;
  const size_t servers = impl_->size();

  // One stream on `server`, from `next` until it ends.
  auto run_stream = [&](size_t server, const v1::SubscribeRequest& next, bool retry) -> StreamEnd {
    StreamEnd end;
    grpc::ClientContext context;
    if (deadline != absl::InfiniteFuture()) {
      context.set_deadline(absl::ToChronoTime(deadline));
    }
    std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
        impl_->endpoints[server].stub->Subscribe(&context, next);
    StallWatchdog watchdog(context, stall_limit);
    v1::SubscribeResponse response;
    bool responded = false;
    while (!end.final) {
      watchdog.WaitingStarts();
      const bool read = reader->Read(&response);
      watchdog.WaitingEnds();
      if (!read) break;
      if (!responded && retry) {
        notify({.kind = ResumeNotice::Kind::kResumed,
                .attempt = backoff.attempts(),
                .resume_from = next.from_sequence(),
                .server = impl_->addresses[server]});
      }
      responded = true;
      for (const v1::FeedEvent& event : response.events()) {
        absl::StatusOr<ResumeTracker::Verdict> verdict = tracker.Accept(event);
        if (!verdict.ok()) {
          end.status = verdict.status();
          end.final = true;
          break;
        }
        if (*verdict == ResumeTracker::Verdict::kDuplicate) continue;
        if (event.has_resync()) {
          notify({.kind = ResumeNotice::Kind::kResync,
                  .attempt = backoff.attempts(),
                  .resume_from = event.resync().requested_sequence(),
                  .restart_snapshot = true,
                  .resync = event.resync(),
                  .server = impl_->addresses[server]});
        }
        end.progress = true;
        if (!on_event(event)) {
          end.final = true;
          break;
        }
      }
    }
    if (end.final) {
      context.TryCancel();
      while (reader->Read(&response)) {
      }
      reader->Finish().IgnoreError();  // CANCELLED, by us.
      return end;
    }
    const grpc::Status finished = reader->Finish();
    end.stalled = watchdog.fired();
    end.status = watchdog.fired()
                     ? absl::DeadlineExceededError(absl::StrCat("stalled stream: no event or heartbeat for ",
                                                                absl::FormatDuration(stall_limit)))
                     : internal::FromGrpcStatus(finished);
    // gRPC's timer may fire a little before absl::Now() reaches the
    // caller's deadline: that end is the caller's, not a reason to resume.
    end.final = !watchdog.fired() && finished.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
                absl::Now() + absl::Milliseconds(50) >= deadline;
    return end;
  };

  // LIVE_ONLY resumes from the journal's last sequence at the start.
  auto find_head = [&](size_t server) -> absl::Status {
    v1::GetSnapshotRequest probe;
    probe.mutable_filter()->add_concepts(kNoSuchConcept);
    absl::StatusOr<v1::GetSnapshotResponse> head = impl_->SnapshotOn(server, probe, deadline);
    if (!head.ok()) return head.status();
    tracker.SetPosition(head->sequence());
    return absl::OkStatus();
  };

  // Servers that failed one after the other since the last backoff.
  size_t failed_in_round = 0;
  for (bool retry = false;; retry = true) {
    const size_t server = impl_->Current();
    StreamEnd end;
    if (retry) {
      end.status = impl_->Reconnect(server, std::min(deadline, absl::Now() + resume.connect_timeout));
    }
    if (end.status.ok() && request.start() == v1::START_MODE_LIVE_ONLY && !tracker.position_known()) {
      end.status = find_head(server);
    }
    if (end.status.ok()) end = run_stream(server, tracker.NextRequest(), retry);
    tracker.StreamEnded();
    // Stopped by the callback, a broken rule, the deadline, or a clean end by
    // the server.
    if (end.final || end.status.ok()) return end.status;
    if (!IsRetryableSubscribeEnd(end.status) || absl::Now() >= deadline) {
      return end.status;
    }
    if (end.progress) {
      backoff.Reset();
      failed_in_round = 0;
    }
    // The next server at once; a backoff after each full round.
    bool wait = true;
    if (servers > 1 && MovesToNextServer(end)) {
      impl_->Failover(server, end.status);
      wait = ++failed_in_round >= servers;
      if (wait) failed_in_round = 0;
    }
    if (wait && backoff.Exhausted()) return end.status;
    const absl::Duration delay =
        wait ? std::min(backoff.NextDelay(), deadline - absl::Now()) : absl::ZeroDuration();
    notify({.kind = ResumeNotice::Kind::kDisconnected,
            .status = end.status,
            .attempt = backoff.attempts(),
            .delay = delay,
            .resume_from = tracker.snapshot_pending() ? 0 : tracker.position(),
            .restart_snapshot = tracker.snapshot_pending(),
            .server = impl_->addresses[impl_->Current()]});
    if (wait) sleep(delay);
  }
}

}  // namespace kessan
