// The reports' date range from the query string (GET /api/v1/reports[.csv]?from&to): London
// calendar days, inclusive, with the previous period of the same length beside it. Pure (no
// clock, no I/O): the caller passes today's London date. Errors name the field, never the value.
#pragma once
#include <chrono>
#include <map>
#include <string>
#include <variant>

#include "core/errors.hpp"

namespace md::server {

struct report_period {
  std::chrono::year_month_day from, to;  // inclusive London dates
};

struct report_range {
  report_period current, previous;  // previous: as many days, ending the day before current.from
};

inline constexpr int max_report_days = 3660;  // about ten years: bounds the work one request asks for

// from and to are "YYYY-MM-DD"; an empty or missing value takes its default (from: 1 January of
// today's year; to: today). 400 on field "from" or "to" for a malformed date, from after to, or
// a range longer than max_report_days.
std::variant<report_range, field_error> parse_report_range(const std::map<std::string, std::string>& params,
                                                           std::chrono::year_month_day today);

int days_in(const report_period& p);  // inclusive count

}  // namespace md::server
