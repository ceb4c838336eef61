// Europe/London civil time from the fixed UK rule (BST = UTC+1 from the last Sunday of March
// 01:00 UTC to the last Sunday of October 01:00 UTC). No tz database, no TZ/localtime, no I/O.
#pragma once
#include <chrono>

#include "core/time.hpp"

namespace md {

struct london_civil {
  std::chrono::year_month_day date;
  int hour;
  int minute;
};

// 60 minutes while BST is in force at t, else 0.
std::chrono::minutes london_offset(time_point t);

// The London wall-clock date and time at t (seconds dropped).
london_civil to_london(time_point t);

// The instant a London wall-clock time names. A time in the spring-forward gap (01:00-01:59 on the
// last Sunday of March) moves forward an hour; an ambiguous autumn time is its first (BST) instance.
time_point from_london(std::chrono::year_month_day date, int hour, int minute);

// `working_days` working days (Monday to Friday; bank holidays are not known) after t's London
// date, at hour:00 London time; 0 is t's own date, or the next working day if that is a weekend.
// Aftercare check-ins fall due this way.
time_point london_working_days_later(time_point t, int working_days, int hour);

}  // namespace md
