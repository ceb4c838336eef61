// Unit tests for the reports' pure parts: the date range (server/report_input) and the JSON and
// CSV renderings (server/report_output). The figures themselves are tested against PostgreSQL in
// tests/integration/reports_tests.cpp.
#include <catch2/catch.hpp>

#include <boost/json/serialize.hpp>

#include "core/time.hpp"
#include "server/report_input.hpp"
#include "server/report_output.hpp"
#include "support/csv_parse.hpp"

using namespace md;
using namespace md::server;
using namespace std::chrono;

namespace {

const year_month_day today = 2026y / May / 14;

report_range range_of(const std::map<std::string, std::string>& params) {
  auto parsed = parse_report_range(params, today);
  REQUIRE(std::holds_alternative<report_range>(parsed));
  return std::get<report_range>(parsed);
}

std::string refused_field(const std::map<std::string, std::string>& params) {
  auto parsed = parse_report_range(params, today);
  REQUIRE(std::holds_alternative<field_error>(parsed));
  return std::get<field_error>(parsed).field;
}

std::string text_of(const report_period& p) { return format_iso_date(p.from) + ".." + format_iso_date(p.to); }

}  // namespace

TEST_CASE("report range: defaults, the previous period, refusals") {
  // Defaults: 1 January of today's year to today; the previous period is as long (134 days).
  auto d = range_of({});
  CHECK(text_of(d.current) == "2026-01-01..2026-05-14");
  CHECK(days_in(d.current) == 134);
  CHECK(text_of(d.previous) == "2025-08-20..2025-12-31");
  CHECK(days_in(d.previous) == 134);
  CHECK(text_of(range_of({{"from", ""}, {"to", ""}}).current) == "2026-01-01..2026-05-14");

  // A month: the previous period ends the day before and crosses a leap day.
  auto march = range_of({{"from", "2024-03-01"}, {"to", "2024-03-31"}});
  CHECK(text_of(march.previous) == "2024-01-30..2024-02-29");
  auto one_day = range_of({{"from", "2026-03-29"}, {"to", "2026-03-29"}});
  CHECK(text_of(one_day.previous) == "2026-03-28..2026-03-28");
  CHECK(text_of(range_of({{"to", "2026-02-01"}}).current) == "2026-01-01..2026-02-01");

  CHECK(refused_field({{"from", "2026-02-30"}}) == "from");
  CHECK(refused_field({{"from", "14/05/2026"}}) == "from");
  CHECK(refused_field({{"to", "2026-5-1"}}) == "to");
  CHECK(refused_field({{"to", "2026-05-01T00:00"}}) == "to");
  CHECK(refused_field({{"from", "2026-05-02"}, {"to", "2026-05-01"}}) == "to");
  CHECK(refused_field({{"from", "2026-06-01"}}) == "to");  // after today, the default end
  // The longest range: 3660 days inclusive.
  CHECK(days_in(range_of({{"from", "2016-01-01"}, {"to", "2026-01-07"}}).current) == 3660);
  CHECK(refused_field({{"from", "2016-01-01"}, {"to", "2026-01-08"}}) == "to");
}

TEST_CASE("CSV cells: RFC 4180 quoting and no formulas") {
  CHECK(csv_cell("plain") == "plain");
  CHECK(csv_cell("") == "");
  CHECK(csv_cell("Express & Star, Wolverhampton") == "\"Express & Star, Wolverhampton\"");
  CHECK(csv_cell("The \"i\"") == "\"The \"\"i\"\"\"");
  CHECK(csv_cell("two\nlines") == "\"two\nlines\"");
  CHECK(csv_cell("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"");
  CHECK(csv_cell("+44") == "'+44");
  CHECK(csv_cell("-1") == "'-1");
  CHECK(csv_cell("@SUM(A1)") == "'@SUM(A1)");
  CHECK(csv_cell("\tx") == "'\tx");
  CHECK(csv_cell("a=b") == "a=b");
}

TEST_CASE("report CSV and JSON: every figure, keys of either period, nulls") {
  store::report_figures cur, prev;
  cur.requests = {12, 8, 5, 1, 1, 0};
  prev.requests = {9, 6, 4, 0, 0, 1};
  cur.cases = {12, 3};
  cur.coverage.total = 3;
  cur.coverage.national = 2;
  cur.coverage.by_scope = {{"national", 2}, {"local", 1}};
  prev.coverage.by_scope = {{"international", 4}, {"national", 1}};
  cur.coverage.by_outlet = {{"Express & Star, Wolverhampton", 2}, {"=cmd", 1}};
  cur.coverage.by_month = {{"2026-02", 1}, {"2026-03", 2}};
  prev.coverage.by_month = {{"2025-12", 4}};
  cur.timings.median_minutes_to_first_offer = 42.5;
  prev.partners.accept_rate = 0.6667;
  cur.partners.by_partner = {{7, "Refugee Action, Kent", 3, 2, 1, 0, 0.6667, 12.0}};
  prev.partners.by_partner = {{9, "Solo", 1, 0, 0, 0, std::nullopt, std::nullopt}};
  cur.triage = {12, 3, 0.25, {{"topics", 2}, {"region", 1}}};

  auto csv = report_csv(cur, prev);
  CHECK(csv.substr(0, 30) == "section,key,current,previous\r\n");
  auto rows = test::parse_csv(csv);
  std::map<std::string, std::vector<std::string>> by;
  for (auto& r : rows) {
    REQUIRE(r.size() == 4);
    by[r[0] + "/" + r[1]] = {r[2], r[3]};
  }
  CHECK(rows.size() == by.size());  // no row twice
  using v = std::vector<std::string>;
  CHECK(by["requests/received"] == v{"12", "9"});
  CHECK(by["requests/withdrawn"] == v{"0", "1"});
  CHECK(by["cases/proactive"] == v{"3", "0"});
  CHECK(by["coverage/lived_experience_quoted"] == v{"0", "0"});
  CHECK(by["coverage_by_scope/national"] == v{"2", "1"});
  CHECK(by["coverage_by_scope/local"] == v{"1", "0"});
  CHECK(by["coverage_by_scope/international"] == v{"0", "4"});
  CHECK(by["coverage_by_outlet/Express & Star, Wolverhampton"] == v{"2", "0"});
  CHECK(by["coverage_by_outlet/'=cmd"] == v{"1", "0"});
  CHECK(by["timings/median_minutes_to_first_offer"] == v{"42.5", ""});
  CHECK(by["timings/median_minutes_to_fulfilment"] == v{"", ""});
  CHECK(by["partners/accept_rate"] == v{"", "0.6667"});
  CHECK(by["partner_accept_rate/Refugee Action, Kent"] == v{"0.6667", ""});
  CHECK(by["partner_accept_rate/Solo"] == v{"", ""});
  CHECK(by["triage/corrected_share"] == v{"0.25", ""});
  CHECK(by["triage_by_field/topics"] == v{"2", "0"});
  CHECK(rows[0] == v{"section", "key", "current", "previous"});
  // Months in calendar order whichever period has them.
  std::vector<std::string> months;
  for (auto& r : rows)
    if (r[0] == "coverage_by_month") months.push_back(r[1]);
  CHECK(months == v{"2025-12", "2026-02", "2026-03"});
  std::size_t sections = 0;
  for (auto s : {"requests", "cases", "coverage", "coverage_by_scope", "coverage_by_medium", "voices", "timings",
                 "partners", "partner_accept_rate", "triage", "triage_by_field"})
    for (auto& r : rows) sections += r[0] == s ? 1 : 0;
  CHECK(sections == 6 + 2 + 5 + 3 + 0 + 2 + 2 + 6 + 2 + 3 + 2);

  report_range range{{2026y / January / 1, 2026y / March / 31}, {2025y / October / 3, 2025y / December / 31}};
  CHECK(report_csv_filename(range) == "mediadesk-report-2026-01-01-2026-03-31.csv");
  auto j = report_json(range, cur, prev);
  CHECK(j.at("period").at("from") == "2026-01-01");
  CHECK(j.at("previous_period").at("to") == "2025-12-31");
  auto& c = j.at("current").as_object();
  CHECK(c.at("requests").at("taken_on") == 8);
  CHECK(c.at("timings").at("median_minutes_to_first_offer").as_double() == 42.5);
  CHECK(c.at("timings").at("median_minutes_to_fulfilment").is_null());
  CHECK(c.at("coverage").at("by_scope").as_array()[1].at("key") == "local");
  auto& p = c.at("partners").at("by_partner").as_array()[0].as_object();
  CHECK(p.at("name") == "Refugee Action, Kent");
  CHECK(p.at("partner_id") == 7);
  CHECK(p.at("median_minutes_to_response").as_double() == 12.0);
  CHECK(j.at("previous").at("partners").at("by_partner").as_array()[0].at("accept_rate").is_null());
  CHECK(c.at("triage").at("by_field").as_array().size() == 2);
}
