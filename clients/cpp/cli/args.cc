#include "cli/args.h"

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace kessan::cli {
namespace {

// Which commands accept a flag.
enum : unsigned {
  kOnSubscribe = 1u << 0,
  kOnSnapshot = 1u << 1,
  kOnPublish = 1u << 2,
  kOnAll = kOnSubscribe | kOnSnapshot | kOnPublish,
  kOnFiltered = kOnSubscribe | kOnSnapshot,
};

struct FlagSpec {
  absl::string_view name;
  bool takes_value;
  unsigned commands;
};

constexpr FlagSpec kFlags[] = {
    {"server", true, kOnAll},
    {"timeout", true, kOnAll},
    {"issuer", true, kOnFiltered},
    {"concept", true, kOnFiltered},
    {"segment", true, kOnFiltered},
    {"kind", true, kOnFiltered},
    {"from", true, kOnSubscribe},
    {"live", false, kOnSubscribe},
    {"limit", true, kOnSubscribe},
    {"jsonl", false, kOnSnapshot},
    {"no-reconnect", false, kOnSubscribe},
    {"heartbeat-ms", true, kOnSubscribe},
    {"policy", true, kOnSubscribe},
    {"view", true, kOnFiltered},
    {"as-of", true, kOnFiltered},
    {"publisher-id", true, kOnPublish},
    {"batch-key", true, kOnPublish},
    {"max-batch-items", true, kOnPublish},
};

struct Flag {
  const FlagSpec* spec;
  std::string value;
};

const FlagSpec* FindFlag(absl::string_view name) {
  for (const FlagSpec& spec : kFlags) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

absl::Status UsageError(absl::string_view message) { return absl::InvalidArgumentError(message); }

// Splits a comma list; an empty list or empty element is an error.
absl::StatusOr<std::vector<std::string>> SplitList(const Flag& flag) {
  std::vector<std::string> items;
  for (absl::string_view item : absl::StrSplit(flag.value, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) {
      return UsageError(absl::StrCat("--", flag.spec->name, " \"", flag.value, "\" has an empty item"));
    }
    items.emplace_back(item);
  }
  return items;
}

// Accepts the enum's value names without the prefix, any case, '-' for
// '_': "fact", "capital-action", "EVENT_KIND_GUIDANCE".
absl::StatusOr<v1::EventKind> ParseKind(absl::string_view text) {
  constexpr absl::string_view kPrefix = "EVENT_KIND_";
  std::string name = absl::StrReplaceAll(absl::AsciiStrToUpper(text), {{"-", "_"}});
  if (!absl::StartsWith(name, kPrefix)) name = absl::StrCat(kPrefix, name);
  v1::EventKind kind;
  if (v1::EventKind_Parse(name, &kind) && kind != v1::EVENT_KIND_UNSPECIFIED) {
    return kind;
  }
  std::vector<std::string> known;
  const google::protobuf::EnumDescriptor* kinds = v1::EventKind_descriptor();
  for (int i = 0; i < kinds->value_count(); ++i) {
    if (kinds->value(i)->number() == v1::EVENT_KIND_UNSPECIFIED) continue;
    known.push_back(absl::AsciiStrToLower(absl::StripPrefix(kinds->value(i)->name(), kPrefix)));
  }
  return UsageError(absl::StrCat("--kind \"", text, "\" is not one of ", absl::StrJoin(known, ", ")));
}

absl::StatusOr<uint64_t> ParseCount(const Flag& flag) {
  uint64_t n;
  if (!absl::SimpleAtoi(flag.value, &n) || absl::StartsWith(flag.value, "-")) {
    return UsageError(
        absl::StrCat("--", flag.spec->name, " \"", flag.value, "\" is not a non-negative integer"));
  }
  return n;
}

absl::StatusOr<v1::RevisionView> ParseView(absl::string_view text) {
  const std::string name = absl::StrReplaceAll(absl::AsciiStrToLower(text), {{"_", "-"}});
  if (name == "latest") return v1::REVISION_VIEW_LATEST;
  if (name == "first" || name == "first-reported") {
    return v1::REVISION_VIEW_FIRST_REPORTED;
  }
  if (name == "as-of") return v1::REVISION_VIEW_AS_OF;
  return UsageError(absl::StrCat("--view \"", text, "\" is not one of latest, first, as-of"));
}

absl::StatusOr<v1::SlowConsumerPolicy> ParsePolicy(absl::string_view text) {
  const std::string name = absl::AsciiStrToLower(text);
  if (name == "disconnect") return v1::SLOW_CONSUMER_POLICY_DISCONNECT;
  if (name == "conflate") return v1::SLOW_CONSUMER_POLICY_CONFLATE;
  return UsageError(absl::StrCat("--policy \"", text, "\" is not one of disconnect, conflate"));
}

// Applies one flag to `args`, which already holds the command.
absl::Status ApplyFlag(const Flag& flag, Args& args) {
  const absl::string_view name = flag.spec->name;
  if (name == "server") {
    if (flag.value.empty()) return UsageError("--server is empty");
    absl::StatusOr<std::vector<std::string>> servers = ParseServerList(flag.value);
    if (!servers.ok()) {
      return UsageError(absl::StrCat("--server: ", servers.status().message()));
    }
    args.server = flag.value;
    args.servers = *std::move(servers);
  } else if (name == "timeout") {
    if (!absl::ParseDuration(flag.value, &args.timeout) || args.timeout <= absl::ZeroDuration()) {
      return UsageError(absl::StrCat("--timeout \"", flag.value, "\" is not a positive duration (\"30s\")"));
    }
  } else if (name == "from") {
    absl::StatusOr<uint64_t> n = ParseCount(flag);
    if (!n.ok()) return n.status();
    args.start = v1::START_MODE_FROM_SEQUENCE;
    args.from_sequence = *n;
  } else if (name == "live") {
    args.start = v1::START_MODE_LIVE_ONLY;
  } else if (name == "limit") {
    absl::StatusOr<uint64_t> n = ParseCount(flag);
    if (!n.ok()) return n.status();
    if (*n == 0) return UsageError("--limit must be at least 1");
    args.limit = *n;
  } else if (name == "max-batch-items") {
    absl::StatusOr<uint64_t> n = ParseCount(flag);
    if (!n.ok()) return n.status();
    if (*n < 1 || *n > 1000) return UsageError("--max-batch-items must be 1..1000");
    args.max_batch_items = *n;
  } else if (name == "jsonl") {
    args.jsonl = true;
  } else if (name == "no-reconnect") {
    args.reconnect = false;
  } else if (name == "heartbeat-ms") {
    absl::StatusOr<uint64_t> n = ParseCount(flag);
    if (!n.ok()) return n.status();
    if (*n < 100 || *n > 60000) {
      return UsageError("--heartbeat-ms must be within 100..60000");
    }
    args.heartbeat_ms = static_cast<uint32_t>(*n);
  } else if (name == "policy") {
    absl::StatusOr<v1::SlowConsumerPolicy> policy = ParsePolicy(flag.value);
    if (!policy.ok()) return policy.status();
    args.policy = *policy;
  } else if (name == "view") {
    absl::StatusOr<v1::RevisionView> view = ParseView(flag.value);
    if (!view.ok()) return view.status();
    args.point_in_time.set_view(*view);
  } else if (name == "as-of") {
    absl::Time time;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, flag.value, &time, &error)) {
      return UsageError(absl::StrCat("--as-of \"", flag.value,
                                     "\" is not an RFC 3339 time "
                                     "(2003-05-20T00:00:00Z): ",
                                     error));
    }
    const absl::Duration since_epoch = time - absl::UnixEpoch();
    const int64_t seconds = absl::ToInt64Seconds(since_epoch);
    args.point_in_time.mutable_as_of()->set_seconds(seconds);
    args.point_in_time.mutable_as_of()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(since_epoch - absl::Seconds(seconds))));
  } else if (name == "publisher-id" || name == "batch-key") {
    if (flag.value.empty()) {
      return UsageError(absl::StrCat("--", name, " is empty"));
    }
    (name == "publisher-id" ? args.publisher_id : args.batch_key) = flag.value;
  } else {  // A filter list.
    absl::StatusOr<std::vector<std::string>> items = SplitList(flag);
    if (!items.ok()) return items.status();
    for (std::string& item : *items) {
      if (name == "issuer") {
        args.filter.add_issuers(std::move(item));
      } else if (name == "concept") {
        args.filter.add_concepts(std::move(item));
      } else if (name == "segment") {
        args.filter.add_segments(std::move(item));
      } else {
        absl::StatusOr<v1::EventKind> kind = ParseKind(item);
        if (!kind.ok()) return kind.status();
        args.filter.add_event_kinds(*kind);
      }
    }
  }
  return absl::OkStatus();
}

struct CommandSpec {
  absl::string_view name;
  Command command;
  unsigned bit;
};

constexpr CommandSpec kCommands[] = {
    {"subscribe", Command::kSubscribe, kOnSubscribe},
    {"snapshot", Command::kSnapshot, kOnSnapshot},
    {"publish", Command::kPublish, kOnPublish},
};

}  // namespace

absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv) {
  std::vector<Flag> flags;
  std::vector<std::string> positional;
  bool only_positional = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (only_positional || arg == "-" || !absl::StartsWith(arg, "-")) {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (arg == "--help" || arg == "-h" || arg == "-help") return Args{};
    if (!absl::StartsWith(arg, "--")) {
      return UsageError(absl::StrCat("unknown flag ", arg));
    }
    const absl::string_view body = absl::string_view(arg).substr(2);
    const size_t eq = body.find('=');
    std::optional<absl::string_view> value;
    if (eq != absl::string_view::npos) value = body.substr(eq + 1);
    const FlagSpec* spec = FindFlag(body.substr(0, eq));
    if (spec == nullptr) return UsageError(absl::StrCat("unknown flag ", arg));
    Flag flag{spec, std::string(value.value_or(""))};
    if (spec->takes_value && !value.has_value()) {
      if (i + 1 == argv.size()) {
        return UsageError(absl::StrCat("--", spec->name, " needs a value"));
      }
      flag.value = argv[++i];
    } else if (!spec->takes_value && value.has_value()) {
      return UsageError(absl::StrCat("--", spec->name, " takes no value"));
    }
    flags.push_back(std::move(flag));
  }

  if (positional.empty()) return UsageError("no command given");
  if (positional[0] == "help") return Args{};
  const CommandSpec* command = nullptr;
  for (const CommandSpec& spec : kCommands) {
    if (spec.name == positional[0]) command = &spec;
  }
  if (command == nullptr) {
    return UsageError(absl::StrCat("unknown command \"", positional[0], "\""));
  }

  Args args;
  args.command = command->command;
  if (command->command == Command::kPublish) {
    if (positional.size() != 2) {
      return UsageError("publish takes exactly one FILE");
    }
    args.file = positional[1];
  } else if (positional.size() > 1) {
    return UsageError(absl::StrCat(command->name, " takes no argument \"", positional[1], "\""));
  }
  bool from = false;
  bool live = false;
  for (const Flag& flag : flags) {
    if ((flag.spec->commands & command->bit) == 0) {
      return UsageError(absl::StrCat("--", flag.spec->name, " does not apply to ", command->name));
    }
    from = from || flag.spec->name == "from";
    live = live || flag.spec->name == "live";
    if (absl::Status s = ApplyFlag(flag, args); !s.ok()) return s;
  }
  if (from && live) return UsageError("--from and --live exclude each other");
  v1::PointInTime& pit = args.point_in_time;
  if (pit.has_as_of()) {
    if (pit.view() == v1::REVISION_VIEW_UNSPECIFIED) {
      pit.set_view(v1::REVISION_VIEW_AS_OF);
    } else if (pit.view() != v1::REVISION_VIEW_AS_OF) {
      return UsageError("--as-of goes with --view as-of only");
    }
  } else if (pit.view() == v1::REVISION_VIEW_AS_OF) {
    return UsageError("--view as-of needs --as-of TIME");
  }
  return args;
}

std::string Usage() {
  return R"(usage: kessan [--server HOST:PORT[,...]] [--timeout DURATION] COMMAND [FLAGS]

Commands:
  subscribe   stream feed events, one JSON object per line
      [--from SEQ]      resume: every event after sequence SEQ, then live
      [--live]          live events only (default: snapshot, then live)
      [--limit N]       exit after N journaled events (control events
                        such as snapshot marks are printed, not counted)
      [--no-reconnect]  end at the first error; by default a lost stream
                        is resumed after the last sequence printed, with
                        backoff (notices on stderr)
      [--heartbeat-ms N]  heartbeat interval, 100..60000 (default 5000);
                        a stream silent for 3 intervals is resumed
      [--policy disconnect|conflate]  when this subscriber falls behind:
                        be disconnected and resume (default), or skip to
                        the latest revision of each item
      [--view V] [--as-of TIME]  revisions of the snapshot part
      [filters]
  snapshot    print the latest state as JSON
      [--jsonl]         one event per line instead of the whole response
      [--view latest|first|as-of] [--as-of RFC3339]
                        which revision of each item: the latest (default),
                        the first reported, or the latest known at TIME
                        (--as-of alone means --view as-of)
      [filters]
  publish FILE
              publish a kessan.v1.PublishRequest or kessan.v1.DataSet
              (text format .txtpb/.textproto/.pbtxt, or JSON .json) and
              print the assigned sequences: {"sequences":[...]}, with
              "duplicate":true when the batch had been applied before.
              UNAVAILABLE and DEADLINE_EXCEEDED are retried with the
              same batch key, so the batch is applied once.
      [--publisher-id ID] [--batch-key KEY]  the batch's identity
                        (default: generated)
      [--max-batch-items N]  a data set goes in batches of at most N
                        items (default 1000, the server's limit); with
                        --batch-key KEY they are KEY/1, KEY/2, ...

Filters (repeatable, comma lists allowed: --issuer IIJ,XYZ --issuer ABC):
  --issuer ID   --concept CONCEPT   --segment SEGMENT
  --kind fact|capital_action|guidance|issuer|segment

Common flags:
  --server HOST:PORT[,HOST:PORT...]
                        server address (default 127.0.0.1:50051), or
                        replicas of one feed: an unreachable server is
                        left for the next (a note on stderr); subscribe
                        resumes there after its last sequence, publish
                        retries there with the same batch key
  --timeout DURATION    deadline for the call, e.g. 30s, 500ms (default none)
  --help                print this text

Exit status: 0 success, 1 the call failed ("kessan: CODE: message" on
stderr), 2 a usage error.
)";
}

}  // namespace kessan::cli
