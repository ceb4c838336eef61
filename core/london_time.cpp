// Europe/London offsets from the UK rule in calendar arithmetic (see london_time.hpp). Must stay
// pure: the process time zone and any installed tz database are deliberately ignored.
#include "core/london_time.hpp"

namespace md {

using namespace std::chrono;  // calendar arithmetic throughout

namespace {

// The UK changes its clocks at 01:00 UTC on the last Sunday of the month, in both directions.
sys_seconds clock_change(year y, month m) { return sys_days{y / m / Sunday[last]} + hours{1}; }

}  // namespace

minutes london_offset(time_point t) {
  auto y = year_month_day{floor<days>(t)}.year();  // BST never spans a new year, so the UTC year is London's
  bool summer = t >= clock_change(y, March) && t < clock_change(y, October);
  return summer ? minutes{60} : minutes{0};
}

london_civil to_london(time_point t) {
  auto wall = floor<minutes>(t) + london_offset(t);
  auto date = floor<days>(wall);
  hh_mm_ss<minutes> clock{wall - date};
  return {year_month_day{date}, static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count())};
}

time_point from_london(year_month_day date, int hour, int minute) {
  auto wall_as_utc = sys_days{date} + hours{hour} + minutes{minute};
  // Reading the wall time as BST first picks the earlier instant of an ambiguous autumn time.
  auto as_bst = wall_as_utc - hours{1};
  if (london_offset(as_bst) == minutes{60}) return as_bst;
  // Otherwise GMT; in the spring gap neither reading is consistent and this one shows an hour later.
  return wall_as_utc;
}

time_point london_working_days_later(time_point t, int working_days, int hour) {
  auto day = sys_days{to_london(t).date};
  auto weekend = [](sys_days d) {
    auto w = weekday{d};
    return w == Saturday || w == Sunday;
  };
  for (int left = working_days; left > 0;) {
    day += days{1};
    if (!weekend(day)) --left;
  }
  while (weekend(day)) day += days{1};
  return from_london(year_month_day{day}, hour, 0);
}

}  // namespace md
