// Integration: the evaluation reports (issue 8) on a known data set seeded in SQL (reports are
// read-only aggregates, so no intake is needed): every figure of the current and the previous
// period equals the answer worked out by hand below, including the London midnight boundaries
// in BST (1 April, 30 August) and GMT (31 October); then the endpoints through the real serve:
// the JSON shape, 400s naming the field, 401 without a session, and the CSV parsed back.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/time.hpp"
#include "store/report_store.hpp"
#include "support/csv_parse.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono;
namespace json = boost::json;

namespace {

// Seeds rows with the columns the reports read; sealed columns get a placeholder byte.
class seeder {
 public:
  explicit seeder(store::pg_connection& db) : db_(db) {}

  std::int64_t partner(const std::string& name) {
    return db_.exec("INSERT INTO partners (key, name, contact_key_id) VALUES ($1, $2, $3) RETURNING id",
                    {store::text(fmt::format("p{}", ++n_)), store::text(name), store::number(person_key())})
        .get_int(0, 0);
  }
  std::int64_t spokesperson(const std::string& alias) {
    return db_.exec("INSERT INTO spokespeople (alias, person_key_id) VALUES ($1, $2) RETURNING id",
                    {store::text(alias), store::number(person_key())})
        .get_int(0, 0);
  }
  // received: ISO-8601 UTC; topics, regions, corrected: text[] literals such as {a,b}.
  std::int64_t a_case(const std::string& source, const std::string& status, const std::string& received,
                      const std::string& topics = "{}", const std::string& regions = "{}",
                      const std::string& corrected = "{}") {
    return db_.exec(R"sql(
INSERT INTO cases (ref, source, status, received_at, topics, regions, corrected_fields, request_sealed)
VALUES ($1, $2, $3, $4::timestamptz, $5::text[], $6::text[], $7::text[], '\x00'::bytea) RETURNING id)sql",
                    {store::text(fmt::format("MD-2025-{:06}", ++n_)), store::text(source), store::text(status),
                     store::text(received), store::text(topics), store::text(regions), store::text(corrected)})
        .get_int(0, 0);
  }
  // An offer sent at `created`, answered (accepted, declined, expired, withdrawn) after
  // `minutes`, or still open (sent).
  void offer(std::int64_t case_id, std::int64_t partner_id, const std::string& state, const std::string& created,
             int minutes = 0) {
    db_.exec(R"sql(
INSERT INTO offers (case_id, partner_id, state, token_hash, created_by, created_at, expires_at, responded_at)
VALUES ($1, $2, $3, $4::bytea, 'user:1', $5::timestamptz, $5::timestamptz + interval '2 days',
        CASE WHEN $3 = 'sent' THEN NULL ELSE $5::timestamptz + make_interval(mins => $6::int) END))sql",
             {store::number(case_id), store::number(partner_id), store::text(state),
              store::text(fmt::format("token-{}", ++n_)), store::text(created), store::number(minutes)});
    // What store/offer_store create_offer keeps on the case: the first offer's time.
    db_.exec("UPDATE cases SET first_offer_at = least(coalesce(first_offer_at, $2::timestamptz), $2::timestamptz) "
             "WHERE id = $1",
             {store::number(case_id), store::text(created)});
  }
  void fulfilled_event(std::int64_t case_id, const std::string& at) {
    db_.exec(R"sql(INSERT INTO case_events (case_id, actor, kind, data, at)
VALUES ($1, 'user:1', 'status_changed', '{"from":"accepted","to":"fulfilled"}', $2::timestamptz))sql",
             {store::number(case_id), store::text(at)});
    // What store/case_store change_case_status keeps on the case: the first fulfilment's time.
    db_.exec("UPDATE cases SET fulfilled_at = least(coalesce(fulfilled_at, $2::timestamptz), $2::timestamptz) "
             "WHERE id = $1",
             {store::number(case_id), store::text(at)});
  }
  void coverage(std::int64_t case_id, const std::string& outlet, const std::string& scope, const std::string& medium,
                const std::string& date, bool quoted, std::optional<std::int64_t> spokesperson, bool first_time,
                const std::string& tone) {
    db_.exec(R"sql(
INSERT INTO coverage (case_id, outlet_name, outlet_scope, medium, appeared_on, lived_experience_quoted,
                      spokesperson_id, first_time, tone, recorded_by)
VALUES ($1, $2, $3, $4, $5::date, $6::boolean, $7, $8::boolean, $9, 'user:1'))sql",
             {store::number(case_id), store::text(outlet), store::text(scope), store::text(medium), store::text(date),
              store::text(quoted ? "true" : "false"),
              spokesperson ? store::number(*spokesperson) : store::null_param(), store::text(first_time ? "true" : "false"),
              store::text(tone)});
  }

 private:
  std::int64_t person_key() {
    return db_.exec("INSERT INTO person_keys (wrapped) VALUES ('\\x00'::bytea) RETURNING id").get_int(0, 0);
  }
  store::pg_connection& db_;
  int n_ = 0;
};

json::value parsed(const std::string& text) { return json::parse(text); }

void check_same(const json::value& got, const json::value& expected) {
  INFO("got:      " << json::serialize(got));
  INFO("expected: " << json::serialize(expected));
  CHECK(got == expected);
}

}  // namespace

TEST_CASE("reports: every figure of a seeded data set, the endpoints, the CSV", "[reports]") {
  test_stack stack("reports");
  stack.start("serve");
  auto db = stack.database();
  seeder s(db);

  const auto kent_action = s.partner("Kent Refugee Action Network");
  const auto migrant_voice = s.partner("Migrant Voice, Birmingham");
  const auto action_foundation = s.partner("Action Foundation");
  const auto calais = s.partner("Calais Aid");  // only withdrawn offers: in no figure
  const auto amira = s.spokesperson("Amira"), bilal = s.spokesperson("Bilal"), chen = s.spokesperson("Chen");

  // The current period: London 2025-04-01 .. 2025-10-31 = [2025-03-31T23:00Z (BST), 2025-11-01T00:00Z (GMT)).
  // The previous one: the 214 days before, London 2024-08-30 .. 2025-03-31 = from 2024-08-29T23:00Z (BST).
  auto c1 = s.a_case("webhook", "fulfilled", "2025-03-31T23:00:00Z", "{asylum_process,housing}", "{kent}",
                     "{topics,region}");  // London midnight, 1 April (BST)
  s.offer(c1, kent_action, "accepted", "2025-03-31T23:30:00Z", 10);  // first offer after 30 min
  s.offer(c1, migrant_voice, "declined", "2025-04-01T00:00:00Z", 20);
  s.fulfilled_event(c1, "2025-04-01T01:00:00Z");  // 120 min
  s.fulfilled_event(c1, "2025-04-01T07:20:00Z");  // a later one: the first counts
  auto c2 = s.a_case("email", "fulfilled", "2025-06-15T10:00:00Z", "{channel_crossings}", "{kent,south_east}");
  s.offer(c2, kent_action, "accepted", "2025-06-15T10:45:00Z", 30);  // 45 min
  s.fulfilled_event(c2, "2025-06-15T15:00:00Z");                     // 300 min
  auto c3 = s.a_case("form", "no_match", "2025-07-01T08:00:00Z", "{detention}", "{london}", "{priority}");
  s.offer(c3, migrant_voice, "expired", "2025-07-01T08:15:00Z", 1440);  // 15 min
  s.offer(c3, action_foundation, "declined", "2025-07-01T08:20:00Z", 5);
  s.a_case("webhook", "declined", "2025-10-31T23:59:59Z", "{}", "{}", "{topics}");  // last second (GMT); not taken on
  auto c5 = s.a_case("webhook", "offered", "2025-08-01T12:00:00Z");
  s.offer(c5, kent_action, "sent", "2025-08-01T13:01:00Z");  // 61 min, no answer yet
  s.fulfilled_event(c5, "2025-08-01T12:50:00Z");            // not fulfilled now: not timed
  auto c6 = s.a_case("webhook", "triaged", "2025-09-10T09:00:00Z");
  s.offer(c6, migrant_voice, "withdrawn", "2025-09-10T10:40:00Z", 5);  // 100 min; taken on by its offer
  auto c7 = s.a_case("webhook", "withdrawn", "2025-05-05T05:00:00Z");
  s.offer(c7, action_foundation, "withdrawn", "2025-05-05T05:10:00Z", 60);  // 10 min
  s.offer(c7, calais, "withdrawn", "2025-05-05T05:11:00Z", 60);
  s.a_case("webhook", "accepted", "2025-07-20T10:00:00Z");  // taken on by its status alone
  s.a_case("webhook", "triaged", "2025-09-12T09:00:00Z");   // not taken on
  auto pitch = s.a_case("staff", "fulfilled", "2025-04-01T10:00:00Z", "{community_contribution}", "{west_midlands}",
                        "{topics}");  // proactive: in no request, timing or triage figure
  s.offer(pitch, kent_action, "accepted", "2025-04-02T10:00:00Z", 40);
  s.a_case("staff", "triaged", "2025-10-01T09:00:00Z");

  // The previous period, and just outside both.
  auto q1 = s.a_case("webhook", "fulfilled", "2025-03-31T22:59:59Z", "{asylum_process}", "{kent}");  // 23:59:59 London
  s.offer(q1, action_foundation, "accepted", "2025-03-31T23:10:00Z", 7);  // sent in the current period; 10m01s
  s.fulfilled_event(q1, "2025-04-01T02:00:00Z");                          // 180m01s
  auto q2 = s.a_case("email", "no_match", "2024-08-29T23:00:00Z", "{}", "{}", "{topics,deadline}");  // London midnight
  s.offer(q2, migrant_voice, "declined", "2024-08-29T23:20:00Z", 4);
  s.a_case("form", "new", "2024-12-10T12:00:00Z");
  s.a_case("staff", "triaged", "2025-03-31T22:59:59Z");
  auto x1 = s.a_case("webhook", "fulfilled", "2024-08-29T22:59:00Z");  // 23:59 on 29 August: neither
  s.offer(x1, kent_action, "accepted", "2024-08-29T22:59:30Z", 1);
  s.a_case("webhook", "new", "2025-11-01T00:00:00Z");  // London midnight, 1 November: neither

  s.coverage(c1, "BBC Radio Kent", "local", "radio", "2025-04-01", true, amira, true, "positive");
  s.coverage(c2, "The Guardian", "national", "print", "2025-06-20", true, amira, false, "balanced");
  s.coverage(c2, "Express & Star, \"Wolverhampton\"", "local", "online", "2025-06-21", false, std::nullopt, false,
             "positive");
  s.coverage(pitch, "Al Jazeera", "international", "tv", "2025-10-31", true, bilal, true, "negative");
  s.coverage(pitch, "The Guardian", "national", "online", "2025-10-15", false, chen, false, "balanced");
  s.coverage(c3, "=HYPERLINK(\"x\")", "national", "podcast", "2025-08-08", false, std::nullopt, false, "positive");
  s.coverage(q1, "BBC Radio Kent", "local", "radio", "2025-03-31", true, chen, true, "positive");
  s.coverage(q2, "Metro", "national", "print", "2024-08-30", false, std::nullopt, false, "balanced");
  s.coverage(q1, "The Times", "national", "print", "2025-11-01", true, amira, false, "positive");  // neither
  s.coverage(q2, "The Times", "national", "print", "2024-08-29", true, bilal, true, "positive");   // neither

  const auto current = parsed(fmt::format(R"json({{
 "requests": {{"received": 9, "taken_on": 7, "fulfilled": 2, "no_match": 1, "declined": 1, "withdrawn": 1}},
 "cases": {{"reactive": 9, "proactive": 2}},
 "coverage": {{"total": 6, "national": 3, "local": 2, "international": 1, "lived_experience_quoted": 3,
  "by_scope": [{{"key": "national", "count": 3}}, {{"key": "local", "count": 2}}, {{"key": "international", "count": 1}}],
  "by_medium": [{{"key": "online", "count": 2}}, {{"key": "podcast", "count": 1}}, {{"key": "print", "count": 1}},
                {{"key": "radio", "count": 1}}, {{"key": "tv", "count": 1}}],
  "by_topic": [{{"key": "channel_crossings", "count": 2}}, {{"key": "community_contribution", "count": 2}},
               {{"key": "asylum_process", "count": 1}}, {{"key": "detention", "count": 1}}, {{"key": "housing", "count": 1}}],
  "by_region": [{{"key": "kent", "count": 3}}, {{"key": "south_east", "count": 2}}, {{"key": "west_midlands", "count": 2}},
                {{"key": "london", "count": 1}}],
  "by_outlet": [{{"key": "The Guardian", "count": 2}}, {{"key": "=HYPERLINK(\"x\")", "count": 1}},
                {{"key": "Al Jazeera", "count": 1}}, {{"key": "BBC Radio Kent", "count": 1}},
                {{"key": "Express & Star, \"Wolverhampton\"", "count": 1}}],
  "by_tone": [{{"key": "positive", "count": 3}}, {{"key": "balanced", "count": 2}}, {{"key": "negative", "count": 1}}],
  "by_month": [{{"key": "2025-04", "count": 1}}, {{"key": "2025-06", "count": 2}}, {{"key": "2025-08", "count": 1}},
               {{"key": "2025-10", "count": 2}}]}},
 "voices": {{"spokespeople": 3, "first_time": 2}},
 "timings": {{"median_minutes_to_first_offer": 37.5, "median_minutes_to_fulfilment": 210.0}},
 "partners": {{"offers": 8, "accepted": 4, "declined": 2, "expired": 1, "accept_rate": 0.5714,
  "median_minutes_to_response": 15.0,
  "by_partner": [
   {{"partner_id": {}, "name": "Kent Refugee Action Network", "offers": 4, "accepted": 3, "declined": 0, "expired": 0,
    "accept_rate": 1.0, "median_minutes_to_response": 30.0}},
   {{"partner_id": {}, "name": "Action Foundation", "offers": 2, "accepted": 1, "declined": 1, "expired": 0,
    "accept_rate": 0.5, "median_minutes_to_response": 6.0}},
   {{"partner_id": {}, "name": "Migrant Voice, Birmingham", "offers": 2, "accepted": 0, "declined": 1, "expired": 1,
    "accept_rate": 0.0, "median_minutes_to_response": 20.0}}]}},
 "triage": {{"cases": 9, "corrected_cases": 3, "corrected_share": 0.3333,
  "by_field": [{{"key": "topics", "count": 2}}, {{"key": "priority", "count": 1}}, {{"key": "region", "count": 1}}]}}
}})json",
                                          kent_action, action_foundation, migrant_voice));
  const auto previous = parsed(fmt::format(R"json({{
 "requests": {{"received": 3, "taken_on": 2, "fulfilled": 1, "no_match": 1, "declined": 0, "withdrawn": 0}},
 "cases": {{"reactive": 3, "proactive": 1}},
 "coverage": {{"total": 2, "national": 1, "local": 1, "international": 0, "lived_experience_quoted": 1,
  "by_scope": [{{"key": "local", "count": 1}}, {{"key": "national", "count": 1}}],
  "by_medium": [{{"key": "print", "count": 1}}, {{"key": "radio", "count": 1}}],
  "by_topic": [{{"key": "asylum_process", "count": 1}}],
  "by_region": [{{"key": "kent", "count": 1}}],
  "by_outlet": [{{"key": "BBC Radio Kent", "count": 1}}, {{"key": "Metro", "count": 1}}],
  "by_tone": [{{"key": "balanced", "count": 1}}, {{"key": "positive", "count": 1}}],
  "by_month": [{{"key": "2024-08", "count": 1}}, {{"key": "2025-03", "count": 1}}]}},
 "voices": {{"spokespeople": 1, "first_time": 1}},
 "timings": {{"median_minutes_to_first_offer": 15.0, "median_minutes_to_fulfilment": 180.0}},
 "partners": {{"offers": 1, "accepted": 0, "declined": 1, "expired": 0, "accept_rate": 0.0,
  "median_minutes_to_response": 4.0,
  "by_partner": [
   {{"partner_id": {}, "name": "Migrant Voice, Birmingham", "offers": 1, "accepted": 0, "declined": 1, "expired": 0,
    "accept_rate": 0.0, "median_minutes_to_response": 4.0}}]}},
 "triage": {{"cases": 3, "corrected_cases": 1, "corrected_share": 0.3333,
  "by_field": [{{"key": "deadline", "count": 1}}, {{"key": "topics", "count": 1}}]}}
}})json",
                                           migrant_voice));

  auto viewer = logged_in_as(stack, "viewer.reports@example.org", "viewer");
  {  // the JSON report: both periods, every figure
    auto r = viewer.get("/api/v1/reports?from=2025-04-01&to=2025-10-31");
    auto body = json_object_of(r);
    CHECK(r.header("content-type") == "application/json");
    check_same(body.at("period"), parsed(R"({"from": "2025-04-01", "to": "2025-10-31"})"));
    check_same(body.at("previous_period"), parsed(R"({"from": "2024-08-30", "to": "2025-03-31"})"));
    check_same(body.at("current"), current);
    check_same(body.at("previous"), previous);
    CHECK(body.size() == 4);

    // A period with nothing in it: zeros, nulls and empty lists, in the same shape.
    auto empty = json_object_of(viewer.get("/api/v1/reports?from=2010-01-01&to=2010-01-31")).at("current");
    CHECK(empty.at("requests").at("received") == 0);
    CHECK(empty.at("timings").at("median_minutes_to_first_offer").is_null());
    CHECK(empty.at("partners").at("offers") == 0);
    CHECK(empty.at("partners").at("accept_rate").is_null());
    CHECK(empty.at("partners").at("by_partner").as_array().empty());
    CHECK(empty.at("triage").at("corrected_share").is_null());
    CHECK(empty.at("coverage").at("by_month").as_array().empty());
    for (auto& [name, value] : current.as_object())
      for (auto& [field, v] : value.as_object()) CHECK(empty.at(name).as_object().contains(field));

    // The store directly: one day at a BST boundary (31 March holds the two last-second cases).
    auto day = store::read_report(db, 2025y / March / 31, 2025y / March / 31);
    CHECK(day.requests.received == 1);
    CHECK(day.cases.proactive == 1);
    CHECK(day.coverage.total == 1);
    CHECK(day.partners.offers == 0);  // 23:10Z on 31 March is already 1 April in London
  }

  {  // the CSV: header, four cells a row, quoting, both periods
    auto r = viewer.get("/api/v1/reports.csv?from=2025-04-01&to=2025-10-31");
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type") == "text/csv; charset=utf-8");
    CHECK(r.header("content-disposition") == "attachment; filename=\"mediadesk-report-2025-04-01-2025-10-31.csv\"");
    CHECK(r.body.rfind("section,key,current,previous\r\n", 0) == 0);
    auto rows = parse_csv(r.body);
    REQUIRE(rows.size() > 40);
    std::map<std::string, std::pair<std::string, std::string>> by;
    for (auto& row : rows) {
      REQUIRE(row.size() == 4);
      CHECK(by.emplace(row[0] + "|" + row[1], std::pair{row[2], row[3]}).second);
    }
    using p = std::pair<std::string, std::string>;
    CHECK(by["requests|received"] == p{"9", "3"});
    CHECK(by["requests|declined"] == p{"1", "0"});
    CHECK(by["cases|proactive"] == p{"2", "1"});
    CHECK(by["coverage|international"] == p{"1", "0"});
    CHECK(by["coverage_by_scope|local"] == p{"2", "1"});
    CHECK(by["coverage_by_outlet|Express & Star, \"Wolverhampton\""] == p{"1", "0"});
    CHECK(by["coverage_by_outlet|'=HYPERLINK(\"x\")"] == p{"1", "0"});
    CHECK(by["coverage_by_outlet|Metro"] == p{"0", "1"});
    CHECK(by["coverage_by_month|2024-08"] == p{"0", "1"});
    CHECK(by["voices|first_time"] == p{"2", "1"});
    CHECK(by["timings|median_minutes_to_first_offer"] == p{"37.5", "15"});
    CHECK(by["timings|median_minutes_to_fulfilment"] == p{"210", "180"});
    CHECK(by["partners|accept_rate"] == p{"0.5714", "0"});
    CHECK(by["partner_accept_rate|Migrant Voice, Birmingham"] == p{"0", "0"});
    CHECK(by["partner_accept_rate|Kent Refugee Action Network"] == p{"1", ""});
    CHECK(by["triage|corrected_share"] == p{"0.3333", "0.3333"});
    CHECK(by["triage_by_field|deadline"] == p{"0", "1"});
    // One row per figure: the fixed ones plus one per key of either period.
    CHECK(rows.size() == 1 + 6 + 2 + 5 + (3 + 5 + 5 + 4 + 6 + 3 + 6) + 2 + 2 + 6 + 3 + 3 + 4);
  }

  {  // refusals: no session, bad dates
    CHECK(stack.client().get("/api/v1/reports").status == 401);
    CHECK(stack.client().get("/api/v1/reports.csv").status == 401);
    auto field = [&](const std::string& query) {
      auto r = viewer.get("/api/v1/reports" + query);
      INFO(query << " " << r.status << " " << r.body);
      CHECK(r.status == 400);
      return json_string(r.body, "field");
    };
    CHECK(field("?from=2025-02-30&to=2025-03-01") == "from");
    CHECK(field("?from=2025-01-01&to=31-12-2025") == "to");
    CHECK(field("?from=2025-05-01&to=2025-04-30") == "to");
    CHECK(field("?from=2000-01-01&to=2025-01-01") == "to");
    CHECK(field(".csv?from=nope") == "from");
    // The defaults: 1 January of this year to today (London).
    auto d = json_object_of(viewer.get("/api/v1/reports"));
    CHECK(d.at("period").at("from").as_string().ends_with("-01-01"));
  }
}
