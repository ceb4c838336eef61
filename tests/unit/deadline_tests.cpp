// Unit tests for routing/deadline and core/london_time: every rule of docs/TRIAGE.md "Response
// deadline" in GMT and in BST, the clock-change days, and hostile input (no timing asserted here).
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "core/london_time.hpp"
#include "core/time.hpp"
#include "routing/deadline.hpp"

using namespace md;
using routing::find_deadline;

namespace {

// Winter: Wednesday 14 January 2026, 10:00 GMT. Summer: Wednesday 8 July 2026, 10:00 BST.
constexpr const char* gmt_now = "2026-01-14T10:00:00Z";
constexpr const char* bst_now = "2026-07-08T09:00:00Z";

time_point instant(const char* iso) { return parse_iso8601(iso).value(); }

// The deadline found in text as ISO-8601 UTC, or "none".
std::string deadline(std::string_view text, const char* now) {
  auto found = find_deadline(text, instant(now));
  return found ? format_iso8601(found->at) : "none";
}

std::string utc(time_point t) { return format_iso8601(t); }

std::chrono::year_month_day date(int y, unsigned m, unsigned d) {
  return std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d};
}

}  // namespace

// ---- London civil time -----------------------------------------------------------------------

TEST_CASE("London is UTC+1 from the last Sunday of March to the last Sunday of October, 01:00 UTC", "[deadline]") {
  using std::chrono::minutes;
  CHECK(london_offset(instant("2026-01-14T10:00:00Z")) == minutes{0});
  CHECK(london_offset(instant("2026-07-08T09:00:00Z")) == minutes{60});
  CHECK(london_offset(instant("2026-03-29T00:59:59Z")) == minutes{0});
  CHECK(london_offset(instant("2026-03-29T01:00:00Z")) == minutes{60});
  CHECK(london_offset(instant("2026-10-25T00:59:59Z")) == minutes{60});
  CHECK(london_offset(instant("2026-10-25T01:00:00Z")) == minutes{0});
  CHECK(london_offset(instant("2025-03-30T01:00:00Z")) == minutes{60});  // other years' last Sundays
  CHECK(london_offset(instant("2025-03-23T12:00:00Z")) == minutes{0});
  CHECK(london_offset(instant("2025-10-26T00:30:00Z")) == minutes{60});
  CHECK(london_offset(instant("2027-03-28T01:00:00Z")) == minutes{60});
  CHECK(london_offset(instant("2027-10-31T00:59:00Z")) == minutes{60});
  CHECK(london_offset(instant("2027-10-31T01:00:00Z")) == minutes{0});
}

TEST_CASE("to_london gives the London wall clock, across midnight and the changes", "[deadline]") {
  auto check = [](const char* iso, std::chrono::year_month_day day, int hour, int minute) {
    auto c = to_london(instant(iso));
    CHECK(c.date == day);
    CHECK(c.hour == hour);
    CHECK(c.minute == minute);
  };
  check("2026-01-14T10:00:59Z", date(2026, 1, 14), 10, 0);
  check("2026-07-08T09:00:00Z", date(2026, 7, 8), 10, 0);
  check("2026-06-30T23:30:00Z", date(2026, 7, 1), 0, 30);  // BST moves the date too
  check("2026-12-31T23:30:00Z", date(2026, 12, 31), 23, 30);
  check("2026-03-29T00:59:00Z", date(2026, 3, 29), 0, 59);
  check("2026-03-29T01:00:00Z", date(2026, 3, 29), 2, 0);  // 01:00-01:59 never shows on the spring day
  check("2026-10-25T00:30:00Z", date(2026, 10, 25), 1, 30);
  check("2026-10-25T01:30:00Z", date(2026, 10, 25), 1, 30);  // the autumn hour shows twice
}

TEST_CASE("from_london: the spring gap moves forward an hour, the autumn overlap takes BST", "[deadline]") {
  CHECK(utc(from_london(date(2026, 1, 14), 16, 0)) == "2026-01-14T16:00:00.000Z");
  CHECK(utc(from_london(date(2026, 7, 8), 16, 0)) == "2026-07-08T15:00:00.000Z");
  CHECK(utc(from_london(date(2026, 3, 29), 0, 30)) == "2026-03-29T00:30:00.000Z");
  CHECK(utc(from_london(date(2026, 3, 29), 1, 30)) == "2026-03-29T01:30:00.000Z");  // = 02:30 BST
  CHECK(utc(from_london(date(2026, 3, 29), 2, 0)) == "2026-03-29T01:00:00.000Z");
  CHECK(utc(from_london(date(2026, 10, 24), 23, 59)) == "2026-10-24T22:59:00.000Z");
  CHECK(utc(from_london(date(2026, 10, 25), 1, 30)) == "2026-10-25T00:30:00.000Z");  // first instance
  CHECK(utc(from_london(date(2026, 10, 25), 2, 0)) == "2026-10-25T02:00:00.000Z");
  for (int d = 0; d < 730; ++d) {  // every wall time round-trips, except 01:30 on a spring-forward day
    std::chrono::year_month_day day{std::chrono::sys_days{date(2026, 1, 1)} + std::chrono::days{d}};
    bool spring_forward = day == date(2026, 3, 29) || day == date(2027, 3, 28);
    for (int hour : {0, 1, 2, 12, 23}) {
      auto c = to_london(from_london(day, hour, 30));
      int expected_hour = spring_forward && hour == 1 ? 2 : hour;
      INFO(static_cast<int>(day.year()) << "-" << static_cast<unsigned>(day.month()) << "-"
                                        << static_cast<unsigned>(day.day()) << " " << hour << ":30");
      CHECK((c.date == day && c.hour == expected_hour && c.minute == 30));
    }
  }
}

// ---- selection -------------------------------------------------------------------------------

TEST_CASE("the answer deadline wins over the broadcast time it is for", "[deadline]") {
  auto gmt = find_deadline("need a name by 4pm for a 6pm live", instant(gmt_now));
  REQUIRE(gmt);
  CHECK(utc(gmt->at) == "2026-01-14T16:00:00.000Z");
  CHECK(gmt->phrase == "by 4pm");
  CHECK(gmt->why == "cued by 'by'; 1 event time ignored ('6pm live')");
  CHECK(deadline("need a name by 4pm for a 6pm live", bst_now) == "2026-07-08T15:00:00.000Z");
}

TEST_CASE("every answer-deadline cue beats an earlier event time", "[deadline]") {
  for (auto cue : {"let me know by 3pm", "before 3pm please", "Deadline: 3pm", "the deadline is 3pm",
                   "no later than 3pm", "get back to me by 3pm", "can you confirm by 3pm", "need a case study by 3pm",
                   "3pm at the latest", "3pm latest", "latest 3pm", "needed by 3pm", "our 3pm deadline"}) {
    std::string text = std::string("We are recording at 11am. ") + cue;
    INFO(text);
    CHECK(deadline(text, gmt_now) == "2026-01-14T15:00:00.000Z");
    CHECK(deadline(text, bst_now) == "2026-07-08T14:00:00.000Z");
  }
}

TEST_CASE("of several cued deadlines the earliest is taken", "[deadline]") {
  auto text = "Let me know by Friday, or by 2pm today if you can. Deadline for the package is Thursday.";
  CHECK(deadline(text, gmt_now) == "2026-01-14T14:00:00.000Z");
  CHECK(deadline(text, bst_now) == "2026-07-08T13:00:00.000Z");
}

TEST_CASE("without a cue the earliest time not tied to an event is taken", "[deadline]") {
  auto text = "We go live at 11am. Could you ring me at 2pm or tomorrow?";
  auto found = find_deadline(text, instant(gmt_now));
  REQUIRE(found);
  CHECK(utc(found->at) == "2026-01-14T14:00:00.000Z");
  CHECK(found->phrase == "at 2pm");
  CHECK(found->why == "no deadline cue; earliest time not tied to an event; 1 event time ignored ('live at 11am')");
  CHECK(deadline(text, bst_now) == "2026-07-08T13:00:00.000Z");
  // Uncued times already past are not deadlines; only a cued one may be overdue.
  CHECK(deadline("We spoke this morning. Ring me at 2pm?", "2026-01-14T11:00:00Z") == "2026-01-14T14:00:00.000Z");
  CHECK(deadline("We spoke this morning.", "2026-01-14T11:00:00Z") == "none");
  CHECK(deadline("I needed it by 9am today", "2026-01-14T11:00:00Z") == "2026-01-14T09:00:00.000Z");
}

TEST_CASE("with only event times the earliest event time is taken", "[deadline]") {
  for (auto event : {"we're live at 6pm",
                     "going live at 6pm",
                     "it goes out at 6pm",
                     "it airs at 6pm",
                     "on air at 6pm",
                     "the broadcast at 6pm",
                     "the programme at 6pm",
                     "the show at 6pm",
                     "recording at 6pm",
                     "record at 6pm",
                     "filming at 6pm",
                     "the shoot at 6pm",
                     "interview at 6pm",
                     "for a 6pm live",
                     "we publish at 6pm",
                     "publication at 6pm",
                     "goes to print at 6pm",
                     "transmission 6pm",
                     "TX 6pm",
                     "the six o'clock news"}) {
    INFO(event);
    auto found = find_deadline(event, instant(gmt_now));
    REQUIRE(found);
    CHECK(utc(found->at) == "2026-01-14T18:00:00.000Z");
    CHECK(found->why == "no deadline cue; earliest event time");
    CHECK(deadline(event, bst_now) == "2026-07-08T17:00:00.000Z");
  }
  CHECK(deadline("Filming at 2pm, and we're live at 6pm", gmt_now) == "2026-01-14T14:00:00.000Z");
  CHECK(deadline("Filming at 2pm, and we're live at 6pm", bst_now) == "2026-07-08T13:00:00.000Z");
}

// ---- days ------------------------------------------------------------------------------------

TEST_CASE("today, tonight and tomorrow", "[deadline]") {
  CHECK(deadline("by today", gmt_now) == "2026-01-14T17:00:00.000Z");
  CHECK(deadline("by today", bst_now) == "2026-07-08T16:00:00.000Z");
  CHECK(deadline("tonight", gmt_now) == "2026-01-14T18:00:00.000Z");
  CHECK(deadline("tonight", bst_now) == "2026-07-08T17:00:00.000Z");
  CHECK(deadline("by 9 tonight", gmt_now) == "2026-01-14T21:00:00.000Z");
  CHECK(deadline("tonight at 8.30", bst_now) == "2026-07-08T19:30:00.000Z");
  CHECK(deadline("by tomorrow", gmt_now) == "2026-01-15T17:00:00.000Z");
  CHECK(deadline("by tmrw", bst_now) == "2026-07-09T16:00:00.000Z");
  CHECK(deadline("for the Today programme", gmt_now) == "none");  // a show's name, not a day
}

TEST_CASE("a weekday is its next occurrence, today only with a later time", "[deadline]") {
  // Both reference times are Wednesdays.
  CHECK(deadline("by Thursday", gmt_now) == "2026-01-15T17:00:00.000Z");
  CHECK(deadline("by Friday", gmt_now) == "2026-01-16T17:00:00.000Z");
  CHECK(deadline("by Monday", gmt_now) == "2026-01-19T17:00:00.000Z");
  CHECK(deadline("by Wednesday", gmt_now) == "2026-01-21T17:00:00.000Z");
  CHECK(deadline("Wednesday 4pm", gmt_now) == "2026-01-14T16:00:00.000Z");
  CHECK(deadline("Wednesday 9am", gmt_now) == "2026-01-21T09:00:00.000Z");
  CHECK(deadline("next Friday", gmt_now) == "2026-01-16T17:00:00.000Z");
  CHECK(deadline("next Wednesday 4pm", gmt_now) == "2026-01-21T16:00:00.000Z");
  CHECK(deadline("this Friday", gmt_now) == "2026-01-16T17:00:00.000Z");
  CHECK(deadline("by Friday", bst_now) == "2026-07-10T16:00:00.000Z");
  CHECK(deadline("by Wednesday", bst_now) == "2026-07-15T16:00:00.000Z");
  CHECK(deadline("Wednesday 4pm", bst_now) == "2026-07-08T15:00:00.000Z");
  CHECK(deadline("Wednesday 9am", bst_now) == "2026-07-15T08:00:00.000Z");
  CHECK(deadline("next Wednesday", bst_now) == "2026-07-15T16:00:00.000Z");
}

TEST_CASE("weekday abbreviations; sat, sun and wed only with a time or a cue", "[deadline]") {
  CHECK(deadline("mon", gmt_now) == "2026-01-19T17:00:00.000Z");
  CHECK(deadline("tue", gmt_now) == "2026-01-20T17:00:00.000Z");
  CHECK(deadline("tues", gmt_now) == "2026-01-20T17:00:00.000Z");
  CHECK(deadline("thu", gmt_now) == "2026-01-15T17:00:00.000Z");
  CHECK(deadline("thur", gmt_now) == "2026-01-15T17:00:00.000Z");
  CHECK(deadline("thurs", gmt_now) == "2026-01-15T17:00:00.000Z");
  CHECK(deadline("fri", bst_now) == "2026-07-10T16:00:00.000Z");
  CHECK(deadline("by sat", gmt_now) == "2026-01-17T17:00:00.000Z");
  CHECK(deadline("Sat 4pm", bst_now) == "2026-07-11T15:00:00.000Z");
  CHECK(deadline("by sun", bst_now) == "2026-07-12T16:00:00.000Z");
  CHECK(deadline("by wed", gmt_now) == "2026-01-21T17:00:00.000Z");
  CHECK(deadline("I sat with the family in the sun", gmt_now) == "none");
}

TEST_CASE("parts of the day: morning 09:00, afternoon 15:00, evening 18:00, first thing 09:00", "[deadline]") {
  CHECK(deadline("this afternoon", gmt_now) == "2026-01-14T15:00:00.000Z");
  CHECK(deadline("this evening", bst_now) == "2026-07-08T17:00:00.000Z");
  CHECK(deadline("this morning", "2026-01-14T07:00:00Z") == "2026-01-14T09:00:00.000Z");
  CHECK(deadline("tomorrow morning", gmt_now) == "2026-01-15T09:00:00.000Z");
  CHECK(deadline("tomorrow morning", bst_now) == "2026-07-09T08:00:00.000Z");
  CHECK(deadline("Friday afternoon", gmt_now) == "2026-01-16T15:00:00.000Z");
  CHECK(deadline("tomorrow evening", bst_now) == "2026-07-09T17:00:00.000Z");
  CHECK(deadline("by the afternoon", gmt_now) == "2026-01-14T15:00:00.000Z");
  CHECK(deadline("first thing", gmt_now) == "2026-01-15T09:00:00.000Z");
  CHECK(deadline("first thing in the morning", bst_now) == "2026-07-09T08:00:00.000Z");
  CHECK(deadline("at 3 in the afternoon", gmt_now) == "2026-01-14T15:00:00.000Z");
  CHECK(deadline("tomorrow morning at 7", gmt_now) == "2026-01-15T07:00:00.000Z");
  CHECK(deadline("Good morning! Good afternoon!", gmt_now) == "none");
}

// ---- dates -----------------------------------------------------------------------------------

TEST_CASE("dates in UK order and in words", "[deadline]") {
  for (auto text :
       {"3/12", "3/12/26", "3/12/2026", "03/12/2026", "3 December", "3rd December", "3rd of December", "December 3rd",
        "Dec 3", "Dec. 3", "Wed 3 Dec", "Thursday, 3 December 2026", "December 3, 2026", "2026-12-03"}) {
    INFO(text);
    CHECK(deadline(text, gmt_now) == "2026-12-03T17:00:00.000Z");
    CHECK(deadline(text, bst_now) == "2026-12-03T17:00:00.000Z");
  }
  CHECK(deadline("by 3 Sept", gmt_now) == "2026-09-03T16:00:00.000Z");
  CHECK(deadline("by 5 May", gmt_now) == "2026-05-05T16:00:00.000Z");
  CHECK(deadline("Thursday 3rd December at 2pm", bst_now) == "2026-12-03T14:00:00.000Z");
}

TEST_CASE("impossible slash dates and fractions are not dates", "[deadline]") {
  for (auto text : {"31/2", "30/02/2026", "0/5", "12/13", "24/7", "1/2/3/4", "32/1"}) {
    INFO(text);
    CHECK(deadline(text, gmt_now) == "none");
  }
  CHECK(deadline("29/2/2028", gmt_now) == "2028-02-29T17:00:00.000Z");
}

TEST_CASE("a date without a year is this year, or next year when more than 7 days past", "[deadline]") {
  auto december = "2026-12-28T10:00:00Z";  // a Monday
  CHECK(deadline("by 3 January", december) == "2027-01-03T17:00:00.000Z");
  CHECK(deadline("by 2/1", december) == "2027-01-02T17:00:00.000Z");
  CHECK(deadline("by 20 December", december) == "2027-12-20T17:00:00.000Z");
  CHECK(deadline("by 22 December", december) == "2026-12-22T17:00:00.000Z");  // cued, so kept though past
  CHECK(deadline("by Friday", december) == "2027-01-01T17:00:00.000Z");
  CHECK(deadline("by 1 July", bst_now) == "2026-07-01T16:00:00.000Z");  // exactly 7 days past
  CHECK(deadline("by 30 June", bst_now) == "2027-06-30T16:00:00.000Z");
}

// ---- times -----------------------------------------------------------------------------------

TEST_CASE("noon, midday and lunchtime are 12:00", "[deadline]") {
  for (auto text : {"by noon", "midday", "by lunchtime", "lunch time", "12 noon"}) {
    INFO(text);
    CHECK(deadline(text, gmt_now) == "2026-01-14T12:00:00.000Z");
    CHECK(deadline(text, bst_now) == "2026-07-08T11:00:00.000Z");
  }
}

TEST_CASE("EOD, end of day, close of play, COP, close of business and COB are 17:00", "[deadline]") {
  for (auto text : {"EOD", "by end of day", "by the end of the day", "close of play", "by COP", "close of business",
                    "COB", "end of the working day"}) {
    INFO(text);
    CHECK(deadline(text, gmt_now) == "2026-01-14T17:00:00.000Z");
    CHECK(deadline(text, bst_now) == "2026-07-08T16:00:00.000Z");
  }
  CHECK(deadline("At the end of the day, people need homes", gmt_now) == "none");
  CHECK(deadline("COP26 and the cop at the door", gmt_now) == "none");
}

TEST_CASE("clock forms: am/pm, H.MM, H:MM, 24-hour and 1600hrs", "[deadline]") {
  struct example {
    const char* text;
    const char* gmt;
    const char* bst;
  };
  for (auto [text, gmt, bst] : std::initializer_list<example>{
           {"4pm", "2026-01-14T16:00:00.000Z", "2026-07-08T15:00:00.000Z"},
           {"4 p.m.", "2026-01-14T16:00:00.000Z", "2026-07-08T15:00:00.000Z"},
           {"4.30pm", "2026-01-14T16:30:00.000Z", "2026-07-08T15:30:00.000Z"},
           {"11.15am", "2026-01-14T11:15:00.000Z", "2026-07-08T10:15:00.000Z"},
           {"9:45am", "2026-01-15T09:45:00.000Z", "2026-07-09T08:45:00.000Z"},
           {"9.45", "2026-01-15T09:45:00.000Z", "2026-07-09T08:45:00.000Z"},
           {"16:00", "2026-01-14T16:00:00.000Z", "2026-07-08T15:00:00.000Z"},
           {"16.00", "2026-01-14T16:00:00.000Z", "2026-07-08T15:00:00.000Z"},
           {"by 4.30", "2026-01-14T16:30:00.000Z", "2026-07-08T15:30:00.000Z"},
           {"by 1600", "2026-01-14T16:00:00.000Z", "2026-07-08T15:00:00.000Z"},
           {"1600hrs", "2026-01-14T16:00:00.000Z", "2026-07-08T15:00:00.000Z"},
           {"1600 hours", "2026-01-14T16:00:00.000Z", "2026-07-08T15:00:00.000Z"},
           {"12am", "2026-01-15T00:00:00.000Z", "2026-07-08T23:00:00.000Z"},
           {"four o'clock", "2026-01-14T16:00:00.000Z", "2026-07-08T15:00:00.000Z"},
           {"by 4ish", "2026-01-14T16:00:00.000Z", "2026-07-08T15:00:00.000Z"},
       }) {
    INFO(text);
    CHECK(deadline(text, gmt_now) == gmt);
    CHECK(deadline(text, bst_now) == bst);
  }
}

TEST_CASE("a bare hour after by/at/before/until: 1-7 pm, 8-11 am, 12 noon", "[deadline]") {
  CHECK(deadline("by 4", gmt_now) == "2026-01-14T16:00:00.000Z");
  CHECK(deadline("by 4", bst_now) == "2026-07-08T15:00:00.000Z");
  CHECK(deadline("by 9", gmt_now) == "2026-01-15T09:00:00.000Z");
  CHECK(deadline("by 9", bst_now) == "2026-07-09T08:00:00.000Z");
  CHECK(deadline("before 11", gmt_now) == "2026-01-14T11:00:00.000Z");
  CHECK(deadline("at 8", gmt_now) == "2026-01-15T08:00:00.000Z");
  CHECK(deadline("by 12", gmt_now) == "2026-01-14T12:00:00.000Z");
  CHECK(deadline("until 7", bst_now) == "2026-07-08T18:00:00.000Z");
  CHECK(deadline("by four", gmt_now) == "2026-01-14T16:00:00.000Z");
  CHECK(deadline("Can we chat at 3 tomorrow?", gmt_now) == "2026-01-15T15:00:00.000Z");
}

TEST_CASE("a time without a day is today if later than now, else tomorrow", "[deadline]") {
  CHECK(deadline("by 10.01", gmt_now) == "2026-01-14T10:01:00.000Z");
  CHECK(deadline("by 10:00", gmt_now) == "2026-01-15T10:00:00.000Z");  // not later than now
  CHECK(deadline("by 9am", bst_now) == "2026-07-09T08:00:00.000Z");
  CHECK(deadline("by 11am", bst_now) == "2026-07-08T10:00:00.000Z");
  auto found = find_deadline("by 9am", instant(gmt_now));
  REQUIRE(found);
  CHECK(found->why == "cued by 'by'; time already past today: tomorrow");
}

TEST_CASE("a day without a time is 17:00", "[deadline]") {
  auto found = find_deadline("Can you let me know by Friday?", instant(gmt_now));
  REQUIRE(found);
  CHECK(utc(found->at) == "2026-01-16T17:00:00.000Z");
  CHECK(found->phrase == "by friday");
  CHECK(found->why == "cued by 'by'; no time given: 17:00");
  CHECK(deadline("Can you let me know by Friday?", bst_now) == "2026-07-10T16:00:00.000Z");
  CHECK(deadline("by 3 December", bst_now) == "2026-12-03T17:00:00.000Z");
}

TEST_CASE("a day and a time a few words apart go together, in either order", "[deadline]") {
  struct example {
    const char* text;
    const char* gmt;
    const char* bst;
  };
  for (auto [text, gmt, bst] : std::initializer_list<example>{
           {"by 4pm tomorrow", "2026-01-15T16:00:00.000Z", "2026-07-09T15:00:00.000Z"},
           {"tomorrow by 4pm", "2026-01-15T16:00:00.000Z", "2026-07-09T15:00:00.000Z"},
           {"Friday 5pm", "2026-01-16T17:00:00.000Z", "2026-07-10T16:00:00.000Z"},
           {"Friday, 5pm", "2026-01-16T17:00:00.000Z", "2026-07-10T16:00:00.000Z"},
           {"5pm on Friday", "2026-01-16T17:00:00.000Z", "2026-07-10T16:00:00.000Z"},
           {"Thursday 3rd December at 2pm", "2026-12-03T14:00:00.000Z", "2026-12-03T14:00:00.000Z"},
           {"noon on Wednesday", "2026-01-14T12:00:00.000Z", "2026-07-08T11:00:00.000Z"},
           {"EOD Tuesday", "2026-01-20T17:00:00.000Z", "2026-07-14T16:00:00.000Z"},
           {"close of play Friday", "2026-01-16T17:00:00.000Z", "2026-07-10T16:00:00.000Z"},
           {"first thing tomorrow", "2026-01-15T09:00:00.000Z", "2026-07-09T08:00:00.000Z"},
           {"tomorrow morning", "2026-01-15T09:00:00.000Z", "2026-07-09T08:00:00.000Z"},
           {"on 2/2 at 10am", "2026-02-02T10:00:00.000Z", "2027-02-02T10:00:00.000Z"},
       }) {
    INFO(text);
    CHECK(deadline(text, gmt_now) == gmt);
    CHECK(deadline(text, bst_now) == bst);
  }
  auto found = find_deadline("Could you get back to me by 4pm tomorrow?", instant(gmt_now));
  REQUIRE(found);
  CHECK(found->phrase == "by 4pm tomorrow");
}

TEST_CASE("in N hours and within the hour count from now, to the minute", "[deadline]") {
  struct example {
    const char* text;
    const char* gmt;
    const char* bst;
  };
  // Seconds in "now" are dropped: results are whole minutes.
  for (auto [text, gmt, bst] : std::initializer_list<example>{
           {"in 2 hours", "2026-01-14T12:00:00.000Z", "2026-07-08T11:00:00.000Z"},
           {"in two hours", "2026-01-14T12:00:00.000Z", "2026-07-08T11:00:00.000Z"},
           {"within the hour", "2026-01-14T11:00:00.000Z", "2026-07-08T10:00:00.000Z"},
           {"within 3 hours", "2026-01-14T13:00:00.000Z", "2026-07-08T12:00:00.000Z"},
           {"in the next hour", "2026-01-14T11:00:00.000Z", "2026-07-08T10:00:00.000Z"},
           {"in the next twelve hours", "2026-01-14T22:00:00.000Z", "2026-07-08T21:00:00.000Z"},
           {"within half an hour", "2026-01-14T10:30:00.000Z", "2026-07-08T09:30:00.000Z"},
           {"in 45 minutes", "2026-01-14T10:45:00.000Z", "2026-07-08T09:45:00.000Z"},
           {"in a couple of hours", "2026-01-14T12:00:00.000Z", "2026-07-08T11:00:00.000Z"},
       }) {
    INFO(text);
    CHECK(deadline(text, "2026-01-14T10:00:40Z") == gmt);
    CHECK(deadline(text, "2026-07-08T09:00:40Z") == bst);
  }
  CHECK(deadline("Back in a minute", gmt_now) == "none");
  CHECK(deadline("asylum claims must be lodged within 24 hours of arrival", gmt_now) == "none");
}

TEST_CASE("ASAP and urgent give no time", "[deadline]") {
  for (auto text : {"ASAP please", "URGENT", "as soon as possible", "Urgent request - asap!"}) {
    INFO(text);
    CHECK_FALSE(find_deadline(text, instant(gmt_now)));
    CHECK_FALSE(find_deadline(text, instant(bst_now)));
  }
}

TEST_CASE("nothing found gives nullopt", "[deadline]") {
  CHECK_FALSE(find_deadline("Hello, could you help with a story about housing?", instant(gmt_now)));
  CHECK_FALSE(find_deadline("Hello, could you help with a story about housing?", instant(bst_now)));
}

TEST_CASE("phone numbers, money, counts, years, stations and addresses are not times", "[deadline]") {
  for (auto text : {"Call me on 07700 900123",
                    "or on +44 20 7946 0018",
                    "freephone 0800 555 0199",
                    "It costs £49",
                    "tickets are £4.50",
                    "200 people came",
                    "she has 5 children",
                    "since 2026",
                    "by 2026",
                    "aged 16",
                    "up 50%",
                    "up 2.75 per cent",
                    "1,200 crossed",
                    "on Radio 4",
                    "Channel 4 News",
                    "on 5 Live",
                    "at 10 Downing Street",
                    "for 4 years",
                    "open 24/7",
                    "on the A1",
                    "the M25",
                    "version 1.5",
                    "version 2.10",
                    "by 5 children",
                    "Covid-19",
                    "you may 5 times"}) {
    INFO(text);
    CHECK(deadline(text, gmt_now) == "none");
    CHECK(deadline(text, bst_now) == "none");
  }
}

// ---- clock-change days -----------------------------------------------------------------------

TEST_CASE("spring forward on 29 March 2026: a time in the gap moves forward an hour", "[deadline]") {
  auto saturday = "2026-03-28T12:00:00Z";
  CHECK(deadline("by 12.30am tomorrow", saturday) == "2026-03-29T00:30:00.000Z");
  CHECK(deadline("by 1.30am tomorrow", saturday) == "2026-03-29T01:30:00.000Z");  // 02:30 BST
  CHECK(deadline("by 4pm tomorrow", saturday) == "2026-03-29T15:00:00.000Z");
  CHECK(deadline("Monday 4pm", saturday) == "2026-03-30T15:00:00.000Z");
  auto sunday = "2026-03-29T10:00:00Z";  // 11:00 BST
  CHECK(deadline("by 4pm", sunday) == "2026-03-29T15:00:00.000Z");
  CHECK(deadline("in 2 hours", sunday) == "2026-03-29T12:00:00.000Z");
}

TEST_CASE("fall back on 25 October 2026: an ambiguous time takes its first (BST) instance", "[deadline]") {
  auto saturday = "2026-10-24T12:00:00Z";
  CHECK(deadline("by 1.30am tomorrow", saturday) == "2026-10-25T00:30:00.000Z");
  CHECK(deadline("by 2am tomorrow", saturday) == "2026-10-25T02:00:00.000Z");
  CHECK(deadline("by 4pm tomorrow", saturday) == "2026-10-25T16:00:00.000Z");
  CHECK(deadline("by 4pm", saturday) == "2026-10-24T15:00:00.000Z");
  auto sunday = "2026-10-25T10:00:00Z";  // 10:00 GMT
  CHECK(deadline("by noon", sunday) == "2026-10-25T12:00:00.000Z");
}

// ---- output and robustness -------------------------------------------------------------------

TEST_CASE("phrase and why hold only date/time words", "[deadline]") {
  auto text =
      "Hi, Fatima Hassan here (07700 900123) from the Dover Express. Could Ahmed ring me by 4pm tomorrow? "
      "It is for a 6pm live.";
  auto found = find_deadline(text, instant(gmt_now));
  REQUIRE(found);
  CHECK(found->phrase == "by 4pm tomorrow");
  CHECK(found->why == "cued by 'by'; 1 event time ignored ('6pm live')");
  auto elided = find_deadline("Our deadline for Ahmed's piece is Friday", instant(gmt_now));
  REQUIRE(elided);
  CHECK(elided->phrase == "deadline ... friday");
  auto event = find_deadline("We are interviewing Fatima at 2pm", instant(gmt_now));
  REQUIRE(event);
  CHECK(event->phrase == "interviewing ... 2pm");
}

TEST_CASE("hostile input: empty, huge, binary and truncated UTF-8 text", "[deadline]") {
  auto now = instant(gmt_now);
  CHECK_FALSE(find_deadline("", now));
  CHECK_FALSE(find_deadline(std::string_view("\0\0\0", 3), now));
  CHECK(deadline("by 4pm \xE2\x80", gmt_now) == "2026-01-14T16:00:00.000Z");
  CHECK(deadline("by 4pm tomorrow \xE2\x80\x94 we\xE2\x80\x99re live at 6pm \xC2", gmt_now) ==
        "2026-01-15T16:00:00.000Z");
  std::mt19937 rng(20260114);
  std::string punctuated(256 * 1024, '0');
  for (auto& c : punctuated) c = "0123456789:/"[rng() % 12];
  CHECK_NOTHROW(find_deadline(punctuated, now));
  std::string bytes(256 * 1024, '\0');
  for (auto& c : bytes) c = static_cast<char>(rng());
  CHECK_NOTHROW(find_deadline(bytes, now));
  std::string cues;
  while (cues.size() < 256 * 1024) cues += "by in the next within at the end of ";
  CHECK_FALSE(find_deadline(cues, now));
  std::string events;
  while (events.size() < 256 * 1024) events += "6pm live ";
  auto found = find_deadline(events, now);
  REQUIRE(found);
  CHECK(utc(found->at) == "2026-01-14T18:00:00.000Z");
}
