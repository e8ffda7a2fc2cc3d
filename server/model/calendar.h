// Calendar dates and fiscal periods.
#pragma once

#include "absl/status/statusor.h"
#include "kessan/v1/types.pb.h"

namespace kessan {

// True when `date` names a real day of the Gregorian calendar.
bool IsValidDate(const v1::Date& date);

// Orders dates: negative, zero or positive as a is before, equal to or after b.
int CompareDates(const v1::Date& a, const v1::Date& b);

// PeriodDates computes the first and last day of `period` for an issuer
// whose fiscal year ends in `fiscal_year_end_month`. Fiscal year N starts in
// the month after fiscal_year_end_month of calendar year N (IIJ: FY2002 is
// 2002-04-01 to 2003-03-31); with a December year end, N is calendar year N.
// Returns InvalidArgument for a kind or number that names no period.
// A day as plain numbers: spans are computed for every published fact, and
// a v1::Date is a message to construct and destroy.
struct CalendarDate {
  int year = 0;
  int month = 0;
  int day = 0;
};
struct PeriodSpan {
  CalendarDate start;
  CalendarDate end;
};
absl::StatusOr<PeriodSpan> PeriodDates(const v1::FiscalPeriod& period, int fiscal_year_end_month);

// True when `date` is `day`.
bool SameDate(const v1::Date& date, const CalendarDate& day);
// Sets `out` to `day` (and nothing else).
void SetDate(const CalendarDate& day, v1::Date* out);

// "2003-01-31".
std::string FormatDate(const v1::Date& date);
std::string FormatDate(const CalendarDate& date);

}  // namespace kessan
