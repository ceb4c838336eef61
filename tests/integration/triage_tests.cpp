// Integration: triage in the running system — fields on new cases, staff corrections surviving
// re-triage, accuracy, duplicates joining the first case, deadline escalation, and the taxonomy
// reloaded on SIGHUP. Real PostgreSQL, Redis and the mediadesk binary.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <signal.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>

#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::string request_json(const std::string& email, const std::string& subject, const std::string& body,
                         const std::string& extra = "") {
  return fmt::format(R"({{"journalist":{{"name":"Sam Example","email":"{}"}},"subject":"{}","body":"{}"{}}})", email,
                     subject, body, extra);
}

// Posts a request and waits for its case; returns the case's ref.
std::string case_for(test_stack& stack, http_client& admin, const std::string& json_body) {
  auto r = stack.post_request(json_body);
  REQUIRE(r.status == 202);
  auto intake = stack.wait_for_intake(admin, json_string(r.body, "intake_id"));
  REQUIRE(json_string(intake, "status") == "processed");
  return json_string(intake, "case");
}

json::object get_case(http_client& admin, const std::string& ref) {
  auto r = admin.get("/api/v1/cases/" + ref);
  REQUIRE(r.status == 200);
  return json::parse(r.body).as_object().at("case").as_object();
}

std::vector<std::string> strings(const json::value& v) {
  std::vector<std::string> out;
  for (auto& s : v.as_array()) out.emplace_back(s.as_string());
  return out;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

int count_events(const json::object& c, std::string_view kind) {
  int n = 0;
  for (auto& e : c.at("timeline").as_array())
    if (e.at("kind").as_string() == kind) ++n;
  return n;
}

}  // namespace

TEST_CASE("a request is triaged on arrival; staff corrections are events and survive re-triage") {
  test_stack stack("triage_flow");
  stack.start("serve");
  stack.start("worker");
  auto admin = stack.admin();
  auto ref = case_for(stack, admin,
                      request_json("reporter@theguardian.com", "Small boats arriving in Dover",
                                   "Looking for someone who crossed the Channel in a small boat, voice only and "
                                   "anonymous, by 4pm tomorrow. Thanks"));
  auto c = get_case(admin, ref);
  CHECK(contains(strings(c.at("topics")), "channel_crossings"));
  CHECK(contains(strings(c.at("regions")), "dover"));
  CHECK(contains(strings(c.at("regions")), "south_east"));
  CHECK(c.at("outlet").at("name") == "The Guardian");
  CHECK(c.at("needs").at("appearance") == "voice_only");
  CHECK(c.at("needs").at("identification") == "anonymous");
  CHECK(c.at("deadline").is_string());
  CHECK(c.at("priority_score").as_int64() > 0);
  CHECK(c.at("target_at").is_string());
  CHECK(c.at("escalation") == "none");
  CHECK(c.at("triage_explain").as_array().size() >= 5);
  CHECK(json::serialize(c).find("Sam Example") == std::string::npos);

  // No CSRF token, an unknown field, a value not in the taxonomy: refused, nothing changed.
  auto plain = stack.client();
  CHECK(plain.request("PATCH", "/api/v1/cases/" + ref + "/triage", R"({"medium":"tv"})").status == 401);
  auto bad = admin.request("PATCH", "/api/v1/cases/" + ref + "/triage", R"({"topics":["housing"],"medium":"fax"})");
  CHECK(bad.status == 400);
  CHECK(json_string(bad.body, "field") == "medium");
  CHECK(admin.request("PATCH", "/api/v1/cases/" + ref + "/triage", R"({"regions":["atlantis"]})").status == 400);
  CHECK(admin.request("PATCH", "/api/v1/cases/MD-2026-999999/triage", R"({"medium":"tv"})").status == 404);
  CHECK(strings(get_case(admin, ref).at("topics")) == strings(c.at("topics")));

  auto fixed = admin.request("PATCH", "/api/v1/cases/" + ref + "/triage",
                             R"({"topics":["channel_crossings","housing"],"medium":"radio"})");
  REQUIRE(fixed.status == 200);
  auto after = get_case(admin, ref);
  CHECK(strings(after.at("topics")) == std::vector<std::string>{"channel_crossings", "housing"});
  CHECK(after.at("medium") == "radio");
  auto corrected = strings(after.at("corrected_fields"));
  CHECK(contains(corrected, "topics"));
  CHECK(contains(corrected, "medium"));
  CHECK(count_events(after, "triage_corrected") == 2);

  // Re-triage with the current taxonomy keeps what staff set.
  auto again = admin.request("POST", "/api/v1/cases/" + ref + "/retriage");
  REQUIRE(again.status == 200);
  auto retriaged = get_case(admin, ref);
  CHECK(strings(retriaged.at("topics")) == std::vector<std::string>{"channel_crossings", "housing"});
  CHECK(retriaged.at("medium") == "radio");
  CHECK(contains(strings(retriaged.at("regions")), "dover"));

  auto accuracy = admin.get("/api/v1/triage/accuracy");
  REQUIRE(accuracy.status == 200);
  auto a = json::parse(accuracy.body).as_object();
  CHECK(a.at("cases") == 1);
  CHECK(a.at("fields").at("topics").at("corrected") == 1);
  CHECK(a.at("fields").at("regions").at("corrected") == 0);
  CHECK(a.at("share_of_fields_corrected").as_double() == Approx(2.0 / 7.0));
}

TEST_CASE("the same journalist asking the same thing twice within 24 hours joins the first case") {
  test_stack stack("duplicates");
  stack.start("serve");
  stack.start("worker");
  auto admin = stack.admin();
  std::string ask = "Looking for a refugee doctor in Birmingham who retrained to work in the NHS, for a piece "
                    "on overseas doctors. Need to speak to them by Friday.";
  auto first = case_for(stack, admin, request_json("dana@itv.com", "Refugee doctor in Birmingham", ask));
  auto second = case_for(stack, admin,
                         request_json("Dana@ITV.com", "Re: Refugee doctor in Birmingham", "Sending again in case: " + ask));
  CHECK(second == first);
  auto c = get_case(admin, first);
  CHECK(count_events(c, "duplicate_joined") == 1);
  auto db = stack.database();
  CHECK(count_rows(db, "SELECT count(*) FROM cases") == 1);
  CHECK(count_rows(db, "SELECT count(*) FROM case_messages") == 1);

  // Another journalist with the same words, or the same journalist with another ask: new cases.
  auto other_person = case_for(stack, admin, request_json("lee@bbc.co.uk", "Refugee doctor in Birmingham", ask));
  CHECK(other_person != first);
  auto other_ask = case_for(stack, admin,
                            request_json("dana@itv.com", "Afghan families in hotels",
                                         "Do you have an Afghan family living in a hotel in Leeds who would talk "
                                         "about waiting for housing? Radio, this evening."));
  CHECK(other_ask != first);
  CHECK(count_rows(db, "SELECT count(*) FROM cases") == 3);
}

TEST_CASE("open cases without an offer escalate at half and four fifths of the time, then go overdue") {
  test_stack stack("escalation");
  stack.start("serve");
  stack.start("worker", {{"MEDIADESK_WORKER_ESCALATION_INTERVAL_MS", "200"}});
  auto admin = stack.admin();
  // A deadline 10 s away: the target is 6 s away (60 %), half at 3 s, four fifths at 4.8 s.
  auto deadline = format_iso8601(now() + 10s);
  auto ref = case_for(stack, admin,
                      request_json("pat@news.example", "Detention", "Need a former detainee to talk about Brook House",
                                   fmt::format(R"(,"deadline":"{}")", deadline)));
  CHECK(eventually([&] { return get_case(admin, ref).at("escalation") == "overdue"; }, 20s));
  auto c = get_case(admin, ref);
  CHECK(c.at("overdue") == true);
  CHECK(count_events(c, "overdue") == 1);
  CHECK(count_events(c, "escalated") <= 2);
  std::vector<std::string> levels;
  for (auto& e : c.at("timeline").as_array())
    if (e.at("kind") == "escalated") levels.emplace_back(e.at("data").at("level").as_string());
  CHECK(std::adjacent_find(levels.begin(), levels.end()) == levels.end());  // each level once
  // A new deadline from staff restarts the clock.
  auto later = format_iso8601(now() + 24h);
  REQUIRE(admin.request("PATCH", "/api/v1/cases/" + ref + "/triage", fmt::format(R"({{"deadline":"{}"}})", later)).status ==
          200);
  CHECK(get_case(admin, ref).at("escalation") == "none");
}

TEST_CASE("the taxonomy is reloaded on SIGHUP; a broken file keeps the previous one") {
  test_stack stack("reload");
  auto folder = stack.home() / "taxonomy";
  std::filesystem::copy(std::string(MEDIADESK_SOURCE_DIR) + "/config/taxonomy", folder);
  stack.start("serve");
  int worker = stack.start("worker", {{"MEDIADESK_TAXONOMY_DIR", folder.string()}});
  REQUIRE(stack.wait_for_log(worker, "worker"));
  auto admin = stack.admin();

  std::string body = "Story about the zebrafish lab that employs refugees";
  auto before = case_for(stack, admin, request_json("a@news.example", "Zebrafish", body));
  CHECK_FALSE(contains(strings(get_case(admin, before).at("topics")), "community"));

  {
    std::ofstream topics(folder / "topics.toml", std::ios::app);
    topics << "\n[[topic]]\nid = \"zebrafish\"\nlabel = \"Zebrafish\"\nweight = 0.1\nstrong = [\"zebrafish\"]\n";
  }
  stack.kill(worker, SIGHUP);
  REQUIRE(stack.wait_for_log(worker, "taxonomy reloaded"));
  auto after = case_for(stack, admin, request_json("b@news.example", "Zebrafish", body));
  CHECK(strings(get_case(admin, after).at("topics")).front() == "zebrafish");

  {
    std::ofstream broken(folder / "regions.toml", std::ios::trunc);
    broken << "[[region]]\nid = \n";
  }
  stack.kill(worker, SIGHUP);
  REQUIRE(stack.wait_for_log(worker, "taxonomy not reloaded"));
  auto still = case_for(stack, admin, request_json("c@news.example", "Zebrafish", body));
  CHECK(strings(get_case(admin, still).at("topics")).front() == "zebrafish");
}

namespace {

// Runs `mediadesk <args>` as a real client would, stdin from the text; returns {exit status, stdout}.
std::pair<int, std::string> run_cli(const std::string& args, const std::string& stdin_text) {
  auto r = run_command(fmt::format("'{}' --config /dev/null {} 2>/dev/null", MEDIADESK_BINARY, args), stdin_text);
  return {r.status, r.out};
}

}  // namespace

TEST_CASE("mediadesk triage reads a message on stdin and prints the contract's JSON") {
  std::string message =
      "From: Jo Bloggs <jo.bloggs@theguardian.com>\r\n"
      "To: requests@desk.example\r\n"
      "Subject: =?UTF-8?Q?Small_boats_=E2=80=93_Dover?=\r\n"
      "Date: Tue, 14 Jul 2026 09:12:00 +0100\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "\r\n"
      "Hi, I'm writing about small boat arrivals in Dover. Is there someone who crossed who would\r\n"
      "talk to me? Happy for them to be anonymous. Need a name by 4pm for a 6pm live.\r\n"
      "\r\n"
      "On Mon, 13 Jul 2026 at 10:00, Desk <requests@desk.example> wrote:\r\n"
      "> Filming in Glasgow at 9am on Friday about detention\r\n";
  auto [status, out] = run_cli("triage", message);
  REQUIRE(status == 0);
  auto result = json::parse(out).as_object();
  std::vector<std::string> keys;
  for (auto& [key, _] : result) keys.emplace_back(key);
  CHECK(keys == std::vector<std::string>{"topics", "regions", "medium", "outlet", "deadline", "needs", "priority",
                                         "explain"});
  CHECK(strings(result.at("topics")).front() == "channel_crossings");
  CHECK(strings(result.at("regions")) == std::vector<std::string>{"dover", "kent", "south_east"});  // not Glasgow
  CHECK(result.at("outlet") == json::parse(R"({"name":"The Guardian","scope":"national"})"));
  CHECK(result.at("deadline") == "2026-07-14T15:00:00.000Z");  // 16:00 BST, from the Date header's day
  CHECK(result.at("needs").at("identification") == "anonymous");
  CHECK(result.at("needs").at("lived_experience") == true);
  auto priority = result.at("priority").as_int64();
  CHECK((priority >= 0 && priority <= 100));
  CHECK_FALSE(result.at("explain").as_array().empty());
  CHECK(out.find("Jo Bloggs") == std::string::npos);  // no personal data in the output

  // --now wins over the Date header; plain text works; a bad --now is a usage error.
  auto [plain_status, plain] = run_cli("triage --now 2026-01-14T10:00:00Z", "Need a refugee doctor in Leeds by noon tomorrow\n");
  REQUIRE(plain_status == 0);
  CHECK(json::parse(plain).at("deadline") == "2026-01-15T12:00:00.000Z");
  CHECK(run_cli("triage --now yesterday", "x").first == 64);
}
