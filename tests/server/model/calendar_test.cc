// Tests of server/model/calendar.cc: calendar dates and fiscal periods.
#include "model/calendar.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace kessan {
namespace {

using ::kessan::test::FullYear;
using ::kessan::test::Half;
using ::kessan::test::MakeDate;
using ::kessan::test::Quarter;
using ::kessan::test::StatusIs;
using ::testing::HasSubstr;

TEST(IsValidDateTest, February29OnlyInLeapYears) {
  EXPECT_TRUE(IsValidDate(MakeDate(2004, 2, 29)));
  EXPECT_TRUE(IsValidDate(MakeDate(2000, 2, 29)));  // divisible by 400
  EXPECT_FALSE(IsValidDate(MakeDate(2003, 2, 29)));
  EXPECT_FALSE(IsValidDate(MakeDate(1900, 2, 29)));  // divisible by 100
  EXPECT_FALSE(IsValidDate(MakeDate(2003, 2, 30)));
}

TEST(IsValidDateTest, MonthAndDayRanges) {
  EXPECT_TRUE(IsValidDate(MakeDate(2003, 1, 1)));
  EXPECT_TRUE(IsValidDate(MakeDate(2003, 12, 31)));
  EXPECT_TRUE(IsValidDate(MakeDate(2003, 3, 31)));
  EXPECT_FALSE(IsValidDate(MakeDate(2003, 4, 31)));
  EXPECT_FALSE(IsValidDate(MakeDate(2003, 13, 1)));
  EXPECT_FALSE(IsValidDate(MakeDate(2003, 0, 1)));
  EXPECT_FALSE(IsValidDate(MakeDate(2003, 1, 0)));
  EXPECT_FALSE(IsValidDate(MakeDate(2003, 1, -1)));
  EXPECT_FALSE(IsValidDate(MakeDate(0, 1, 1)));
  EXPECT_FALSE(IsValidDate(v1::Date()));
}

TEST(CompareDatesTest, OrdersByYearMonthDay) {
  EXPECT_LT(CompareDates(MakeDate(2002, 12, 31), MakeDate(2003, 1, 1)), 0);
  EXPECT_GT(CompareDates(MakeDate(2003, 2, 1), MakeDate(2003, 1, 31)), 0);
  EXPECT_GT(CompareDates(MakeDate(2003, 1, 2), MakeDate(2003, 1, 1)), 0);
  EXPECT_EQ(CompareDates(MakeDate(2003, 1, 1), MakeDate(2003, 1, 1)), 0);
}

TEST(SetDateTest, SetsTheDayAndNothingElse) {
  v1::Date date = MakeDate(1999, 12, 31);
  SetDate(CalendarDate{2003, 3, 31}, &date);
  EXPECT_EQ(FormatDate(date), "2003-03-31");
  EXPECT_TRUE(SameDate(date, CalendarDate{2003, 3, 31}));
  EXPECT_FALSE(SameDate(date, CalendarDate{2003, 3, 30}));
  EXPECT_FALSE(SameDate(date, CalendarDate{2003, 4, 31}));
  EXPECT_FALSE(SameDate(date, CalendarDate{2002, 3, 31}));
  EXPECT_EQ(FormatDate(CalendarDate{987, 3, 5}), "0987-03-05");
}

TEST(FormatDateTest, PadsWithZeros) {
  EXPECT_EQ(FormatDate(MakeDate(2003, 1, 31)), "2003-01-31");
  EXPECT_EQ(FormatDate(MakeDate(987, 3, 5)), "0987-03-05");
}

struct PeriodCase {
  const char* name;
  v1::FiscalPeriod period;
  int fiscal_year_end_month;
  const char* start;
  const char* end;
};

void PrintTo(const PeriodCase& c, std::ostream* os) { *os << c.name; }

class PeriodDatesTest : public ::testing::TestWithParam<PeriodCase> {};

TEST_P(PeriodDatesTest, StartAndEnd) {
  const PeriodCase& c = GetParam();
  absl::StatusOr<PeriodSpan> span = PeriodDates(c.period, c.fiscal_year_end_month);
  ASSERT_TRUE(span.ok()) << span.status();
  EXPECT_EQ(FormatDate(span->start), c.start);
  EXPECT_EQ(FormatDate(span->end), c.end);
}

INSTANTIATE_TEST_SUITE_P(Periods, PeriodDatesTest,
                         ::testing::Values(
                             // IIJ: the fiscal year ends in March and is named by its first year.
                             PeriodCase{"IIJ_FY2002", FullYear(2002), 3, "2002-04-01", "2003-03-31"},
                             PeriodCase{"IIJ_1Q02", Quarter(2002, 1), 3, "2002-04-01", "2002-06-30"},
                             PeriodCase{"IIJ_2Q02", Quarter(2002, 2), 3, "2002-07-01", "2002-09-30"},
                             PeriodCase{"IIJ_3Q02", Quarter(2002, 3), 3, "2002-10-01", "2002-12-31"},
                             PeriodCase{"IIJ_4Q02", Quarter(2002, 4), 3, "2003-01-01", "2003-03-31"},
                             PeriodCase{"IIJ_H1_FY2002", Half(2002, 1), 3, "2002-04-01", "2002-09-30"},
                             PeriodCase{"IIJ_H2_FY2002", Half(2002, 2), 3, "2002-10-01", "2003-03-31"},
                             // December year end: fiscal year N is calendar year N.
                             PeriodCase{"Dec_FY2002", FullYear(2002), 12, "2002-01-01", "2002-12-31"},
                             PeriodCase{"Dec_Q1", Quarter(2002, 1), 12, "2002-01-01", "2002-03-31"},
                             PeriodCase{"Dec_Q4", Quarter(2002, 4), 12, "2002-10-01", "2002-12-31"},
                             PeriodCase{"Dec_H2", Half(2002, 2), 12, "2002-07-01", "2002-12-31"},
                             // A November year end puts February at the end of Q1.
                             PeriodCase{"Nov_Q1_leap", Quarter(2003, 1), 11, "2003-12-01", "2004-02-29"},
                             PeriodCase{"Nov_Q1_common", Quarter(2002, 1), 11, "2002-12-01", "2003-02-28"},
                             // January year end: the year runs February to January.
                             PeriodCase{"Jan_FY2002", FullYear(2002), 1, "2002-02-01", "2003-01-31"},
                             PeriodCase{"Jan_Q4", Quarter(2002, 4), 1, "2002-11-01", "2003-01-31"}),
                         [](const ::testing::TestParamInfo<PeriodCase>& info) { return info.param.name; });

TEST(PeriodDatesErrorTest, NumberOutOfRange) {
  EXPECT_THAT(PeriodDates(Quarter(2002, 5), 3),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("quarter")));
  EXPECT_THAT(PeriodDates(Quarter(2002, 0), 3),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("quarter")));
  EXPECT_THAT(PeriodDates(Half(2002, 3), 3), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("half")));
  v1::FiscalPeriod year_with_number = FullYear(2002);
  year_with_number.set_number(1);
  EXPECT_THAT(PeriodDates(year_with_number, 3),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("full year")));
}

TEST(PeriodDatesErrorTest, KindYearAndYearEndMonth) {
  v1::FiscalPeriod unspecified = Quarter(2002, 1);
  unspecified.set_kind(v1::PERIOD_KIND_UNSPECIFIED);
  EXPECT_THAT(PeriodDates(unspecified, 3), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PeriodDates(FullYear(1899), 3), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PeriodDates(FullYear(2002), 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fiscal_year_end_month")));
  EXPECT_THAT(PeriodDates(FullYear(2002), 13),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fiscal_year_end_month")));
}

}  // namespace
}  // namespace kessan
