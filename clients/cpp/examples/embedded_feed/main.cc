// embedded_feed: an application that embeds the Kessan feed server.
//
// It starts a kessan::Server in its own process (SQLite journal, bundled
// scenario plugins, optionally the IIJ data set as seed), then, at the same
// time:
//   - publishes its own facts in process (kessan/local.h), with the same
//     validation, journaling and sequences as a remote publisher;
//   - subscribes in process with a callback;
//   - runs the `dilution` scenario in process;
//   - serves remote gRPC subscribers on --listen (try
//     `kessan subscribe --server 127.0.0.1:50052 --issuer DEMO`).
// With --check it also subscribes over gRPC with the C++ client library,
// checks that both subscribers see the same events under the same
// sequences, and exits (0 when all held).
//
// The DEMO issuer and its figure are the application's own illustrative
// data, not part of the IIJ data set.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/text_format.h"
#include "kessan/client.h"
#include "kessan/local.h"
#include "kessan/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50052", "host:port for remote gRPC subscribers (port 0: any)");
ABSL_FLAG(std::string, data_dir, "", "journal directory (default: a new one under /tmp)");
ABSL_FLAG(std::string, seed, "",
          "a data set to load into an empty journal (e.g. data/iij/iij_4q02_fy2002.txtpb)");
ABSL_FLAG(bool, check, false, "check in-process against remote delivery, then exit");

namespace {

absl::Notification stop;

void OnSignal(int) { stop.Notify(); }

// The application's own issuer.
kessan::v1::PublishRequest DemoIssuer() {
  kessan::v1::PublishRequest request;
  google::protobuf::TextFormat::ParseFromString(
      R"pb(items { issuer { id: "DEMO" name: "Demo Trading Co." fiscal_year_end_month: 12 } })pb", &request);
  return request;
}

// One figure of it (illustrative).
kessan::v1::PublishRequest DemoRevenue(int64_t revenue_units) {
  kessan::v1::PublishRequest request;
  google::protobuf::TextFormat::ParseFromString(absl::StrCat(R"pb(
    items {
      fact {
        key {
          issuer: "DEMO"
          concept_id: "revenue"
          period { fiscal_year: 2026 kind: PERIOD_KIND_QUARTER number: 3 }
        }
        value {
          money { currency_code: "JPY" units: )pb",
                                                             revenue_units, R"pb( }
          precision { decimals: -6 qualifier: QUALIFIER_EQUAL }
        }
        provenance {
          document: "embedded_feed example"
          line_start: 1
          line_end: 1
          quote: "illustrative figure"
        }
      }
    })pb"),
                                                &request);
  return request;
}

// What the in-process subscriber saw: the sequences of journaled events.
struct Seen {
  absl::Mutex mu;
  std::vector<uint64_t> sequences ABSL_GUARDED_BY(mu);
};

int Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "embedded_feed: %s: %s\n", what.c_str(), status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  kessan::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (options.data_dir.empty()) {
    options.data_dir =
        (std::filesystem::temp_directory_path() / absl::StrCat("kessan-embedded-", getpid())).string();
  }
  options.seed_path = absl::GetFlag(FLAGS_seed);
  absl::StatusOr<std::unique_ptr<kessan::Server>> server = kessan::Server::Start(options);
  if (!server.ok()) return Fail("start", server.status());
  std::printf("serving gRPC on 127.0.0.1:%d, journal in %s\n", (*server)->port(), options.data_dir.c_str());

  // 1. Publish in process: acknowledged once journaled (fsync included).
  std::unique_ptr<kessan::LocalClient> local = (*server)->Local();
  absl::StatusOr<kessan::v1::PublishResponse> ack = local->Publish(DemoIssuer());
  if (!ack.ok()) return Fail("publish the issuer", ack.status());

  // 2. Subscribe in process: the callbacks run on the server's delivery
  //    threads and must return promptly.
  kessan::v1::SubscribeRequest request;
  request.mutable_filter()->add_issuers("DEMO");
  request.set_start(kessan::v1::START_MODE_LIVE_ONLY);
  Seen seen;
  kessan::SubscribeCallbacks on;
  on.on_event = [&seen](const kessan::v1::FeedEvent& event) {
    if (event.sequence() == 0) return;  // heartbeats
    std::printf("in-process event %llu: %s\n", static_cast<unsigned long long>(event.sequence()),
                absl::StrCat(event.fact().key().concept_id(), " = ", event.fact().value().money().units(),
                             " JPY, revision ", event.fact().revision())
                    .c_str());
    absl::MutexLock lock(&seen.mu);
    seen.sequences.push_back(event.sequence());
  };
  on.on_end = [](const absl::Status& status) {
    std::printf("in-process subscription ended: %s\n", status.ToString().c_str());
  };
  absl::StatusOr<std::unique_ptr<kessan::LocalSubscription>> subscription =
      local->Subscribe(request, std::move(on));
  if (!subscription.ok()) return Fail("subscribe", subscription.status());

  // 3. A remote subscriber over gRPC (--check), started before the publish.
  std::vector<uint64_t> remote_sequences;
  absl::Mutex remote_mu;
  std::thread remote;
  if (absl::GetFlag(FLAGS_check)) {
    kessan::v1::SubscribeRequest remote_request = request;
    remote_request.set_start(kessan::v1::START_MODE_FROM_SEQUENCE);
    remote_request.set_from_sequence((*server)->last_sequence());
    remote = std::thread([&, remote_request, port = (*server)->port()] {
      kessan::Client client(absl::StrCat("127.0.0.1:", port));
      kessan::CallOptions call;
      call.timeout = absl::Seconds(60);
      absl::Status status = client.Subscribe(
          remote_request,
          [&](const kessan::v1::FeedEvent& event) {
            if (event.sequence() == 0) return true;
            absl::MutexLock lock(&remote_mu);
            remote_sequences.push_back(event.sequence());
            return remote_sequences.size() < 2;  // the figure and its revision
          },
          call);
      if (!status.ok()) std::fprintf(stderr, "remote subscriber: %s\n", status.ToString().c_str());
    });
  }

  // 4. Publish a figure and a revision of it.
  ack = local->Publish(DemoRevenue(1'250'000'000));
  if (!ack.ok()) return Fail("publish", ack.status());
  std::printf("published DEMO's 3Q revenue at sequence %llu\n",
              static_cast<unsigned long long>(ack->sequences(0)));
  absl::StatusOr<kessan::v1::PublishResponse> revised = local->Publish(DemoRevenue(1'260'000'000));
  if (!revised.ok()) return Fail("publish the revision", revised.status());

  // 5. Run a scenario in process (IIJ's placement: needs --seed).
  kessan::v1::RunScenarioRequest run;
  run.set_name("dilution");
  run.set_issuer("IIJ");
  (*run.mutable_parameters())["shares_outstanding_before"].set_integer(17345);
  absl::StatusOr<kessan::v1::RunScenarioResponse> result = local->RunScenario(run);
  if (result.ok()) {
    for (const auto& output : result->result().outputs()) {
      std::printf("dilution %s: %s\n", output.name().c_str(), output.derivation().c_str());
    }
  } else {
    std::printf("dilution: %s\n", result.status().ToString().c_str());
  }

  if (absl::GetFlag(FLAGS_check)) {
    remote.join();
    std::vector<uint64_t> local_sequences;
    {
      absl::MutexLock lock(&seen.mu);
      seen.mu.AwaitWithTimeout(absl::Condition(
                                   +[](std::vector<uint64_t>* s) { return s->size() >= 2; }, &seen.sequences),
                               absl::Seconds(60));
      local_sequences = seen.sequences;
    }
    absl::MutexLock lock(&remote_mu);
    const bool same = local_sequences == remote_sequences && local_sequences.size() == 2 &&
                      local_sequences.back() == revised->sequences(0);
    std::printf("check: in-process %zu events, remote %zu events, same sequences: %s; dilution: %s\n",
                local_sequences.size(), remote_sequences.size(), same ? "yes" : "no",
                result.ok() ? "ok" : "failed");
    return same && result.ok() ? 0 : 1;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::printf("Ctrl-C stops it\n");
  stop.WaitForNotification();
  subscription->reset();
  (*server)->Shutdown();
  return 0;
}
