// Integration: the webhook → Redis → worker → PostgreSQL pipeline and the staff API, against
// real servers and the real binary.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <fstream>

#include "queue/append.hpp"
#include "server/redis_appender.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;

namespace {
std::string request_json(const std::string& name, const std::string& body_text, const std::string& extra = "") {
  return fmt::format(R"({{"journalist":{{"name":"{}","email":"{}@news.example","phone":"+44 7700 900123"}},)"
                     R"("outlet":"BBC Radio Kent","subject":"Channel crossings","body":"{}"{}}})",
                     name, "reporter", body_text, extra);
}
std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

TEST_CASE("a signed webhook request is queued, becomes a case and can be read by staff") {
  test_stack stack("flow");
  stack.start("serve");
  stack.start("worker");
  auto deadline = format_iso8601(now() + std::chrono::hours(2));
  auto r = stack.post_request(request_json("Sam Example", "Need a voice from Dover", fmt::format(
                                                                                         R"(,"deadline":"{}","newsroom_ref":"X-1")", deadline)));
  REQUIRE(r.status == 202);
  auto intake_id = json_string(r.body, "intake_id");
  CHECK(json_string(r.body, "status") == "queued");
  REQUIRE(crypto::is_valid_intake_id(intake_id));

  auto admin = stack.admin();
  auto intake = stack.wait_for_intake(admin, intake_id);
  REQUIRE(json_string(intake, "status") == "processed");
  auto ref = json_string(intake, "case");
  REQUIRE(ref.starts_with("MD-"));

  auto list = admin.get("/api/v1/cases");
  REQUIRE(list.status == 200);
  CHECK(list.body.find("\"total\":1") != std::string::npos);
  CHECK(list.body.find(ref) != std::string::npos);
  CHECK(list.body.find("\"priority\":\"urgent\"") != std::string::npos);
  CHECK(list.body.find("\"outlet\":{\"name\":\"BBC Radio Kent\",\"scope\":\"local\"}") != std::string::npos);
  CHECK(list.body.find("Sam Example") == std::string::npos);  // personal data only by reveal

  auto detail = admin.get("/api/v1/cases/" + ref);
  REQUIRE(detail.status == 200);
  CHECK(detail.body.find("\"kind\":\"case_opened\"") != std::string::npos);
  CHECK(detail.body.find("\"offers\":[]") != std::string::npos);
  CHECK(detail.body.find(intake_id) != std::string::npos);

  auto reveal = admin.request("POST", "/api/v1/cases/" + ref + "/reveal", R"({"reason":"to reply"})");
  REQUIRE(reveal.status == 200);
  CHECK(reveal.body.find("Sam Example") != std::string::npos);
  CHECK(reveal.body.find("newsroom_ref") != std::string::npos);  // unknown fields are kept
  CHECK(admin.get("/api/v1/cases/" + ref).body.find("request_revealed") != std::string::npos);

  CHECK(admin.get("/api/v1/cases/MD-2026-999999").status == 404);
  CHECK(admin.get("/api/v1/cases/not-a-ref").status == 404);
  CHECK(admin.get("/api/v1/intake/01M8FE6KBRM7GSWF313SZ85AYQ").status == 404);
}

TEST_CASE("the signature is checked and the replay window enforced") {
  test_stack stack("signature");
  stack.start("serve");
  auto body = request_json("A", "x");
  auto client = stack.client();
  CHECK(client.request("POST", "/api/v1/requests", body).status == 401);
  CHECK(client.request("POST", "/api/v1/requests", body, {"X-Signature: t=1,v1=00"}).status == 401);
  CHECK(stack.post_request(body, "", unix_now() - 310).status == 401);
  CHECK(stack.post_request(body, "", unix_now() + 310).status == 401);
  CHECK(stack.post_request(body, "", unix_now() - 290).status == 202);
  auto wrong_secret = client.request(
      "POST", "/api/v1/requests", body,
      {"X-Signature: " + intake::sign_body(body, "not-the-secret", unix_now())});
  CHECK(wrong_secret.status == 401);
  CHECK(json_string(wrong_secret.body, "error") == "X-Signature does not match the body");
}

TEST_CASE("an address sending bad signatures is refused with 429 after the hour's allowance") {
  test_stack stack("signature_limit");
  stack.start("serve", {{"MEDIADESK_INBOUND_WEBHOOK_BAD_SIGNATURES_PER_IP_PER_HOUR", "3"}});
  auto body = request_json("A", "x");
  auto client = stack.client();
  for (int i = 0; i < 3; ++i)
    CHECK(client.request("POST", "/api/v1/requests", body, {"X-Signature: t=1,v1=00"}).status == 401);
  auto refused = client.request("POST", "/api/v1/requests", body, {"X-Signature: t=1,v1=00"});
  CHECK(refused.status == 429);
  auto retry_after = std::stoi(refused.header("Retry-After"));
  CHECK((retry_after > 0 && retry_after <= 3600));
  // A correctly signed request is never held back by the count: only failures are counted.
  CHECK(stack.post_request(body).status == 202);
  auto counted = stack.redis().command({"KEYS", "md:rl:webhook-bad:*"});
  REQUIRE(counted->elements == 1);
  CHECK(std::string(counted->element[0]->str) == "md:rl:webhook-bad:127.0.0.1");
}

TEST_CASE("one journalist's address is allowed so many webhook requests an hour, then 429 with nothing queued") {
  test_stack stack("sender_limit");
  stack.start("serve", {{"MEDIADESK_INBOUND_WEBHOOK_REQUESTS_PER_SENDER_PER_HOUR", "2"}});
  auto from = [](const std::string& email, const std::string& text) {
    return fmt::format(R"({{"journalist":{{"name":"Sam","email":"{}"}},"body":"{}"}})", email, text);
  };
  auto first = stack.post_request(from("flood@news.example", "one"), "flood-1");
  REQUIRE(first.status == 202);
  REQUIRE(stack.post_request(from("flood@news.example", "two")).status == 202);
  // The same address in other letter cases is the same sender.
  auto refused = stack.post_request(from("Flood@NEWS.example", "three"));
  CHECK(refused.status == 429);
  CHECK(json_string(refused.body, "field") == "journalist.email");
  CHECK(refused.body.find("flood@") == std::string::npos);  // the address is never echoed
  auto retry_after = std::stoi(refused.header("Retry-After"));
  CHECK((retry_after > 0 && retry_after <= 3600));
  // A retry of an acknowledged post is answered as before, not counted and not refused.
  auto replay = stack.post_request(from("flood@news.example", "one"), "flood-1");
  CHECK(replay.status == 202);
  CHECK(json_string(replay.body, "intake_id") == json_string(first.body, "intake_id"));
  CHECK(stack.post_request(from("other@news.example", "four")).status == 202);
  auto redis = stack.redis();
  CHECK(redis.command({"XLEN", "md:intake"})->integer == 3);
  // Counted under a blind index: the address is nowhere in Redis's key names.
  auto keys = redis.command({"KEYS", "md:rl:webhook-sender:*"});
  REQUIRE(keys->elements == 2);
  for (std::size_t i = 0; i < keys->elements; ++i)
    CHECK(std::string(keys->element[i]->str).find("news.example") == std::string::npos);
}

TEST_CASE("bad bodies get 400 naming the field, oversized ones 413, and nothing is queued") {
  test_stack stack("validation");
  stack.start("serve");
  struct example {
    std::string json, field;
  };
  std::vector<example> examples{
      {"{not json", "$"},
      {R"({"body":"x"})", "journalist"},
      {R"({"journalist":{"name":"A","email":"nope"},"body":"x"})", "journalist.email"},
      {R"({"journalist":{"name":"A","email":"a@b.example"}})", "body"},
      {R"({"journalist":{"name":"A","email":"a@b.example"},"body":"x","deadline":"by 4pm"})", "deadline"},
  };
  for (auto& e : examples) {
    auto r = stack.post_request(e.json);
    CHECK(r.status == 400);
    CHECK(json_string(r.body, "field") == e.field);
    CHECK_FALSE(json_string(r.body, "error").empty());
  }
  auto bad_key = stack.post_request(request_json("A", "x"), "has spaces in it");
  CHECK(bad_key.status == 400);
  CHECK(json_string(bad_key.body, "field") == "Idempotency-Key");

  std::string huge = request_json("A", std::string(300 * 1024, 'x'));
  CHECK(stack.post_request(huge).status == 413);
  auto redis = stack.redis();
  auto len = redis.command({"XLEN", "md:intake"});
  CHECK(len->integer == 0);
}

TEST_CASE("an Idempotency-Key returns the same intake and never makes a second case") {
  test_stack stack("idempotency");
  stack.start("serve");
  stack.start("worker");
  auto body = request_json("B", "same request");
  // Each post signed at its own second, as a sender's retries are: the same signed message again
  // would be a replay whatever its key (see the security matrix).
  auto t = unix_now();
  auto first = stack.post_request(body, "newsroom-42", t);
  auto second = stack.post_request(body, "newsroom-42", t + 1);
  auto other = stack.post_request(body, "newsroom-43", t + 2);
  REQUIRE(first.status == 202);
  REQUIRE(second.status == 202);
  CHECK(json_string(first.body, "intake_id") == json_string(second.body, "intake_id"));
  CHECK(second.header("idempotent-replayed") == "true");
  CHECK(json_string(other.body, "intake_id") != json_string(first.body, "intake_id"));
  auto admin = stack.admin();
  stack.wait_for_intake(admin, json_string(first.body, "intake_id"));
  stack.wait_for_intake(admin, json_string(other.body, "intake_id"));
  // The SHA1 compiled into the appender is the one Redis computes for the script.
  auto loaded = stack.redis().command({"SCRIPT", "LOAD", server::redis_appender::script()});
  CHECK(queue::text_of(loaded.get()) == server::redis_appender::script_sha());
  // After SCRIPT FLUSH (an operator, a failover) the appender resends with the script text and goes on.
  stack.redis().command({"SCRIPT", "FLUSH"});
  CHECK(stack.post_request(body, "newsroom-44", t + 3).status == 202);
  CHECK(stack.post_request(body, "newsroom-44", t + 4).header("idempotent-replayed") == "true");
  // A replay after processing still answers the first intake.
  CHECK(json_string(stack.post_request(body, "newsroom-42", t + 5).body, "intake_id") ==
        json_string(first.body, "intake_id"));
  auto db = stack.database();
  CHECK(eventually([&] { return count_rows(db, "SELECT count(*) FROM cases") == 3; }, 15s));
  CHECK(count_rows(db, "SELECT count(*) FROM cases") == 3);
}

TEST_CASE("the case list filters, pages and validates its parameters") {
  test_stack stack("listing");
  stack.start("serve");
  stack.start("worker");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(json_string(stack.post_request(request_json("C", "n" + std::to_string(i))).body, "intake_id"));
  auto admin = stack.admin();
  for (auto& id : ids) REQUIRE(json_string(stack.wait_for_intake(admin, id), "status") == "processed");
  auto page = admin.get("/api/v1/cases?limit=2");
  REQUIRE(page.status == 200);
  CHECK(page.body.find("\"total\":5") != std::string::npos);
  auto first_ref = page.body.substr(page.body.find("MD-"), 14);
  auto second_ref = page.body.substr(page.body.find("MD-", page.body.find("MD-") + 14), 14);
  auto next = admin.get("/api/v1/cases?limit=2&before=" + second_ref);
  CHECK(next.body.find(first_ref) == std::string::npos);
  CHECK(next.body.find(second_ref) == std::string::npos);
  CHECK(next.body.find("\"total\":5") != std::string::npos);
  CHECK(admin.get("/api/v1/cases?status=new").body.find("\"total\":5") != std::string::npos);
  CHECK(admin.get("/api/v1/cases?status=fulfilled").body.find("\"total\":0") != std::string::npos);
  for (auto bad : {"limit=0", "limit=5001", "limit=ten", "status=closed", "before=yesterday"}) {
    auto r = admin.get(std::string("/api/v1/cases?") + bad);
    CHECK(r.status == 400);
    CHECK(json_string(r.body, "field") == std::string(bad).substr(0, std::string(bad).find('=')));
  }
}

TEST_CASE("staff endpoints need a session, the right password and a CSRF token") {
  test_stack stack("auth");
  stack.start("serve");
  auto anonymous = stack.client();
  CHECK(anonymous.get("/api/v1/cases").status == 401);
  CHECK(anonymous.get("/api/v1/cases/MD-2026-000001").status == 401);
  CHECK(anonymous.get("/api/v1/intake/01M8FE6KBRM7GSWF313SZ85AYQ").status == 401);
  auto wrong = stack.client();
  CHECK(wrong.log_in(test_stack::admin_email, "wrong-password").status == 401);
  CHECK(wrong.log_in("nobody@example.org", "whatever").status == 401);
  CHECK(wrong.get("/api/v1/cases").status == 401);

  auto admin = stack.admin();
  CHECK(admin.get("/api/v1/session").status == 200);
  auto raw = stack.client();
  auto login = raw.request("POST", "/api/v1/login",
                           fmt::format(R"({{"email":"{}","password":"{}"}})", test_stack::admin_email,
                                       test_stack::admin_password));
  REQUIRE(login.status == 200);
  auto cookie = login.header("set-cookie");
  CHECK(cookie.find("HttpOnly") != std::string::npos);
  CHECK(cookie.find("SameSite=Strict") != std::string::npos);
  auto session_cookie = "Cookie: " + cookie.substr(0, cookie.find(';'));
  auto naked = stack.client();
  CHECK(naked.request("POST", "/api/v1/logout", "", {session_cookie}).status == 403);
  CHECK(naked.request("GET", "/api/v1/cases", "", {session_cookie}).status == 200);
  CHECK(naked.request("POST", "/api/v1/logout", "", {session_cookie, "X-CSRF-Token: " + json_string(login.body, "csrf")})
            .status == 200);
  CHECK(naked.request("GET", "/api/v1/cases", "", {session_cookie}).status == 401);  // logged out
}

TEST_CASE("failed log-ins are limited per client address and per account") {
  test_stack stack("login_limit");
  stack.start("serve", {{"MEDIADESK_SESSION_LOGIN_ATTEMPTS_PER_15_MINUTES", "3"},
                        {"MEDIADESK_SESSION_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_15_MINUTES", "4"}});
  auto client = stack.client();
  auto log_in_from = [&](const std::string& address, const std::string& email, const std::string& password) {
    return client.request("POST", "/api/v1/login",
                          fmt::format(R"({{"email":"{}","password":"{}"}})", email, password),
                          {"X-Forwarded-For: " + address});
  };
  std::string admin = test_stack::admin_email, password = test_stack::admin_password;
  for (int i = 0; i < 3; ++i) CHECK(log_in_from("203.0.113.1", admin, "wrong").status == 401);
  // That address has used its allowance: refused even with the right password.
  auto limited = log_in_from("203.0.113.1", admin, password);
  CHECK(limited.status == 429);
  CHECK(std::stoi(limited.header("Retry-After")) > 0);
  CHECK(log_in_from("203.0.113.1", "someone@example.org", "wrong").status == 429);
  // The account's fourth failure comes from another address: now the account is refused from anywhere.
  CHECK(log_in_from("203.0.113.2", admin, "wrong").status == 401);
  CHECK(log_in_from("203.0.113.3", admin, password).status == 429);
  CHECK(log_in_from("203.0.113.3", " Admin@Example.ORG ", password).status == 429);
  // Another account from a fresh address is unaffected.
  CHECK(log_in_from("203.0.113.4", "someone@example.org", "wrong").status == 401);
  // The account's counter is under a blind index: no address in Redis's key names.
  auto keys = stack.redis().command({"KEYS", "md:rl:login-sender:*"});
  REQUIRE(keys->elements == 2);
  for (std::size_t i = 0; i < keys->elements; ++i)
    CHECK(std::string(keys->element[i]->str).find("example.org") == std::string::npos);
}

TEST_CASE("health, readiness, metrics and the dashboard page") {
  test_stack stack("ops");
  stack.start("serve");
  auto c = stack.client();
  CHECK(c.get("/healthz").status == 200);
  auto ready = c.get("/readyz");
  CHECK(ready.status == 200);
  CHECK(json_string(ready.body, "postgresql") == "ok");
  stack.post_request(request_json("D", "metrics"));
  auto metrics = c.get("/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("mediadesk_http_requests_total{route=\"/api/v1/requests\",method=\"POST\",status=\"202\"} 1") !=
        std::string::npos);
  CHECK(metrics.body.find("mediadesk_intake_stream_length 1") != std::string::npos);
  CHECK(metrics.body.find("mediadesk_intake_ack_seconds_count 1") != std::string::npos);
  auto page = c.get("/");
  CHECK(page.status == 200);
  CHECK(page.header("content-security-policy").find("frame-ancestors 'none'") != std::string::npos);
  CHECK(page.header("x-content-type-options") == "nosniff");
  CHECK(c.get("/static/app.js").status == 200);
  CHECK(c.get("/static/../CMakeLists.txt").status == 404);
  CHECK(c.get("/nowhere").status == 404);
  CHECK(c.request("DELETE", "/healthz").status == 405);
}

namespace {

// Queues an email intake exactly as the SMTP door and mailgate do, and returns its intake id.
std::string queue_email(test_stack& stack, const std::string& raw) {
  auto record = intake::make_intake_record(stack.keys(), intake::intake_source::email, raw, to_unix_ms(now()));
  auto redis = stack.redis();
  queue::append_intake_now(redis, queue::redis_keys{}, record);
  return record.id;
}

std::string email(const std::string& from, const std::string& subject, const std::string& message_id,
                  const std::string& body, const std::string& extra_headers = "") {
  // As delivered: the envelope sender in Return-Path (the SMTP door and mailgate add it).
  auto address = from.find('<') == std::string::npos ? from : from.substr(from.find('<') + 1, from.find('>') - from.find('<') - 1);
  return "Return-Path: <" + address + ">\r\nFrom: " + from + "\r\nTo: requests@desk.example\r\nSubject: " + subject +
         "\r\nDate: Tue, 14 Jul 2026 09:12:00 +0100\r\nMessage-ID: <" + message_id + ">\r\n" + extra_headers +
         "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n";
}

}  // namespace

TEST_CASE("emails become cases; replies join their case's thread; what cannot be parsed is still a case") {
  test_stack stack("email_threads");
  stack.start("serve");
  stack.start("worker");
  auto admin = stack.admin();
  auto first = stack.wait_for_intake(
      admin, queue_email(stack, email("Jo Reporter <jo@bbc.co.uk>", "Refugee doctor in Birmingham", "first@bbc.co.uk",
                                      "We need a refugee doctor in Birmingham for BBC Midlands Today by 4pm.")));
  REQUIRE(json_string(first, "status") == "processed");
  auto ref = json_string(first, "case");
  auto detail = admin.get("/api/v1/cases/" + ref).body;
  CHECK(detail.find("\"source\":\"email\"") != std::string::npos);
  CHECK(detail.find("birmingham") != std::string::npos);
  CHECK(detail.find("Jo Reporter") == std::string::npos);
  // The journalist is acknowledged once (queued in the outbox, sealed); an auto-reply is not.
  CHECK(eventually([&] { return admin.get("/api/v1/cases/" + ref).body.find("acknowledgement_sent") != std::string::npos; },
                   10s));
  auto redis = stack.redis();
  CHECK(redis.command({"XLEN", "md:outbox"})->integer == 1);
  auto out_of_office = stack.wait_for_intake(
      admin, queue_email(stack, email("away@news.example", "Out of office", "ooo@news.example",
                                      "I am away until Monday and cannot reply about refugees in Leeds.",
                                      "Auto-Submitted: auto-replied\r\n")));
  CHECK(admin.get("/api/v1/cases/" + json_string(out_of_office, "case")).body.find("acknowledgement_sent") ==
        std::string::npos);

  // A reply naming our message by In-Reply-To joins the case, even without the tag.
  auto reply = stack.wait_for_intake(
      admin, queue_email(stack, email("Jo Reporter <jo@bbc.co.uk>", "Re: Refugee doctor in Birmingham", "second@bbc.co.uk",
                                      "Any luck? Still need someone.", "In-Reply-To: <first@bbc.co.uk>\r\n")));
  CHECK(json_string(reply, "case") == ref);
  // The case tag in the subject from the same journalist joins it too.
  auto tagged = stack.wait_for_intake(
      admin, queue_email(stack, email("jo@bbc.co.uk", "Update [" + ref + "]", "third@bbc.co.uk",
                                      "The slot moved to 5pm, something completely different now.")));
  CHECK(json_string(tagged, "case") == ref);
  // The same tag from someone else opens a case of their own.
  auto stranger = stack.wait_for_intake(
      admin, queue_email(stack, email("someone@elsewhere.example", "Update [" + ref + "]", "fourth@elsewhere.example",
                                      "Please add me to this story about something unrelated entirely.")));
  CHECK(json_string(stranger, "case") != ref);
  auto timeline = admin.get("/api/v1/cases/" + ref).body;
  std::size_t replies = 0;
  for (auto at = timeline.find("\"reply_received\""); at != std::string::npos; at = timeline.find("\"reply_received\"", at + 1))
    ++replies;
  CHECK(replies == 2);

  // Bytes that are no message at all still become a case, marked unparsed, raw kept sealed.
  auto garbage = stack.wait_for_intake(admin, queue_email(stack, std::string{'\x00', '\xff', '\xfe', ' ', 'b', 'i', 'n', '\x01'}));
  REQUIRE(json_string(garbage, "status") == "processed");
  CHECK(admin.get("/api/v1/cases/" + json_string(garbage, "case")).body.find("\"unparsed\":true") != std::string::npos);
  auto db = stack.database();
  CHECK(count_rows(db, "SELECT count(*) FROM cases") == 4);
  CHECK(count_rows(db, "SELECT count(*) FROM case_message_ids WHERE direction = 'in'") == 5);
}

namespace {

// Runs `mediadesk mailgate` as an MTA's pipe transport does: the message on stdin, the
// process environment from the stack. Returns {exit status, stdout}.
std::pair<int, std::string> run_mailgate(test_stack& stack, const std::string& message, const std::string& args = "") {
  auto command = stack.cli_command() + fmt::format(" mailgate {} 2>/dev/null", args);
  auto r = run_command(command, message);
  return {r.status, r.out};
}

}  // namespace

TEST_CASE("mailgate: exit 0 once queued, 75 when Redis is down, 65 for what can never be accepted") {
  test_stack stack("mailgate");
  stack.start("serve");
  stack.start("worker");
  auto admin = stack.admin();
  auto [status, out] = run_mailgate(stack, email("pat@news.example", "Detention", "gate@news.example",
                                                 "Looking for a former detainee from Brook House to talk on camera."),
                                    "--sender pat@news.example");
  REQUIRE(status == 0);
  REQUIRE(out.starts_with("queued as "));
  auto intake_id = out.substr(10, 26);
  auto intake = stack.wait_for_intake(admin, intake_id);
  CHECK(json_string(intake, "status") == "processed");
  auto ref = json_string(intake, "case");
  auto reveal = admin.request("POST", "/api/v1/cases/" + ref + "/reveal", R"({"reason":"check the envelope"})");
  CHECK(reveal.body.find("Return-Path: <pat@news.example>") != std::string::npos);

  CHECK(run_mailgate(stack, "").first == 65);
  CHECK(run_mailgate(stack, std::string(2000, 'x'), "").first == 0);  // not a message, still kept (unparsed)
  stack.redis_server().stop();
  CHECK(run_mailgate(stack, email("pat@news.example", "Again", "gate2@news.example", "Second try")).first == 75);
}

TEST_CASE("a reply queued before its first message has a case still joins that case (one worker batch)") {
  test_stack stack("email_batch_thread");
  // No worker yet: both wait in the stream and reach the worker in one batch.
  auto [s1, first] = run_mailgate(stack, email("Kit Moss <kit@news.example>", "Hotel asylum housing",
                                               "batch1@news.example", "Looking for someone in a Leeds hotel."));
  auto [s2, reply] = run_mailgate(stack, email("Kit Moss <kit@news.example>", "Re: Hotel asylum housing",
                                               "batch2@news.example", "Also fine by phone.",
                                               "In-Reply-To: <batch1@news.example>\r\n"));
  REQUIRE(s1 == 0);
  REQUIRE(s2 == 0);
  stack.start("serve");
  stack.start("worker");
  auto admin = stack.admin();
  auto a = stack.wait_for_intake(admin, first.substr(10, 26));
  auto b = stack.wait_for_intake(admin, reply.substr(10, 26));
  CHECK(json_string(a, "status") == "processed");
  CHECK(json_string(b, "case") == json_string(a, "case"));
  auto db = stack.database();
  CHECK(count_rows(db, "SELECT count(*) FROM cases") == 1);
  CHECK(count_rows(db, "SELECT count(*) FROM case_events WHERE kind = 'reply_received'") == 1);
}
