// Integration: matches and offers over HTTP with the real serve, worker, PostgreSQL, Redis and the
// maildir outbox. Staff see matches with reasons and send an offer; the partner's contact gets an
// email with a link; the link's page changes nothing on GET; accepting sends the journalist's
// contact details to the partner and tells the journalist; used, expired, altered and unknown
// links; consent checked at send time and at acceptance; withdrawal of consent withdraws the
// open offer and the partner is told; the waterfall offers the next candidate after a decline.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "crypto/primitives.hpp"
#include "store/user_store.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// The message bodies are quoted-printable: join soft line breaks so links and words read whole.
std::string unfolded(std::string text) {
  for (std::string::size_type at; (at = text.find("=\r\n")) != std::string::npos;) text.erase(at, 3);
  for (std::string::size_type at; (at = text.find("=3D")) != std::string::npos;) text.replace(at, 3, "=");
  return text;
}

// Every message in the maildir that mentions `needle`, unfolded.
std::vector<std::string> mails_with(const fs::path& maildir, const std::string& needle) {
  std::vector<std::string> out;
  if (!fs::exists(maildir / "new")) return out;
  for (auto& f : fs::directory_iterator(maildir / "new")) {
    auto text = unfolded(read_file(f.path()));
    if (text.find(needle) != std::string::npos) out.push_back(text);
  }
  return out;
}

// Waits for an offer email to `address` about case `ref` and returns the link's token.
std::string wait_for_token(const fs::path& maildir, const std::string& address, const std::string& ref,
                           std::set<std::string>& seen) {
  std::string token;
  REQUIRE(eventually(
      [&] {
        for (auto& m : mails_with(maildir, "/respond/")) {
          if (m.find(address) == std::string::npos || m.find(ref) == std::string::npos) continue;
          std::smatch found;
          if (std::regex_search(m, found, std::regex("/respond/([A-Za-z0-9_-]{43})")) && !seen.count(found[1])) {
            token = found[1];
            seen.insert(token);
            return true;
          }
        }
        return false;
      },
      20s));
  return token;
}

std::int64_t create(http_client& staff, const std::string& path, const std::string& body, const std::string& kind) {
  auto r = staff.request("POST", path, body);
  INFO(r.body);
  REQUIRE(r.status == 201);
  return json_object_of(r).at(kind).at("id").as_int64();
}

std::string form(const std::string& action, const std::string& reason = {}) {
  return "action=" + action + (reason.empty() ? "" : "&reason=" + reason);
}
const std::vector<std::string> form_type{"Content-Type: application/x-www-form-urlencoded"};

}  // namespace

TEST_CASE("offers: matches, a partner's answer by link, consent at send time and withdrawal, the waterfall",
          "[offers]") {
  test_stack stack("offers");
  auto maildir = stack.home() / "mailbox";
  std::map<std::string, std::string> env{{"MEDIADESK_MAIL_MAILDIR", maildir.string()},
                                         {"MEDIADESK_WORKER_ESCALATION_INTERVAL_MS", "300"}};
  stack.start("serve", env);
  stack.start("worker", env);
  auto admin = stack.admin();
  auto staff = logged_in_as(stack, "staff@example.org", "staff");
  auto viewer = logged_in_as(stack, "viewer@example.org", "viewer");

  // Two partners in Newcastle on the asylum process; two spokespeople of the first: one with a
  // live consent for radio, one whose consent has expired.
  auto forum = create(staff, "/api/v1/partners",
                      R"({"key": "forum", "name": "North Refugee Forum", "contact_name": "Parveen",
                          "contact_email": "contact@forum.example.org", "regions": ["newcastle"],
                          "topics": ["asylum_process"]})",
                      "partner");
  auto welcome = create(staff, "/api/v1/partners",
                        R"({"key": "welcome", "name": "Tyneside Welcome", "contact_email": "hello@welcome.example.org",
                            "regions": ["newcastle"], "topics": ["asylum_process"]})",
                        "partner");
  auto voices = create(staff, "/api/v1/partners",
                       R"({"key": "voices", "name": "Gateshead Voices", "contact_email": "hello@voices.example.org",
                           "regions": ["newcastle"], "topics": ["asylum_process"]})",
                       "partner");
  auto amal = create(staff, "/api/v1/spokespeople",
                     fmt::format(R"({{"partner_id": {}, "alias": "Speaker A", "full_name": "Amal Secret-Name",
                                     "regions": ["newcastle"], "topics": ["asylum_process"], "languages": ["en"]}})",
                                 forum),
                     "spokesperson");
  auto amal_consent = create(staff, fmt::format("/api/v1/spokespeople/{}/consents", amal),
                             R"({"media": ["radio", "tv"], "identification": "first_name", "topics": ["asylum_process"],
                                 "expires_at": "2099-01-01T00:00:00Z"})",
                             "consent");
  auto bilal = create(staff, "/api/v1/spokespeople",
                      fmt::format(R"({{"partner_id": {}, "alias": "Speaker B", "regions": ["newcastle"],
                                      "topics": ["asylum_process"]}})",
                                  forum),
                      "spokesperson");
  create(staff, fmt::format("/api/v1/spokespeople/{}/consents", bilal),
         R"({"media": ["radio"], "identification": "named", "granted_at": "2020-01-01T00:00:00Z",
             "expires_at": "2021-01-01T00:00:00Z"})",
         "consent");

  // A request, its triage fields set by staff so that the test does not depend on triage.
  auto posted = stack.post_request(
      R"({"journalist":{"name":"Dana Reporter","email":"dana@radio.example","phone":"+44 7700 900777"},)"
      R"("outlet":"BBC Radio Newcastle","subject":"Asylum support","body":"Looking for someone to talk about the asylum process."})");
  REQUIRE(posted.status == 202);
  auto intake = stack.wait_for_intake(admin, json_string(posted.body, "intake_id"));
  auto ref = json_string(intake, "case");
  REQUIRE(staff.request("PATCH", "/api/v1/cases/" + ref + "/triage",
                        R"({"topics":["asylum_process"],"regions":["newcastle"],"medium":"radio"})")
              .status == 200);

  // Matches: Speaker A with reasons, Speaker B excluded with why, partner-level matches too.
  CHECK(stack.client().get("/api/v1/cases/" + ref + "/matches").status == 401);
  auto matches = json_object_of(viewer.get("/api/v1/cases/" + ref + "/matches"));
  auto& list = matches.at("matches").as_array();
  REQUIRE_FALSE(list.empty());
  bool amal_listed = false;
  for (auto& m : list) {
    CHECK(m.at("score").as_double() >= 0);
    CHECK(m.at("score").as_double() <= 1);
    CHECK_FALSE(m.at("reasons").as_array().empty());
    if (m.at("spokesperson").is_object() && m.at("spokesperson").at("id").as_int64() == amal) {
      amal_listed = true;
      CHECK(m.at("partner").at("id").as_int64() == forum);
      CHECK(m.at("spokesperson").at("alias") == "Speaker A");
    }
    CHECK(!(m.at("spokesperson").is_object() && m.at("spokesperson").at("id").as_int64() == bilal));
  }
  CHECK(amal_listed);
  auto matches_text = json::serialize(matches);
  CHECK(matches_text.find("Amal") == std::string::npos);
  CHECK(matches_text.find("Speaker B") != std::string::npos);  // among the exclusions, with the reason

  // Sending: roles, bad fields, consent at send time.
  auto offers_path = "/api/v1/cases/" + ref + "/offers";
  CHECK(viewer.request("POST", offers_path, fmt::format(R"({{"partner_id": {}}})", forum)).status == 403);
  auto no_partner = staff.request("POST", offers_path, R"({"spokesperson_id": 1})");
  CHECK(no_partner.status == 400);
  CHECK(no_partner.body.find("partner_id") != std::string::npos);
  auto expired = staff.request("POST", offers_path, fmt::format(R"({{"partner_id": {}, "spokesperson_id": {}}})", forum, bilal));
  CHECK(expired.status == 409);
  CHECK(expired.body.find("consent") != std::string::npos);
  CHECK(staff.request("POST", offers_path, fmt::format(R"({{"partner_id": {}, "spokesperson_id": {}}})", welcome, amal))
            .status == 400);  // not that partner's spokesperson
  CHECK(staff.request("POST", "/api/v1/cases/MD-2026-999999/offers", fmt::format(R"({{"partner_id": {}}})", forum)).status ==
        404);

  auto sent = staff.request("POST", offers_path, fmt::format(R"({{"partner_id": {}, "spokesperson_id": {}}})", forum, amal));
  REQUIRE(sent.status == 201);
  auto offer = json_object_of(sent).at("offer").as_object();
  CHECK(offer.at("state") == "sent");
  CHECK(offer.at("expires_at").is_string());
  auto offer_id = offer.at("id").as_int64();
  auto detail = json_object_of(admin.get("/api/v1/cases/" + ref)).at("case").as_object();
  CHECK(detail.at("status") == "offered");
  REQUIRE(detail.at("offers").as_array().size() == 1);
  CHECK(detail.at("offers").as_array()[0].at("state") == "sent");
  CHECK(detail.at("offers").as_array()[0].at("spokesperson").at("alias") == "Speaker A");
  // The same person twice on one case: refused.
  CHECK(staff.request("POST", offers_path, fmt::format(R"({{"partner_id": {}, "spokesperson_id": {}}})", forum, amal))
            .status == 409);

  // The email and its link: the token is random, stored only as a hash.
  std::set<std::string> seen;
  auto token = wait_for_token(maildir, "contact@forum.example.org", ref, seen);
  {
    auto db = stack.database();
    CHECK(count_rows(db, "SELECT count(*) FROM offers WHERE token_hash = '\\x" + crypto::to_hex(token) + "'") == 0);
    CHECK(count_rows(db, fmt::format("SELECT count(*) FROM offers WHERE id = {} AND token_hash = '\\x{}'", offer_id,
                                     crypto::to_hex(crypto::token_hash(token)))) == 1);
  }
  auto mail = mails_with(maildir, token).at(0);
  CHECK(mail.find("BBC Radio Newcastle") != std::string::npos);
  CHECK(mail.find("dana@radio.example") == std::string::npos);  // no journalist's contact before acceptance
  CHECK(mail.find("900777") == std::string::npos);

  // GET shows, changes nothing (mail scanners follow links).
  auto client = stack.client();
  auto page = client.get("/respond/" + token);
  REQUIRE(page.status == 200);
  CHECK(page.body.find("BBC Radio Newcastle") != std::string::npos);
  CHECK(page.body.find("Speaker A") != std::string::npos);
  CHECK(page.body.find("dana@radio.example") == std::string::npos);
  CHECK(page.body.find("Dana") == std::string::npos);
  CHECK(page.header("content-security-policy").find("frame-ancestors 'none'") != std::string::npos);
  CHECK(client.get("/respond/" + token).status == 200);
  CHECK(json_object_of(admin.get("/api/v1/cases/" + ref)).at("case").at("offers").as_array()[0].at("state") == "sent");

  // Altered and unknown links: 404.
  auto altered = token;
  altered[10] = altered[10] == 'A' ? 'B' : 'A';
  CHECK(client.get("/respond/" + altered).status == 404);
  CHECK(client.request("POST", "/respond/" + altered, form("accept"), form_type).status == 404);
  CHECK(client.get("/respond/short").status == 404);
  CHECK(client.request("POST", "/respond/" + token, "action=maybe", form_type).status == 400);

  // Accept: the partner gets the journalist's details, the journalist is told, the case moves.
  auto accepted = client.request("POST", "/respond/" + token, form("accept"), form_type);
  REQUIRE(accepted.status == 200);
  CHECK(accepted.body.find("accepted") != std::string::npos);
  detail = json_object_of(admin.get("/api/v1/cases/" + ref)).at("case").as_object();
  CHECK(detail.at("status") == "accepted");
  CHECK(detail.at("offers").as_array()[0].at("state") == "accepted");
  auto timeline = json::serialize(detail.at("timeline"));
  CHECK(timeline.find("offer_sent") != std::string::npos);
  CHECK(timeline.find("offer_accepted") != std::string::npos);
  CHECK(timeline.find("contact_released") != std::string::npos);
  // The spokesperson takes part: their aftercare check-in is due (issue 8).
  CHECK(timeline.find("aftercare_created") != std::string::npos);
  auto aftercare = json_object_of(staff.get("/api/v1/aftercare")).at("tasks").as_array();
  REQUIRE(aftercare.size() == 1);
  CHECK(aftercare[0].at("reason") == "offer_accepted");
  CHECK(aftercare[0].at("spokesperson").at("alias") == "Speaker A");
  CHECK(aftercare[0].at("case_ref").as_string() == ref);
  REQUIRE(eventually([&] { return !mails_with(maildir, "Contact details for media request " + ref).empty(); }, 20s));
  auto details = mails_with(maildir, "Contact details for media request " + ref).at(0);
  CHECK(details.find("contact@forum.example.org") != std::string::npos);
  CHECK(details.find("dana@radio.example") != std::string::npos);
  CHECK(details.find("+44 7700 900777") != std::string::npos);
  REQUIRE(eventually([&] { return !mails_with(maildir, "Good news about your request").empty(); }, 20s));
  CHECK(mails_with(maildir, "Good news about your request").at(0).find("dana@radio.example") != std::string::npos);

  // The case moves on by staff: fulfilled; a move the lifecycle does not allow is refused.
  auto status_path = "/api/v1/cases/" + ref + "/status";
  CHECK(viewer.request("POST", status_path, R"({"status":"fulfilled"})").status == 403);
  CHECK(staff.request("POST", status_path, R"({"status":"done"})").status == 400);
  CHECK(staff.request("POST", status_path, R"({"status":"new"})").status == 409);
  auto fulfilled = staff.request("POST", status_path, R"({"status":"fulfilled"})");
  REQUIRE(fulfilled.status == 200);
  CHECK(json_object_of(fulfilled).at("from") == "accepted");
  CHECK(admin.get("/api/v1/cases/" + ref).body.find("status_changed") != std::string::npos);

  // A used link: 410, on GET and POST alike.
  CHECK(client.request("POST", "/respond/" + token, form("decline"), form_type).status == 410);
  auto used = client.get("/respond/" + token);
  CHECK(used.status == 410);
  CHECK(used.body.find("already") != std::string::npos);

  // A second case: an offer whose link expires; the worker marks it expired.
  auto second_posted = stack.post_request(
      R"({"journalist":{"name":"Eli Writer","email":"eli@paper.example"},"outlet":"The Journal",)"
      R"("subject":"Asylum housing","body":"Housing for people seeking asylum in Newcastle."})");
  auto second = json_string(stack.wait_for_intake(admin, json_string(second_posted.body, "intake_id")), "case");
  REQUIRE(staff.request("PATCH", "/api/v1/cases/" + second + "/triage",
                        R"({"topics":["asylum_process"],"regions":["newcastle"],"medium":"radio"})")
              .status == 200);
  auto second_offers = "/api/v1/cases/" + second + "/offers";
  auto partner_level = staff.request("POST", second_offers, fmt::format(R"({{"partner_id": {}, "expires_in_minutes": 5}})", welcome));
  REQUIRE(partner_level.status == 201);
  auto partner_offer = json_object_of(partner_level).at("offer").at("id").as_int64();
  auto welcome_token = wait_for_token(maildir, "hello@welcome.example.org", second, seen);
  {
    auto db = stack.database();
    db.exec("UPDATE offers SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 minute' WHERE id = $1",
            {store::number(partner_offer)});
  }
  auto expired_page = client.get("/respond/" + welcome_token);
  CHECK(expired_page.status == 410);
  CHECK(expired_page.body.find("expired") != std::string::npos);
  CHECK(client.request("POST", "/respond/" + welcome_token, form("accept"), form_type).status == 410);
  REQUIRE(eventually(
      [&] {
        auto offers = json_object_of(admin.get("/api/v1/cases/" + second)).at("case").at("offers").as_array();
        return offers.size() == 1 && offers[0].at("state") == "expired";
      },
      20s));
  CHECK(json_object_of(admin.get("/api/v1/cases/" + second)).at("case").at("status") == "triaged");

  // Consent withdrawn while an offer is open: the offer is withdrawn at once, the partner told.
  auto to_amal = staff.request("POST", second_offers, fmt::format(R"({{"partner_id": {}, "spokesperson_id": {}}})", forum, amal));
  REQUIRE(to_amal.status == 201);
  auto amal_token = wait_for_token(maildir, "contact@forum.example.org", second, seen);
  REQUIRE(staff.request("POST", fmt::format("/api/v1/spokespeople/{}/consents/{}/withdraw", amal, amal_consent)).status == 200);
  auto offers_now = json_object_of(admin.get("/api/v1/cases/" + second)).at("case").at("offers").as_array();
  CHECK(offers_now.back().at("state") == "withdrawn");
  CHECK(client.get("/respond/" + amal_token).status == 410);
  REQUIRE(eventually([&] { return !mails_with(maildir, "Offer withdrawn: media request " + second).empty(); }, 20s));
  CHECK(mails_with(maildir, "Offer withdrawn: media request " + second).at(0).find("consent withdrawn") != std::string::npos);
  auto after_withdrawal = json_object_of(viewer.get("/api/v1/cases/" + second + "/matches"));
  for (auto& m : after_withdrawal.at("matches").as_array())
    CHECK(!(m.at("spokesperson").is_object() && m.at("spokesperson").at("id").as_int64() == amal));

  // The waterfall: with it on, a decline brings the next candidate an offer automatically.
  CHECK(viewer.request("PUT", "/api/v1/cases/" + second + "/waterfall", R"({"on": true})").status == 403);
  REQUIRE(staff.request("PUT", "/api/v1/cases/" + second + "/waterfall", R"({"on": true})").status == 200);
  auto forum_offer = staff.request("POST", second_offers, fmt::format(R"({{"partner_id": {}}})", forum));
  REQUIRE(forum_offer.status == 201);
  auto forum_token = wait_for_token(maildir, "contact@forum.example.org", second, seen);
  auto declined = client.request("POST", "/respond/" + forum_token, form("decline", "no+one+free+this+week"), form_type);
  REQUIRE(declined.status == 200);
  auto final_offers = json_object_of(admin.get("/api/v1/cases/" + second)).at("case").as_object();
  auto& all = final_offers.at("offers").as_array();
  REQUIRE(all.size() == 4);
  CHECK(all[2].at("state") == "declined");
  CHECK(all[2].at("decline_reason_given") == true);
  CHECK(all[3].at("state") == "sent");
  CHECK(all[3].at("created_by") == "system:waterfall");
  CHECK(all[3].at("partner").at("id").as_int64() == voices);  // the one partner not offered yet
  CHECK(json::serialize(final_offers.at("timeline")).find("no one free") == std::string::npos);  // sealed
  {
    auto db = stack.database();
    CHECK(count_rows(db, "SELECT count(*) FROM offers WHERE decline_reason_sealed IS NOT NULL") == 1);
  }

  // Closing the case withdraws its open offer; the partner is told.
  REQUIRE(staff.request("POST", "/api/v1/cases/" + second + "/status", R"({"status":"no_match"})").status == 200);
  CHECK(json_object_of(admin.get("/api/v1/cases/" + second)).at("case").at("offers").as_array()[3].at("state") == "withdrawn");
  REQUIRE(eventually([&] { return !mails_with(maildir, "the case was closed").empty(); }, 20s));
  CHECK(mails_with(maildir, "the case was closed").at(0).find("hello@voices.example.org") != std::string::npos);
}

TEST_CASE("offers: contact details after staff approval, staff withdrawal, erasure withdraws open offers", "[offers]") {
  test_stack stack("offers_release");
  auto maildir = stack.home() / "mailbox";
  std::map<std::string, std::string> env{{"MEDIADESK_MAIL_MAILDIR", maildir.string()},
                                         {"MEDIADESK_WORKER_ESCALATION_INTERVAL_MS", "300"},
                                         {"MEDIADESK_OFFERS_RELEASE_CONTACT", "after_approval"}};
  stack.start("serve", env);
  stack.start("worker", env);
  auto admin = stack.admin();
  auto staff = logged_in_as(stack, "staff@example.org", "staff");
  auto forum = create(staff, "/api/v1/partners",
                      R"({"key": "forum", "name": "North Refugee Forum", "contact_email": "contact@forum.example.org",
                          "regions": ["newcastle"], "topics": ["asylum_process"]})",
                      "partner");
  auto new_case = [&](const std::string& email) {
    auto ref = request_to_case(stack, admin,
                               R"({"journalist":{"name":"Jo Press","email":")" + email +
                                   R"("},"outlet":"The Journal","subject":"Asylum","body":"Asylum in Newcastle."})")
                   .second;
    REQUIRE(staff.request("PATCH", "/api/v1/cases/" + ref + "/triage",
                          R"({"topics":["asylum_process"],"regions":["newcastle"],"medium":"print"})")
                .status == 200);
    return ref;
  };
  std::set<std::string> seen;
  auto client = stack.client();

  // Accepted, but the details wait for staff: nothing goes to the partner until release.
  auto ref = new_case("jo@journal.example");
  auto sent = staff.request("POST", "/api/v1/cases/" + ref + "/offers", fmt::format(R"({{"partner_id": {}}})", forum));
  REQUIRE(sent.status == 201);
  auto offer_id = json_object_of(sent).at("offer").at("id").as_int64();
  auto token = wait_for_token(maildir, "contact@forum.example.org", ref, seen);
  REQUIRE(client.request("POST", "/respond/" + token, form("accept"), form_type).status == 200);
  auto timeline = json::serialize(json_object_of(admin.get("/api/v1/cases/" + ref)).at("case").at("timeline"));
  CHECK(timeline.find("contact_release_pending") != std::string::npos);
  CHECK(timeline.find("contact_released") == std::string::npos);
  std::this_thread::sleep_for(1s);
  CHECK(mails_with(maildir, "Contact details for media request " + ref).empty());
  auto release_path = fmt::format("/api/v1/cases/{}/offers/{}/release", ref, offer_id);
  CHECK(logged_in_as(stack, "viewer@example.org", "viewer").request("POST", release_path).status == 403);
  REQUIRE(staff.request("POST", release_path).status == 200);
  CHECK(staff.request("POST", release_path).status == 409);  // once only
  REQUIRE(eventually([&] { return !mails_with(maildir, "Contact details for media request " + ref).empty(); }, 20s));
  CHECK(mails_with(maildir, "Contact details for media request " + ref).at(0).find("jo@journal.example") !=
        std::string::npos);

  // Staff withdraw an open offer: the link stops working and the partner is told.
  auto second = new_case("kim@journal.example");
  auto second_sent = staff.request("POST", "/api/v1/cases/" + second + "/offers", fmt::format(R"({{"partner_id": {}}})", forum));
  REQUIRE(second_sent.status == 201);
  auto second_id = json_object_of(second_sent).at("offer").at("id").as_int64();
  auto second_token = wait_for_token(maildir, "contact@forum.example.org", second, seen);
  auto withdraw_path = fmt::format("/api/v1/cases/{}/offers/{}/withdraw", second, second_id);
  CHECK(staff.request("POST", fmt::format("/api/v1/cases/{}/offers/{}/withdraw", ref, second_id)).status == 409);  // another case's
  REQUIRE(staff.request("POST", withdraw_path).status == 200);
  CHECK(staff.request("POST", withdraw_path).status == 409);
  CHECK(client.get("/respond/" + second_token).status == 410);
  REQUIRE(eventually([&] { return !mails_with(maildir, "Offer withdrawn: media request " + second).empty(); }, 20s));

  // A journalist's erasure withdraws the open offers on their cases: nothing is left to pass on.
  auto third = new_case("lee@journal.example");
  REQUIRE(staff.request("POST", "/api/v1/cases/" + third + "/offers", fmt::format(R"({{"partner_id": {}}})", forum)).status ==
          201);
  auto third_token = wait_for_token(maildir, "contact@forum.example.org", third, seen);
  REQUIRE(admin.request("POST", "/api/v1/journalists/erase", R"({"email":"lee@journal.example","reason":"erasure request"})")
              .status == 200);
  CHECK(json_object_of(admin.get("/api/v1/cases/" + third)).at("case").at("offers").as_array()[0].at("state") ==
        "withdrawn");
  CHECK(client.request("POST", "/respond/" + third_token, form("accept"), form_type).status == 410);
}
