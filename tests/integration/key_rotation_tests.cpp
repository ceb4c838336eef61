// Integration: `mediadesk keys rotate` while serve and worker run and webhook requests keep
// arriving: every keyring-sealed column ends under the new key id, nothing acknowledged is lost,
// every revealed value reads as before; the reveal audit admits re-sealing and nothing else; a
// value that does not open stops the rotation, naming where it is.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "store/user_store.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// The keyring-sealed (v1) columns in PostgreSQL, as table and column.
const std::vector<std::pair<std::string, std::string>> sealed_columns = {
    {"users", "email_sealed"},         {"cases", "request_sealed"},         {"case_messages", "sealed"},
    {"person_keys", "wrapped"},        {"reveal_audit", "reason_sealed"},
};
// What `keys rotate` prints for them (the binding's prefix), in its order.
const std::vector<std::string> printed_names = {"users.email", "cases.request", "case_messages.sealed",
                                                "person_keys.wrapped", "reveal_audit.reason"};

// Values in table.column not under key_id: read from the envelope header directly, in SQL.
std::int64_t not_under(store::pg_connection& db, const std::string& table, const std::string& column,
                       std::uint32_t key_id) {
  return count_rows(db, fmt::format("SELECT count(*) FROM {t} WHERE {c} IS NOT NULL AND (get_byte({c}, 0) <> 1 OR "
                                    "substring({c} from 2 for 4) <> decode('{id:08x}', 'hex'))",
                                    fmt::arg("t", table), fmt::arg("c", column), fmt::arg("id", key_id)));
}

std::string request_json(const std::string& email, const std::string& subject, const std::string& body) {
  return fmt::format(R"({{"journalist":{{"name":"Sam Rotation","email":"{}","phone":"+44 7700 900456"}},)"
                     R"("outlet":"BBC Radio Kent","subject":"{}","body":"{}"}})",
                     email, subject, body);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Checks `keys rotate` output: one "<column>: N re-sealed" line per column (offers.decline_reason
// case_notes.text and coverage.details too once their tables exist), then "key id K is current; T values
// re-sealed" with T the sum.
// Returns the count per column.
std::map<std::string, std::int64_t> parse_rotate_output(const std::string& out, std::uint32_t key_id) {
  INFO(out);
  auto lines = lines_of(out);
  REQUIRE(lines.size() >= printed_names.size() + 1);
  std::map<std::string, std::int64_t> counts;
  std::vector<std::string> order;
  const std::regex column_line(R"(^([a-z_]+\.[a-z_]+): (\d+) re-sealed$)");
  std::int64_t sum = 0;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    std::smatch m;
    REQUIRE(std::regex_match(lines[i], m, column_line));
    counts[m[1]] = std::stoll(m[2]);
    order.push_back(m[1]);
    sum += std::stoll(m[2]);
  }
  for (std::size_t i = 0; i < printed_names.size(); ++i) CHECK(order.at(i) == printed_names[i]);
  const std::vector<std::string> later_tables = {"offers.decline_reason", "case_notes.text", "coverage.details"};
  for (std::size_t i = printed_names.size(); i < order.size(); ++i)
    CHECK(order[i] == later_tables.at(i - printed_names.size()));
  CHECK(lines.back() == fmt::format("key id {} is current; {} values re-sealed", key_id, sum));
  return counts;
}

}  // namespace

TEST_CASE("keys rotate: every sealed value moves to the new key id while serve and worker run", "[keys]") {
  test_stack stack("key_rotation");
  const std::map<std::string, std::string> fast_refresh{{"MEDIADESK_KEYS_REFRESH_S", "1"}};
  auto serve = stack.start("serve", fast_refresh);
  auto worker = stack.start("worker", fast_refresh);
  auto admin = stack.admin();
  auto staff = logged_in_as(stack, "staff.rotation@example.org", "staff");

  // Cases, a duplicate joining one of them (an inbound case_messages row) and a staff reply (an
  // outbound one, bound to its Message-ID).
  std::vector<std::string> seeded_refs;
  for (int i = 0; i < 3; ++i)
    seeded_refs.push_back(request_to_case(stack, admin,
                                   request_json(fmt::format("seed{}@news.example", i), fmt::format("Seed {}", i),
                                                fmt::format("Need a voice from Dover for piece {}", i)))
                              .second);
  std::string ask = "Looking for a refugee doctor in Birmingham who retrained to work in the NHS, by Friday.";
  auto [first_intake, first_ref] = request_to_case(stack, admin, request_json("dana@itv.example", "Refugee doctor", ask));
  auto [duplicate_intake, duplicate_ref] =
      request_to_case(stack, admin, request_json("Dana@ITV.example", "Re: Refugee doctor", "Sending again in case: " + ask));
  REQUIRE(duplicate_ref == first_ref);
  auto reply = staff.request("POST", "/api/v1/cases/" + first_ref + "/replies",
                             R"({"body":"Hello Dana,\nWe have someone. MARKER-ROTATION-REPLY\nThe desk"})");
  REQUIRE(reply.status == 201);
  auto message_id = std::string{json::parse(reply.body).at("reply").at("message_id").as_string()};

  // The registry: a partner and a spokesperson with personal fields, and reveals.
  auto partner = staff.request("POST", "/api/v1/partners", R"({"key": "rotation-forum", "name": "Rotation Forum",
    "contact_name": "Parveen Rotation", "contact_email": "parveen@forum.example.org", "regions": ["newcastle"],
    "topics": ["asylum_process"]})");
  REQUIRE(partner.status == 201);
  auto partner_id = json_object_of(partner).at("partner").at("id").as_int64();
  auto person = staff.request("POST", "/api/v1/spokespeople", fmt::format(R"({{"partner_id": {}, "alias": "Speaker R1",
    "full_name": "Amal Rotation-Okonjo", "email": "amal.r@mail.example.net", "phone": "+44 7700 900777",
    "story_notes": "Arrived 2019", "regions": ["newcastle"], "topics": ["asylum_process"]}})",
                                                                          partner_id));
  REQUIRE(person.status == 201);
  auto person_id = json_object_of(person).at("spokesperson").at("id").as_int64();
  auto reveal_contact = [&] {
    auto r = staff.request("POST", fmt::format("/api/v1/partners/{}/reveal", partner_id), R"({"reason": "offer"})");
    REQUIRE(r.status == 200);
    return json::serialize(json_object_of(r).at("contact"));
  };
  auto reveal_person = [&] {
    auto r = staff.request("POST", fmt::format("/api/v1/spokespeople/{}/reveal", person_id),
                           R"({"reason": "calling her back"})");
    REQUIRE(r.status == 200);
    return json::serialize(json_object_of(r).at("personal"));
  };
  auto reveal_case = [&](const std::string& ref) {
    auto r = staff.request("POST", "/api/v1/cases/" + ref + "/reveal", R"({"reason": "to reply"})");
    REQUIRE(r.status == 200);
    return json::serialize(json_object_of(r).at("request"));
  };
  auto reveal_reasons = [&] {
    std::vector<std::string> out;
    auto audit = json_object_of(admin.get("/api/v1/audit/reveals"));
    for (auto& entry : audit.at("reveals").as_array()) out.emplace_back(entry.at("reason").as_string());
    std::sort(out.begin(), out.end());
    return out;
  };
  auto contact_before = reveal_contact();
  auto person_before = reveal_person();
  auto case_before = reveal_case(first_ref);
  REQUIRE(contact_before.find("parveen@forum.example.org") != std::string::npos);
  REQUIRE(person_before.find("Amal Rotation-Okonjo") != std::string::npos);
  REQUIRE(case_before.find("Sam Rotation") != std::string::npos);
  auto reasons_before = reveal_reasons();
  REQUIRE(reasons_before.size() == 3);

  auto db = stack.database();
  for (auto& [table, column] : sealed_columns) {
    INFO(table << "." << column);
    CHECK(count_rows(db, fmt::format("SELECT count(*) FROM {} WHERE {} IS NOT NULL", table, column)) > 0);
    CHECK(not_under(db, table, column, 1) == 0);
  }
  auto users_before = count_rows(db, "SELECT count(*) FROM users");

  // Requests keep arriving through the rotation.
  std::atomic<bool> stop_posting{false};
  std::mutex posted_mutex;
  std::vector<std::string> accepted;  // intake ids answered 202
  int refused = 0;
  std::thread poster([&] {
    for (int n = 0; !stop_posting; ++n) {
      auto r = stack.post_request(request_json(fmt::format("live{}@news.example", n), fmt::format("Live {}", n),
                                               fmt::format("Live request number {} about housing", n)));
      std::lock_guard lock(posted_mutex);
      if (r.status == 202) accepted.push_back(json_string(r.body, "intake_id"));
      else ++refused;
      std::this_thread::sleep_for(30ms);
    }
  });
  auto stderr_file = stack.home() / "rotate-1.err";
  auto rotated = run_command(fmt::format("{} keys rotate --wait-seconds 3 2>'{}'", stack.cli_command(fast_refresh),
                                         stderr_file.string()));
  std::this_thread::sleep_for(500ms);  // a few more after the sweep
  stop_posting = true;
  poster.join();
  INFO("stderr: " << read_file(stderr_file));
  REQUIRE(rotated.status == 0);
  auto counts = parse_rotate_output(rotated.out, 2);
  CHECK(counts["users.email"] == users_before);
  CHECK(counts["person_keys.wrapped"] == 2);  // the partner's contact and the spokesperson
  CHECK(counts["reveal_audit.reason"] == 3);
  CHECK(counts["case_messages.sealed"] >= 2);  // the duplicate and the reply (and any acknowledgement)
  CHECK(counts["cases.request"] >= static_cast<std::int64_t>(seeded_refs.size() + 1));
  CHECK(stack.wait_for_log(serve, "sealing under key id 2", 1s));
  CHECK(stack.wait_for_log(worker, "sealing under key id 2", 1s));

  // Nothing acknowledged was lost: every 202 became exactly one case.
  CHECK(refused == 0);
  REQUIRE(accepted.size() >= 10);
  std::set<std::string> refs;
  for (auto& intake_id : accepted) {
    auto intake = stack.wait_for_intake(admin, intake_id);
    INFO(intake_id << " " << intake);
    REQUIRE(json_string(intake, "status") == "processed");
    refs.insert(json_string(intake, "case"));
  }
  CHECK(refs.size() == accepted.size());
  std::string id_list;
  for (auto& id : accepted) id_list += (id_list.empty() ? "'" : ",'") + id + "'";
  CHECK(count_rows(db, fmt::format("SELECT count(*) FROM cases WHERE intake_id IN ({})", id_list)) ==
        static_cast<std::int64_t>(accepted.size()));

  // Every keyring-sealed value is now under key id 2, found from the envelope header in SQL.
  for (auto& [table, column] : sealed_columns) {
    INFO(table << "." << column);
    CHECK(not_under(db, table, column, 2) == 0);
  }
  CHECK(not_under(db, "key_checks", "sealed", 2) == 1);  // key id 1's own check value stays

  // Everything reads as before.
  CHECK(reveal_contact() == contact_before);
  CHECK(reveal_person() == person_before);
  CHECK(reveal_case(first_ref) == case_before);
  for (auto& ref : seeded_refs) CHECK(reveal_case(ref).find("Need a voice from Dover") != std::string::npos);
  auto reasons_after = reveal_reasons();
  for (auto& reason : reasons_before) CHECK(std::count(reasons_after.begin(), reasons_after.end(), reason) >= 1);
  auto user_email = db.exec("SELECT encode(email_index, 'hex'), email_sealed FROM users WHERE email_index = $1",
                            {store::bytes(stack.keys().blind_index("user.email", "staff.rotation@example.org"))});
  REQUIRE(user_email.rows() == 1);
  CHECK(stack.keys().open(user_email.get_bytes(0, 1), "users.email:" + std::string{user_email.get(0, 0)}) ==
        "staff.rotation@example.org");
  auto outbound = db.exec("SELECT sealed FROM case_messages WHERE direction = 'out'").get_bytes(0, 0);
  CHECK(crypto::keyring::key_id_of(outbound) == 2);
  CHECK(stack.keys().open(outbound, "case_messages.sealed:out:" + message_id)->find("MARKER-ROTATION-REPLY") !=
        std::string::npos);
  auto inbound = db.exec("SELECT sealed FROM case_messages WHERE intake_id = $1", {store::text(duplicate_intake)});
  CHECK(stack.keys().open(inbound.get_bytes(0, 0), "case_messages.sealed:" + duplicate_intake)->find("Sending again") !=
        std::string::npos);

  // Again: key id 3, and this time every value moves (nothing arrives meanwhile).
  auto values = std::int64_t{0};
  for (auto& [table, column] : sealed_columns)
    values += count_rows(db, fmt::format("SELECT count(*) FROM {} WHERE {} IS NOT NULL", table, column));
  auto again = run_command(fmt::format("{} keys rotate --wait-seconds 3 2>/dev/null", stack.cli_command(fast_refresh)));
  REQUIRE(again.status == 0);
  parse_rotate_output(again.out, 3);
  CHECK(lines_of(again.out).back() == fmt::format("key id 3 is current; {} values re-sealed", values));
  for (auto& [table, column] : sealed_columns) {
    INFO(table << "." << column);
    CHECK(not_under(db, table, column, 3) == 0);
  }
  CHECK(stack.wait_for_log(serve, "sealing under key id 3", 2s));
  CHECK(stack.wait_for_log(worker, "sealing under key id 3", 2s));
  CHECK(reveal_person() == person_before);

  // A new case now is sealed under key id 3; a process started later seals under 3 as well,
  // although its configuration still says key id 1.
  CHECK_FALSE(request_to_case(stack, admin, request_json("late@news.example", "Late", "After rotation")).second.empty());
  CHECK(not_under(db, "cases", "request_sealed", 3) == 0);
  auto late_worker = stack.start("worker");
  CHECK(stack.wait_for_log(late_worker, "sealing under key id 3", 10s));
  stack.kill(worker, SIGTERM);
  CHECK(stack.wait_exit(worker, 15s) == 0);
  CHECK_FALSE(request_to_case(stack, admin, request_json("later@news.example", "Later", "Late worker")).second.empty());
  CHECK(not_under(db, "cases", "request_sealed", 3) == 0);
}

TEST_CASE("reveal_audit: re-sealing the reason under a newer key id is the only change allowed", "[keys]") {
  test_stack stack("reveal_audit_reseal");
  auto db = stack.database();
  auto master = *crypto::keyring::parse_master_key(stack.environment().at("MEDIADESK_MASTER_KEY"));
  crypto::keyring one(master, 1), two(master, 2), three(master, 3);
  auto user_id = db.exec("SELECT id FROM users LIMIT 1").get_int(0, 0);
  const std::string binding = "reveal_audit.reason:audit-1";
  db.exec("INSERT INTO reveal_audit (id, user_id, subject, fields, reason_sealed) VALUES ('audit-1', $1, "
          "'case:MD-2026-000001', '{request}', $2)",
          {store::number(user_id), store::bytes(two.seal("why", binding))});
  auto update = [&](const std::string& set, const std::string& value) {
    db.exec("UPDATE reveal_audit SET " + set + " WHERE id = 'audit-1'", {store::bytes(value)});
  };
  auto reason = [&] { return db.exec("SELECT reason_sealed FROM reveal_audit").get_bytes(0, 0); };

  // Anything but reason_sealed, or alongside it: refused.
  CHECK_THROWS_AS(db.exec("UPDATE reveal_audit SET fields = '{request,email}'"), store::pg_error);
  CHECK_THROWS_AS(db.exec("UPDATE reveal_audit SET subject = 'case:MD-2026-000002'"), store::pg_error);
  CHECK_THROWS_AS(update("reason_sealed = $1, at = now() - interval '1 day'", three.seal("why", binding)),
                  store::pg_error);
  // Under the same or an older key id, or not an envelope at all: refused.
  CHECK_THROWS_AS(update("reason_sealed = $1", two.seal("why", binding)), store::pg_error);
  CHECK_THROWS_AS(update("reason_sealed = $1", one.seal("why", binding)), store::pg_error);
  auto not_an_envelope = std::string(1, '\x02') + std::string(3, '\0') + "\x09 not a keyring envelope";
  CHECK_THROWS_AS(update("reason_sealed = $1", not_an_envelope), store::pg_error);
  CHECK(crypto::keyring::key_id_of(reason()) == 2);
  // Re-sealed under a newer id: allowed.
  update("reason_sealed = $1", three.seal("why", binding));
  CHECK(crypto::keyring::key_id_of(reason()) == 3);
  CHECK(one.open(reason(), binding) == "why");
  // Deleting: refused, as before.
  CHECK_THROWS_AS(db.exec("DELETE FROM reveal_audit"), store::pg_error);
  CHECK(count_rows(db, "SELECT count(*) FROM reveal_audit") == 1);

  // registry_events stays strictly append-only.
  db.exec("INSERT INTO registry_events (actor, subject, kind) VALUES ('user:1', 'partner:1', 'created')");
  CHECK_THROWS_AS(db.exec("UPDATE registry_events SET kind = 'updated'"), store::pg_error);
  CHECK_THROWS_AS(db.exec("DELETE FROM registry_events"), store::pg_error);
}

TEST_CASE("keys rotate: a value that does not open stops it, naming where; no database is exit 75", "[keys]") {
  test_stack stack("key_rotation_errors");
  auto db = stack.database();
  // A staff email copied onto another user's row: sealed for another row, so it cannot open.
  store::upsert_user(db, stack.keys(), "moved.secret@example.org", crypto::hash_password("a long test password"),
                     "staff");
  db.exec("UPDATE users SET email_sealed = (SELECT email_sealed FROM users WHERE role = 'admin') "
          "WHERE role = 'staff'");
  auto moved_id = db.exec("SELECT id FROM users WHERE role = 'staff'").get_int(0, 0);
  auto failed = run_command(fmt::format("{} keys rotate --wait-seconds 0 2>&1", stack.cli_command()));
  INFO(failed.out);
  CHECK(failed.status == 1);
  CHECK(failed.out.find(fmt::format("users.email_sealed: the value in row {} does not open", moved_id)) !=
        std::string::npos);
  CHECK(failed.out.find("moved.secret") == std::string::npos);
  CHECK(failed.out.find("admin@example.org") == std::string::npos);
  CHECK(failed.out.find("re-sealed") == std::string::npos);

  auto port = server::free_loopback_port();
  auto unavailable = run_command(fmt::format(
      "{} keys rotate --wait-seconds 0 2>/dev/null",
      stack.cli_command({{"MEDIADESK_DATABASE_URL", fmt::format("postgresql://mediadesk@127.0.0.1:{}/none", port)},
                  {"MEDIADESK_DATABASE_CONNECT_TIMEOUT_S", "2"}})));
  CHECK(unavailable.status == 75);
  CHECK(unavailable.out.empty());
}
