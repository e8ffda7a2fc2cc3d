#include "testing/test_util.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "journal/journal_rows.h"
#include "model/keys.h"

namespace kessan::test {

v1::Date MakeDate(int year, int month, int day) {
  v1::Date date;
  date.set_year(year);
  date.set_month(month);
  date.set_day(day);
  return date;
}

namespace {

v1::FiscalPeriod MakePeriod(int fiscal_year, v1::PeriodKind kind, int number) {
  v1::FiscalPeriod period;
  period.set_fiscal_year(fiscal_year);
  period.set_kind(kind);
  period.set_number(number);
  return period;
}

}  // namespace

v1::FiscalPeriod Quarter(int fiscal_year, int number) {
  return MakePeriod(fiscal_year, v1::PERIOD_KIND_QUARTER, number);
}
v1::FiscalPeriod Half(int fiscal_year, int number) {
  return MakePeriod(fiscal_year, v1::PERIOD_KIND_HALF, number);
}
v1::FiscalPeriod FullYear(int fiscal_year) { return MakePeriod(fiscal_year, v1::PERIOD_KIND_FULL_YEAR, 0); }

v1::Money MakeMoney(absl::string_view currency, int64_t units, int32_t nanos) {
  v1::Money money;
  money.set_currency_code(std::string(currency));
  money.set_units(units);
  money.set_nanos(nanos);
  return money;
}

v1::Provenance TestProvenance() {
  v1::Provenance provenance;
  provenance.set_document("unit-test");
  provenance.set_line_start(1);
  provenance.set_line_end(2);
  provenance.set_quote("a figure quoted for a test");
  return provenance;
}

v1::Issuer MakeIssuer(absl::string_view id, int fiscal_year_end_month, std::vector<std::string> aliases) {
  v1::Issuer issuer;
  issuer.set_id(std::string(id));
  issuer.set_name(absl::StrCat(id, " Inc."));
  issuer.set_fiscal_year_end_month(fiscal_year_end_month);
  for (std::string& alias : aliases) issuer.add_aliases(std::move(alias));
  return issuer;
}

v1::Issuer Iij() { return MakeIssuer("IIJ", 3, {"11J"}); }

v1::Segment MakeSegment(absl::string_view issuer, absl::string_view id, std::vector<std::string> member_ids) {
  v1::Segment segment;
  segment.set_issuer(std::string(issuer));
  segment.set_id(std::string(id));
  segment.set_name(absl::StrCat("segment ", id));
  for (std::string& member : member_ids) segment.add_member_ids(std::move(member));
  return segment;
}

v1::FactKey MakeKey(absl::string_view issuer, absl::string_view concept_id, const v1::FiscalPeriod& period,
                    absl::string_view segment) {
  v1::FactKey key;
  key.set_issuer(std::string(issuer));
  key.set_concept_id(std::string(concept_id));
  *key.mutable_period() = period;
  key.set_segment(std::string(segment));
  return key;
}

v1::Fact MakeFact(absl::string_view issuer, absl::string_view concept_id, const v1::FiscalPeriod& period,
                  int64_t yen) {
  v1::Fact fact;
  *fact.mutable_key() = MakeKey(issuer, concept_id, period);
  *fact.mutable_value()->mutable_money() = MakeMoney("JPY", yen);
  fact.mutable_value()->mutable_precision()->set_decimals(-6);
  *fact.mutable_provenance() = TestProvenance();
  return fact;
}

v1::PrivatePlacement MakePlacement() {
  v1::PrivatePlacement placement;
  placement.set_shares(100);
  placement.set_share_class("common");
  *placement.mutable_issue_price() = MakeMoney("JPY", 1000);
  *placement.mutable_amount_not_credited_per_share() = MakeMoney("JPY", 500);
  *placement.mutable_application_date() = MakeDate(2003, 6, 10);
  *placement.mutable_payment_date() = MakeDate(2003, 6, 11);
  placement.set_allocation_method("third-party allotment");
  *placement.mutable_dividend_accrual_start() = MakeDate(2003, 4, 1);
  return placement;
}

v1::CapitalAction MakeCapitalAction(absl::string_view issuer, absl::string_view action_id) {
  v1::CapitalAction action;
  action.set_issuer(std::string(issuer));
  action.set_action_id(std::string(action_id));
  *action.mutable_provenance() = TestProvenance();
  *action.mutable_private_placement() = MakePlacement();
  return action;
}

v1::Guidance MakeGuidance(absl::string_view issuer, absl::string_view concept_id,
                          const v1::FiscalPeriod& period) {
  v1::Guidance guidance;
  *guidance.mutable_key() = MakeKey(issuer, concept_id, period);
  guidance.mutable_bound()->mutable_ratio()->set_value("0.10");
  guidance.mutable_bound()->mutable_precision()->set_decimals(2);
  guidance.mutable_bound()->mutable_precision()->set_qualifier(v1::QUALIFIER_GREATER_THAN);
  *guidance.mutable_provenance() = TestProvenance();
  return guidance;
}

v1::PublishItem Item(const v1::Issuer& issuer) {
  v1::PublishItem item;
  *item.mutable_issuer() = issuer;
  return item;
}
v1::PublishItem Item(const v1::Segment& segment) {
  v1::PublishItem item;
  *item.mutable_segment() = segment;
  return item;
}
v1::PublishItem Item(const v1::Fact& fact) {
  v1::PublishItem item;
  *item.mutable_fact() = fact;
  return item;
}
v1::PublishItem Item(const v1::CapitalAction& action) {
  v1::PublishItem item;
  *item.mutable_capital_action() = action;
  return item;
}
v1::PublishItem Item(const v1::Guidance& guidance) {
  v1::PublishItem item;
  *item.mutable_guidance() = guidance;
  return item;
}

v1::PublishRequest Batch(std::vector<v1::PublishItem> items) {
  v1::PublishRequest request;
  for (v1::PublishItem& item : items) *request.add_items() = std::move(item);
  return request;
}

EventPtr FactEvent(uint64_t sequence, absl::string_view issuer, absl::string_view concept_id) {
  v1::FeedEvent event;
  event.set_sequence(sequence);
  event.mutable_time()->set_seconds(1054166400 + static_cast<int64_t>(sequence));
  *event.mutable_fact() = MakeFact(
      issuer, concept_id.empty() ? absl::StrCat("c", sequence) : std::string(concept_id), Quarter(2002, 4));
  event.mutable_fact()->set_revision(1);
  return EncodeEvent(std::move(event));
}

std::vector<EventPtr> FactEvents(uint64_t first, size_t count) {
  std::vector<EventPtr> events;
  for (uint64_t s = first; s < first + count; ++s) events.push_back(FactEvent(s));
  return events;
}

std::string Frames(const std::vector<EventPtr>& events) {
  std::string out;
  for (const EventPtr& e : events) out.append(e->frame().data(), e->frame().size());
  return out;
}

std::string RangeBytes(const std::vector<absl::string_view>& ranges) {
  std::string out;
  for (absl::string_view r : ranges) out.append(r.data(), r.size());
  return out;
}

std::vector<uint64_t> Sequences(const std::vector<EventPtr>& events) {
  std::vector<uint64_t> out;
  for (const EventPtr& e : events) out.push_back(e->sequence());
  return out;
}

std::vector<uint64_t> Sequences(const google::protobuf::RepeatedPtrField<v1::FeedEvent>& events) {
  std::vector<uint64_t> out;
  for (const v1::FeedEvent& e : events) out.push_back(e.sequence());
  return out;
}

std::string Describe(const v1::FeedEvent& event) {
  switch (event.body_case()) {
    case v1::FeedEvent::kSnapshotBegin:
      return absl::StrCat("begin@", event.snapshot_begin().sequence());
    case v1::FeedEvent::kSnapshotEnd:
      return absl::StrCat("end@", event.snapshot_end().sequence(), ":", event.snapshot_end().item_count());
    case v1::FeedEvent::kFact:
      return absl::StrCat(event.sequence(), " ", AttrsOf(event).item_key, " r", event.fact().revision());
    case v1::FeedEvent::kCapitalAction:
      return absl::StrCat(event.sequence(), " ", AttrsOf(event).item_key, " r",
                          event.capital_action().revision());
    case v1::FeedEvent::kGuidance:
      return absl::StrCat(event.sequence(), " ", AttrsOf(event).item_key, " r", event.guidance().revision());
    default:
      return absl::StrCat(event.sequence(), " ", AttrsOf(event).item_key);
  }
}

std::vector<std::string> Describe(const std::vector<EventPtr>& events) {
  std::vector<std::string> out;
  for (const EventPtr& e : events) out.push_back(Describe(e->event()));
  return out;
}

std::vector<std::string> Describe(const google::protobuf::RepeatedPtrField<v1::FeedEvent>& events) {
  std::vector<std::string> out;
  for (const v1::FeedEvent& e : events) out.push_back(Describe(e));
  return out;
}

std::vector<EventPtr> Drain(Subscription& subscription, size_t max_events) {
  std::vector<EventPtr> all;
  for (;;) {
    std::vector<EventPtr> taken = subscription.Take(max_events, size_t{1} << 30);
    if (taken.empty()) {
      if (!subscription.reading()) return all;
      if (!subscription.AwaitReads(absl::Seconds(60))) {
        ADD_FAILURE() << "a journal read of the subscription did not end in 60 s";
        return all;
      }
    }
    all.insert(all.end(), taken.begin(), taken.end());
  }
}

void FakeCatalog::AddIssuer(const v1::Issuer& issuer) {
  issuers_[issuer.id()] = issuer;
  names_[issuer.id()] = issuer.id();
  for (const std::string& alias : issuer.aliases()) names_[alias] = issuer.id();
}

void FakeCatalog::AddSegment(absl::string_view issuer, absl::string_view segment_id) {
  segments_.insert(absl::StrCat(issuer, "/", segment_id));
}

const v1::Issuer* FakeCatalog::FindIssuer(absl::string_view id_or_alias) const {
  auto name = names_.find(std::string(id_or_alias));
  return name == names_.end() ? nullptr : &issuers_.at(name->second);
}

bool FakeCatalog::HasSegment(absl::string_view issuer, absl::string_view segment_id) const {
  return segments_.count(absl::StrCat(issuer, "/", segment_id)) > 0;
}

FakeCatalog IijCatalog() {
  FakeCatalog catalog;
  catalog.AddIssuer(Iij());
  catalog.AddSegment("IIJ", "systems_integration");
  return catalog;
}

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

void FakeClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::path(::testing::TempDir()) / "kessan_unit_XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << " failed";
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::File(absl::string_view name) const {
  return (std::filesystem::path(path_) / std::string(name)).string();
}

std::string TempDir::WriteFile(absl::string_view name, absl::string_view contents) const {
  std::string path = File(name);
  std::ofstream out(path, std::ios::binary);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  EXPECT_TRUE(out.good()) << "cannot write " << path;
  return path;
}

bool FlipBitOfFigure(const std::string& path, uint64_t sequence) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return false;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT first_sequence, last_sequence, keys, events FROM commits"
                     " WHERE first_sequence <= ? ORDER BY first_sequence DESC LIMIT 1",
                     -1, &stmt, nullptr);
  sqlite3_bind_int64(stmt, 1, static_cast<sqlite3_int64>(sequence));
  bool flipped = false;
  uint64_t first = 0;
  std::string events;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    first = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
    const uint64_t last = static_cast<uint64_t>(sqlite3_column_int64(stmt, 1));
    const std::string keys(static_cast<const char*>(sqlite3_column_blob(stmt, 2)),
                           static_cast<size_t>(sqlite3_column_bytes(stmt, 2)));
    events.assign(static_cast<const char*>(sqlite3_column_blob(stmt, 3)),
                  static_cast<size_t>(sqlite3_column_bytes(stmt, 3)));
    RowReader reader(first, last, keys, events, std::nullopt);
    JournalRecord r;
    while (!flipped && reader.Next(&r).value_or(false)) {
      v1::FeedEvent event;
      if (r.sequence != sequence || !event.ParseFromString(std::string(r.body))) continue;
      // Money.units: field 2, varint.
      uint8_t varint[10];
      const uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(
          static_cast<uint64_t>(event.fact().value().money().units()), varint);
      const std::string units =
          "\x10" + std::string(reinterpret_cast<const char*>(varint), static_cast<size_t>(end - varint));
      const size_t at = r.body.find(units);
      if (at == absl::string_view::npos) continue;
      const size_t last_byte = static_cast<size_t>(r.body.data() - events.data()) + at + units.size() - 1;
      events[last_byte] ^= 1;
      flipped = true;
    }
  }
  sqlite3_finalize(stmt);
  if (flipped) {
    sqlite3_prepare_v2(db, "UPDATE commits SET events = ? WHERE first_sequence = ?", -1, &stmt, nullptr);
    sqlite3_bind_blob(stmt, 1, events.data(), static_cast<int>(events.size()), SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, static_cast<sqlite3_int64>(first));
    flipped = sqlite3_step(stmt) == SQLITE_DONE && sqlite3_changes(db) == 1;
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return flipped;
}

}  // namespace kessan::test
