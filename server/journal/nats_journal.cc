#include "journal/nats_journal.h"

#include <fcntl.h>
#include <nats/nats.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/protobuf/io/coded_stream.h"
#include "journal/journal_rows.h"
#include "spdlog/spdlog.h"
#include "util/log.h"
#include "util/status_macros.h"

namespace kessan {
namespace {

using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;

constexpr uint64_t kPayloadVersion = 1;
constexpr char kBatchHeader[] = "Kessan-Batch";
constexpr char kChunkHeader[] = "Kessan-Chunk";
// Set by hand: the client leaves out ExpectLastSeq == 0, which an empty
// stream needs as much as any other.
constexpr char kExpectedLastSeqHeader[] = "Nats-Expected-Last-Sequence";
// Room in a message for its headers: a chunk's body is max_payload less this.
constexpr size_t kHeadroom = 8 << 10;
// A stream whose max message size leaves chunks smaller than this is refused.
constexpr int32_t kMinMessageSize = 64 << 10;
// The tail applies at most this much in one cache transaction.
constexpr size_t kMaxGroupEvents = 16384;
constexpr size_t kMaxGroupBytes = 32 << 20;
// Side file format: "kessan-nats-cache 1".
constexpr char kSideMagic[] = "kessan-nats-cache";
// JetStream's error when Nats-Expected-Last-Msg-Id does not match.
constexpr int kWrongLastMsgIdErr = 10070;

void AppendVarint(uint64_t v, std::string* out) {
  uint8_t buffer[10];
  const uint8_t* end = CodedOutputStream::WriteVarint64ToArray(v, buffer);
  out->append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(end - buffer));
}

void AppendString(absl::string_view s, std::string* out) {
  AppendVarint(s.size(), out);
  out->append(s.data(), s.size());
}

// MurmurHash64A (eight bytes a step): the payload's part of its chunks'
// Nats-Msg-Ids. Deterministic; only a retry by the same process reuses an id.
uint64_t PayloadHash(absl::string_view bytes) {
  constexpr uint64_t kMul = 0xc6a4a7935bd1e995ull;
  constexpr int kShift = 47;
  const size_t n = bytes.size();
  uint64_t h = 0x8445d61a4e774912ull ^ (n * kMul);
  const char* p = bytes.data();
  auto mix = [&](uint64_t k) {
    k *= kMul;
    k ^= k >> kShift;
    k *= kMul;
    h ^= k;
    h *= kMul;
  };
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t k;
    std::memcpy(&k, p + i, sizeof(k));
    mix(k);
  }
  if (i < n) {
    uint64_t k = 0;
    std::memcpy(&k, p + i, n - i);
    h ^= k;
    h *= kMul;
  }
  h ^= h >> kShift;
  h *= kMul;
  h ^= h >> kShift;
  return h;
}

std::string EncodePayload(const std::vector<EventPtr>& events, const std::vector<BatchRecord>& batches,
                          uint64_t first) {
  std::string payload;
  AppendVarint(kPayloadVersion, &payload);
  AppendVarint(first, &payload);
  AppendVarint(events.size(), &payload);
  AppendVarint(batches.size(), &payload);
  for (const BatchRecord& b : batches) {
    AppendString(b.publisher_id, &payload);
    AppendString(b.batch_key, &payload);
    uint8_t fixed[8];
    CodedOutputStream::WriteLittleEndian64ToArray(b.fingerprint, fixed);
    payload.append(reinterpret_cast<const char*>(fixed), sizeof(fixed));
    AppendVarint(b.first_sequence, &payload);
    AppendVarint(b.count, &payload);
  }
  RowBuilder row;
  for (const EventPtr& e : events) {
    row.Add(e->sequence(), e->attrs().time_ns, e->attrs().item_key, e->frame());
  }
  AppendString(row.keys(), &payload);
  payload += row.events();
  return payload;
}

struct DecodedBatch {
  uint64_t first = 0;
  std::vector<EventPtr> events;
  std::vector<BatchRecord> records;
};

absl::StatusOr<DecodedBatch> DecodePayload(absl::string_view payload) {
  auto damaged = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("journal batch payload: ", what));
  };
  CodedInputStream in(reinterpret_cast<const uint8_t*>(payload.data()), static_cast<int>(payload.size()));
  in.SetTotalBytesLimit(static_cast<int>(std::min<size_t>(payload.size() + 1, INT32_MAX)));
  uint64_t version = 0, count = 0, records = 0;
  DecodedBatch batch;
  if (!in.ReadVarint64(&version) || version != kPayloadVersion) return damaged("version");
  if (!in.ReadVarint64(&batch.first) || !in.ReadVarint64(&count) || !in.ReadVarint64(&records) ||
      records > payload.size()) {
    return damaged("header");
  }
  auto read_string = [&](std::string* s) {
    uint64_t n = 0;
    return in.ReadVarint64(&n) && n <= payload.size() && in.ReadString(s, static_cast<int>(n));
  };
  for (uint64_t i = 0; i < records; ++i) {
    BatchRecord r;
    if (!read_string(&r.publisher_id) || !read_string(&r.batch_key) ||
        !in.ReadLittleEndian64(&r.fingerprint) || !in.ReadVarint64(&r.first_sequence) ||
        !in.ReadVarint64(&r.count)) {
      return damaged("batch record");
    }
    batch.records.push_back(std::move(r));
  }
  std::string keys;
  if (!read_string(&keys)) return damaged("keys");
  const absl::string_view frames = payload.substr(static_cast<size_t>(in.CurrentPosition()));
  if (count == 0) {
    if (!keys.empty() || !frames.empty()) return damaged("events in an empty batch");
    return batch;
  }
  // JetStream checks what it stores; the cache computes its own checksums.
  RowReader row(batch.first, batch.first + count - 1, keys, frames, std::nullopt);
  JournalRecord record;
  while (true) {
    ASSIGN_OR_RETURN(bool more, row.Next(&record));
    if (!more) break;
    ASSIGN_OR_RETURN(EventPtr e, JournalEvent(record.sequence, record.body));
    batch.events.push_back(std::move(e));
  }
  if (batch.events.size() != count) return damaged("event count");
  return batch;
}

std::string NatsText(natsStatus s, int error = 0) {
  std::string text = natsStatus_GetText(s);
  if (error != 0) absl::StrAppend(&text, " (JetStream error ", error, ")");
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0' && !absl::StrContains(last, text) && !absl::StrContains(text, last)) {
    absl::StrAppend(&text, ": ", last);
  }
  return text;
}

// Worth trying again: a timeout, no responder, a cluster electing a leader.
bool Transient(natsStatus s, int error) {
  return s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_DISCONNECTED ||
         error == JSClusterNotAvailErr || error == JSClusterNotLeaderErr || error == JSStreamOfflineErr;
}

// A header's value, or empty.
std::string Header(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, key, &value) != NATS_OK || value == nullptr) return "";
  return value;
}

bool ValidStreamName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

void RemoveCacheFiles(const std::string& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-acked"}) {
    std::filesystem::remove(path + suffix, ec);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<NatsJournal>> NatsJournal::Open(NatsJournalOptions options) {
  if (options.url.empty()) return absl::InvalidArgumentError("nats journal: no server URL");
  if (!ValidStreamName(options.stream)) {
    return absl::InvalidArgumentError(
        absl::StrCat("nats journal: stream name '", options.stream, "': letters, digits, '_' and '-' only"));
  }
  if (options.cache_path.empty()) return absl::InvalidArgumentError("nats journal: no cache path");
  std::unique_ptr<NatsJournal> journal(new NatsJournal());
  journal->options_ = std::move(options);
  journal->subject_ = absl::StrCat(journal->options_.stream, ".events");
  journal->side_path_ = journal->options_.cache_path + ".stream-seq";
  RETURN_IF_ERROR(journal->Connect());
  RETURN_IF_ERROR(journal->EnsureStream());
  ASSIGN_OR_RETURN(jsStreamInfo * info, journal->StreamInfo());
  const uint64_t first = info->State.FirstSeq, last = info->State.LastSeq;
  jsStreamInfo_Destroy(info);
  RETURN_IF_ERROR(journal->OpenCache(first, last));
  RETURN_IF_ERROR(journal->StartTail());
  return journal;
}

absl::Status NatsJournal::Connect() {
  std::vector<std::string> urls = absl::StrSplit(options_.url, ',', absl::SkipWhitespace());
  std::vector<const char*> servers;
  for (const std::string& u : urls) servers.push_back(u.c_str());
  const int64_t timeout_ms = absl::ToInt64Milliseconds(options_.request_timeout);
  natsStatus s = natsOptions_Create(&nats_options_);
  if (s == NATS_OK) {
    s = natsOptions_SetServers(nats_options_, servers.data(), static_cast<int>(servers.size()));
  }
  if (s == NATS_OK) s = natsOptions_SetName(nats_options_, "kessand journal");
  if (s == NATS_OK) s = natsOptions_SetTimeout(nats_options_, timeout_ms);
  // Once connected, keep trying the cluster's servers for as long as it takes.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(nats_options_, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(nats_options_, 100);
  if (s == NATS_OK) s = natsConnection_Connect(&conn_, nats_options_);
  if (s != NATS_OK) {
    return absl::UnavailableError(
        absl::StrCat("nats journal: cannot connect to ", options_.url, ": ", NatsText(s)));
  }
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = timeout_ms;
  js_options.PublishAsync.AckHandler = &NatsJournal::OnAck;
  js_options.PublishAsync.AckHandlerClosure = this;
  s = natsConnection_JetStream(&js_, conn_, &js_options);
  if (s != NATS_OK) {
    return absl::UnavailableError(
        absl::StrCat("nats journal: JetStream at ", options_.url, ": ", NatsText(s)));
  }
  return absl::OkStatus();
}

absl::Status NatsJournal::EnsureStream() {
  const std::string& name = options_.stream;
  jsStreamInfo* info = nullptr;
  int error = 0;
  auto get_info = [&](int* e) {
    return js_GetStreamInfo(&info, js_, name.c_str(), nullptr, reinterpret_cast<jsErrCode*>(e));
  };
  natsStatus s = static_cast<natsStatus>(Retrying(get_info, &error));
  if (s != NATS_OK && error == JSStreamNotFoundErr) {
    int replicas = options_.replicas;
    if (replicas <= 0) {
      char** servers = nullptr;
      int count = 0;
      if (natsConnection_GetServers(conn_, &servers, &count) == NATS_OK) {
        for (int i = 0; i < count; ++i) free(servers[i]);
        free(servers);
      }
      replicas = std::clamp(count, 1, 3);
    }
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = name.c_str();
    const char* subjects[] = {subject_.c_str()};
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    config.Retention = js_LimitsPolicy;
    config.Replicas = replicas;
    config.Duplicates = absl::ToInt64Nanoseconds(options_.duplicates_window);
    // The stream is the record of truth: no message is deleted or purged.
    config.DenyDelete = true;
    config.DenyPurge = true;
    s = static_cast<natsStatus>(Retrying(
        [&](int* e) { return js_AddStream(&info, js_, &config, nullptr, reinterpret_cast<jsErrCode*>(e)); },
        &error));
    if (s == NATS_OK) {
      Log().info("nats journal: created stream {} (subject {}, {} replicas)", name, subject_, replicas);
    } else if (error == JSStreamNameExistErr) {
      // Another replica created it meanwhile: check what it made.
      s = static_cast<natsStatus>(Retrying(get_info, &error));
    }
  }
  if (s != NATS_OK) {
    return absl::UnavailableError(
        absl::StrCat("nats stream ", name, " at ", options_.url, ": ", NatsText(s, error)));
  }
  const jsStreamConfig& c = *info->Config;
  std::string problem;
  bool has_subject = false;
  for (int i = 0; i < c.SubjectsLen; ++i) has_subject |= subject_ == c.Subjects[i];
  if (!has_subject) {
    problem = absl::StrCat("it does not take subject ", subject_);
  } else if (c.Retention != js_LimitsPolicy) {
    problem = "its retention is not limits (messages would be removed once consumed)";
  } else if (c.MaxMsgs > 0 || c.MaxBytes > 0 || c.MaxAge > 0 || c.MaxMsgsPerSubject > 0) {
    problem = "it has a message, byte or age limit (history would be lost)";
  } else if (c.Sealed) {
    problem = "it is sealed";
  } else if (c.Mirror != nullptr) {
    problem = "it is a mirror";
  } else if (c.MaxMsgSize > 0 && c.MaxMsgSize < kMinMessageSize) {
    problem = absl::StrCat("its max message size, ", c.MaxMsgSize, ", is below ", kMinMessageSize);
  }
  created_ns_ = info->Created;
  size_t max_message = static_cast<size_t>(natsConnection_GetMaxPayload(conn_));
  if (c.MaxMsgSize > 0) max_message = std::min(max_message, static_cast<size_t>(c.MaxMsgSize));
  jsStreamInfo_Destroy(info);
  if (!problem.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("nats stream ", name, " cannot hold the journal: ", problem));
  }
  if (max_message <= 2 * kHeadroom) {
    return absl::FailedPreconditionError(
        absl::StrCat("nats at ", options_.url, ": max_payload ", max_message, " is too small"));
  }
  chunk_bytes_ = max_message - kHeadroom;
  return absl::OkStatus();
}

absl::Status NatsJournal::OpenCache(uint64_t stream_first, uint64_t stream_last) {
  const std::string& path = options_.cache_path;
  // The stream is the durable copy: the cache's commits are not synced, and
  // one that lost its tail is found here (its -acked or side file is ahead).
  SqliteJournal::OpenOptions cache_options;
  cache_options.sync_commits = false;
  absl::StatusOr<std::unique_ptr<SqliteJournal>> cache = SqliteJournal::Open(path, cache_options);
  if (!cache.ok()) {
    // A cache is disposable: the stream has it all.
    Log().warn("nats journal: cache {} dropped ({}): rebuilding it from stream {}", path,
               cache.status().ToString(), options_.stream);
    RemoveCacheFiles(path);
    cache = SqliteJournal::Open(path, cache_options);
    std::error_code ec;
    std::filesystem::remove(side_path_, ec);
    rebuilt_cache_ = true;
  }
  if (!cache.ok()) return cache.status();
  cache_ = *std::move(cache);
  // The side file: what the cache reflects, written after each batch.
  std::string magic, stream;
  int version = 0;
  int64_t created = 0;
  uint64_t seq = 0, last = 0;
  bool read = false;
  {
    std::ifstream file(side_path_, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    // Version 2 ends with a hash of the rest: a torn in-place write is unreadable.
    if (absl::StartsWith(text, absl::StrCat(kSideMagic, " 2\n"))) {
      const size_t end = text.size() >= 2 ? text.rfind('\n', text.size() - 2) : std::string::npos;
      if (end == std::string::npos ||
          text.substr(end + 1) !=
              absl::StrCat(absl::Hex(PayloadHash(text.substr(0, end + 1)), absl::kZeroPad16), "\n")) {
        text.clear();
      }
    }
    std::istringstream in(text);
    read = static_cast<bool>(in >> magic >> version >> stream >> created >> seq >> last);
  }
  std::string mismatch;
  if (!read) {
    if (cache_->last_sequence() != 0) mismatch = "its side file is missing or unreadable";
  } else if (magic != kSideMagic || (version != 1 && version != 2)) {
    mismatch = "its side file is not one";
  } else if (stream != options_.stream || created != created_ns_) {
    mismatch = "it was made from another stream";
  } else if (seq > stream_last) {
    mismatch = absl::StrCat("it is at stream sequence ", seq, ", the stream ends at ", stream_last);
  } else if (last != cache_->last_sequence()) {
    mismatch =
        absl::StrCat("it holds up to sequence ", cache_->last_sequence(), ", its side file says ", last);
  } else if (seq + 1 < stream_first) {
    mismatch = absl::StrCat("the stream starts at ", stream_first);
  }
  absl::MutexLock lock(&mu_);
  if (mismatch.empty()) {
    stream_seq_ = read ? seq : 0;
    if (read) side_written_ = {seq, last};
    return absl::OkStatus();
  }
  Log().warn("nats journal: cache {} dropped ({}): rebuilding it from stream {}", path, mismatch,
             options_.stream);
  cache_.reset();
  RemoveCacheFiles(path);
  ASSIGN_OR_RETURN(cache_, SqliteJournal::Open(path, cache_options));
  rebuilt_cache_ = true;
  stream_seq_ = 0;
  return WriteSideFile();
}

absl::Status NatsJournal::WriteSideFile() {
  // Not synced: after a power loss an older side file costs a rebuild of
  // the cache (its last sequence no longer matches), never a wrong state.
  const uint64_t settled = pending_.has_value() ? pending_->from_stream_seq - 1 : stream_seq_;
  if (settled == side_written_.first && cache_->last_sequence() == side_written_.second) {
    return absl::OkStatus();  // as written last
  }
  // Fixed-width numbers: every record of this journal has the same length,
  // so after the first (written by rename) each overwrites it in place.
  std::string record = absl::StrCat(kSideMagic, " 2\n", options_.stream, "\n", created_ns_, "\n",
                                    absl::Dec(settled, absl::kZeroPad20), "\n",
                                    absl::Dec(cache_->last_sequence(), absl::kZeroPad20), "\n");
  absl::StrAppend(&record, absl::Hex(PayloadHash(record), absl::kZeroPad16), "\n");
  if (side_fd_ >= 0 && record.size() == side_size_) {
    if (pwrite(side_fd_, record.data(), record.size(), 0) != static_cast<ssize_t>(record.size())) {
      return absl::InternalError(
          absl::StrCat("nats journal: cannot write ", side_path_, ": ", strerror(errno)));
    }
  } else {
    const std::string tmp = side_path_ + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
      out << record;
      out.flush();
      if (!out) return absl::InternalError(absl::StrCat("nats journal: cannot write ", tmp));
    }
    if (std::rename(tmp.c_str(), side_path_.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("nats journal: cannot rename ", tmp));
    }
    if (side_fd_ >= 0) close(side_fd_);
    side_fd_ = open(side_path_.c_str(), O_WRONLY | O_CLOEXEC);
    side_size_ = record.size();
  }
  side_written_ = {settled, cache_->last_sequence()};
  return absl::OkStatus();
}

absl::Status NatsJournal::StartTail() {
  uint64_t start;
  {
    absl::MutexLock lock(&mu_);
    start = stream_seq_ + 1;
  }
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = options_.stream.c_str();
  // Ordered push consumer: in order, no gaps, recreated by the client when
  // a server or the stream leader goes away.
  sub_options.Ordered = true;
  sub_options.Config.DeliverPolicy = js_DeliverByStartSequence;
  sub_options.Config.OptStartSeq = start;
  int error = 0;
  natsStatus s = static_cast<natsStatus>(Retrying(
      [&](int* e) {
        return js_SubscribeSync(&sub_, js_, subject_.c_str(), nullptr, &sub_options,
                                reinterpret_cast<jsErrCode*>(e));
      },
      &error));
  // Flow control bounds what is in flight; these limits only keep the
  // client from dropping a catch-up's chunks.
  if (s == NATS_OK) s = natsSubscription_SetPendingLimits(sub_, 1 << 20, 1 << 30);
  if (s != NATS_OK) {
    return absl::UnavailableError(
        absl::StrCat("nats journal: tail of ", subject_, " from ", start, ": ", NatsText(s, error)));
  }
  tail_thread_ = std::thread([this] { TailLoop(); });
  return absl::OkStatus();
}

NatsJournal::~NatsJournal() {
  stopping_ = true;
  { absl::MutexLock wake(&mu_); }  // the tail may wait on mu_ for appends in flight
  if (js_ != nullptr) {
    // Every asynchronous publish has a deadline: after it, OnAck is not called.
    jsPubOptions wait;
    jsPubOptions_Init(&wait);
    wait.MaxWait = absl::ToInt64Milliseconds(options_.request_timeout) + 1000;
    if (js_PublishAsyncComplete(js_, &wait) != NATS_OK) {
      Log().warn("nats journal: closing with publishes to {} unacknowledged", subject_);
    }
  }
  if (sub_ != nullptr) natsSubscription_Unsubscribe(sub_);
  if (tail_thread_.joinable()) tail_thread_.join();
  natsSubscription_Destroy(sub_);
  jsCtx_Destroy(js_);
  natsConnection_Destroy(conn_);
  natsOptions_Destroy(nats_options_);
  if (side_fd_ >= 0) close(side_fd_);
}

void NatsJournal::TailLoop() {
  // A message held back until the batches before it are flushed.
  natsMsg* carried = nullptr;
  while (!stopping_) {
    natsMsg* msg = carried;
    carried = nullptr;
    natsStatus s = msg != nullptr ? NATS_OK : natsSubscription_NextMsg(&msg, sub_, 500);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) {
      if (stopping_ || s == NATS_INVALID_SUBSCRIPTION || s == NATS_CONNECTION_CLOSED) {
        if (!stopping_) {
          absl::MutexLock lock(&mu_);
          tail_status_ = absl::UnavailableError(
              absl::StrCat("nats journal: the tail of ", subject_, " ended: ", NatsText(s)));
        }
        return;
      }
      // A slow-consumer report or the like: the ordered consumer restarts
      // from the last message delivered.
      Log().warn("nats journal: tail of {}: {}", subject_, NatsText(s));
      continue;
    }
    // The messages already here, up to a bound, are applied in one cache
    // transaction (a catch-up's batches, one fsync); mu_ is held
    // throughout, so no one sees a half-applied group.
    mu_.Lock();
    while (true) {
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
        const uint64_t seq = meta->Sequence.Stream;
        jsMsgMetaData_Destroy(meta);
        // A message past this replica's appends in flight waits until they
        // have finished: it may be one of them, or a reason they fail.
        auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || in_flight_.empty() || seq <= stream_seq_;
        };
        if (!ready() && (!group_.events.empty() || !group_.records.empty())) {
          carried = msg;  // flush what came before it first
          break;
        }
        mu_.Await(absl::Condition(&ready));
        ProcessLocked(msg, seq);
      }
      natsMsg_Destroy(msg);
      msg = nullptr;
      uint64_t queued = 0;
      if (group_.events.size() >= kMaxGroupEvents || group_.bytes >= kMaxGroupBytes ||
          natsSubscription_QueuedMsgs(sub_, &queued) != NATS_OK || queued == 0 ||
          natsSubscription_NextMsg(&msg, sub_, 1) != NATS_OK) {
        break;
      }
    }
    Group applied = FlushLocked();
    if (applied.events.empty()) {
      mu_.Unlock();
      continue;
    }
    // The listener runs without mu_; CatchUp waits for listener_mu_.
    listener_mu_.Lock();
    mu_.Unlock();
    if (listener_) {
      size_t begin = 0;
      for (size_t end : applied.batch_ends) {
        listener_(std::vector<EventPtr>(applied.events.begin() + begin, applied.events.begin() + end));
        begin = end;
      }
    }
    listener_mu_.Unlock();
  }
  natsMsg_Destroy(carried);
}

void NatsJournal::ProcessLocked(natsMsg* msg, uint64_t stream_seq) {
  if (stream_seq <= stream_seq_ || !tail_status_.ok()) return;  // appended here
  const uint64_t previous = stream_seq_;
  stream_seq_ = stream_seq;
  // Anything but the next chunk of the pending batch ends that batch.
  const std::string batch_header = Header(msg, kBatchHeader);
  const std::vector<std::string> chunk = absl::StrSplit(Header(msg, kChunkHeader), '/');
  uint64_t first = 0;
  int index = -1, chunks = 0;
  const bool ours = absl::SimpleAtoi(batch_header, &first) && chunk.size() == 2 &&
                    absl::SimpleAtoi(chunk[0], &index) && absl::SimpleAtoi(chunk[1], &chunks) && index >= 0 &&
                    chunks > 0 && index < chunks;
  const bool continues = ours && pending_.has_value() && previous + 1 == stream_seq &&
                         pending_->first_sequence == first && pending_->chunks == chunks &&
                         pending_->next == index;
  if (!continues && pending_.has_value()) {
    Log().warn("nats journal: batch from sequence {} discarded: its chunks stop at {} of {}",
               pending_->first_sequence, pending_->next, pending_->chunks);
    pending_.reset();
  }
  if (!ours || (!continues && index != 0)) {
    Log().warn("nats journal: stream message {} skipped: {}", stream_seq,
               ours ? "a chunk without its batch's first" : "not a journal batch chunk");
    return;
  }
  if (!continues) pending_ = Pending{first, chunks, 0, stream_seq, ""};
  const char* data = natsMsg_GetData(msg);
  pending_->payload.append(data == nullptr ? "" : data, static_cast<size_t>(natsMsg_GetDataLength(msg)));
  if (++pending_->next < pending_->chunks) return;
  std::string payload = std::move(pending_->payload);
  pending_.reset();
  absl::StatusOr<DecodedBatch> batch = DecodePayload(payload);
  const uint64_t applied_last = cache_->last_sequence() + group_.events.size();
  if (!batch.ok() || batch->first != first) {
    Log().error("nats journal: batch at stream sequence {} skipped: {}", stream_seq,
                batch.ok() ? "its payload names another first sequence" : batch.status().ToString());
  } else if (first != applied_last + 1) {
    Log().warn(
        "nats journal: batch from sequence {} at stream sequence {} skipped: the "
        "journal was at {} (a stale batch)",
        first, stream_seq, applied_last);
  } else {
    if (group_.events.empty()) group_.from_stream_seq = stream_seq - chunks + 1;
    group_.events.insert(group_.events.end(), batch->events.begin(), batch->events.end());
    group_.records.insert(group_.records.end(), batch->records.begin(), batch->records.end());
    group_.batch_ends.push_back(group_.events.size());
    group_.bytes += payload.size();
  }
}

NatsJournal::Group NatsJournal::FlushLocked() {
  Group group = std::move(group_);
  group_ = Group();
  if (!group.events.empty() || !group.records.empty()) {
    if (absl::Status s = cache_->Append(group.events, group.records); !s.ok()) {
      // The cache cannot follow the stream: stop here (CatchUp reports it).
      tail_status_ = absl::InternalError(absl::StrCat("nats journal: cache ", options_.cache_path,
                                                      " refused the batches from stream sequence ",
                                                      group.from_stream_seq, ": ", s.message()));
      stream_seq_ = group.from_stream_seq - 1;
      pending_.reset();
      return Group();
    }
    tail_applied_.fetch_add(group.batch_ends.size());
  }
  if (absl::Status s = WriteSideFile(); !s.ok()) tail_status_ = s;
  return group;
}

int NatsJournal::Retrying(const std::function<int(int* js_error)>& call, int* js_error,
                          std::optional<absl::Time> until) {
  const absl::Time deadline = until.value_or(absl::Now() + options_.retry_timeout);
  absl::Duration backoff = absl::Milliseconds(20);
  while (true) {
    *js_error = 0;
    const natsStatus s = static_cast<natsStatus>(call(js_error));
    if (s == NATS_OK || !Transient(s, *js_error) || absl::Now() + backoff > deadline) return s;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(500));
  }
}

absl::StatusOr<jsStreamInfo*> NatsJournal::StreamInfo() {
  jsStreamInfo* info = nullptr;
  int error = 0;
  natsStatus s = static_cast<natsStatus>(Retrying(
      [&](int* e) {
        return js_GetStreamInfo(&info, js_, options_.stream.c_str(), nullptr,
                                reinterpret_cast<jsErrCode*>(e));
      },
      &error));
  if (s != NATS_OK) {
    return absl::UnavailableError(
        absl::StrCat("nats stream ", options_.stream, " at ", options_.url, ": ", NatsText(s, error)));
  }
  return info;
}

absl::StatusOr<uint64_t> NatsJournal::StreamLastSequence() {
  ASSIGN_OR_RETURN(jsStreamInfo * info, StreamInfo());
  const uint64_t last = info->State.LastSeq;
  jsStreamInfo_Destroy(info);
  return last;
}

struct NatsJournal::InFlight {
  uint64_t first = 0;
  std::vector<EventPtr> events;
  std::vector<BatchRecord> batches;
  std::string payload;
  size_t chunk_bytes = 0;
  int chunks = 0;
  // The stream sequence and, when chained to an append in flight, the
  // message id of the last message before chunk 0.
  uint64_t expected_last = 0;
  std::string expected_id;
  std::string id_base;
  absl::Time begun;
  // Under the journal's ack_mu_.
  struct Ack {
    bool done = false;
    natsStatus status = NATS_OK;
    int error = 0;
    uint64_t sequence = 0;
  };
  std::vector<Ack> acks;
  int acked = 0;
  // Under the journal's mu_: the status an earlier append's failure gave it.
  std::optional<absl::Status> voided;

  // Nats-Msg-Id: the same for a retry of a chunk (deduplicated by the
  // stream), another for other bytes or for the same bytes at another place.
  std::string ChunkId(int i) const { return absl::StrCat(id_base, i, "/", chunks); }
  absl::string_view Data(int i) const {
    return absl::string_view(payload).substr(static_cast<size_t>(i) * chunk_bytes, chunk_bytes);
  }
  uint64_t last_stream_seq() const { return expected_last + static_cast<uint64_t>(chunks); }
};

class NatsJournal::Handle final : public PendingAppend {
 public:
  Handle(NatsJournal* journal, std::shared_ptr<InFlight> append)
      : journal_(journal), append_(std::move(append)) {}
  absl::Status Wait() override { return journal_->Finish(append_); }

 private:
  NatsJournal* const journal_;
  const std::shared_ptr<InFlight> append_;
};

absl::StatusOr<natsMsg*> NatsJournal::ChunkMessage(const InFlight& append, int index) {
  const absl::string_view data = append.Data(index);
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject_.c_str(), nullptr, data.data(), static_cast<int>(data.size()));
  const std::string batch = absl::StrCat(append.first);
  const std::string chunk = absl::StrCat(index, "/", append.chunks);
  const std::string expected = absl::StrCat(append.expected_last + static_cast<uint64_t>(index));
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, kBatchHeader, batch.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, kChunkHeader, chunk.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, kExpectedLastSeqHeader, expected.c_str());
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    return absl::InternalError(absl::StrCat("nats journal: message: ", NatsText(s)));
  }
  return msg;
}

namespace {

// A chunk's publish options: its id and, when the message before it is one
// of this journal's appends in flight, that message's id. They point to the
// strings passed.
jsPubOptions ChunkOptions(const std::string& stream, int64_t max_wait_ms, const std::string& msg_id,
                          const std::string& expected_id) {
  jsPubOptions pub;
  jsPubOptions_Init(&pub);
  pub.MsgId = msg_id.c_str();
  pub.ExpectStream = stream.c_str();
  if (!expected_id.empty()) pub.ExpectLastMsgId = expected_id.c_str();
  pub.MaxWait = std::max<int64_t>(1, max_wait_ms);
  return pub;
}

}  // namespace

absl::StatusOr<uint64_t> NatsJournal::PublishChunk(const InFlight& append, int index) {
  const uint64_t expected_last = append.expected_last + static_cast<uint64_t>(index);
  const std::string msg_id = append.ChunkId(index);
  const std::string expected_id = index == 0 ? append.expected_id : append.ChunkId(index - 1);
  ASSIGN_OR_RETURN(natsMsg * msg, ChunkMessage(append, index));
  jsPubOptions pub =
      ChunkOptions(options_.stream, absl::ToInt64Milliseconds(options_.request_timeout), msg_id, expected_id);
  // The same message again (same id and expectation) is stored at most once.
  jsPubAck* ack = nullptr;
  int error = 0;
  natsStatus s = static_cast<natsStatus>(Retrying(
      [&](int* e) {
        jsPubAck_Destroy(ack);
        ack = nullptr;
        return js_PublishMsg(&ack, js_, msg, &pub, reinterpret_cast<jsErrCode*>(e));
      },
      &error, append.begun + options_.retry_timeout));
  const std::string chunk = absl::StrCat(index, "/", append.chunks);
  absl::StatusOr<uint64_t> result;
  if (s == NATS_OK) {
    // A retry of a chunk stored before is acknowledged as a duplicate, with
    // the sequence it got then.
    if (ack->Sequence != expected_last + 1) {
      result = absl::InternalError(absl::StrCat("nats journal: chunk ", chunk, " of the batch from sequence ",
                                                append.first, " was stored at stream sequence ",
                                                ack->Sequence, ", not ", expected_last + 1,
                                                ack->Duplicate ? " (a duplicate message id)" : ""));
    } else {
      result = ack->Sequence;
    }
  } else if (error == JSStreamWrongLastSequenceErr || error == kWrongLastMsgIdErr) {
    absl::StatusOr<uint64_t> last = StreamLastSequence();
    result = absl::AbortedError(absl::StrCat("journal: another replica appended up to stream sequence ",
                                             last.ok() ? absl::StrCat(*last) : std::string("unknown"),
                                             index == 0 ? "" : " in the middle of this batch",
                                             "; catch up and retry"));
  } else {
    result = absl::UnavailableError(
        absl::StrCat("nats journal: publish to ", subject_, " at ", options_.url, ": ", NatsText(s, error)));
  }
  jsPubAck_Destroy(ack);
  natsMsg_Destroy(msg);
  return result;
}

void NatsJournal::OnAck(jsCtx* /*js*/, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* closure) {
  auto* self = static_cast<NatsJournal*>(closure);
  {
    absl::MutexLock lock(&self->ack_mu_);
    auto it = self->unacked_.find(msg);
    if (it != self->unacked_.end()) {
      InFlight& append = *it->second.first;
      InFlight::Ack& a = append.acks[static_cast<size_t>(it->second.second)];
      a.done = true;
      if (ack != nullptr) {
        a.sequence = ack->Sequence;
      } else {
        a.status = error != nullptr ? error->Err : NATS_ERR;
        a.error = error != nullptr ? static_cast<int>(error->ErrCode) : 0;
      }
      ++append.acked;
      self->unacked_.erase(it);
    }
  }
  natsMsg_Destroy(msg);
}

absl::Status NatsJournal::Append(const std::vector<EventPtr>& events,
                                 const std::vector<BatchRecord>& batches) {
  {
    // One append at a time: nothing is staged on an earlier failed one.
    absl::MutexLock lock(&mu_);
    if (in_flight_.empty()) appends_failed_ = false;
  }
  return BeginAppend(events, batches)->Wait();
}

void NatsJournal::ResumeAppends() {
  absl::MutexLock lock(&mu_);
  appends_failed_ = false;
}

std::unique_ptr<PendingAppend> NatsJournal::BeginAppend(const std::vector<EventPtr>& events,
                                                        const std::vector<BatchRecord>& batches) {
  if (events.empty() && batches.empty()) return DoneAppend(absl::OkStatus());
  absl::MutexLock lock(&mu_);
  if (!tail_status_.ok()) return DoneAppend(tail_status_);
  if (appends_failed_) {
    return DoneAppend(absl::AbortedError(
        "journal: an append begun before this one failed, and this one may have been computed on it; "
        "catch up and retry"));
  }
  const uint64_t last = cache_->last_sequence() + in_flight_events_;
  const uint64_t first = events.empty() ? last + 1 : events.front()->sequence();
  if (first <= last) {
    appends_failed_ = true;
    return DoneAppend(absl::AbortedError(absl::StrCat("journal: sequence ", first,
                                                      " is taken: another replica appended up to ", last,
                                                      "; catch up and retry")));
  }
  uint64_t expected = last + 1;
  for (const EventPtr& e : events) {
    if (e->sequence() != expected++) {
      return DoneAppend(absl::InternalError(absl::StrCat("append out of order: sequence ", e->sequence(),
                                                         " where ", expected - 1, " was due")));
    }
  }
  auto append = std::make_shared<InFlight>();
  append->begun = absl::Now();
  append->first = first;
  append->events = events;
  append->batches = batches;
  append->payload = EncodePayload(events, batches, first);
  append->chunk_bytes = chunk_bytes_;
  append->chunks =
      static_cast<int>(std::max<size_t>(1, (append->payload.size() + chunk_bytes_ - 1) / chunk_bytes_));
  if (in_flight_.empty()) {
    append->expected_last = stream_seq_;
  } else {
    const InFlight& before = *in_flight_.back();
    append->expected_last = before.last_stream_seq();
    append->expected_id = before.ChunkId(before.chunks - 1);
  }
  append->id_base = absl::StrCat(options_.stream, ".", first, ".", absl::Hex(PayloadHash(append->payload)),
                                 ".", append->expected_last, ".");
  append->acks.resize(static_cast<size_t>(append->chunks));
  const int64_t max_wait_ms = absl::ToInt64Milliseconds(options_.request_timeout);
  for (int i = 0; i < append->chunks; ++i) {
    // A chunk not sent here is published again by Finish.
    auto not_sent = [&](natsStatus s) {
      absl::MutexLock acks(&ack_mu_);
      InFlight::Ack& a = append->acks[static_cast<size_t>(i)];
      a.done = true;
      a.status = s;
      ++append->acked;
    };
    absl::StatusOr<natsMsg*> msg = ChunkMessage(*append, i);
    if (!msg.ok()) {
      not_sent(NATS_ERR);
      continue;
    }
    const std::string msg_id = append->ChunkId(i);
    const std::string expected_id = i == 0 ? append->expected_id : append->ChunkId(i - 1);
    jsPubOptions pub = ChunkOptions(options_.stream, max_wait_ms, msg_id, expected_id);
    {
      // Before the publish: its acknowledgement may come before it returns.
      absl::MutexLock acks(&ack_mu_);
      unacked_[*msg] = {append, i};
    }
    natsMsg* owned = *msg;
    const natsStatus s = js_PublishMsgAsync(js_, &owned, &pub);
    if (s != NATS_OK) {
      // Still ours: OnAck is not called for it.
      {
        absl::MutexLock acks(&ack_mu_);
        unacked_.erase(*msg);
      }
      natsMsg_Destroy(owned);
      not_sent(s);
    }
  }
  in_flight_.push_back(append);
  in_flight_events_ += events.size();
  return std::make_unique<Handle>(this, std::move(append));
}

absl::Status NatsJournal::Finish(const std::shared_ptr<InFlight>& append) {
  {
    // Each chunk has a deadline (MaxWait), after which OnAck reports a
    // timeout; past this bound, a chunk without one is published again.
    absl::MutexLock lock(&ack_mu_);
    auto acked = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(ack_mu_) { return append->acked == append->chunks; };
    ack_mu_.AwaitWithTimeout(absl::Condition(&acked), 2 * options_.request_timeout + absl::Seconds(1));
  }
  absl::MutexLock lock(&mu_);
  auto turn = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return append->voided.has_value() || (!in_flight_.empty() && in_flight_.front() == append);
  };
  mu_.Await(absl::Condition(&turn));
  if (append->voided.has_value()) return *append->voided;
  std::vector<InFlight::Ack> acks;
  {
    absl::MutexLock acked(&ack_mu_);
    acks = append->acks;
  }
  absl::Status status;
  uint64_t stream_seq = append->expected_last;
  for (int i = 0; i < append->chunks && status.ok(); ++i) {
    const InFlight::Ack& a = acks[static_cast<size_t>(i)];
    if (a.done && a.status == NATS_OK && a.sequence == stream_seq + 1) {
      stream_seq = a.sequence;
      continue;
    }
    // Lost, refused while a chunk before it was missing, or refused for good.
    absl::StatusOr<uint64_t> published = PublishChunk(*append, i);
    if (published.ok()) {
      stream_seq = *published;
    } else {
      status = published.status();
    }
  }
  in_flight_.pop_front();
  in_flight_events_ -= append->events.size();
  if (!status.ok()) {
    // Every later append expects this one's last message before it.
    const absl::Status later =
        absl::IsAborted(status)
            ? absl::AbortedError(absl::StrCat("journal: an append begun before this one was refused (",
                                              status.message(), "); catch up and retry"))
            : absl::UnavailableError(absl::StrCat("journal: an append begun before this one is in doubt (",
                                                  status.message(), "), and so is this one"));
    for (const std::shared_ptr<InFlight>& after : in_flight_) after->voided = later;
    in_flight_.clear();
    in_flight_events_ = 0;
    appends_failed_ = true;
    return status;
  }
  // Our chunk 0 ended whatever batch was pending before it.
  pending_.reset();
  absl::Status applied = cache_->Append(append->events, append->batches);
  if (!applied.ok()) {
    tail_status_ = absl::InternalError(absl::StrCat("nats journal: batch stored at stream sequence ",
                                                    stream_seq, " but not in cache ", options_.cache_path,
                                                    " (restart to rebuild it): ", applied.message()));
    for (const std::shared_ptr<InFlight>& after : in_flight_) after->voided = tail_status_;
    in_flight_.clear();
    in_flight_events_ = 0;
    return tail_status_;
  }
  stream_seq_ = stream_seq;
  return WriteSideFile();
}

absl::Status NatsJournal::CatchUp(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  ASSIGN_OR_RETURN(const uint64_t target, StreamLastSequence());
  {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stream_seq_ >= target || !tail_status_.ok();
    };
    mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
    RETURN_IF_ERROR(tail_status_);
    if (stream_seq_ < target) {
      return absl::DeadlineExceededError(absl::StrCat("nats journal: caught up to stream sequence ",
                                                      stream_seq_, " of ", target, " in ",
                                                      absl::FormatDuration(timeout)));
    }
  }
  // A listener call on what was applied has started; wait for it to return.
  absl::MutexLock wait(&listener_mu_);
  return absl::OkStatus();
}

void NatsJournal::SetAppendListener(AppendListener listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
}

uint64_t NatsJournal::stream_sequence() const {
  absl::MutexLock lock(&mu_);
  return stream_seq_;
}

std::string NatsJournal::incarnation() const {
  return absl::StrCat("nats-", options_.stream, "-", absl::Hex(created_ns_, absl::kZeroPad16));
}

uint64_t NatsJournal::last_sequence() const { return cache_->last_sequence(); }
uint64_t NatsJournal::first_sequence() const { return cache_->first_sequence(); }

absl::StatusOr<size_t> NatsJournal::Read(uint64_t after, uint64_t up_to, size_t max_count,
                                         const std::function<void(EventPtr)>& fn) {
  return cache_->Read(after, up_to, max_count, fn);
}

absl::StatusOr<size_t> NatsJournal::ReadToSend(uint64_t after, uint64_t up_to, size_t max_count,
                                               const std::function<void(EventPtr)>& fn) {
  return cache_->ReadToSend(after, up_to, max_count, fn);
}

absl::Status NatsJournal::ReadView(View view, absl::Time as_of, uint64_t up_to,
                                   const std::function<void(EventPtr)>& fn) {
  return cache_->ReadView(view, as_of, up_to, fn);
}

absl::StatusOr<std::optional<BatchLocation>> NatsJournal::FindBatch(const std::string& publisher_id,
                                                                    const std::string& batch_key) {
  return cache_->FindBatch(publisher_id, batch_key);
}

absl::StatusOr<size_t> NatsJournal::Prune(uint64_t horizon, std::vector<uint64_t> keep) {
  // The cache only: the stream keeps the whole history, and a rebuilt
  // cache is pruned again by the feed's next prune.
  return cache_->Prune(horizon, std::move(keep));
}

}  // namespace kessan
