// Helpers shared by the server unit tests: builders of valid model items, a
// fake Catalog, an in-memory Journal, a temporary directory, and matchers
// for absl::Status and protobuf messages.
//
// Builders return items that pass ValidatePublish against IijCatalog(); a
// test breaks one field to check one rule.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "event/encoded_event.h"
#include "feed/subscription.h"
#include "google/protobuf/util/message_differencer.h"
#include "kessan/v1/feed.pb.h"
#include "model/catalog.h"

namespace kessan::test {

// ---------------------------------------------------------------- values

v1::Date MakeDate(int year, int month, int day);
v1::FiscalPeriod Quarter(int fiscal_year, int number);
v1::FiscalPeriod Half(int fiscal_year, int number);
v1::FiscalPeriod FullYear(int fiscal_year);
v1::Money MakeMoney(absl::string_view currency, int64_t units, int32_t nanos = 0);
// A provenance that passes validation.
v1::Provenance TestProvenance();

// ----------------------------------------------------------------- items

v1::Issuer MakeIssuer(absl::string_view id, int fiscal_year_end_month, std::vector<std::string> aliases = {});
// IIJ: fiscal year ends in March, OCR alias "11J".
v1::Issuer Iij();
v1::Segment MakeSegment(absl::string_view issuer, absl::string_view id,
                        std::vector<std::string> member_ids = {});
v1::FactKey MakeKey(absl::string_view issuer, absl::string_view concept_id, const v1::FiscalPeriod& period,
                    absl::string_view segment = "");
// A yen amount rounded to millions, qualifier left UNSPECIFIED.
v1::Fact MakeFact(absl::string_view issuer, absl::string_view concept_id, const v1::FiscalPeriod& period,
                  int64_t yen = 13'000'000'000);
// 100 common shares at JPY 1,000, JPY 500 not credited; applied 2003-06-10,
// paid 2003-06-11.
v1::PrivatePlacement MakePlacement();
v1::CapitalAction MakeCapitalAction(absl::string_view issuer,
                                    absl::string_view action_id = "private_placement_2003_06");
// "more than 10%" growth.
v1::Guidance MakeGuidance(absl::string_view issuer, absl::string_view concept_id,
                          const v1::FiscalPeriod& period);

v1::PublishItem Item(const v1::Issuer& issuer);
v1::PublishItem Item(const v1::Segment& segment);
v1::PublishItem Item(const v1::Fact& fact);
v1::PublishItem Item(const v1::CapitalAction& action);
v1::PublishItem Item(const v1::Guidance& guidance);
v1::PublishRequest Batch(std::vector<v1::PublishItem> items);

// A journaled event: a fact of `issuer` for FY2002 Q4 with `concept_id`
// (default "c<sequence>", one item per sequence), at `sequence`.
EventPtr FactEvent(uint64_t sequence, absl::string_view issuer = "IIJ", absl::string_view concept_id = "");
// Events FactEvent(first), ..., FactEvent(first + count - 1).
std::vector<EventPtr> FactEvents(uint64_t first, size_t count);

std::vector<uint64_t> Sequences(const std::vector<EventPtr>& events);
// The events' frames back to back: the bytes of a response of them.
std::string Frames(const std::vector<EventPtr>& events);
// The bytes of `slices` back to back.
std::string RangeBytes(const std::vector<absl::string_view>& ranges);
std::vector<uint64_t> Sequences(const google::protobuf::RepeatedPtrField<v1::FeedEvent>& events);

// Compact forms of events for readable expectations: "begin@5",
// "end@5:2", "7 fact:IIJ/revenue/FY2002Q4 r2", "1 issuer:IIJ".
std::string Describe(const v1::FeedEvent& event);
std::vector<std::string> Describe(const std::vector<EventPtr>& events);
std::vector<std::string> Describe(const google::protobuf::RepeatedPtrField<v1::FeedEvent>& events);

// Takes from `subscription` until it has nothing ready and no journal read
// (its snapshot or backlog) to come.
std::vector<EventPtr> Drain(Subscription& subscription, size_t max_events = 100);

// Flips the lowest bit of the last byte of the money.units varint of the
// fact journaled at `sequence` in the SQLite journal at `path`, as damage on
// disk would: the bytes still parse, to another figure, and the row's
// checksums are left as they were. Through a connection of its own. False
// when there is no such fact.
bool FlipBitOfFigure(const std::string& path, uint64_t sequence);

// ---------------------------------------------------------------- fakes

// FakeCatalog holds issuers (found by id or alias) and segments. Not
// thread-safe.
class FakeCatalog : public Catalog {
 public:
  void AddIssuer(const v1::Issuer& issuer);
  void AddSegment(absl::string_view issuer, absl::string_view segment_id);

  const v1::Issuer* FindIssuer(absl::string_view id_or_alias) const override;
  bool HasSegment(absl::string_view issuer, absl::string_view segment_id) const override;
  // No published items.
  bool HasLiveItem(const std::string& item_key) const override { return false; }

 private:
  std::map<std::string, v1::Issuer> issuers_;
  std::map<std::string, std::string> names_;  // id or alias -> id
  std::set<std::string> segments_;            // "issuer/segment"
};

// IIJ (see Iij()) with the segment "systems_integration".
FakeCatalog IijCatalog();

// FakeClock is a settable clock for Feed::Open. Thread-safe: the feed may
// read it from its own threads.
class FakeClock {
 public:
  explicit FakeClock(absl::Time now) : now_(now) {}
  absl::Time Now() const;
  void Advance(absl::Duration d);
  // A callable reading this clock; the FakeClock must outlive it.
  std::function<absl::Time()> AsFunction() const {
    return [this] { return Now(); };
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

// CountingWaker counts calls to Wake. Thread-safe.
class CountingWaker : public Waker {
 public:
  void Wake() override {
    absl::MutexLock lock(&mu_);
    ++wakes_;
  }
  int wakes() const {
    absl::MutexLock lock(&mu_);
    return wakes_;
  }
  // Waits until Wake has been called at least `n` times: a reader thread
  // wakes the consumer just after it ends its read.
  bool AwaitWakes(int n, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wakes_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

 private:
  mutable absl::Mutex mu_;
  int wakes_ ABSL_GUARDED_BY(mu_) = 0;
};

// TempDir is a fresh directory under testing::TempDir(), removed with its
// contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name.
  std::string File(absl::string_view name) const;
  // Writes `contents` to path()/name and returns that path.
  std::string WriteFile(absl::string_view name, absl::string_view contents) const;

 private:
  std::string path_;
};

// ------------------------------------------------------------- matchers

inline const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// StatusIs(code, message_matcher): an absl::Status or StatusOr with `code`
// whose message (as std::string) matches.
MATCHER_P2(StatusIs, code, message_matcher, "status code is " + absl::StatusCodeToString(code)) {
  const absl::Status& status = ::kessan::test::StatusOf(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()), result_listener);
}
inline auto StatusIs(absl::StatusCode code) { return StatusIs(code, ::testing::_); }
inline auto IsOk() { return StatusIs(absl::StatusCode::kOk); }

// EqualsProto(expected): a message equal to `expected` (MessageDifferencer).
MATCHER_P(EqualsProto, expected, "equals " + expected.ShortDebugString()) {
  if (google::protobuf::util::MessageDifferencer::Equals(arg, expected)) return true;
  *result_listener << "is " << arg.ShortDebugString();
  return false;
}

}  // namespace kessan::test
