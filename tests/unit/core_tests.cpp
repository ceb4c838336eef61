// Unit tests for core/: time parsing and formatting, case references, the lifecycle table.
#include <catch2/catch.hpp>

#include "core/case_ref.hpp"
#include "core/case_status.hpp"
#include "core/time.hpp"

using namespace md;

TEST_CASE("ISO-8601 date-times parse with offsets and fractions") {
  auto utc = parse_iso8601("2026-11-27T16:00:00Z");
  REQUIRE(utc);
  CHECK(format_iso8601(*utc) == "2026-11-27T16:00:00.000Z");
  auto bst = parse_iso8601("2026-06-01T16:00:00+01:00");
  REQUIRE(bst);
  CHECK(format_iso8601(*bst) == "2026-06-01T15:00:00.000Z");
  CHECK(format_iso8601(*parse_iso8601("2026-06-01T16:00:00.25-0230")) == "2026-06-01T18:30:00.250Z");
  CHECK(format_iso8601(*parse_iso8601("2026-06-01T16:00")) == "2026-06-01T16:00:00.000Z");
}

TEST_CASE("impossible or malformed date-times are refused") {
  for (auto text : {"", "tomorrow", "2026-02-30T10:00:00Z", "2026-13-01T10:00:00Z", "2026-11-27", "2026-11-27T24:00Z",
                    "2026-11-27T16:00:00+25:00", "2026-11-27T16:00:00Zjunk", "2026-11-27T16:00:00.Z", "1969-12-31T00:00Z"})
    CHECK_FALSE(parse_iso8601(text));
}

TEST_CASE("case references format and parse") {
  CHECK(format_case_ref(2026, 123) == "MD-2026-000123");
  CHECK(format_case_ref(2026, 1234567) == "MD-2026-1234567");
  auto parts = parse_case_ref("MD-2026-000123");
  REQUIRE(parts);
  CHECK(parts->year == 2026);
  CHECK(parts->number == 123);
  for (auto bad : {"MD-2026-", "MD-26-000123", "XX-2026-000123", "MD-2026-00012a", "MD-2026-000000", "MD-2026-0001'--"})
    CHECK_FALSE(parse_case_ref(bad));
}

TEST_CASE("the case lifecycle allows the desk's moves and no others") {
  CHECK(transition_allowed(case_status::new_, case_status::triaged));
  CHECK(transition_allowed(case_status::offered, case_status::accepted));
  CHECK(transition_allowed(case_status::accepted, case_status::fulfilled));
  CHECK_FALSE(transition_allowed(case_status::new_, case_status::fulfilled));
  CHECK_FALSE(transition_allowed(case_status::fulfilled, case_status::new_));
  for (auto s : all_case_statuses()) {
    CHECK(parse_case_status(to_string(s)) == s);
    CHECK_FALSE(transition_allowed(s, s));
  }
  CHECK_FALSE(parse_case_status("closed"));
  CHECK(is_open(case_status::offered));
  CHECK_FALSE(is_open(case_status::withdrawn));
  CHECK(parse_priority("urgent") == priority::urgent);
}
