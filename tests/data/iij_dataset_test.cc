// Checks the curated IIJ 4Q02/FY2002 data set (data/iij/iij_4q02_fy2002.txtpb)
// against the seed it was read from (KESSAN_SEED_FILE): it parses, every item
// quotes the seed at exactly the lines it names, every figure says how it was
// rounded, fiscal periods follow IIJ's March year end, keys are unique, and
// the key figures are what the release states.

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "kessan/v1/model.pb.h"
#include "kessan/v1/types.pb.h"

#ifndef KESSAN_SEED_FILE
#error "KESSAN_SEED_FILE must be defined (path of the seed text file)"
#endif
#ifndef KESSAN_DATASET_FILE
#error "KESSAN_DATASET_FILE must be defined (path of the .txtpb data set)"
#endif

namespace {

using google::protobuf::util::MessageDifferencer;
namespace kv1 = ::kessan::v1;

constexpr char kDocument[] = "000_f51f5271c0c5436c.txt";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Lines of a text, split on '\n' (1-based access through index + 1). A
// final newline does not start another line.
std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::string::size_type start = 0;
  while (start <= text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string::npos) {
      if (start < text.size()) lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// Returns "" when the provenance is valid for the seed, else what is wrong.
// Valid: the document is the seed, 1 <= line_start <= line_end <= #lines,
// the quote is non-empty and occurs in lines line_start..line_end joined
// with "\n", starting on line_start and ending on line_end (so the range is
// exactly the lines the quote covers: neither end may be an empty line, and
// a quote may not begin or end with the newline between two lines).
std::string CheckProvenance(const kv1::Provenance& p, const std::vector<std::string>& lines) {
  std::ostringstream err;
  if (p.document() != kDocument) {
    err << "document is '" << p.document() << "', want '" << kDocument << "'";
    return err.str();
  }
  const int n = static_cast<int>(lines.size());
  if (p.line_start() < 1 || p.line_end() < p.line_start() || p.line_end() > n) {
    err << "bad line range " << p.line_start() << ".." << p.line_end() << " (seed has " << n << " lines)";
    return err.str();
  }
  if (p.quote().empty()) return "empty quote";
  std::string joined;
  for (int i = p.line_start(); i <= p.line_end(); ++i) {
    if (i > p.line_start()) joined += '\n';
    joined += lines[i - 1];
  }
  const std::size_t first_len = lines[p.line_start() - 1].size();
  const std::size_t last_begin = joined.size() - lines[p.line_end() - 1].size();
  bool found = false;
  bool tight = false;
  for (auto pos = joined.find(p.quote()); pos != std::string::npos; pos = joined.find(p.quote(), pos + 1)) {
    found = true;
    const std::size_t end = pos + p.quote().size();  // one past the last byte
    const bool starts_on_first = pos < first_len;
    const bool ends_on_last = end > last_begin;
    if (starts_on_first && ends_on_last) {
      tight = true;
      break;
    }
  }
  if (!found) {
    err << "quote '" << p.quote() << "' does not occur in lines " << p.line_start() << ".." << p.line_end();
    return err.str();
  }
  if (!tight) {
    err << "quote '" << p.quote() << "' does not start on line " << p.line_start() << " and end on line "
        << p.line_end();
    return err.str();
  }
  return "";
}

bool IsLowerSnake(const std::string& s) {
  static const std::regex re("^[a-z][a-z0-9]*(_[a-z0-9]+)*$");
  return std::regex_match(s, re);
}

// Number of digits after the decimal point of a decimal string, or nullopt
// if the string is not a plain decimal ("-0.530", "4", "0.10").
std::optional<int> FractionDigits(const std::string& s) {
  static const std::regex re("^-?(0|[1-9][0-9]*)(\\.([0-9]+))?$");
  std::smatch m;
  if (!std::regex_match(s, m, re)) return std::nullopt;
  return m[3].matched ? static_cast<int>(m[3].length()) : 0;
}

int DaysInMonth(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

kv1::Date MakeDate(int y, int m, int d) {
  kv1::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

// The period the issuer calendar gives for (fiscal_year, kind, number): the
// fiscal year is named by the calendar year it starts in and ends in
// fiscal_year_end_month. Returns nullopt for an impossible kind/number.
std::optional<kv1::FiscalPeriod> CalendarPeriod(int fiscal_year_end_month, int fiscal_year,
                                                kv1::PeriodKind kind, int number) {
  int first_month_index;  // months after the fiscal year's first month
  int length;             // months
  switch (kind) {
    case kv1::PERIOD_KIND_FULL_YEAR:
      if (number != 0) return std::nullopt;
      first_month_index = 0;
      length = 12;
      break;
    case kv1::PERIOD_KIND_HALF:
      if (number < 1 || number > 2) return std::nullopt;
      first_month_index = 6 * (number - 1);
      length = 6;
      break;
    case kv1::PERIOD_KIND_QUARTER:
      if (number < 1 || number > 4) return std::nullopt;
      first_month_index = 3 * (number - 1);
      length = 3;
      break;
    default:
      return std::nullopt;
  }
  // Months counted from January of fiscal_year (0 = January).
  const int fy_start = fiscal_year_end_month % 12;  // March -> 3 = April
  const int start_abs = fy_start + first_month_index;
  const int end_abs = start_abs + length - 1;
  kv1::FiscalPeriod p;
  p.set_fiscal_year(fiscal_year);
  p.set_kind(kind);
  p.set_number(number);
  *p.mutable_start_date() = MakeDate(fiscal_year + start_abs / 12, start_abs % 12 + 1, 1);
  const int ey = fiscal_year + end_abs / 12;
  const int em = end_abs % 12 + 1;
  *p.mutable_end_date() = MakeDate(ey, em, DaysInMonth(ey, em));
  return p;
}

// IIJ periods, written out for the spot checks.
kv1::FiscalPeriod Quarter(int fy, int q) { return *CalendarPeriod(3, fy, kv1::PERIOD_KIND_QUARTER, q); }
kv1::FiscalPeriod FullYear(int fy) { return *CalendarPeriod(3, fy, kv1::PERIOD_KIND_FULL_YEAR, 0); }

std::string PeriodName(const kv1::FiscalPeriod& p) {
  std::ostringstream s;
  if (p.kind() == kv1::PERIOD_KIND_FULL_YEAR)
    s << "FY" << p.fiscal_year();
  else
    s << p.number() << (p.kind() == kv1::PERIOD_KIND_HALF ? "H" : "Q") << p.fiscal_year();
  return s.str();
}

std::string KeyName(const kv1::FactKey& k) {
  std::ostringstream s;
  s << k.issuer() << "/" << k.concept_id() << "/" << PeriodName(k.period());
  if (!k.segment().empty()) s << "/seg=" << k.segment();
  if (k.has_comparison_period()) s << "/vs=" << PeriodName(k.comparison_period());
  return s.str();
}

bool DateBefore(const kv1::Date& a, const kv1::Date& b) {
  return std::make_tuple(a.year(), a.month(), a.day()) < std::make_tuple(b.year(), b.month(), b.day());
}

// Collects parse errors instead of logging them.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    errors << "line " << line + 1 << ":" << column + 1 << ": " << message << "\n";
  }
  void AddWarning(int line, int column, const std::string& message) override {
    errors << "warning: line " << line + 1 << ":" << column + 1 << ": " << message << "\n";
  }
  std::ostringstream errors;
};

class IijDataSetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    seed_text_ = new std::string(ReadFile(KESSAN_SEED_FILE));
    seed_lines_ = new std::vector<std::string>(SplitLines(*seed_text_));
    data_set_ = new kv1::DataSet();
    parse_errors_ = new std::string();
    const std::string text = ReadFile(KESSAN_DATASET_FILE);
    if (text.empty()) {
      *parse_errors_ = std::string("cannot read ") + KESSAN_DATASET_FILE;
      parsed_ = false;
      return;
    }
    google::protobuf::TextFormat::Parser parser;
    ErrorCollector collector;
    parser.RecordErrorsTo(&collector);
    parsed_ = parser.ParseFromString(text, data_set_);
    *parse_errors_ = collector.errors.str();
  }
  static void TearDownTestSuite() {
    delete seed_text_;
    delete seed_lines_;
    delete data_set_;
    delete parse_errors_;
  }

  void SetUp() override {
    ASSERT_FALSE(seed_text_->empty()) << "cannot read seed " << KESSAN_SEED_FILE;
    ASSERT_TRUE(parsed_) << "data set does not parse:\n" << *parse_errors_;
  }

  static const kv1::DataSet& ds() { return *data_set_; }
  static const std::vector<std::string>& lines() { return *seed_lines_; }

  static const kv1::Fact* FindFact(const std::string& concept_id, const kv1::FiscalPeriod& period,
                                   const std::string& segment = "",
                                   const std::optional<kv1::FiscalPeriod>& comparison = std::nullopt) {
    kv1::FactKey want;
    want.set_issuer("IIJ");
    want.set_concept_id(concept_id);
    *want.mutable_period() = period;
    want.set_segment(segment);
    if (comparison) *want.mutable_comparison_period() = *comparison;
    const kv1::Fact* found = nullptr;
    for (const auto& f : ds().facts()) {
      if (MessageDifferencer::Equals(f.key(), want)) {
        if (found != nullptr) return nullptr;  // duplicates are an error
        found = &f;
      }
    }
    return found;
  }

  // Every Value in the data set with a label saying where it is.
  static std::vector<std::pair<std::string, const kv1::Value*>> AllValues() {
    std::vector<std::pair<std::string, const kv1::Value*>> out;
    for (const auto& f : ds().facts()) {
      out.emplace_back("fact " + KeyName(f.key()) + " value", &f.value());
      for (int i = 0; i < f.translations_size(); ++i)
        out.emplace_back("fact " + KeyName(f.key()) + " translation " + std::to_string(i),
                         &f.translations(i));
    }
    for (const auto& g : ds().guidance())
      out.emplace_back("guidance " + KeyName(g.key()) + " bound", &g.bound());
    return out;
  }

  // Every FactKey (facts and guidance) with a label.
  static std::vector<std::pair<std::string, const kv1::FactKey*>> AllKeys() {
    std::vector<std::pair<std::string, const kv1::FactKey*>> out;
    for (const auto& f : ds().facts()) out.emplace_back("fact " + KeyName(f.key()), &f.key());
    for (const auto& g : ds().guidance()) out.emplace_back("guidance " + KeyName(g.key()), &g.key());
    return out;
  }

  static std::string* seed_text_;
  static std::vector<std::string>* seed_lines_;
  static kv1::DataSet* data_set_;
  static std::string* parse_errors_;
  static bool parsed_;
};

std::string* IijDataSetTest::seed_text_ = nullptr;
std::vector<std::string>* IijDataSetTest::seed_lines_ = nullptr;
kv1::DataSet* IijDataSetTest::data_set_ = nullptr;
std::string* IijDataSetTest::parse_errors_ = nullptr;
bool IijDataSetTest::parsed_ = false;

// ---------------------------------------------------------------------------
// The checker itself: it must reject what is wrong, or the data set checks
// below prove nothing.
// ---------------------------------------------------------------------------

TEST(ProvenanceCheckerTest, AcceptsExactAndRejectsWrongRanges) {
  const std::vector<std::string> lines = {"alpha beta", "gamma delta", "epsilon"};
  kv1::Provenance p;
  p.set_document(kDocument);
  p.set_line_start(1);
  p.set_line_end(2);
  p.set_quote("beta\ngamma");
  EXPECT_EQ(CheckProvenance(p, lines), "");

  p.set_line_end(3);  // quote does not reach line 3
  EXPECT_NE(CheckProvenance(p, lines), "");
  p.set_line_start(2);  // quote starts on line 1
  p.set_line_end(2);
  EXPECT_NE(CheckProvenance(p, lines), "");
  p.set_line_start(1);
  p.set_line_end(4);  // beyond the file
  EXPECT_NE(CheckProvenance(p, lines), "");
  p.set_line_start(2);
  p.set_line_end(1);  // inverted
  EXPECT_NE(CheckProvenance(p, lines), "");
  p.set_line_start(1);
  p.set_line_end(2);
  p.set_quote("beta gamma");  // newline replaced: not byte for byte
  EXPECT_NE(CheckProvenance(p, lines), "");
  p.set_quote("");
  EXPECT_NE(CheckProvenance(p, lines), "");
  p.set_quote("beta\ngamma");
  p.set_document("other.txt");
  EXPECT_NE(CheckProvenance(p, lines), "");

  // A range widened by an empty line is not exact either.
  const std::vector<std::string> gap = {"", "alpha", ""};
  p.set_document(kDocument);
  p.set_quote("alpha");
  p.set_line_start(2);
  p.set_line_end(2);
  EXPECT_EQ(CheckProvenance(p, gap), "");
  p.set_line_start(1);
  EXPECT_NE(CheckProvenance(p, gap), "");
  p.set_line_start(2);
  p.set_line_end(3);
  EXPECT_NE(CheckProvenance(p, gap), "");
}

TEST(CalendarTest, IijMarchYearEnd) {
  const auto fy2002 = FullYear(2002);
  EXPECT_TRUE(MessageDifferencer::Equals(fy2002.start_date(), MakeDate(2002, 4, 1)));
  EXPECT_TRUE(MessageDifferencer::Equals(fy2002.end_date(), MakeDate(2003, 3, 31)));
  const auto q4 = Quarter(2002, 4);
  EXPECT_TRUE(MessageDifferencer::Equals(q4.start_date(), MakeDate(2003, 1, 1)));
  EXPECT_TRUE(MessageDifferencer::Equals(q4.end_date(), MakeDate(2003, 3, 31)));
  const auto q3 = Quarter(2002, 3);
  EXPECT_TRUE(MessageDifferencer::Equals(q3.start_date(), MakeDate(2002, 10, 1)));
  EXPECT_TRUE(MessageDifferencer::Equals(q3.end_date(), MakeDate(2002, 12, 31)));
  const auto q4_01 = Quarter(2001, 4);
  EXPECT_TRUE(MessageDifferencer::Equals(q4_01.start_date(), MakeDate(2002, 1, 1)));
  EXPECT_TRUE(MessageDifferencer::Equals(q4_01.end_date(), MakeDate(2002, 3, 31)));
  EXPECT_FALSE(CalendarPeriod(3, 2002, kv1::PERIOD_KIND_QUARTER, 5).has_value());
  EXPECT_FALSE(CalendarPeriod(3, 2002, kv1::PERIOD_KIND_FULL_YEAR, 1).has_value());
}

TEST(DecimalTest, FractionDigits) {
  EXPECT_EQ(FractionDigits("0.077"), 3);
  EXPECT_EQ(FractionDigits("-0.530"), 3);
  EXPECT_EQ(FractionDigits("4"), 0);
  EXPECT_EQ(FractionDigits("0.10"), 2);
  EXPECT_FALSE(FractionDigits("7.7%").has_value());
  EXPECT_FALSE(FractionDigits("1e3").has_value());
  EXPECT_FALSE(FractionDigits("").has_value());
  EXPECT_FALSE(FractionDigits(".5").has_value());
}

// ---------------------------------------------------------------------------
// Structure
// ---------------------------------------------------------------------------

TEST_F(IijDataSetTest, ParsesWithExpectedItemCounts) {
  EXPECT_EQ(ds().name(), "iij_4q02_fy2002");
  EXPECT_EQ(ds().issuers_size(), 1);
  EXPECT_EQ(ds().segments_size(), 11);
  EXPECT_EQ(ds().facts_size(), 17);
  EXPECT_EQ(ds().capital_actions_size(), 1);
  EXPECT_EQ(ds().guidance_size(), 2);
}

TEST_F(IijDataSetTest, SeedIsTheExpectedDocument) {
  EXPECT_EQ(lines().size(), 167u);
  const std::string path = KESSAN_SEED_FILE;
  EXPECT_EQ(path.substr(path.find_last_of('/') + 1), kDocument);
}

TEST_F(IijDataSetTest, EveryItemQuotesTheSeedAtItsLines) {
  auto check = [&](const std::string& what, bool has, const kv1::Provenance& p) {
    if (!has) {
      ADD_FAILURE() << what << ": no provenance";
      return;
    }
    const std::string err = CheckProvenance(p, lines());
    EXPECT_EQ(err, "") << what;
  };
  for (const auto& i : ds().issuers()) check("issuer " + i.id(), i.has_provenance(), i.provenance());
  for (const auto& s : ds().segments()) check("segment " + s.id(), s.has_provenance(), s.provenance());
  for (const auto& f : ds().facts()) check("fact " + KeyName(f.key()), f.has_provenance(), f.provenance());
  for (const auto& c : ds().capital_actions())
    check("capital action " + c.action_id(), c.has_provenance(), c.provenance());
  for (const auto& g : ds().guidance())
    check("guidance " + KeyName(g.key()), g.has_provenance(), g.provenance());
}

TEST_F(IijDataSetTest, AllIssuersAreIij) {
  ASSERT_EQ(ds().issuers_size(), 1);
  const auto& iij = ds().issuers(0);
  EXPECT_EQ(iij.id(), "IIJ");
  EXPECT_EQ(iij.name(), "Internet Initiative Japan Inc.");
  EXPECT_EQ(iij.fiscal_year_end_month(), 3);
  const std::set<std::string> aliases(iij.aliases().begin(), iij.aliases().end());
  EXPECT_EQ(aliases.size(), static_cast<size_t>(iij.aliases_size())) << "duplicate alias";
  for (const char* want : {"11J", "I1J", "113", "|1J"})
    EXPECT_TRUE(aliases.count(want)) << "missing alias " << want;
  for (const auto& a : aliases) {
    EXPECT_NE(a, "IIJ") << "the id is not an alias";
    EXPECT_NE(seed_text_->find(a), std::string::npos) << "alias " << a << " does not occur in the seed";
  }
  for (const auto& s : ds().segments()) EXPECT_EQ(s.issuer(), "IIJ") << s.id();
  for (const auto& [what, key] : AllKeys()) EXPECT_EQ(key->issuer(), "IIJ") << what;
  for (const auto& c : ds().capital_actions()) EXPECT_EQ(c.issuer(), "IIJ") << c.action_id();
}

TEST_F(IijDataSetTest, SegmentsAreWellFormed) {
  std::map<std::string, const kv1::Segment*> by_id;
  for (const auto& s : ds().segments()) {
    EXPECT_TRUE(IsLowerSnake(s.id())) << s.id();
    EXPECT_FALSE(s.name().empty()) << s.id();
    EXPECT_TRUE(by_id.emplace(s.id(), &s).second) << "duplicate segment " << s.id();
  }
  for (const char* line : {"dedicated_access", "dialup_access", "systems_integration", "value_added_services",
                           "equipment_sales", "others", "data_center"}) {
    ASSERT_TRUE(by_id.count(line)) << "missing segment " << line;
    EXPECT_EQ(by_id[line]->member_ids_size(), 0) << line << " is a business line";
  }
  const std::map<std::string, std::set<std::string>> groupings = {
      {"connectivity", {"dedicated_access", "dialup_access"}},
      {"connectivity_vas", {"dedicated_access", "dialup_access", "value_added_services"}},
      {"connectivity_si", {"dedicated_access", "dialup_access", "systems_integration"}},
      {"connectivity_dc", {"dedicated_access", "dialup_access", "data_center"}},
  };
  for (const auto& [id, members] : groupings) {
    ASSERT_TRUE(by_id.count(id)) << "missing grouping " << id;
    const auto& m = by_id[id]->member_ids();
    EXPECT_EQ(std::set<std::string>(m.begin(), m.end()), members) << id;
  }
  // Members exist and are business lines (groupings are flattened).
  for (const auto& s : ds().segments()) {
    std::set<std::string> seen;
    for (const auto& m : s.member_ids()) {
      EXPECT_TRUE(seen.insert(m).second) << s.id() << " repeats " << m;
      EXPECT_NE(m, s.id()) << s.id() << " contains itself";
      auto it = by_id.find(m);
      if (it == by_id.end()) {
        ADD_FAILURE() << s.id() << ": unknown member " << m;
        continue;
      }
      EXPECT_EQ(it->second->member_ids_size(), 0) << s.id() << ": member " << m << " is itself a grouping";
    }
  }
  // Every segment a fact or guidance names exists.
  for (const auto& [what, key] : AllKeys()) {
    if (!key->segment().empty()) {
      EXPECT_TRUE(by_id.count(key->segment())) << what;
    }
  }
}

TEST_F(IijDataSetTest, NoTwoItemsShareAKey) {
  const auto keys = AllKeys();
  const int nfacts = ds().facts_size();
  for (size_t i = 0; i < keys.size(); ++i)
    for (size_t j = i + 1; j < keys.size(); ++j) {
      // Facts against facts and guidance against guidance.
      const bool same_kind = (static_cast<int>(i) < nfacts) == (static_cast<int>(j) < nfacts);
      if (!same_kind) continue;
      EXPECT_FALSE(MessageDifferencer::Equals(*keys[i].second, *keys[j].second))
          << keys[i].first << " and " << keys[j].first << " share a key";
    }
  std::set<std::string> action_ids;
  for (const auto& c : ds().capital_actions())
    EXPECT_TRUE(action_ids.insert(c.action_id()).second) << "duplicate action " << c.action_id();
}

TEST_F(IijDataSetTest, KeysAreWellFormed) {
  for (const auto& [what, key] : AllKeys()) {
    EXPECT_TRUE(IsLowerSnake(key->concept_id())) << what;
    ASSERT_TRUE(key->has_period()) << what;
    const bool comparative =
        key->concept_id().ends_with("_growth") || key->concept_id().ends_with("_multiple");
    EXPECT_EQ(key->has_comparison_period(), comparative)
        << what
        << ": growth rates and multiples, and only they, have a "
           "comparison period";
    if (key->has_comparison_period()) {
      EXPECT_TRUE(DateBefore(key->comparison_period().end_date(), key->period().start_date()))
          << what << ": the comparison base must precede the period";
      EXPECT_EQ(key->comparison_period().kind(), key->period().kind())
          << what << ": like is compared with like";
    }
  }
}

TEST_F(IijDataSetTest, PeriodsAgreeWithTheIssuerCalendar) {
  ASSERT_EQ(ds().issuers_size(), 1);
  const int fyem = ds().issuers(0).fiscal_year_end_month();
  auto check = [&](const std::string& what, const kv1::FiscalPeriod& p) {
    ASSERT_TRUE(p.has_start_date()) << what << ": no start_date";
    ASSERT_TRUE(p.has_end_date()) << what << ": no end_date";
    const auto want = CalendarPeriod(fyem, p.fiscal_year(), p.kind(), p.number());
    ASSERT_TRUE(want.has_value()) << what << ": impossible kind/number";
    EXPECT_TRUE(MessageDifferencer::Equals(p, *want))
        << what << ": got " << p.ShortDebugString() << ", calendar says " << want->ShortDebugString();
  };
  for (const auto& [what, key] : AllKeys()) {
    check(what + " period", key->period());
    if (key->has_comparison_period()) check(what + " comparison_period", key->comparison_period());
  }
}

TEST_F(IijDataSetTest, EveryValueHasPrecisionAndSoundUnits) {
  for (const auto& [what, v] : AllValues()) {
    ASSERT_TRUE(v->has_precision()) << what << ": no precision";
    const auto& prec = v->precision();
    EXPECT_NE(prec.rounding_case(), kv1::Precision::ROUNDING_NOT_SET)
        << what << ": neither decimals nor exact";
    if (prec.rounding_case() == kv1::Precision::kExact) {
      EXPECT_TRUE(prec.exact()) << what << ": exact: false says nothing";
    }
    EXPECT_NE(prec.qualifier(), kv1::QUALIFIER_UNSPECIFIED) << what;
    switch (v->kind_case()) {
      case kv1::Value::kMoney: {
        const auto& m = v->money();
        EXPECT_TRUE(std::regex_match(m.currency_code(), std::regex("^[A-Z]{3}$"))) << what;
        if (m.currency_code() == "JPY") {
          EXPECT_EQ(m.nanos(), 0) << what;
        }
        EXPECT_LT(std::abs(m.nanos()), 1000000000) << what;
        EXPECT_FALSE((m.units() > 0 && m.nanos() < 0) || (m.units() < 0 && m.nanos() > 0))
            << what << ": units and nanos differ in sign";
        if (prec.has_decimals() && prec.decimals() < 0) {
          std::int64_t step = 1;
          for (int i = 0; i < -prec.decimals(); ++i) step *= 10;
          EXPECT_EQ(m.units() % step, 0)
              << what << ": " << m.units() << " is not rounded to decimals " << prec.decimals();
          EXPECT_EQ(m.nanos(), 0) << what;
        }
        break;
      }
      case kv1::Value::kRatio: {
        const auto digits = FractionDigits(v->ratio().value());
        ASSERT_TRUE(digits.has_value()) << what << ": '" << v->ratio().value() << "' is not a decimal";
        if (prec.has_decimals()) {
          EXPECT_EQ(*digits, prec.decimals())
              << what << ": '" << v->ratio().value() << "' does not have the stated digits";
        }
        break;
      }
      case kv1::Value::kCount:
        break;
      default:
        ADD_FAILURE() << what << ": value has no kind";
    }
  }
}

TEST_F(IijDataSetTest, TranslationsAreUsdWithTheValuesSign) {
  for (const auto& f : ds().facts()) {
    for (const auto& t : f.translations()) {
      ASSERT_TRUE(f.value().has_money()) << KeyName(f.key());
      ASSERT_TRUE(t.has_money()) << KeyName(f.key());
      EXPECT_EQ(f.value().money().currency_code(), "JPY") << KeyName(f.key());
      EXPECT_EQ(t.money().currency_code(), "USD") << KeyName(f.key());
      EXPECT_EQ(t.money().units() < 0, f.value().money().units() < 0)
          << KeyName(f.key()) << ": a loss is negative in every currency";
    }
  }
}

TEST_F(IijDataSetTest, ServerSetFieldsAreUnset) {
  for (const auto& f : ds().facts()) {
    EXPECT_EQ(f.revision(), 0) << KeyName(f.key());
    EXPECT_EQ(f.supersedes_sequence(), 0u) << KeyName(f.key());
    EXPECT_FALSE(f.has_known_at()) << KeyName(f.key());
  }
  for (const auto& g : ds().guidance()) {
    EXPECT_EQ(g.revision(), 0) << KeyName(g.key());
    EXPECT_EQ(g.supersedes_sequence(), 0u) << KeyName(g.key());
    EXPECT_FALSE(g.has_known_at()) << KeyName(g.key());
  }
  for (const auto& c : ds().capital_actions()) {
    EXPECT_EQ(c.revision(), 0) << c.action_id();
    EXPECT_EQ(c.supersedes_sequence(), 0u) << c.action_id();
    EXPECT_FALSE(c.has_known_at()) << c.action_id();
  }
}

// ---------------------------------------------------------------------------
// Spot checks of the figures, against literals read from the release
// ---------------------------------------------------------------------------

void ExpectMoney(const kv1::Value& v, const std::string& currency, std::int64_t units, int decimals) {
  ASSERT_TRUE(v.has_money());
  EXPECT_EQ(v.money().currency_code(), currency);
  EXPECT_EQ(v.money().units(), units);
  EXPECT_EQ(v.money().nanos(), 0);
  ASSERT_TRUE(v.precision().has_decimals());
  EXPECT_EQ(v.precision().decimals(), decimals);
  EXPECT_EQ(v.precision().qualifier(), kv1::QUALIFIER_EQUAL);
}

void ExpectRatio(const kv1::Value& v, const std::string& ratio, int decimals,
                 kv1::Qualifier q = kv1::QUALIFIER_EQUAL) {
  ASSERT_TRUE(v.has_ratio());
  EXPECT_EQ(v.ratio().value(), ratio);
  ASSERT_TRUE(v.precision().has_decimals());
  EXPECT_EQ(v.precision().decimals(), decimals);
  EXPECT_EQ(v.precision().qualifier(), q);
}

TEST_F(IijDataSetTest, Revenue4Q02) {
  const auto* f = FindFact("revenue", Quarter(2002, 4));
  ASSERT_NE(f, nullptr);
  ExpectMoney(f->value(), "JPY", 13'000'000'000, -9);
  ASSERT_EQ(f->translations_size(), 1);
  ExpectMoney(f->translations(0), "USD", 110'000'000, -6);
  EXPECT_EQ(f->provenance().line_start(), 16);

  const auto* yoy = FindFact("revenue_growth", Quarter(2002, 4), "", Quarter(2001, 4));
  ASSERT_NE(yoy, nullptr);
  ExpectRatio(yoy->value(), "0.077", 3);
  const auto* qoq = FindFact("revenue_growth", Quarter(2002, 4), "", Quarter(2002, 3));
  ASSERT_NE(qoq, nullptr);
  ExpectRatio(qoq->value(), "0.234", 3);
}

TEST_F(IijDataSetTest, OperatingIncomeSigns) {
  const auto* q4 = FindFact("operating_income", Quarter(2002, 4));
  ASSERT_NE(q4, nullptr);
  ExpectMoney(q4->value(), "JPY", -446'000'000, -6);
  ASSERT_EQ(q4->translations_size(), 1);
  ExpectMoney(q4->translations(0), "USD", -3'800'000, -5);

  const auto* q3 = FindFact("operating_income", Quarter(2002, 3));
  ASSERT_NE(q3, nullptr);
  ExpectMoney(q3->value(), "JPY", -567'000'000, -6);

  const auto* q4_01 = FindFact("operating_income", Quarter(2001, 4));
  ASSERT_NE(q4_01, nullptr);
  ExpectMoney(q4_01->value(), "JPY", 186'000'000, -6);

  const auto* fy = FindFact("operating_income", FullYear(2002));
  ASSERT_NE(fy, nullptr);
  ExpectMoney(fy->value(), "JPY", -1'700'000'000, -8);
  ASSERT_EQ(fy->translations_size(), 1);
  ExpectMoney(fy->translations(0), "USD", -15'000'000, -6);
}

TEST_F(IijDataSetTest, AdjustedEbitda4Q02) {
  const auto* f = FindFact("adjusted_ebitda", Quarter(2002, 4));
  ASSERT_NE(f, nullptr);
  ExpectMoney(f->value(), "JPY", 459'000'000, -6);
  ASSERT_EQ(f->translations_size(), 1);
  ExpectMoney(f->translations(0), "USD", 3'900'000, -5);

  const auto* yoy = FindFact("adjusted_ebitda_growth", Quarter(2002, 4), "", Quarter(2001, 4));
  ASSERT_NE(yoy, nullptr);
  ExpectRatio(yoy->value(), "-0.530", 3);
  const auto* qoq = FindFact("adjusted_ebitda_growth", Quarter(2002, 4), "", Quarter(2002, 3));
  ASSERT_NE(qoq, nullptr);
  ExpectRatio(qoq->value(), "0.320", 3);
}

TEST_F(IijDataSetTest, FullYear2002) {
  const auto* rev = FindFact("revenue", FullYear(2002));
  ASSERT_NE(rev, nullptr);
  ExpectMoney(rev->value(), "JPY", 44'000'000'000, -9);
  ASSERT_EQ(rev->translations_size(), 1);
  ExpectMoney(rev->translations(0), "USD", 373'000'000, -6);

  const auto* g = FindFact("revenue_growth", FullYear(2002), "", FullYear(2001));
  ASSERT_NE(g, nullptr);
  ExpectRatio(g->value(), "0.103", 3);
}

TEST_F(IijDataSetTest, SegmentFacts) {
  const auto* si = FindFact("revenue_growth", Quarter(2002, 4), "systems_integration", Quarter(2002, 3));
  ASSERT_NE(si, nullptr);
  ExpectRatio(si->value(), "0.33", 2);

  const auto* mult = FindFact("revenue_multiple", FullYear(2002), "systems_integration", FullYear(1998));
  ASSERT_NE(mult, nullptr);
  ExpectRatio(mult->value(), "4", 0);

  const std::map<std::string, std::string> top150 = {
      {"connectivity_vas", "0.706"}, {"connectivity_si", "0.582"}, {"connectivity_dc", "0.353"}};
  for (const auto& [segment, ratio] : top150) {
    const auto* f = FindFact("top150_customer_ratio", FullYear(2002), segment);
    ASSERT_NE(f, nullptr) << segment;
    ExpectRatio(f->value(), ratio, 3);
  }
  // No figure the seed does not support: the unattributable OCR fragments
  // "3.9%", "26%" and "50%" are not in the data set.
  for (const auto& [what, v] : AllValues()) {
    if (!v->has_ratio()) continue;
    for (const char* bad : {"0.039", "0.26", "0.260", "0.5", "0.50", "0.500"})
      EXPECT_NE(v->ratio().value(), bad) << what;
  }
}

TEST_F(IijDataSetTest, GuidanceFy2003) {
  ASSERT_EQ(ds().guidance_size(), 2);
  const kv1::Guidance* growth = nullptr;
  const kv1::Guidance* margin = nullptr;
  for (const auto& g : ds().guidance()) {
    if (g.key().concept_id() == "revenue_growth") growth = &g;
    if (g.key().concept_id() == "operating_margin") margin = &g;
  }
  ASSERT_NE(growth, nullptr);
  ASSERT_NE(margin, nullptr);
  EXPECT_TRUE(MessageDifferencer::Equals(growth->key().period(), FullYear(2003)));
  EXPECT_TRUE(MessageDifferencer::Equals(growth->key().comparison_period(), FullYear(2002)));
  ExpectRatio(growth->bound(), "0.10", 2, kv1::QUALIFIER_GREATER_THAN);

  EXPECT_TRUE(MessageDifferencer::Equals(margin->key().period(), FullYear(2003)));
  EXPECT_FALSE(margin->key().has_comparison_period());
  ASSERT_TRUE(margin->bound().has_ratio());
  EXPECT_EQ(margin->bound().ratio().value(), "0");
  EXPECT_EQ(margin->bound().precision().qualifier(), kv1::QUALIFIER_GREATER_THAN);
}

TEST_F(IijDataSetTest, PrivatePlacement) {
  ASSERT_EQ(ds().capital_actions_size(), 1);
  const auto& c = ds().capital_actions(0);
  EXPECT_EQ(c.issuer(), "IIJ");
  EXPECT_EQ(c.action_id(), "private_placement_2003_06");
  ASSERT_TRUE(c.has_private_placement());
  const auto& pp = c.private_placement();
  EXPECT_EQ(pp.shares(), 8400);
  EXPECT_EQ(pp.share_class(), "common");
  EXPECT_EQ(pp.issue_price().currency_code(), "JPY");
  EXPECT_EQ(pp.issue_price().units(), 418'200);
  EXPECT_EQ(pp.issue_price().nanos(), 0);
  EXPECT_EQ(pp.amount_not_credited_per_share().currency_code(), "JPY");
  EXPECT_EQ(pp.amount_not_credited_per_share().units(), 209'100);
  EXPECT_EQ(pp.amount_not_credited_per_share().nanos(), 0);
  EXPECT_TRUE(MessageDifferencer::Equals(pp.application_date(), MakeDate(2003, 6, 6)));
  EXPECT_TRUE(MessageDifferencer::Equals(pp.payment_date(), MakeDate(2003, 6, 6)));
  EXPECT_EQ(pp.allocation_method(), "Private placement to certain third parties");
  EXPECT_TRUE(MessageDifferencer::Equals(pp.dividend_accrual_start(), MakeDate(2003, 4, 1)));

  // Gross proceeds and the part credited to stated capital.
  const std::int64_t gross = pp.shares() * pp.issue_price().units();
  EXPECT_EQ(gross, 3'512'880'000);
  const std::int64_t credited =
      (pp.issue_price().units() - pp.amount_not_credited_per_share().units()) * pp.shares();
  EXPECT_EQ(credited, 1'756'440'000);
  // At least half of the amount paid in goes to stated capital.
  EXPECT_LE(2 * pp.amount_not_credited_per_share().units(), pp.issue_price().units());
  // The allocation method is quoted as stated.
  EXPECT_NE(c.provenance().quote().find(pp.allocation_method()), std::string::npos);
}

}  // namespace
