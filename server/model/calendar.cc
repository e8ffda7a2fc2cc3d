#include "model/calendar.h"

#include <tuple>

#include "absl/strings/str_format.h"

namespace kessan {
namespace {

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// The first day of the month `months` after (year, month).
CalendarDate AddMonths(int year, int month, int months) {
  int index = year * 12 + (month - 1) + months;
  return CalendarDate{index / 12, index % 12 + 1, 1};
}

CalendarDate LastDayBefore(const CalendarDate& first_of_month) {
  int y = first_of_month.year, m = first_of_month.month - 1;
  if (m == 0) {
    m = 12;
    --y;
  }
  return CalendarDate{y, m, DaysInMonth(y, m)};
}

}  // namespace

bool IsValidDate(const v1::Date& date) {
  if (date.year() < 1 || date.year() > 9999) return false;
  if (date.month() < 1 || date.month() > 12) return false;
  return date.day() >= 1 && date.day() <= DaysInMonth(date.year(), date.month());
}

int CompareDates(const v1::Date& a, const v1::Date& b) {
  auto ta = std::make_tuple(a.year(), a.month(), a.day());
  auto tb = std::make_tuple(b.year(), b.month(), b.day());
  return ta < tb ? -1 : (tb < ta ? 1 : 0);
}

absl::StatusOr<PeriodSpan> PeriodDates(const v1::FiscalPeriod& period, int fiscal_year_end_month) {
  if (fiscal_year_end_month < 1 || fiscal_year_end_month > 12) {
    return absl::InvalidArgumentError("fiscal_year_end_month must be 1-12");
  }
  if (period.fiscal_year() < 1900 || period.fiscal_year() > 2200) {
    return absl::InvalidArgumentError("fiscal_year must be between 1900 and 2200");
  }
  int start_month = fiscal_year_end_month % 12 + 1;
  int offset = 0, length = 0;
  switch (period.kind()) {
    case v1::PERIOD_KIND_QUARTER:
      if (period.number() < 1 || period.number() > 4) {
        return absl::InvalidArgumentError("a quarter's number must be 1-4");
      }
      offset = 3 * (period.number() - 1);
      length = 3;
      break;
    case v1::PERIOD_KIND_HALF:
      if (period.number() < 1 || period.number() > 2) {
        return absl::InvalidArgumentError("a half's number must be 1-2");
      }
      offset = 6 * (period.number() - 1);
      length = 6;
      break;
    case v1::PERIOD_KIND_FULL_YEAR:
      if (period.number() != 0) {
        return absl::InvalidArgumentError("a full year's number must be 0");
      }
      length = 12;
      break;
    default:
      return absl::InvalidArgumentError("kind must be QUARTER, HALF or FULL_YEAR");
  }
  PeriodSpan span;
  span.start = AddMonths(period.fiscal_year(), start_month, offset);
  span.end = LastDayBefore(AddMonths(period.fiscal_year(), start_month, offset + length));
  return span;
}

bool SameDate(const v1::Date& date, const CalendarDate& day) {
  return date.year() == day.year && date.month() == day.month && date.day() == day.day;
}

void SetDate(const CalendarDate& day, v1::Date* out) {
  out->Clear();
  out->set_year(day.year);
  out->set_month(day.month);
  out->set_day(day.day);
}

std::string FormatDate(const v1::Date& date) {
  return absl::StrFormat("%04d-%02d-%02d", date.year(), date.month(), date.day());
}

std::string FormatDate(const CalendarDate& date) {
  return absl::StrFormat("%04d-%02d-%02d", date.year, date.month, date.day);
}

}  // namespace kessan
