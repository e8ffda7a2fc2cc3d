// cli/args.h: the `kessan` command line, parsed into a value.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kessan/client.h"
#include "kessan/v1/feed.pb.h"

namespace kessan::cli {

// Process exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // The command ran and failed.
inline constexpr int kExitUsage = 2;    // The command line is wrong.

enum class Command { kHelp, kSubscribe, kSnapshot, kPublish };

// Args
//
// One `kessan` invocation. Fields a command does not use keep their
// defaults.
struct Args {
  Command command = Command::kHelp;
  // --server HOST:PORT[,HOST:PORT...]: as given, and split into `servers`,
  // the replicas to fail over between, in order.
  std::string server = kDefaultServerAddress;
  std::vector<std::string> servers = {kDefaultServerAddress};
  // --timeout DURATION ("30s", "500ms"): deadline of the call.
  absl::Duration timeout = absl::InfiniteDuration();
  // subscribe, snapshot: --issuer, --concept, --segment, --kind.
  v1::Filter filter;
  // subscribe: --from SEQ (START_MODE_FROM_SEQUENCE), --live (LIVE_ONLY);
  // neither: SNAPSHOT_THEN_LIVE.
  v1::StartMode start = v1::START_MODE_SNAPSHOT_THEN_LIVE;
  uint64_t from_sequence = 0;
  // subscribe: --limit N, stop after N journaled events (sequence > 0);
  // 0 means no limit.
  uint64_t limit = 0;
  // subscribe: resume after a lost connection (default); --no-reconnect
  // ends at the first error instead.
  bool reconnect = true;
  // subscribe: --heartbeat-ms N, the heartbeat interval asked for; 0: the
  // client's default (5000).
  uint32_t heartbeat_ms = 0;
  // subscribe: --policy disconnect|conflate.
  v1::SlowConsumerPolicy policy = v1::SLOW_CONSUMER_POLICY_UNSPECIFIED;
  // subscribe, snapshot: --view latest|first|as-of, --as-of RFC3339 (which
  // alone means --view as-of).
  v1::PointInTime point_in_time;
  // snapshot: --jsonl, one event per line instead of the pretty response.
  bool jsonl = false;
  // publish: the file to publish.
  std::string file;
  // publish: --publisher-id, --batch-key; generated when not given, so a
  // retried publish is applied once.
  std::string publisher_id;
  std::string batch_key;
  // Items per batch when a data set is published.
  uint64_t max_batch_items = 1000;
};

// ParseArgs()
//
// Parses the arguments after the program name. Flags take their value as
// `--flag VALUE` or `--flag=VALUE` and may come before or after the
// command; filter flags may repeat and take comma lists
// (`--issuer IIJ,XYZ --issuer ABC`). `--help`, `-h` or the command `help`
// give Command::kHelp. Returns INVALID_ARGUMENT with a one-line message for
// a wrong command line.
absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv);

// The usage text printed by `kessan --help`.
std::string Usage();

}  // namespace kessan::cli
