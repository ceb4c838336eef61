// Time points and their ISO-8601 text form. Pure: parsing and formatting only, no clock reads
// except md::now(), which everything calls so that tests can reason about "now" explicitly.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace md {

using clock_type = std::chrono::system_clock;
using time_point = std::chrono::sys_time<std::chrono::milliseconds>;

inline time_point now() { return std::chrono::time_point_cast<std::chrono::milliseconds>(clock_type::now()); }

// Accepts "YYYY-MM-DDTHH:MM[:SS[.fff]](Z|±HH:MM|±HHMM)" and a date-time without an offset
// (taken as UTC). Returns nullopt for anything else, including impossible dates.
std::optional<time_point> parse_iso8601(std::string_view text);

// "2026-11-27T21:02:12.345Z"
std::string format_iso8601(time_point t);

// A calendar date, exactly "YYYY-MM-DD" (years 1970 to 9999); nullopt for anything else,
// including impossible dates such as 2026-02-30.
std::optional<std::chrono::year_month_day> parse_iso_date(std::string_view text);
std::string format_iso_date(std::chrono::year_month_day date);

inline std::int64_t to_unix_ms(time_point t) { return t.time_since_epoch().count(); }
inline time_point from_unix_ms(std::int64_t ms) { return time_point{std::chrono::milliseconds{ms}}; }

}  // namespace md
