// Integration: the staff dashboard's API with the real serve, worker, PostgreSQL and Redis: the
// case list's filters, counts and urgency order; assignment; internal notes (sealed, purged with
// the case, exported, re-sealed by key rotation); who am I and the staff list; roles and CSRF.
// Must not depend on triage's judgement: each case's triage fields are set in SQL.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// One seeded case: its triage fields, status and age, set in SQL after the worker stored it.
struct seed {
  std::string name;
  int priority;                      // 1 urgent .. 4 low
  std::string deadline;              // an interval from now, or "" for none
  std::string status, topics, regions, medium;  // SQL literals: '{a,b}', 'radio' or NULL
  std::string received;              // an interval before now
};

std::string request_from(const std::string& email, const std::string& subject) {
  return fmt::format(R"({{"journalist":{{"name":"Dana Journalist","email":"{}"}},)"
                     R"("outlet":"BBC Radio Kent","subject":"{}","body":"Looking for someone to talk to."}})",
                     email, subject);
}

// The refs of a case list, in its order.
std::vector<std::string> refs_of(const json::object& page) {
  std::vector<std::string> out;
  for (auto& c : page.at("cases").as_array()) out.emplace_back(c.at("ref").as_string());
  return out;
}

// A client holding a session cookie but no CSRF token (logged in without log_in()).
http_client without_csrf(test_stack& stack, const std::string& email, const std::string& password) {
  auto c = stack.client();
  REQUIRE(c.request("POST", "/api/v1/login", fmt::format(R"({{"email":"{}","password":"{}"}})", email, password))
              .status == 200);
  return c;
}

std::string field_of(const http_result& r) {
  INFO(r.status << " " << r.body);
  CHECK(r.status == 400);
  return json_string(r.body, "field");
}

}  // namespace

TEST_CASE("dashboard API: case filters and counts, urgency, assignment, notes, session and users", "[dashboard]") {
  test_stack stack("dashboard_api");
  auto serve = stack.start("serve");
  stack.start("worker");
  auto admin = stack.admin();
  const std::string staff_email = "staff.dash@example.org", other_email = "aisha.dash@example.org";
  auto staff = logged_in_as(stack, staff_email, "staff");
  auto other = logged_in_as(stack, other_email, "staff");
  auto viewer = logged_in_as(stack, "viewer.dash@example.org", "viewer");
  logged_in_as(stack, "gone.dash@example.org", "staff");
  auto db = stack.database();
  db.exec("UPDATE users SET disabled_at = now() WHERE email_index = $1",
          {store::bytes(stack.keys().blind_index("user.email", "gone.dash@example.org"))});

  // Who am I: the session (and the log-in) name the user and their own email as the label.
  auto me = json_object_of(staff.get("/api/v1/session"));
  CHECK(me.at("role") == "staff");
  CHECK(me.at("label").as_string() == staff_email);
  CHECK(me.at("csrf").as_string() == staff.csrf());
  auto staff_id = me.at("user_id").as_int64();
  auto login = stack.client().request(
      "POST", "/api/v1/login", fmt::format(R"({{"email":"{}","password":"{}"}})", other_email, "a long test password"));
  auto other_login = json_object_of(login);
  CHECK(other_login.at("label").as_string() == other_email);
  CHECK(other_login.at("role") == "staff");
  auto other_id = other_login.at("user_id").as_int64();
  auto admin_id = json_object_of(admin.get("/api/v1/session")).at("user_id").as_int64();
  auto viewer_id = json_object_of(viewer.get("/api/v1/session")).at("user_id").as_int64();
  auto disabled_id = db.exec("SELECT id FROM users WHERE disabled_at IS NOT NULL").get_int(0, 0);

  // The staff list: every user not disabled, by label, for any role; nobody without a session.
  auto users = json_object_of(viewer.get("/api/v1/users")).at("users").as_array();
  std::vector<std::string> labels;
  for (auto& u : users) labels.emplace_back(u.at("label").as_string());
  CHECK(labels == std::vector<std::string>{"admin@example.org", other_email, staff_email, "viewer.dash@example.org"});
  CHECK(users[2].at("id") == staff_id);
  CHECK(users[2].at("role") == "staff");
  CHECK(users[3].at("role") == "viewer");
  CHECK(stack.client().get("/api/v1/users").status == 401);
  CHECK(stack.client().get("/api/v1/session").status == 401);

  // Seven cases through the real intake, then their triage fields and ages set in SQL.
  const std::vector<seed> seeds = {
      {"A", 1, "2 hours", "new", "'{asylum_process}'", "'{kent,south_east}'", "'radio'", "5 hours"},
      {"B", 1, "1 hour", "triaged", "'{channel_crossings}'", "'{dover,kent,south_east}'", "'tv'", "4 hours"},
      {"C", 1, "", "new", "'{asylum_process}'", "'{london}'", "'print'", "6 hours"},
      {"D", 2, "30 minutes", "offered", "'{housing}'", "'{london}'", "'radio'", "3 hours"},
      {"E", 3, "", "fulfilled", "'{asylum_process}'", "'{kent}'", "'online'", "1 day"},
      {"F", 3, "", "new", "'{detention}'", "'{scotland}'", "'podcast'", "2 days"},
      {"G", 4, "10 minutes", "withdrawn", "'{}'", "'{}'", "NULL", "1 hour"},
  };
  std::vector<std::string> intakes;
  for (auto& s : seeds) {
    auto r = stack.post_request(request_from(fmt::format("{}@paper.example", s.name), "Case " + s.name));
    REQUIRE(r.status == 202);
    intakes.push_back(json_string(r.body, "intake_id"));
  }
  std::map<std::string, std::string> ref;  // seed name -> case ref
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    auto intake = stack.wait_for_intake(admin, intakes[i]);
    REQUIRE(json_string(intake, "status") == "processed");
    ref[seeds[i].name] = json_string(intake, "case");
    auto& s = seeds[i];
    db.exec(fmt::format("UPDATE cases SET priority = {}, deadline = {}, status = '{}', topics = {}, regions = {}, "
                        "medium = {}, received_at = now() - interval '{}' WHERE ref = $1",
                        s.priority, s.deadline.empty() ? "NULL" : "now() + interval '" + s.deadline + "'", s.status,
                        s.topics, s.regions, s.medium, s.received),
            {store::text(ref[s.name])});
  }
  auto list = [&](http_client& c, const std::string& query) {
    auto r = c.get("/api/v1/cases" + query);
    INFO(query);
    return json_object_of(r);
  };
  auto names = [&](const json::object& page) {
    std::string out;
    for (auto& r : refs_of(page))
      for (auto& [name, known] : ref)
        if (known == r) out += name;
    return out;
  };
  auto counts = [](const json::object& page) {
    std::vector<std::int64_t> out;
    auto& c = page.at("counts").as_object();
    REQUIRE(c.size() == 8);
    for (auto key : {"new", "triaged", "offered", "accepted", "fulfilled", "no_match", "declined", "withdrawn"})
      out.push_back(c.at(key).as_int64());
    return out;
  };
  using counts_t = std::vector<std::int64_t>;

  // No filter: newest first, every status counted (all eight keys, zeros included).
  auto all = list(viewer, "");
  CHECK(names(all) == "GFEDCBA");
  CHECK(all.at("total") == 7);
  CHECK(counts(all) == counts_t{3, 1, 1, 0, 1, 0, 0, 1});
  CHECK(all.at("cases").as_array()[0].at("assignee").is_null());

  // Urgency: priority, then the soonest deadline (none last), then the oldest request (F is
  // older than E although stored later).
  CHECK(names(list(viewer, "?sort=urgency")) == "BACDFEG");
  CHECK(names(list(viewer, "?sort=urgency&open=1")) == "BACDF");
  CHECK(names(list(viewer, "?sort=urgency&limit=2")) == "BA");
  CHECK(names(list(viewer, "?sort=recent&limit=2")) == "GF");
  CHECK(names(list(viewer, "?limit=2&before=" + ref["F"])) == "ED");

  // open=1: the four open statuses; the counts still cover every status.
  auto open = list(viewer, "?open=1");
  CHECK(names(open) == "FDCBA");
  CHECK(open.at("total") == 5);
  CHECK(counts(open) == counts(all));
  CHECK(names(list(viewer, "?open=0")) == "GFEDCBA");

  // topic, region, medium: the counts follow the filter, not the status.
  auto asylum = list(viewer, "?topic=asylum_process");
  CHECK(names(asylum) == "ECA");
  CHECK(asylum.at("total") == 3);
  CHECK(counts(asylum) == counts_t{2, 0, 0, 0, 1, 0, 0, 0});
  auto kent_new = list(viewer, "?region=kent&status=new");
  CHECK(names(kent_new) == "A");
  CHECK(kent_new.at("total") == 1);
  CHECK(counts(kent_new) == counts_t{1, 1, 0, 0, 1, 0, 0, 0});
  CHECK(names(list(viewer, "?region=south_east&topic=channel_crossings")) == "B");
  auto radio = list(viewer, "?medium=radio&sort=urgency");
  CHECK(names(radio) == "AD");
  CHECK(counts(radio) == counts_t{1, 0, 1, 0, 0, 0, 0, 0});
  CHECK(list(viewer, "?topic=windrush").at("cases").as_array().empty());

  // Every bad parameter is a 400 naming it.
  CHECK(field_of(viewer.get("/api/v1/cases?open=1&status=new")) == "open");
  CHECK(field_of(viewer.get("/api/v1/cases?open=yes")) == "open");
  CHECK(field_of(viewer.get("/api/v1/cases?topic=Asylum")) == "topic");
  CHECK(field_of(viewer.get("/api/v1/cases?topic=a%27b")) == "topic");
  CHECK(field_of(viewer.get("/api/v1/cases?region=" + std::string(65, 'k'))) == "region");
  CHECK(field_of(viewer.get("/api/v1/cases?medium=fax")) == "medium");
  CHECK(field_of(viewer.get("/api/v1/cases?assignee=someone")) == "assignee");
  CHECK(field_of(viewer.get("/api/v1/cases?assignee=0")) == "assignee");
  CHECK(field_of(viewer.get("/api/v1/cases?sort=oldest")) == "sort");
  CHECK(field_of(viewer.get("/api/v1/cases?sort=urgency&before=" + ref["F"])) == "before");
  CHECK(field_of(viewer.get("/api/v1/cases?before=MD-1")) == "before");
  CHECK(field_of(viewer.get("/api/v1/cases?status=lost")) == "status");
  CHECK(field_of(viewer.get("/api/v1/cases?limit=0")) == "limit");
  CHECK(stack.client().get("/api/v1/cases?sort=urgency").status == 401);

  // ---- assignment ----
  auto assign_path = "/api/v1/cases/" + ref["A"] + "/assignee";
  auto assigned_events = [&](const std::string& r) {
    return count_rows(db, fmt::format("SELECT count(*) FROM case_events e JOIN cases c ON c.id = e.case_id "
                                      "WHERE c.ref = '{}' AND e.kind = 'assigned'",
                                      r));
  };
  auto to_staff = staff.request("PUT", assign_path, fmt::format(R"({{"user_id": {}}})", staff_id));
  auto assignee = json_object_of(to_staff).at("assignee");
  CHECK(to_staff.status == 200);
  CHECK(assignee.at("id") == staff_id);
  CHECK(assignee.at("label").as_string() == staff_email);
  CHECK(assigned_events(ref["A"]) == 1);
  // The same again: nothing changes, no event.
  CHECK(staff.request("PUT", assign_path, fmt::format(R"({{"user_id": {}}})", staff_id)).status == 200);
  CHECK(assigned_events(ref["A"]) == 1);
  REQUIRE(admin.request("PUT", "/api/v1/cases/" + ref["D"] + "/assignee", fmt::format(R"({{"user_id": {}}})", admin_id))
              .status == 200);
  REQUIRE(other.request("PUT", "/api/v1/cases/" + ref["E"] + "/assignee", fmt::format(R"({{"user_id": {}}})", other_id))
              .status == 200);
  auto detail = json_object_of(viewer.get("/api/v1/cases/" + ref["A"])).at("case").as_object();
  CHECK(detail.at("assignee").at("label").as_string() == staff_email);
  auto assigned_event = detail.at("timeline").as_array().back().as_object();
  CHECK(assigned_event.at("kind") == "assigned");
  CHECK(assigned_event.at("actor").as_string() == fmt::format("user:{}", staff_id));
  CHECK(assigned_event.at("data").at("from").is_null());
  CHECK(assigned_event.at("data").at("to") == staff_id);

  // The assignee filter: me, none, someone's id; the counts follow it.
  auto mine = list(staff, "?assignee=me");
  CHECK(names(mine) == "A");
  CHECK(mine.at("cases").as_array()[0].at("assignee").at("id") == staff_id);
  CHECK(counts(mine) == counts_t{1, 0, 0, 0, 0, 0, 0, 0});
  CHECK(names(list(admin, "?assignee=me")) == "D");
  CHECK(names(list(viewer, fmt::format("?assignee={}", other_id))) == "E");
  auto nobody = list(viewer, "?assignee=none&sort=urgency");
  CHECK(names(nobody) == "BCFG");
  CHECK(counts(nobody) == counts_t{2, 1, 0, 0, 0, 0, 0, 1});
  CHECK(names(list(viewer, "?assignee=none&open=1&topic=asylum_process")) == "C");
  CHECK(list(viewer, "?assignee=me").at("total") == 0);

  // Who may be assigned and who may assign.
  CHECK(field_of(staff.request("PUT", assign_path, fmt::format(R"({{"user_id": {}}})", viewer_id))) == "user_id");
  CHECK(field_of(staff.request("PUT", assign_path, fmt::format(R"({{"user_id": {}}})", disabled_id))) == "user_id");
  CHECK(field_of(staff.request("PUT", assign_path, R"({"user_id": 999999})")) == "user_id");
  CHECK(field_of(staff.request("PUT", assign_path, R"({"user_id": "me"})")) == "user_id");
  CHECK(field_of(staff.request("PUT", assign_path, R"({})")) == "user_id");
  CHECK(field_of(staff.request("PUT", assign_path, "[]")) == "$");
  CHECK(staff.request("PUT", "/api/v1/cases/MD-2026-999999/assignee", R"({"user_id": null})").status == 404);
  CHECK(viewer.request("PUT", assign_path, R"({"user_id": null})").status == 403);
  CHECK(stack.client().request("PUT", assign_path, R"({"user_id": null})").status == 401);
  auto no_token = without_csrf(stack, staff_email, "a long test password");
  CHECK(no_token.request("PUT", assign_path, R"({"user_id": null})").status == 403);
  CHECK(assigned_events(ref["A"]) == 1);
  // Unassigning: one more event, from the staff member to nobody.
  auto unassigned = staff.request("PUT", assign_path, R"({"user_id": null})");
  CHECK(json_object_of(unassigned).at("assignee").is_null());
  CHECK(assigned_events(ref["A"]) == 2);
  CHECK(db.exec(fmt::format("SELECT e.data::text FROM case_events e JOIN cases c ON c.id = e.case_id "
                            "WHERE c.ref = '{}' AND e.kind = 'assigned' ORDER BY e.id DESC LIMIT 1",
                            ref["A"]))
            .get(0, 0) == fmt::format(R"({{"to": null, "from": {}}})", staff_id));
  CHECK(staff.request("PUT", assign_path, R"({"user_id": null})").status == 200);
  CHECK(assigned_events(ref["A"]) == 2);

  // ---- internal notes ----
  auto notes_path = "/api/v1/cases/" + ref["A"] + "/notes";
  const std::string secret = "Spoke to Dana's editor: NOTE-MARKER-7731 wants someone from Folkestone";
  auto added = staff.request("POST", notes_path, json::serialize(json::object{{"text", "  " + secret + "\n"}}));
  REQUIRE(added.status == 201);
  auto note = json_object_of(added).at("note").as_object();
  CHECK(note.at("author").at("id") == staff_id);
  CHECK(note.at("author").at("label").as_string() == staff_email);
  CHECK(note.at("at").is_string());
  CHECK(!note.contains("text"));
  // 5000 characters of two bytes each is within the limit; 5001 is not; blank is not a note.
  const std::string long_note = [] {
    std::string s;
    for (int i = 0; i < 5000; ++i) s += "\xc3\xa9";
    return s;
  }();
  CHECK(other.request("POST", notes_path, json::serialize(json::object{{"text", long_note}})).status == 201);
  CHECK(field_of(staff.request("POST", notes_path, json::serialize(json::object{{"text", long_note + "e"}}))) == "text");
  CHECK(field_of(staff.request("POST", notes_path, R"({"text": " \n\t "})")) == "text");
  CHECK(field_of(staff.request("POST", notes_path, R"({"text": 12})")) == "text");
  CHECK(field_of(staff.request("POST", notes_path, R"({})")) == "text");
  CHECK(staff.request("POST", "/api/v1/cases/MD-2026-999999/notes", R"({"text": "x"})").status == 404);
  CHECK(staff.get("/api/v1/cases/MD-2026-999999/notes").status == 404);
  // Notes may hold personal details: not for viewers, not without a session or the CSRF token.
  CHECK(viewer.request("POST", notes_path, R"({"text": "x"})").status == 403);
  CHECK(viewer.get(notes_path).status == 403);
  CHECK(stack.client().get(notes_path).status == 401);
  CHECK(no_token.request("POST", notes_path, R"({"text": "x"})").status == 403);

  auto listed = json_object_of(admin.get(notes_path)).at("notes").as_array();
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].at("id") == note.at("id"));
  CHECK(listed[0].at("text").as_string() == secret);  // trimmed
  CHECK(listed[0].at("purged") == false);
  CHECK(listed[0].at("author").at("label").as_string() == staff_email);
  CHECK(listed[1].at("text").as_string() == long_note);
  CHECK(listed[1].at("author").at("id") == other_id);
  auto timeline = json_object_of(staff.get("/api/v1/cases/" + ref["A"])).at("case").at("timeline").as_array();
  CHECK(timeline.back().at("kind") == "note_added");
  CHECK(timeline.back().at("data").at("note_id") == listed[1].at("id"));
  CHECK(json::serialize(timeline).find("NOTE-MARKER") == std::string::npos);

  // Sealed at rest: neither the table nor a dump holds the text; each is bound to its own row.
  CHECK(count_rows(db, "SELECT count(*) FROM case_notes WHERE position('NOTE-MARKER'::bytea in text_sealed) > 0") == 0);
  auto note_id = note.at("id").as_int64();
  auto sealed = db.exec("SELECT text_sealed FROM case_notes WHERE id = $1", {store::number(note_id)}).get_bytes(0, 0);
  CHECK(stack.keys().open(sealed, fmt::format("case_notes.text:{}", note_id)) == secret);
  CHECK_FALSE(stack.keys().open(sealed, fmt::format("case_notes.text:{}", note_id + 1)).has_value());
  auto dump = run_command(fmt::format("/usr/lib/postgresql/15/bin/pg_dump '{}'", stack.database_url()));
  REQUIRE(dump.status == 0);
  REQUIRE(dump.out.find("case_notes") != std::string::npos);  // the dump is real
  CHECK(dump.out.find("NOTE-MARKER") == std::string::npos);
  CHECK(dump.out.find(staff_email) == std::string::npos);

  // Key rotation re-seals the notes like every other sealed column.
  auto rotated = run_command(fmt::format("{} keys rotate --wait-seconds 0 2>/dev/null", stack.cli_command()));
  INFO(rotated.out);
  REQUIRE(rotated.status == 0);
  CHECK(rotated.out.find("case_notes.text: 2 re-sealed\n") != std::string::npos);
  CHECK(crypto::keyring::key_id_of(
            db.exec("SELECT text_sealed FROM case_notes WHERE id = $1", {store::number(note_id)}).get_bytes(0, 0)) == 2);
  CHECK(json_object_of(staff.get(notes_path)).at("notes").as_array()[0].at("text").as_string() == secret);

  // A journalist's export carries the notes of their cases.
  const std::string journalist = json::serialize(json::object{{"email", "A@paper.example"}, {"reason", "SAR 7"}});
  auto exported = admin.request("POST", "/api/v1/journalists/export", journalist);
  auto exported_cases = json_object_of(exported).at("journalist").at("cases").as_array();
  REQUIRE(exported_cases.size() == 1);
  REQUIRE(exported_cases[0].at("notes").as_array().size() == 2);
  CHECK(exported_cases[0].at("notes").as_array()[0].at("text").as_string() == secret);
  CHECK(exported.body.find(staff_email) == std::string::npos);

  // Erasure purges the notes' text with the rest of the case's personal data; no new notes then.
  REQUIRE(admin.request("POST", "/api/v1/journalists/erase", journalist).status == 200);
  auto purged = json_object_of(staff.get(notes_path)).at("notes").as_array();
  REQUIRE(purged.size() == 2);
  for (auto& n : purged) {
    CHECK(n.at("text").is_null());
    CHECK(n.at("purged") == true);
    CHECK(n.at("author").at("id").is_int64());
  }
  CHECK(count_rows(db, "SELECT count(*) FROM case_notes WHERE text_sealed IS NOT NULL") == 0);
  CHECK(count_rows(db, "SELECT count(*) FROM case_events WHERE kind = 'personal_data_purged' AND data->>'notes' = '2'") ==
        1);
  CHECK(staff.request("POST", notes_path, R"({"text": "after the erasure"})").status == 410);

  // Nothing personal in the server's log: not the note, not a staff member's email.
  auto log = read_file(stack.log_file(serve));
  CHECK(log.find("NOTE-MARKER") == std::string::npos);
  CHECK(log.find(staff_email) == std::string::npos);
  CHECK(log.find(other_email) == std::string::npos);
}
