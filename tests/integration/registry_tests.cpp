// Integration: the registry API against a real serve, PostgreSQL and Redis: partners,
// spokespeople and consents; personal fields only through a recorded reveal; roles; and the
// seeded personal values nowhere in plaintext (pg_dump, Redis's files, the logs).
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <sstream>

#include "crypto/primitives.hpp"
#include "store/user_store.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// Every file under dir, concatenated (Redis's RDB and AOF files, the logs).
std::string all_files(const fs::path& dir) {
  std::string out;
  for (auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) out += read_file(entry.path());
  return out;
}

const std::string partner_body = R"({"key": "north-refugee-forum", "name": "North Refugee Forum",
  "contact_name": "Parveen Qureshi-Lowe", "contact_email": "Parveen.QL@forum.example.org",
  "regions": ["north_east", "newcastle"], "topics": ["asylum_process", "housing"], "languages": ["ur"],
  "capacity": 3})";

}  // namespace

TEST_CASE("registry: partners, spokespeople and consents, personal data only by a recorded reveal", "[registry]") {
  test_stack stack("registry");
  stack.start("serve");
  auto admin = stack.admin();
  auto staff = logged_in_as(stack, "staff@example.org", "staff");
  auto viewer = logged_in_as(stack, "viewer@example.org", "viewer");

  // A partner: its contact is personal, shown only as set / not set.
  auto created = staff.request("POST", "/api/v1/partners", partner_body);
  REQUIRE(created.status == 201);
  auto partner = json_object_of(created).at("partner").as_object();
  auto partner_id = partner.at("id").as_int64();
  CHECK(partner.at("name") == "North Refugee Forum");
  CHECK(partner.at("contact").as_object().at("email_set") == true);
  CHECK(created.body.find("Parveen") == std::string::npos);
  CHECK(created.body.find("forum.example.org") == std::string::npos);
  CHECK(partner.at("regions").as_array().size() == 2);
  CHECK(staff.request("POST", "/api/v1/partners", partner_body).status == 409);  // the key is taken
  CHECK(viewer.request("POST", "/api/v1/partners", partner_body).status == 403);
  CHECK(stack.client().get("/api/v1/partners").status == 401);

  // Bad input: the field is named, nothing changes, and a personal value is never echoed.
  auto bad_email = staff.request("POST", "/api/v1/partners",
                                 R"({"key": "x1", "name": "X", "contact_email": "not-an-address-secret"})");
  CHECK(bad_email.status == 400);
  CHECK(json_object_of(bad_email).at("field") == "contact_email");
  CHECK(bad_email.body.find("not-an-address-secret") == std::string::npos);
  auto bad_region = staff.request("POST", "/api/v1/partners",
                                  R"({"key": "x2", "name": "X", "contact_email": "a@b.example", "regions": ["atlantis"]})");
  CHECK(bad_region.status == 400);
  CHECK(json_object_of(bad_region).at("field") == "regions");
  CHECK(json_object_of(bad_region).at("error").as_string().find("atlantis") != std::string::npos);
  CHECK(json_object_of(staff.get("/api/v1/partners")).at("partners").as_array().size() == 1);

  // A spokesperson of that partner, with a consent.
  auto person = staff.request("POST", "/api/v1/spokespeople", fmt::format(R"({{"partner_id": {}, "alias": "Speaker N1",
    "full_name": "Amal Haddad-Okonjo", "email": "amal.ho@mail.example.net", "phone": "+44 7700 900123",
    "story_notes": "Arrived 2019 via Calais; brother still in Idlib", "regions": ["newcastle"],
    "topics": ["asylum_process"], "languages": ["ar", "en"], "max_per_month": 2}})",
                                                                          partner_id));
  REQUIRE(person.status == 201);
  auto spokesperson = json_object_of(person).at("spokesperson").as_object();
  auto person_id = spokesperson.at("id").as_int64();
  CHECK(spokesperson.at("alias") == "Speaker N1");
  CHECK(spokesperson.at("personal").as_object().at("phone_set") == true);
  for (auto secret : {"Amal", "Haddad", "amal.ho", "900123", "Idlib"}) CHECK(person.body.find(secret) == std::string::npos);

  auto path = fmt::format("/api/v1/spokespeople/{}", person_id);
  auto consent = staff.request("POST", path + "/consents", R"({"media": ["radio", "print"], "identification": "first_name",
    "topics": ["asylum_process"], "expires_at": "2099-01-01T00:00:00Z", "evidence": "Signed form, witnessed by Jo"})");
  REQUIRE(consent.status == 201);
  auto consent_id = json_object_of(consent).at("consent").as_object().at("id").as_int64();
  CHECK(json_object_of(consent).at("consent").as_object().at("state") == "live");
  CHECK(staff.request("POST", path + "/consents", R"({"media": ["fax"], "identification": "named"})").status == 400);
  CHECK(staff.request("POST", path + "/consents", R"({"media": ["tv"]})").status == 400);

  auto shown = json_object_of(viewer.get(path)).at("spokesperson").as_object();
  CHECK(shown.at("consents").as_array().size() == 1);
  CHECK(viewer.get(path).body.find("Amal") == std::string::npos);

  // Reveal: staff with a reason; recorded; the viewer cannot.
  CHECK(staff.request("POST", path + "/reveal", "{}").status == 400);
  CHECK(viewer.request("POST", path + "/reveal", R"({"reason": "call about BBC request"})").status == 403);
  auto revealed = staff.request("POST", path + "/reveal", R"({"reason": "calling her about MD-2026-000001"})");
  REQUIRE(revealed.status == 200);
  auto personal = json_object_of(revealed).at("personal").as_object();
  CHECK(personal.at("full_name") == "Amal Haddad-Okonjo");
  CHECK(personal.at("phone") == "+447700900123");
  CHECK(personal.at("email") == "amal.ho@mail.example.net");
  auto contact = staff.request("POST", fmt::format("/api/v1/partners/{}/reveal", partner_id), R"({"reason": "offer"})");
  CHECK(json_object_of(contact).at("contact").as_object().at("email") == "parveen.ql@forum.example.org");
  CHECK(staff.get("/api/v1/audit/reveals").status == 403);
  auto audit = json_object_of(admin.get("/api/v1/audit/reveals")).at("reveals").as_array();
  REQUIRE(audit.size() == 2);
  CHECK(audit[1].as_object().at("subject").as_string() == fmt::format("spokesperson:{}", person_id));
  CHECK(audit[1].as_object().at("reason") == "calling her about MD-2026-000001");

  // PATCH changes only what it names; personal fields stay unless given.
  auto patched = staff.request("PATCH", path, R"({"alias": "Speaker N1b", "max_per_month": null})");
  REQUIRE(patched.status == 200);
  auto after = json_object_of(patched).at("spokesperson").as_object();
  CHECK(after.at("alias") == "Speaker N1b");
  CHECK(after.at("max_per_month").is_null());
  CHECK(after.at("personal").as_object().at("full_name_set") == true);
  CHECK(staff.request("PATCH", path, R"({"favourite_colour": "blue"})").status == 400);
  CHECK(staff.request("PATCH", "/api/v1/spokespeople/999999", R"({"alias": "x"})").status == 404);

  // Withdrawal at once.
  auto withdrawn = staff.request("POST", fmt::format("{}/consents/{}/withdraw", path, consent_id));
  REQUIRE(withdrawn.status == 200);
  CHECK(json_object_of(withdrawn).at("consent").as_object().at("state") == "withdrawn");
  CHECK(staff.request("POST", fmt::format("/api/v1/spokespeople/{}/consents/{}/withdraw", person_id + 1, consent_id))
            .status == 404);

  // A subject access export (admin, recorded), then erasure (admin): the data key is gone.
  CHECK(staff.request("POST", path + "/export", R"({"reason": "SAR received 27 Nov"})").status == 403);
  auto exported = admin.request("POST", path + "/export", R"({"reason": "SAR received 27 Nov"})");
  REQUIRE(exported.status == 200);
  auto everything = json_object_of(exported);
  CHECK(everything.at("spokesperson").as_object().at("full_name") == "Amal Haddad-Okonjo");
  CHECK(everything.at("consents").as_array().at(0).as_object().at("evidence") == "Signed form, witnessed by Jo");
  CHECK(everything.at("history").as_array().size() >= 3);  // created, updated, consent recorded, withdrawn
  CHECK(everything.at("reveals").as_array().size() == 2);   // the reveal above and this export
  CHECK(staff.request("DELETE", path).status == 403);
  // A second live consent, to see erasure withdraw it.
  REQUIRE(staff.request("POST", path + "/consents", R"({"media": ["tv"], "identification": "anonymous"})").status == 201);
  auto erased = admin.request("DELETE", path);
  REQUIRE(erased.status == 200);
  auto gone = json_object_of(erased).at("spokesperson").as_object();
  CHECK_FALSE(gone.at("erased_at").is_null());
  CHECK(gone.at("alias").as_string().starts_with("erased"));
  CHECK(gone.at("personal").as_object().at("full_name_set") == false);
  CHECK(admin.request("DELETE", path).status == 200);  // twice: nothing more to do
  auto after_erasure = json_object_of(staff.request("POST", path + "/reveal", R"({"reason": "check"})")).at("personal");
  CHECK(after_erasure.as_object().at("full_name").is_null());
  auto erased_record = json_object_of(staff.get(path));
  for (auto& c : erased_record.at("spokesperson").as_object().at("consents").as_array())
    CHECK(c.as_object().at("state") == "withdrawn");
  {
    auto db = stack.database();
    CHECK(count_rows(db, fmt::format("SELECT count(*) FROM person_keys WHERE wrapped IS NULL AND erased_at IS NOT NULL "
                                     "AND id = (SELECT person_key_id FROM spokespeople WHERE id = {})",
                                     person_id)) == 1);
    CHECK(count_rows(db, "SELECT count(*) FROM spokespeople WHERE full_name_sealed IS NOT NULL AND erased_at IS NOT NULL") == 0);
  }

  // Archiving a partner is for admins.
  CHECK(staff.request("DELETE", fmt::format("/api/v1/partners/{}", partner_id)).status == 403);
  CHECK(admin.request("DELETE", fmt::format("/api/v1/partners/{}", partner_id)).status == 200);
  CHECK(json_object_of(staff.get("/api/v1/partners")).at("partners").as_array().empty());
  CHECK(json_object_of(staff.get("/api/v1/partners?archived=true")).at("partners").as_array().size() == 1);

  // None of the seeded personal values in plaintext anywhere at rest.
  auto dump = run_command(fmt::format("/usr/lib/postgresql/15/bin/pg_dump '{}'", stack.database_url()));
  REQUIRE(dump.status == 0);
  REQUIRE(dump.out.find("North Refugee Forum") != std::string::npos);  // the dump is real
  stack.redis().command({"SAVE"});
  auto at_rest = dump.out + all_files(stack.home());
  for (auto secret : {"Parveen", "Qureshi", "forum.example.org", "Amal", "Haddad", "amal.ho", "7700900123",
                      "7700 900123", "Idlib", "witnessed by Jo", "calling her about"})
    CHECK(at_rest.find(secret) == std::string::npos);
}

TEST_CASE("mediadesk import: the CSV contract, all or nothing, re-import updates by key", "[registry]") {
  test_stack stack("registry_import");
  auto cli = stack.cli_command();
  // Its stdout, or with errors_only its stderr (where the problems go).
  auto import = [&](const std::string& kind, const fs::path& file, bool errors_only = false) {
    return run_command(fmt::format("{} import {} '{}' {}", cli, kind,
                                   file.string(), errors_only ? "2>&1 >/dev/null" : "2>/dev/null"));
  };
  const fs::path data = fs::path(MEDIADESK_SOURCE_DIR) / "config/demo";
  auto db = stack.database();

  // Spokespeople first: their partner keys are unknown, so nothing is imported.
  auto early = import("spokespeople", data / "spokespeople.csv", true);
  CHECK(early.status == 65);
  CHECK(early.out.find("partner_key") != std::string::npos);
  CHECK(early.out.find("nothing was imported") != std::string::npos);
  CHECK(count_rows(db, "SELECT count(*) FROM spokespeople") == 0);

  auto partners = import("partners", data / "partners.csv");
  INFO(partners.out);
  REQUIRE(partners.status == 0);
  CHECK(partners.out == "partners: 34 created, 0 updated\n");
  auto people = import("spokespeople", data / "spokespeople.csv");
  INFO(people.out);
  REQUIRE(people.status == 0);
  CHECK(people.out.starts_with("spokespeople: 62 created, 0 updated; consents: 60 recorded"));
  CHECK(count_rows(db, "SELECT count(*) FROM consents WHERE withdrawn_at IS NOT NULL") == 5);
  CHECK(count_rows(db, "SELECT count(*) FROM spokespeople WHERE partner_id IS NULL") == 4);

  // Again: every row updated, no consent recorded twice.
  CHECK(import("partners", data / "partners.csv").out == "partners: 0 created, 34 updated\n");
  CHECK(import("spokespeople", data / "spokespeople.csv").out ==
        "spokespeople: 0 created, 62 updated; consents: 0 recorded, 0 withdrawn\n");
  CHECK(count_rows(db, "SELECT count(*) FROM consents") == 60);

  // A bad row: line and column named, the personal value never shown, nothing changed.
  auto bad = stack.home() / "bad.csv";
  std::ofstream(bad) << "key,name,contact_name,contact_email,regions,topics\n"
                        "new-one,New One,Rosa Secretname,rosa@ok.example,london,housing\n"
                        "new-two,New Two,Tom,tom-at-nowhere,atlantis,housing\n";
  auto refused = import("partners", bad, true);
  CHECK(refused.status == 65);
  CHECK(refused.out.find("bad.csv:3:4: contact_email:") != std::string::npos);
  CHECK(refused.out.find("bad.csv:3:5: regions:") != std::string::npos);
  CHECK(refused.out.find("tom-at-nowhere") == std::string::npos);
  CHECK(count_rows(db, "SELECT count(*) FROM partners") == 34);
}
