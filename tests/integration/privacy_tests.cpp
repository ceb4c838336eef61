// Integration: personal data over time, against a real serve, worker, PostgreSQL and Redis.
// A journalist's subject access export and erasure by email; case reveals in the reveal audit;
// the worker's retention sweeps per data class, each recorded; consent expiry reminders to
// staff by email (maildir) and on the API.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <csignal>
#include <fstream>
#include <thread>
#include <sstream>

#include "crypto/primitives.hpp"
#include "store/user_store.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

std::string request_from(const std::string& name, const std::string& email, const std::string& text) {
  return fmt::format(R"({{"journalist":{{"name":"{}","email":"{}","phone":"+44 7700 900456"}},)"
                     R"("outlet":"The Guardian","subject":"Asylum hotels","body":"{}"}})",
                     name, email, text);
}

}  // namespace

TEST_CASE("a journalist's data: subject access export and erasure by email, case reveals audited", "[privacy]") {
  test_stack stack("privacy_journalist");
  stack.start("serve", {{"MEDIADESK_MAIL_MAILDIR", (stack.home() / "mailbox").string()}});
  stack.start("worker", {{"MEDIADESK_MAIL_MAILDIR", (stack.home() / "mailbox").string()}});
  auto admin = stack.admin();
  auto staff = logged_in_as(stack, "staff@example.org", "staff");

  const std::string email = "Noor.Haddad@paper.example";
  auto first = request_to_case(stack, admin, request_from("Noor Haddad", email, "Looking for someone in a hotel in Kent")).second;
  auto second = request_to_case(stack, admin,
                                request_from("Noor Haddad", email, "A different story: family reunion visas, for a podcast"))
                    .second;
  auto other = request_to_case(stack, admin, request_from("Ola Berg", "ola@radio.example", "Detention centres in Scotland")).second;
  REQUIRE(first != second);

  // A reveal goes into the reveal audit with its reason sealed; the timeline only points at it.
  const std::string reason = "calling Noor back about the Kent hotel";
  REQUIRE(staff.request("POST", "/api/v1/cases/" + first + "/reveal", json::serialize(json::object{{"reason", reason}}))
              .status == 200);
  auto detail = admin.get("/api/v1/cases/" + first);
  CHECK(detail.body.find("request_revealed") != std::string::npos);
  CHECK(detail.body.find("audit_id") != std::string::npos);
  CHECK(detail.body.find("calling Noor") == std::string::npos);
  auto audit = admin.get("/api/v1/audit/reveals");
  CHECK(audit.body.find("case:" + first) != std::string::npos);
  CHECK(audit.body.find(reason) != std::string::npos);
  {
    auto db = stack.database();
    CHECK(count_rows(db, "SELECT count(*) FROM case_events WHERE data::text LIKE '%Noor%'") == 0);
  }

  // A reply to the journalist: an outbound message on the case, opened again in the export.
  REQUIRE(staff.request("POST", "/api/v1/cases/" + first + "/replies", R"({"body":"We are looking, Noor."})").status ==
          201);

  // Only admins, with a reason and an email, may ask.
  const std::string body = json::serialize(json::object{{"email", "noor.haddad@PAPER.example "}, {"reason", "SAR 2026-14"}});
  CHECK(staff.request("POST", "/api/v1/journalists/export", body).status == 403);
  CHECK(stack.client().request("POST", "/api/v1/journalists/export", body).status == 401);
  auto no_email = admin.request("POST", "/api/v1/journalists/export", R"({"reason":"SAR"})");
  CHECK(no_email.status == 400);
  CHECK(no_email.body.find("email") != std::string::npos);
  CHECK(admin.request("POST", "/api/v1/journalists/export", R"({"email":"noor.haddad@paper.example"})").status == 400);

  // The export: both of Noor's cases (the address matched however it was written), nobody else's.
  auto exported = admin.request("POST", "/api/v1/journalists/export", body);
  REQUIRE(exported.status == 200);
  auto cases = json_object_of(exported).at("journalist").at("cases").as_array();
  REQUIRE(cases.size() == 2);
  CHECK(cases[0].at("ref").as_string() == first);
  CHECK(cases[1].at("ref").as_string() == second);
  CHECK(cases[0].at("request").at("journalist").at("email").as_string() == email);
  auto& messages = cases[0].at("messages").as_array();
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].at("direction") == "out");
  CHECK(std::string{messages[0].at("text").as_string()}.find("We are looking, Noor.") != std::string::npos);
  CHECK(exported.body.find("Ola Berg") == std::string::npos);
  CHECK(admin.get("/api/v1/audit/reveals").body.find("\"export\"") != std::string::npos);

  // Erasure: both cases lose every personal value; the cases stay, anonymous, for statistics.
  auto erased = admin.request("POST", "/api/v1/journalists/erase", body);
  REQUIRE(erased.status == 200);
  auto erased_refs = json_object_of(erased).at("erased").at("cases").as_array();
  CHECK(erased_refs.size() == 2);
  CHECK(json_object_of(erased).at("erased").at("messages") == 1);
  auto after = json_object_of(admin.get("/api/v1/cases/" + first)).at("case").as_object();
  CHECK(after.at("personal_data_purged_at").is_string());
  CHECK(after.at("outlet").at("name") == "The Guardian");  // triage fields stay
  CHECK(json::serialize(after.at("timeline")).find("personal_data_purged") != std::string::npos);
  auto gone = staff.request("POST", "/api/v1/cases/" + first + "/reveal", R"({"reason":"check"})");
  CHECK(gone.status == 410);
  CHECK(gone.body.find("erased") != std::string::npos);
  CHECK(staff.request("POST", "/api/v1/cases/" + second + "/replies", R"({"body":"Hello again"})").status == 410);
  CHECK(admin.request("POST", "/api/v1/cases/" + second + "/retriage").status == 200);  // nothing left to triage: kept
  auto exported_again = admin.request("POST", "/api/v1/journalists/export", body);
  CHECK(json_object_of(exported_again).at("journalist").at("cases").as_array().empty());
  auto erased_again = admin.request("POST", "/api/v1/journalists/erase", body);
  CHECK(json_object_of(erased_again).at("erased").at("cases").as_array().empty());

  // The audit pages exactly by entry id: the next page starts right after the entry given.
  auto all_reveals = json_object_of(admin.get("/api/v1/audit/reveals")).at("reveals").as_array();
  REQUIRE(all_reveals.size() >= 4);
  auto after_first = json_object_of(admin.get("/api/v1/audit/reveals?before_id=" +
                                         std::string{all_reveals[0].at("id").as_string()}))
                         .at("reveals")
                         .as_array();
  REQUIRE(after_first.size() == all_reveals.size() - 1);
  for (std::size_t i = 0; i < after_first.size(); ++i) CHECK(after_first[i].at("id") == all_reveals[i + 1].at("id"));
  CHECK(admin.get("/api/v1/audit/reveals?before_id=%3Bdrop").status == 400);

  // Other journalists are untouched.
  auto ola = staff.request("POST", "/api/v1/cases/" + other + "/reveal", R"({"reason":"follow up"})");
  CHECK(ola.status == 200);
  CHECK(ola.body.find("Ola Berg") != std::string::npos);

  auto db = stack.database();
  auto refs = fmt::format("('{}', '{}')", first, second);
  CHECK(count_rows(db, "SELECT count(*) FROM cases WHERE ref IN " + refs + " AND request_sealed IS NOT NULL") == 0);
  CHECK(count_rows(db, "SELECT count(*) FROM cases WHERE ref IN " + refs + " AND journalist_email_index IS NOT NULL") == 0);
  CHECK(count_rows(db, "SELECT count(*) FROM case_messages m JOIN cases c ON c.id = m.case_id WHERE c.ref IN " + refs +
                           " AND m.sealed IS NOT NULL") == 0);
  CHECK(count_rows(db, "SELECT count(*) FROM case_message_ids m JOIN cases c ON c.id = m.case_id WHERE c.ref IN " +
                           refs) == 0);
  CHECK(count_rows(db, "SELECT count(*) FROM cases WHERE ref = '" + other + "' AND request_sealed IS NOT NULL") == 1);
  CHECK(count_rows(db, "SELECT count(*) FROM registry_events WHERE kind = 'journalist_erased' AND subject LIKE "
                       "'journalist:%' AND data::text LIKE '%" + first + "%'") == 1);
  CHECK(count_rows(db, "SELECT count(*) FROM registry_events WHERE data::text ILIKE '%noor%'") == 0);
}

TEST_CASE("retention: the worker purges each data class after its period, records it, and reminds staff of expiring "
          "consents",
          "[privacy]") {
  test_stack stack("privacy_retention");
  auto maildir = stack.home() / "mailbox";
  std::map<std::string, std::string> env{{"MEDIADESK_MAIL_MAILDIR", maildir.string()},
                                         {"MEDIADESK_CONSENT_STAFF_ADDRESS", "consents@desk.example"},
                                         {"MEDIADESK_RETENTION_CLOSED_CASE_DAYS", "180"},
                                         {"MEDIADESK_RETENTION_JOURNALIST_CONTACT_DAYS", "730"},
                                         {"MEDIADESK_RETENTION_CONSENT_EVIDENCE_DAYS", "1095"},
                                         {"MEDIADESK_CONSENT_REMINDER_DAYS", "14"}};
  stack.start("serve", env);
  int worker = stack.start("worker", env);
  auto admin = stack.admin();

  auto closed_long_ago = request_to_case(stack, admin, request_from("Ama Owusu", "ama@one.example", "Hotels in Kent")).second;
  auto open_long_ago = request_to_case(stack, admin, request_from("Ben Lowe", "ben@two.example", "Visas for families")).second;
  auto closed_recently = request_to_case(stack, admin, request_from("Cy Dale", "cy@three.example", "Detention in Scotland")).second;

  // A spokesperson with three consents: one withdrawn four years ago, one ended last year (both
  // with evidence), and a live one that expires in five days.
  auto person = admin.request("POST", "/api/v1/spokespeople",
                              R"({"alias": "Speaker R", "full_name": "Rana Quiet-Name", "regions": ["newcastle"],
                                  "topics": ["asylum_process"], "languages": ["en"]})");
  REQUIRE(person.status == 201);
  auto person_id = json_object_of(person).at("spokesperson").at("id").as_int64();
  auto consents_path = fmt::format("/api/v1/spokespeople/{}/consents", person_id);
  std::vector<std::int64_t> consent_ids;
  for (int i = 0; i < 3; ++i) {
    auto c = admin.request("POST", consents_path,
                           R"({"media": ["radio"], "identification": "first_name",
                               "evidence": "signed form kept by the partner"})");
    REQUIRE(c.status == 201);
    consent_ids.push_back(json_object_of(c).at("consent").at("id").as_int64());
  }

  {
    // Time travel in the data (the worker reads the clock): what the periods are measured from.
    auto db = stack.database();
    db.exec("UPDATE cases SET status = 'fulfilled', updated_at = now() - interval '200 days' WHERE ref = $1",
            {store::text(closed_long_ago)});
    db.exec("UPDATE cases SET received_at = now() - interval '800 days' WHERE ref = $1", {store::text(open_long_ago)});
    db.exec("UPDATE cases SET status = 'fulfilled', updated_at = now() - interval '10 days' WHERE ref = $1",
            {store::text(closed_recently)});
    db.exec("UPDATE consents SET granted_at = now() - interval '6 years', withdrawn_at = now() - interval '4 years' "
            "WHERE id = $1",
            {store::number(consent_ids[0])});
    db.exec("UPDATE consents SET granted_at = now() - interval '3 years', expires_at = now() - interval '1 year' "
            "WHERE id = $1",
            {store::number(consent_ids[1])});
    db.exec("UPDATE consents SET expires_at = now() + interval '5 days' WHERE id = $1", {store::number(consent_ids[2])});
  }
  // The worker's next round (every second here) finds them.
  stack.kill(worker, SIGTERM);
  REQUIRE(stack.wait_exit(worker, 20s) == 0);
  env["MEDIADESK_WORKER_HOUSEKEEPING_INTERVAL_S"] = "1";
  worker = stack.start("worker", env);

  auto db = stack.database();
  auto purged = [&](const std::string& ref) {
    return count_rows(db, "SELECT count(*) FROM cases WHERE ref = '" + ref + "' AND personal_data_purged_at IS NOT NULL") == 1;
  };
  REQUIRE(eventually([&] { return purged(closed_long_ago) && purged(open_long_ago); }, 30s));
  CHECK_FALSE(purged(closed_recently));
  CHECK(admin.get("/api/v1/cases/" + closed_long_ago).body.find("retention_closed_case") != std::string::npos);
  CHECK(admin.get("/api/v1/cases/" + open_long_ago).body.find("retention_journalist_contact") != std::string::npos);

  auto evidence_held = [&](std::int64_t id) {
    return count_rows(db, fmt::format("SELECT count(*) FROM consents WHERE id = {} AND evidence_sealed IS NOT NULL", id)) == 1;
  };
  REQUIRE(eventually([&] { return !evidence_held(consent_ids[0]); }, 20s));
  CHECK(evidence_held(consent_ids[1]));
  CHECK(evidence_held(consent_ids[2]));

  // Each purge is recorded: per case on the timeline, per consent and per sweep in the history.
  CHECK(count_rows(db, "SELECT count(*) FROM registry_events WHERE subject = 'retention:closed_case' AND kind = 'purged' "
                       "AND data->>'count' = '1'") == 1);
  CHECK(count_rows(db, "SELECT count(*) FROM registry_events WHERE subject = 'retention:journalist_contact'") == 1);
  CHECK(count_rows(db, "SELECT count(*) FROM registry_events WHERE subject = 'retention:consent_evidence'") == 1);
  CHECK(count_rows(db, fmt::format("SELECT count(*) FROM registry_events WHERE subject = 'consent:{}' AND kind = "
                                   "'consent_evidence_purged'",
                                   consent_ids[0])) == 1);

  // The expiring consent: reminded once, by email to staff (alias, never the name) and on the API.
  REQUIRE(eventually(
      [&] {
        return count_rows(db, fmt::format("SELECT count(*) FROM consents WHERE id = {} AND reminded_at IS NOT NULL",
                                          consent_ids[2])) == 1;
      },
      20s));
  std::string reminder;
  REQUIRE(eventually(
      [&] {
        if (!fs::exists(maildir / "new")) return false;
        for (auto& f : fs::directory_iterator(maildir / "new")) {
          auto text = read_file(f.path());
          if (text.find("consents@desk.example") != std::string::npos) reminder = text;
        }
        return !reminder.empty();
      },
      20s));
  CHECK(reminder.find("Speaker R") != std::string::npos);
  CHECK(reminder.find(fmt::format("consent {}", consent_ids[2])) != std::string::npos);
  CHECK(reminder.find("Rana") == std::string::npos);
  auto expiring = json_object_of(admin.get("/api/v1/consents/expiring?within_days=30"));
  auto& listed = expiring.at("consents").as_array();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].at("consent_id") == consent_ids[2]);
  CHECK(listed[0].at("spokesperson").at("alias") == "Speaker R");
  CHECK(listed[0].at("reminded_at").is_string());
  CHECK(admin.get("/api/v1/consents/expiring?within_days=0").status == 400);
  CHECK(admin.get("/api/v1/consents/expiring?within_days=abc").status == 400);

  // Later rounds change nothing more: one reminder, one purge per case.
  std::this_thread::sleep_for(2500ms);
  CHECK(count_rows(db, "SELECT count(*) FROM registry_events WHERE kind = 'consent_expiry_reminder'") == 1);
  CHECK(count_rows(db, "SELECT count(*) FROM case_events WHERE kind = 'personal_data_purged'") == 2);
  CHECK(count_rows(db, "SELECT count(*) FROM registry_events WHERE subject LIKE 'retention:%'") == 3);
}
