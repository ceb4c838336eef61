// Integration: coverage, proactive cases and aftercare with the real serve, worker, PostgreSQL and
// Redis. Coverage is checked field by field (each bad field named, nothing stored), sealed at
// rest, on the timeline and purged with the case; naming a spokesperson creates one aftercare
// task per case and spokesperson, due at the configured hour of a working day, overdue once past
// it, done once; a case staff open themselves is proactive, triaged, and its summary sealed.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/london_time.hpp"
#include "crypto/keyring.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
namespace json = boost::json;

namespace {

std::string field_of(const http_result& r) {
  INFO(r.status << " " << r.body);
  CHECK(r.status == 400);
  return json_string(r.body, "field");
}

std::int64_t created_id(const http_result& r, const std::string& kind) {
  INFO(r.status << " " << r.body);
  REQUIRE(r.status == 201);
  return json_object_of(r).at(kind).at("id").as_int64();
}

// A valid piece of coverage with one field replaced (or removed, given "-").
std::string coverage_body(std::int64_t spokesperson, const std::string& field = {}, const std::string& value = {}) {
  json::object o{{"outlet_name", "BBC Radio Kent"},
                 {"outlet_scope", "local"},
                 {"medium", "radio"},
                 {"appeared_on", "2026-11-20"},
                 {"link", "https://www.bbc.co.uk/sounds/play/p0000001"},
                 {"headline", "Amal Secret-Name on waiting two years for a decision"},
                 {"lived_experience_quoted", true},
                 {"spokesperson_id", spokesperson},
                 {"first_time", true},
                 {"tone", "positive"}};
  if (!field.empty()) {
    if (value == "-") o.erase(field);
    else o[field] = json::parse(value);
  }
  return json::serialize(o);
}

}  // namespace

TEST_CASE("coverage, aftercare and proactive cases", "[coverage]") {
  test_stack stack("coverage");
  stack.start("serve", {{"MEDIADESK_AFTERCARE_DUE_WORKING_DAYS", "2"}, {"MEDIADESK_AFTERCARE_DUE_HOUR", "10"}});
  stack.start("worker");
  auto admin = stack.admin();
  auto staff = logged_in_as(stack, "staff.coverage@example.org", "staff");
  auto viewer = logged_in_as(stack, "viewer.coverage@example.org", "viewer");
  auto db = stack.database();

  auto partner = created_id(staff.request("POST", "/api/v1/partners",
                                          R"({"key": "forum", "name": "North Refugee Forum",
                                              "contact_email": "contact@forum.example.org"})"),
                            "partner");
  auto amal = created_id(
      staff.request("POST", "/api/v1/spokespeople",
                    fmt::format(R"({{"partner_id": {}, "alias": "Speaker A", "full_name": "Amal Secret-Name"}})", partner)),
      "spokesperson");
  auto ref = request_to_case(stack, admin,
                             R"({"journalist":{"name":"Dana Journalist","email":"dana@paper.example"},
                                 "outlet":"BBC Radio Kent","subject":"Asylum decisions",
                                 "body":"Looking for someone waiting on an asylum decision."})")
                 .second;
  const auto coverage_path = "/api/v1/cases/" + ref + "/coverage";

  SECTION("each bad field is named and nothing is stored") {
    CHECK(field_of(staff.request("POST", coverage_path, coverage_body(amal, "outlet_name", "-"))) == "outlet_name");
    CHECK(field_of(staff.request("POST", coverage_path, coverage_body(amal, "outlet_name", R"("   ")"))) == "outlet_name");
    CHECK(field_of(staff.request("POST", coverage_path, coverage_body(amal, "outlet_scope", R"("regional")"))) ==
          "outlet_scope");
    CHECK(field_of(staff.request("POST", coverage_path, coverage_body(amal, "medium", R"("cinema")"))) == "medium");
    CHECK(field_of(staff.request("POST", coverage_path, coverage_body(amal, "appeared_on", R"("2026-02-30")"))) ==
          "appeared_on");
    CHECK(field_of(staff.request("POST", coverage_path, coverage_body(amal, "appeared_on", R"("2999-01-01")"))) ==
          "appeared_on");
    CHECK(field_of(staff.request("POST", coverage_path, coverage_body(amal, "link", R"j("javascript:alert(1)")j"))) ==
          "link");
    CHECK(field_of(staff.request("POST", coverage_path, coverage_body(amal, "headline", "42"))) == "headline");
    CHECK(field_of(staff.request("POST", coverage_path, coverage_body(amal, "lived_experience_quoted", "-"))) ==
          "lived_experience_quoted");
    CHECK(field_of(staff.request("POST", coverage_path, coverage_body(amal, "spokesperson_id", "null"))) ==
          "first_time");  // a first time needs someone whose first time it was
    CHECK(field_of(staff.request("POST", coverage_path, coverage_body(amal, "spokesperson_id", "999999"))) ==
          "spokesperson_id");
    CHECK(field_of(staff.request("POST", coverage_path, coverage_body(amal, "tone", R"("glowing")"))) == "tone");
    CHECK(field_of(staff.request("POST", coverage_path, coverage_body(amal, "tone'; DROP TABLE coverage; --", "1"))) ==
          "tone'; DROP TABLE coverage; --");
    CHECK(staff.request("POST", coverage_path, "[1]").status == 400);
    CHECK(staff.request("POST", "/api/v1/cases/MD-2026-999999/coverage", coverage_body(amal)).status == 404);
    CHECK(viewer.request("POST", coverage_path, coverage_body(amal)).status == 403);
    CHECK(stack.client().request("POST", coverage_path, coverage_body(amal)).status == 401);
    CHECK(count_rows(db, "SELECT count(*) FROM coverage") == 0);
    CHECK(count_rows(db, "SELECT count(*) FROM aftercare_tasks") == 0);
  }

  SECTION("logged, sealed, on the timeline, and one aftercare task per spokesperson") {
    auto added = json_object_of(staff.request("POST", coverage_path, coverage_body(amal)));
    auto piece = added.at("coverage").as_object();
    CHECK(piece.at("outlet_name") == "BBC Radio Kent");
    CHECK(piece.at("outlet_scope") == "local");
    CHECK(piece.at("appeared_on") == "2026-11-20");
    CHECK(piece.at("spokesperson").at("alias") == "Speaker A");
    CHECK(piece.at("first_time") == true);
    CHECK(piece.at("headline") == "Amal Secret-Name on waiting two years for a decision");

    // Due two working days on, at 10:00 London (MEDIADESK_AFTERCARE_* above).
    auto task = added.at("aftercare").as_object();
    CHECK(task.at("reason") == "coverage");
    CHECK(task.at("case_ref").as_string() == ref);
    CHECK(task.at("overdue") == false);
    auto due = parse_iso8601(task.at("due_at").as_string()).value();
    auto created = parse_iso8601(task.at("created_at").as_string()).value();
    CHECK(due == london_working_days_later(created, 2, 10));
    CHECK(to_london(due).hour == 10);
    auto weekday = std::chrono::weekday{std::chrono::sys_days{to_london(due).date}};
    CHECK((weekday != std::chrono::Saturday && weekday != std::chrono::Sunday));

    // The headline and link are sealed at rest; the counted facts are plain.
    auto stored = db.exec("SELECT details_sealed FROM coverage").get_bytes(0, 0);
    CHECK(stored.find("Secret-Name") == std::string::npos);
    CHECK(stored.find("bbc.co.uk") == std::string::npos);

    // A second piece naming the same spokesperson is the same engagement: no second task.
    auto again = json_object_of(staff.request(
        "POST", coverage_path,
        coverage_body(amal, "first_time", "false")));
    CHECK(again.at("aftercare").is_null());
    auto national = json_object_of(staff.request(
        "POST", coverage_path,
        R"({"outlet_name": "The Guardian", "outlet_scope": "national", "medium": "online", "appeared_on": "2026-11-21",
            "lived_experience_quoted": false, "tone": "balanced"})"));
    CHECK(national.at("coverage").at("spokesperson").is_null());
    CHECK(national.at("coverage").at("link").is_null());

    auto listed = json_object_of(viewer.get(coverage_path)).at("coverage").as_array();
    REQUIRE(listed.size() == 3);
    CHECK(listed[0].at("link") == "https://www.bbc.co.uk/sounds/play/p0000001");
    CHECK(listed[2].at("outlet_name") == "The Guardian");
    CHECK(viewer.get("/api/v1/cases/MD-2026-999999/coverage").status == 404);
    CHECK(count_rows(db, "SELECT count(*) FROM case_events WHERE kind = 'coverage_logged'") == 3);
    CHECK(count_rows(db, "SELECT count(*) FROM case_events WHERE kind = 'aftercare_created'") == 1);

    // The aftercare list: staff only; overdue once its time has passed; done once.
    CHECK(viewer.get("/api/v1/aftercare").status == 403);
    CHECK(field_of(staff.get("/api/v1/aftercare?state=later")) == "state");
    auto open = json_object_of(staff.get("/api/v1/aftercare"));
    REQUIRE(open.at("tasks").as_array().size() == 1);
    CHECK(open.at("open") == 1);
    CHECK(open.at("overdue") == 0);
    db.exec("UPDATE aftercare_tasks SET due_at = now() - interval '1 hour'");
    auto late = json_object_of(staff.get("/api/v1/aftercare"));
    CHECK(late.at("overdue") == 1);
    CHECK(late.at("tasks").as_array()[0].at("overdue") == true);

    auto task_id = task.at("id").as_int64();
    auto done_path = fmt::format("/api/v1/aftercare/{}/done", task_id);
    CHECK(viewer.request("POST", done_path, "{}").status == 403);
    auto done = json_object_of(staff.request("POST", done_path, "{}"));
    CHECK(done.at("task").at("done_at").is_string());
    CHECK(done.at("task").at("overdue") == false);
    CHECK(staff.request("POST", done_path, "{}").status == 200);
    CHECK(count_rows(db, "SELECT count(*) FROM case_events WHERE kind = 'aftercare_done'") == 1);
    CHECK(staff.request("POST", "/api/v1/aftercare/999999/done", "{}").status == 404);
    CHECK(json_object_of(staff.get("/api/v1/aftercare")).at("open") == 0);
    CHECK(json_object_of(staff.get("/api/v1/aftercare?state=done")).at("tasks").as_array().size() == 1);

    // Key rotation re-seals the details like every other sealed column; they still open.
    auto rotated = run_command(fmt::format("{} keys rotate --wait-seconds 0 2>/dev/null", stack.cli_command()));
    INFO(rotated.out);
    REQUIRE(rotated.status == 0);
    CHECK(rotated.out.find("coverage.details: 3 re-sealed\n") != std::string::npos);
    CHECK(crypto::keyring::key_id_of(db.exec("SELECT details_sealed FROM coverage ORDER BY id LIMIT 1").get_bytes(0, 0)) ==
          2);
    CHECK(json_object_of(viewer.get(coverage_path)).at("coverage").as_array()[0].at("headline") ==
          "Amal Secret-Name on waiting two years for a decision");

    // Erasure purges a piece's details with the case's personal data; no more coverage then.
    REQUIRE(admin.request("POST", "/api/v1/journalists/erase", R"({"email": "dana@paper.example", "reason": "SAR 9"})")
                .status == 200);
    CHECK(count_rows(db, "SELECT count(*) FROM coverage WHERE details_sealed IS NOT NULL") == 0);
    auto after = json_object_of(viewer.get(coverage_path)).at("coverage").as_array();
    REQUIRE(after.size() == 3);
    CHECK(after[0].at("headline").is_null());
    CHECK(after[0].at("outlet_name") == "BBC Radio Kent");  // what the reports count stays
    CHECK(staff.request("POST", coverage_path, coverage_body(amal)).status == 410);
  }

  SECTION("a case staff open themselves is proactive, triaged and its summary sealed") {
    const std::string pitch = "Refugee Week: a baker from Aleppo who now trains apprentices in Leeds";
    auto body = json::serialize(json::object{{"summary", pitch},
                                             {"topics", json::array{"community"}},
                                             {"outlet", json::object{{"name", "Yorkshire Post"}, {"scope", "local"}}},
                                             {"medium", "print"},
                                             {"priority", "high"}});
    CHECK(field_of(staff.request("POST", "/api/v1/cases", R"({"topics": []})")) == "summary");
    CHECK(field_of(staff.request("POST", "/api/v1/cases", R"({"summary": "x", "topics": ["no_such_topic"]})")) ==
          "topics");
    CHECK(viewer.request("POST", "/api/v1/cases", body).status == 403);
    auto before = count_rows(db, "SELECT count(*) FROM cases");

    auto opened = json_object_of(staff.request("POST", "/api/v1/cases", body)).at("case").as_object();
    auto proactive_ref = std::string(opened.at("ref").as_string());
    CHECK(opened.at("source") == "staff");
    CHECK(opened.at("proactive") == true);
    CHECK(opened.at("status") == "triaged");
    CHECK(opened.at("priority") == "high");  // a level, as the dashboard's menu sends it
    CHECK(opened.at("topics").as_array()[0] == "community");
    CHECK(opened.at("outlet").at("name") == "Yorkshire Post");
    CHECK(count_rows(db, "SELECT count(*) FROM cases") == before + 1);
    CHECK(db.exec("SELECT request_sealed FROM cases WHERE ref = $1", {store::text(proactive_ref)})
              .get_bytes(0, 0)
              .find("Aleppo") == std::string::npos);
    CHECK(json_object_of(staff.get("/api/v1/cases/" + ref)).at("case").at("proactive") == false);

    // Re-triage leaves a pitch as staff set it; the reveal shows the summary.
    CHECK(staff.request("POST", "/api/v1/cases/" + proactive_ref + "/retriage", "{}").status == 200);
    CHECK(json_object_of(staff.get("/api/v1/cases/" + proactive_ref)).at("case").at("topics").as_array().size() == 1);
    auto revealed = json_object_of(
        staff.request("POST", "/api/v1/cases/" + proactive_ref + "/reveal", R"({"reason": "writing the pitch"})"));
    CHECK(revealed.at("request").at("summary").as_string() == pitch);
  }
}
