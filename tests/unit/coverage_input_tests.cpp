// Unit tests for issue 8's pure parts: a piece of coverage checked field by field, the aftercare
// list's state, calendar dates, and when an aftercare check-in falls due (working days, London
// time, across weekends and the clock changes). The integration suite (coverage) covers HTTP.
#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

#include "core/london_time.hpp"
#include "core/time.hpp"
#include "server/coverage_input.hpp"

using namespace md;
using namespace md::server;
using std::chrono::year_month_day;

namespace {

year_month_day date(int y, unsigned m, unsigned d) {
  return std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d};
}

const year_month_day today = date(2026, 11, 27);

std::variant<store::coverage_input, field_error> parse(std::string_view json) {
  return parse_coverage(boost::json::parse(json).as_object(), today);
}

std::string refused(std::string_view json) {
  auto parsed = parse(json);
  REQUIRE(std::holds_alternative<field_error>(parsed));
  return std::get<field_error>(parsed).field;
}

constexpr std::string_view minimal = R"({"outlet_name": " Channel 4 News ", "outlet_scope": "national",
  "medium": "tv", "appeared_on": "2026-11-26", "lived_experience_quoted": false, "tone": "balanced"})";

std::string with(std::string_view extra) {
  std::string s{minimal};
  s.pop_back();
  return s + ", " + std::string{extra} + "}";
}

time_point at(const char* iso) { return parse_iso8601(iso).value(); }

}  // namespace

TEST_CASE("coverage: the required fields alone make a piece; text is trimmed") {
  auto parsed = parse(minimal);
  REQUIRE(std::holds_alternative<store::coverage_input>(parsed));
  auto& in = std::get<store::coverage_input>(parsed);
  CHECK(in.outlet_name == "Channel 4 News");
  CHECK(in.outlet_scope == "national");
  CHECK(in.medium == "tv");
  CHECK(in.appeared_on == date(2026, 11, 26));
  CHECK_FALSE(in.link);
  CHECK_FALSE(in.headline);
  CHECK_FALSE(in.spokesperson_id);
  CHECK_FALSE(in.first_time);
  CHECK(in.tone == "balanced");

  auto full = std::get<store::coverage_input>(parse(with(
      R"("link": "https://www.channel4.com/news/x?y=1#z", "headline": " A headline ", "spokesperson_id": 7, "first_time": true)")));
  CHECK(*full.link == "https://www.channel4.com/news/x?y=1#z");
  CHECK(*full.headline == "A headline");
  CHECK(*full.spokesperson_id == 7);
  CHECK(full.first_time);
  CHECK(std::holds_alternative<store::coverage_input>(parse(with(R"("link": null, "headline": null, "spokesperson_id": null)"))));
}

TEST_CASE("coverage: each bad field is named") {
  CHECK(refused(R"({})") == "outlet_name");
  CHECK(refused(R"({"outlet_name": "x", "outlet_scope": "regional"})") == "outlet_scope");
  CHECK(refused(R"({"outlet_name": "x", "outlet_scope": "local", "medium": "TV"})") == "medium");
  CHECK(refused(R"({"outlet_name": "x", "outlet_scope": "local", "medium": "tv", "appeared_on": "26/11/2026"})") ==
        "appeared_on");
  CHECK(refused(R"({"outlet_name": "x", "outlet_scope": "local", "medium": "tv", "appeared_on": "2026-11-29"})") ==
        "appeared_on");  // two days after today
  CHECK(std::holds_alternative<store::coverage_input>(parse(
      R"({"outlet_name": "x", "outlet_scope": "local", "medium": "tv", "appeared_on": "2026-11-28",
          "lived_experience_quoted": true, "tone": "negative"})")));  // tomorrow's paper, out tonight
  CHECK(refused(R"({"outlet_name": "", "outlet_scope": "local"})") == "outlet_name");
  CHECK(refused(std::string(R"({"outlet_name": ")") + std::string(201, 'x') + R"("})") == "outlet_name");
  CHECK(refused(with(R"("link": "ftp://example.org/x")")) == "link");
  CHECK(refused(with(R"j("link": "javascript:alert(1)")j")) == "link");
  CHECK(refused(with(R"("link": "https:///no-host")")) == "link");
  CHECK(refused(with(R"("link": "not a url")")) == "link");
  CHECK(refused(with(R"("headline": ")" + std::string(301, 'h') + R"(")")) == "headline");
  CHECK(refused(with(R"("spokesperson_id": 0)")) == "spokesperson_id");
  CHECK(refused(with(R"("spokesperson_id": "7")")) == "spokesperson_id");
  CHECK(refused(with(R"("first_time": true)")) == "first_time");
  CHECK(refused(with(R"("first_time": "yes", "spokesperson_id": 7)")) == "first_time");
  CHECK(refused(with(R"("outlet": "x")")) == "outlet");  // not a coverage field
  CHECK(refused(R"({"outlet_name": "x", "outlet_scope": "local", "medium": "tv", "appeared_on": "2026-11-20",
                   "lived_experience_quoted": "yes"})") == "lived_experience_quoted");
  CHECK(refused(R"({"outlet_name": "x", "outlet_scope": "local", "medium": "tv", "appeared_on": "2026-11-20",
                   "lived_experience_quoted": true, "tone": "neutral"})") == "tone");
}

TEST_CASE("aftercare list state") {
  CHECK(std::get<store::aftercare_state>(parse_aftercare_state("")) == store::aftercare_state::open);
  CHECK(std::get<store::aftercare_state>(parse_aftercare_state("open")) == store::aftercare_state::open);
  CHECK(std::get<store::aftercare_state>(parse_aftercare_state("done")) == store::aftercare_state::done);
  CHECK(std::get<store::aftercare_state>(parse_aftercare_state("all")) == store::aftercare_state::all);
  CHECK(std::get<field_error>(parse_aftercare_state("OPEN")).field == "state");
}

TEST_CASE("calendar dates are exactly YYYY-MM-DD") {
  CHECK(parse_iso_date("2026-11-27") == date(2026, 11, 27));
  CHECK(parse_iso_date("2028-02-29") == date(2028, 2, 29));
  CHECK_FALSE(parse_iso_date("2026-02-29"));
  CHECK_FALSE(parse_iso_date("2026-11-27T00:00"));
  CHECK_FALSE(parse_iso_date("2026-1-27"));
  CHECK_FALSE(parse_iso_date("1969-12-31"));
  CHECK_FALSE(parse_iso_date(""));
  CHECK(format_iso_date(date(2026, 3, 5)) == "2026-03-05");
}

TEST_CASE("aftercare falls due on working days, London time") {
  // Friday 27 November 2026 (GMT): one working day later is Monday 30th at 17:00 GMT.
  CHECK(format_iso8601(london_working_days_later(at("2026-11-27T15:00:00Z"), 1, 17)) == "2026-11-30T17:00:00.000Z");
  // Saturday and Sunday count as nothing: both lead to Monday (1 day) or Monday itself (0 days).
  CHECK(format_iso8601(london_working_days_later(at("2026-11-28T10:00:00Z"), 1, 17)) == "2026-11-30T17:00:00.000Z");
  CHECK(format_iso8601(london_working_days_later(at("2026-11-29T10:00:00Z"), 0, 17)) == "2026-11-30T17:00:00.000Z");
  // Wednesday, 0 days: the same day.
  CHECK(format_iso8601(london_working_days_later(at("2026-11-25T09:00:00Z"), 0, 17)) == "2026-11-25T17:00:00.000Z");
  // Thursday + 3 working days = Tuesday.
  CHECK(format_iso8601(london_working_days_later(at("2026-11-26T09:00:00Z"), 3, 9)) == "2026-12-01T09:00:00.000Z");
  // 23:30 BST on Tuesday 7 July is already Tuesday in London but 22:30 UTC: next day is Wednesday, 17:00 BST.
  CHECK(format_iso8601(london_working_days_later(at("2026-07-07T22:30:00Z"), 1, 17)) == "2026-07-08T16:00:00.000Z");
  // 00:30 BST on Wednesday 8 July is still Tuesday in UTC: London's date (Wednesday) counts.
  CHECK(format_iso8601(london_working_days_later(at("2026-07-07T23:30:00Z"), 1, 17)) == "2026-07-09T16:00:00.000Z");
  // Across the October change: Friday 23 October (BST) + 1 = Monday 26th, now GMT.
  CHECK(format_iso8601(london_working_days_later(at("2026-10-23T12:00:00Z"), 1, 17)) == "2026-10-26T17:00:00.000Z");
}
