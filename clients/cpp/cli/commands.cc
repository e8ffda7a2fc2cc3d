#include "cli/commands.h"

#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "kessan/publish_file.h"

namespace kessan::cli {
namespace {

namespace pb = ::google::protobuf;

// One JSON object: on one line, or indented when `pretty`. No trailing
// newline either way.
absl::StatusOr<std::string> ToJson(const pb::Message& message, bool pretty) {
  pb::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  std::string json;
  pb::util::Status status = pb::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("encoding ", message.GetTypeName(), " as JSON: ", std::string(status.message())));
  }
  absl::string_view trimmed = absl::StripTrailingAsciiWhitespace(json);
  json.resize(trimmed.size());
  return json;
}

v1::SubscribeRequest MakeSubscribeRequest(const Args& args) {
  v1::SubscribeRequest request;
  *request.mutable_filter() = args.filter;
  request.set_start(args.start);
  if (args.start == v1::START_MODE_FROM_SEQUENCE) {
    request.set_from_sequence(args.from_sequence);
  }
  request.set_heartbeat_interval_ms(args.heartbeat_ms);
  request.set_slow_consumer_policy(args.policy);
  if (args.point_in_time.view() != v1::REVISION_VIEW_UNSPECIFIED) {
    *request.mutable_point_in_time() = args.point_in_time;
  }
  return request;
}

std::string StatusText(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message());
}

}  // namespace

std::string DescribeNotice(const ResumeNotice& notice) {
  switch (notice.kind) {
    case ResumeNotice::Kind::kDisconnected:
      return absl::StrCat("kessan: stream ended (", StatusText(notice.status), "); reconnecting in ",
                          absl::FormatDuration(notice.delay), " (attempt ", notice.attempt, "), ",
                          notice.restart_snapshot
                              ? std::string("starting the snapshot over")
                              : absl::StrCat("resuming after sequence ", notice.resume_from));
    case ResumeNotice::Kind::kResumed:
      return absl::StrCat("kessan: reconnected", notice.server.empty() ? "" : " to ", notice.server,
                          " (attempt ", notice.attempt, ")");
    case ResumeNotice::Kind::kResync:
      return absl::StrCat(
          "kessan: resync: the journal no longer holds the events after "
          "sequence ",
          notice.resync.requested_sequence(), " (oldest ", notice.resync.oldest_available_sequence(),
          "); a full snapshot follows");
  }
  return "kessan: notice";
}

namespace {

absl::Status RunSubscribe(const Args& args, Client& client, CallOptions call, std::ostream& out,
                          std::ostream& err) {
  absl::Status encode_status;
  uint64_t count = 0;
  auto on_event = [&](const v1::FeedEvent& event) {
    absl::StatusOr<std::string> json = ToJson(event, /*pretty=*/false);
    if (!json.ok()) {
      encode_status = json.status();
      return false;
    }
    out << *json << '\n' << std::flush;  // Live: one line at a time.
    // --limit counts journaled events; control events (snapshot
    // boundaries, heartbeats) carry sequence 0 and are not counted.
    if (event.sequence() != 0) ++count;
    return args.limit == 0 || count < args.limit;
  };
  const v1::SubscribeRequest request = MakeSubscribeRequest(args);
  absl::Status status;
  if (args.reconnect) {
    ResumeOptions resume;
    resume.on_notice = [&](const ResumeNotice& notice) {
      err << DescribeNotice(notice) << '\n' << std::flush;
    };
    status = client.SubscribeResuming(request, on_event, resume, call);
  } else {
    status = client.Subscribe(request, on_event, call);
  }
  return encode_status.ok() ? status : encode_status;
}

absl::Status RunSnapshot(const Args& args, Client& client, CallOptions call, std::ostream& out) {
  v1::GetSnapshotRequest request;
  *request.mutable_filter() = args.filter;
  if (args.point_in_time.view() != v1::REVISION_VIEW_UNSPECIFIED) {
    *request.mutable_point_in_time() = args.point_in_time;
  }
  absl::StatusOr<v1::GetSnapshotResponse> snapshot = client.GetSnapshot(request, call);
  if (!snapshot.ok()) return snapshot.status();
  if (!args.jsonl) {
    absl::StatusOr<std::string> json = ToJson(*snapshot, /*pretty=*/true);
    if (!json.ok()) return json.status();
    out << *json << '\n';
    return absl::OkStatus();
  }
  for (const v1::FeedEvent& event : snapshot->events()) {
    absl::StatusOr<std::string> json = ToJson(event, /*pretty=*/false);
    if (!json.ok()) return json.status();
    out << *json << '\n';
  }
  return absl::OkStatus();
}

// A data set larger than a server's batch limit goes as several batches,
// in order, each retried under its own key; --batch-key KEY becomes KEY/1,
// KEY/2, ... for them.
absl::Status RunPublish(const Args& args, Client& client, CallOptions call, std::ostream& out) {
  absl::StatusOr<std::vector<v1::PublishRequest>> batches =
      LoadPublishBatchesFromFile(args.file, args.max_batch_items);
  if (!batches.ok()) return batches.status();
  std::vector<uint64_t> sequences;
  bool all_duplicate = true;
  for (size_t i = 0; i < batches->size(); ++i) {
    v1::PublishRequest& request = (*batches)[i];
    if (!args.publisher_id.empty()) request.set_publisher_id(args.publisher_id);
    if (!args.batch_key.empty()) {
      request.set_batch_key(batches->size() == 1 ? args.batch_key : absl::StrCat(args.batch_key, "/", i + 1));
    }
    absl::StatusOr<v1::PublishResponse> response =
        client.PublishWithRetry(std::move(request), PublishRetryOptions(), call);
    if (!response.ok()) {
      if (batches->size() == 1) return response.status();
      return absl::Status(response.status().code(),
                          absl::StrCat("batch ", i + 1, " of ", batches->size(), " (", sequences.size(),
                                       " items published before it): ", response.status().message()));
    }
    sequences.insert(sequences.end(), response->sequences().begin(), response->sequences().end());
    all_duplicate = all_duplicate && response->duplicate();
  }
  // Plain JSON numbers: sequences stay far below 2^53.
  out << "{\"sequences\":[" << absl::StrJoin(sequences, ",") << "]"
      << (all_duplicate ? ",\"duplicate\":true" : "") << "}\n";
  return absl::OkStatus();
}

}  // namespace

int RunCommand(const Args& args, Client& client, std::ostream& out, std::ostream& err) {
  const CallOptions call{.timeout = args.timeout};
  absl::Status status;
  switch (args.command) {
    case Command::kSubscribe:
      status = RunSubscribe(args, client, call, out, err);
      break;
    case Command::kSnapshot:
      status = RunSnapshot(args, client, call, out);
      break;
    case Command::kPublish:
      status = RunPublish(args, client, call, out);
      break;
    case Command::kHelp:
      out << Usage();
      return kExitOk;
  }
  out.flush();
  if (!status.ok()) {
    err << "kessan: " << absl::StatusCodeToString(status.code()) << ": " << status.message() << '\n';
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace kessan::cli
