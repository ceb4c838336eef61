// Integration: the outbox and the mail sender in the real worker (maildir, SMTP to nowhere,
// SMTP to a small fake server), and staff replies from the HTTP API to the journalist's mailbox.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <signal.h>

#include <boost/json/parse.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "mail/message.hpp"
#include "mail/outbound.hpp"
#include "queue/keys.hpp"
#include "queue/outbox.hpp"
#include "store/case_store.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const queue::redis_keys keys{"md:"};
constexpr const char* journalist = "sam.reporter@newsroom.example";

std::size_t occurrences(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (!it->path().filename().string().starts_with(".")) out.push_back(it->path());
  return out;
}

// The file in dir whose content holds every needle, if any.
std::optional<std::string> file_with(const fs::path& dir, std::initializer_list<std::string_view> needles) {
  for (auto& p : files_in(dir)) {
    auto content = read_file(p);
    if (std::all_of(needles.begin(), needles.end(), [&](auto n) { return content.find(n) != std::string::npos; }))
      return content;
  }
  return std::nullopt;
}

queue::outbound_mail sample_mail(std::string_view body_marker) {
  mail::outbound_fields f;
  f.from_name = "MediaDesk";
  f.from_address = "requests@desk.example";
  f.to_name = "Sam Reporter";
  f.to_address = journalist;
  f.subject = mail::reply_subject("Channel crossings", "MD-2026-000042");
  f.body_text = fmt::format("Hello Sam,\n{}\n.leading dot line\n", body_marker);
  f.message_id = mail::make_message_id("desk.example");
  f.auto_reply = true;
  f.case_ref = "MD-2026-000042";
  return {queue::new_outbox_id(),        "requests@desk.example", {journalist},
          mail::build_message(f, now()), "acknowledgement",       "MD-2026-000042"};
}

std::int64_t integer(queue::redis_connection& c, std::initializer_list<std::string_view> command) {
  auto r = c.command(command);
  return r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
}

// Every value under the prefix, whatever its type, as one string: to prove what is not in Redis.
std::string everything_in_redis(queue::redis_connection& c) {
  std::string all;
  auto collect = [&](auto&& self, const redisReply* r) -> void {
    if (!r) return;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) all.append(r->str, r->len).append("\n");
    if (r->type == REDIS_REPLY_ARRAY)
      for (std::size_t i = 0; i < r->elements; ++i) self(self, r->element[i]);
  };
  auto key_list = c.command({"KEYS", "md:*"});
  for (std::size_t i = 0; i < key_list->elements; ++i) {
    std::string key{queue::text_of(key_list->element[i])};
    all += key + "\n";
    auto type = std::string{queue::text_of(c.command({"TYPE", key}).get())};
    queue::redis_reply value;
    if (type == "string") value = c.command({"GET", key});
    else if (type == "stream") value = c.command({"XRANGE", key, "-", "+"});
    else if (type == "zset") value = c.command({"ZRANGE", key, "0", "-1", "WITHSCORES"});
    else if (type == "hash") value = c.command({"HGETALL", key});
    else if (type == "list") value = c.command({"LRANGE", key, "0", "-1"});
    else if (type == "set") value = c.command({"SMEMBERS", key});
    collect(collect, value.get());
  }
  return all;
}

std::map<std::string, std::string> first_entry(queue::redis_connection& c, const std::string& stream) {
  std::map<std::string, std::string> fields;
  auto r = c.command({"XRANGE", stream, "-", "+", "COUNT", "1"});
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return fields;
  auto* f = r->element[0]->element[1];
  for (std::size_t i = 0; i + 1 < f->elements; i += 2)
    fields[std::string{queue::text_of(f->element[i])}] = std::string{queue::text_of(f->element[i + 1])};
  return fields;
}

// A small SMTP server: answers 250 (or, with "reject", 550 to RCPT), and writes each message
// with its envelope to a file in the output folder. Enough for libcurl's client.
constexpr std::string_view fake_smtp_script = R"py(
import asyncio, os, sys
port, out, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
count = 0
async def session(reader, writer):
    global count
    def say(text): writer.write(text.encode() + b"\r\n")
    say("220 fake.example ESMTP")
    sender, recipients, data, lines = b"", [], False, []
    while True:
        line = await reader.readline()
        if not line: break
        if data:
            if line == b".\r\n":
                data = False
                count += 1
                tmp = os.path.join(out, ".%d.tmp" % count)
                with open(tmp, "wb") as f:
                    f.write(b"X-Envelope-From: " + sender + b"\r\nX-Envelope-To: " + b",".join(recipients) + b"\r\n")
                    f.write(b"".join(lines))
                os.rename(tmp, os.path.join(out, "%d.eml" % count))
                lines = []
                say("250 2.0.0 queued")
            else:
                lines.append(line[1:] if line.startswith(b"..") else line)
            await writer.drain()
            continue
        command = line.strip().upper()
        if command.startswith(b"EHLO"): say("250-fake.example"); say("250 8BITMIME")
        elif command.startswith(b"HELO"): say("250 fake.example")
        elif command.startswith(b"MAIL FROM:"): sender, recipients = line.strip()[10:], []; say("250 2.1.0 ok")
        elif command.startswith(b"RCPT TO:"):
            if mode == "reject": say("550 5.1.1 " + line.strip()[8:].decode() + " no such user")
            else: recipients.append(line.strip()[8:]); say("250 2.1.5 ok")
        elif command == b"DATA": data = True; say("354 end with .")
        elif command in (b"RSET", b"NOOP"): say("250 ok")
        elif command == b"QUIT": say("221 bye"); await writer.drain(); break
        else: say("502 5.5.2 not implemented")
        await writer.drain()
    writer.close()
async def main():
    server = await asyncio.start_server(session, "127.0.0.1", port)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
)py";

// The dead-letter requeue script from docs/OPERATIONS.md, verbatim.
constexpr std::string_view requeue_script = R"lua(local e = redis.call("XRANGE", KEYS[1], ARGV[1], ARGV[1])[1]
if not e then return nil end
local f = {}
for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
redis.call("XADD", KEYS[2], "*", "id", f.id, "purpose", f.purpose, "ref", f.ref, "attempt", "0", "at", f.at, "p", f.p)
redis.call("XDEL", KEYS[1], ARGV[1])
return f.id)lua";

struct fake_smtp {
  fake_smtp(const fs::path& home, const std::string& mode)
      : out(home / ("smtp-" + mode)), port(server::free_loopback_port()) {
    fs::create_directories(out);
    auto script = home / "fake_smtp.py";
    std::ofstream{script} << fake_smtp_script;
    auto log = home / ("fake-smtp-" + mode + ".log");
    process = server::child_process({"python3", script.string(), std::to_string(port), out.string(), mode}, log,
                                    std::nullopt, SIGKILL);
    bool up = eventually([&] { return read_file(log).find("listening") != std::string::npos; }, 15s);
    if (!up) throw std::runtime_error("the fake SMTP server did not start; see " + log.string());
  }
  ~fake_smtp() { process.stop(SIGTERM, 2s); }
  std::string url() const { return fmt::format("smtp://127.0.0.1:{}", port); }
  fs::path out;
  int port;
  server::child_process process;
};

std::string request_json(const std::string& subject) {
  return fmt::format(R"({{"journalist":{{"name":"Sam Reporter","email":"{}"}},"outlet":"BBC Radio Kent",)"
                     R"("subject":"{}","body":"Looking for someone with lived experience, voice only."}})",
                     journalist, subject);
}

// A case as email intake stores it (the raw message, sealed to the case), inserted directly so
// that this test does not depend on the SMTP listener.
void insert_email_case(test_stack& stack, const std::string& ref, const std::string& raw) {
  auto c = stack.database();
  auto sealed = stack.keys().seal(raw, store::case_request_binding(ref));
  c.exec("INSERT INTO cases (ref, source, request_sealed) VALUES ($1, 'email', $2)",
         {store::text(ref), store::bytes(sealed)});
}

}  // namespace

TEST_CASE("a queued message lands in the maildir exactly once, and Redis never holds it in clear") {
  test_stack stack("outbox_maildir");
  auto maildir = stack.home() / "mailbox";
  auto redis = stack.redis();
  auto mail = sample_mail("MARKER-MAILDIR-1");
  queue::enqueue_mail(redis, keys, stack.keys(), mail);
  CHECK(integer(redis, {"XLEN", "md:outbox"}) == 1);
  auto stored = everything_in_redis(redis);
  CHECK(stored.find(journalist) == std::string::npos);
  CHECK(stored.find("MARKER-MAILDIR-1") == std::string::npos);
  CHECK(stored.find("Channel crossings") == std::string::npos);
  auto entry = first_entry(redis, "md:outbox");
  CHECK(entry["id"] == mail.id);
  CHECK(entry["purpose"] == "acknowledgement");
  CHECK(entry["ref"] == "MD-2026-000042");
  CHECK(entry["attempt"] == "0");

  int worker = stack.start("worker", {{"MEDIADESK_MAIL_MAILDIR", maildir.string()}});
  REQUIRE(eventually([&] { return fs::exists(maildir / "new" / mail.id); }, 20s));
  CHECK(read_file(maildir / "new" / mail.id) == mail.message);
  CHECK(eventually([&] { return integer(redis, {"XLEN", "md:outbox"}) == 0; }, 10s));
  CHECK(integer(redis, {"EXISTS", "md:outbox:sent:" + mail.id}) == 1);

  // The same outbox id again (a redelivery after a crash before XACK): not written twice.
  queue::enqueue_mail(redis, keys, stack.keys(), mail);
  CHECK(eventually([&] { return integer(redis, {"XLEN", "md:outbox"}) == 0; }, 10s));
  CHECK(files_in(maildir / "new").size() == 1);
  CHECK(files_in(maildir / "tmp").empty());

  auto log = read_file(stack.log_file(worker));
  CHECK(log.find("delivered by maildir") != std::string::npos);
  CHECK(log.find(journalist) == std::string::npos);
  CHECK(log.find("MARKER-MAILDIR-1") == std::string::npos);
}

TEST_CASE("the per-address acknowledgement limit allows per_hour in a sliding hour") {
  test_stack stack("outbox_ack_limit");
  auto redis = stack.redis();
  auto index = stack.keys().blind_index("journalist.email", journalist);
  for (int i = 0; i < 3; ++i) CHECK(queue::take_acknowledgement_slot(redis, keys, index, 3));
  CHECK_FALSE(queue::take_acknowledgement_slot(redis, keys, index, 3));
  CHECK(queue::take_acknowledgement_slot(redis, keys, stack.keys().blind_index("journalist.email", "other@x.example"),
                                         3));
  CHECK_FALSE(queue::take_acknowledgement_slot(redis, keys, index, 0));
  auto stored = everything_in_redis(redis);
  CHECK(stored.find("newsroom.example") == std::string::npos);
  CHECK(integer(redis, {"PTTL", keys.acknowledgement_rate_limit(crypto::to_hex(index))}) > 3'500'000);
}

TEST_CASE("SMTP to a port where nothing listens is retried with backoff, then dead-lettered") {
  test_stack stack("outbox_nowhere");
  auto redis = stack.redis();
  auto mail = sample_mail("MARKER-NOWHERE");
  queue::enqueue_mail(redis, keys, stack.keys(), mail);
  int worker = stack.start(
      "worker", {{"MEDIADESK_MAIL_TRANSPORT", "smtp"},
                 {"MEDIADESK_MAIL_SMTP_URL", fmt::format("smtp://127.0.0.1:{}", server::free_loopback_port())},
                 {"MEDIADESK_MAIL_STARTTLS", "false"},
                 {"MEDIADESK_MAIL_MAX_ATTEMPTS", "2"},
                 {"MEDIADESK_MAIL_RETRY_BASE_MS", "100"}});
  REQUIRE(eventually([&] { return integer(redis, {"XLEN", "md:outbox:dead"}) == 1; }, 20s));
  CHECK(stack.wait_for_log(worker, "attempt 1 of 2 failed", 1s));
  CHECK(stack.wait_for_log(worker, "retry in", 1s));
  CHECK(stack.wait_for_log(worker, "moved to the dead-letter stream: failed 2 attempts", 1s));
  auto dead = first_entry(redis, "md:outbox:dead");
  CHECK(dead["id"] == mail.id);
  CHECK(dead["attempt"] == "2");
  CHECK(dead["reason"].starts_with("failed 2 attempts; last: smtp:"));
  CHECK(!dead["p"].empty());  // still sealed, so it can be put back
  CHECK(integer(redis, {"XLEN", "md:outbox"}) == 0);
  CHECK(integer(redis, {"ZCARD", "md:outbox:retry"}) == 0);
  CHECK(integer(redis, {"HLEN", "md:outbox:retry:messages"}) == 0);
  auto stored = everything_in_redis(redis);
  CHECK(stored.find(journalist) == std::string::npos);
  CHECK(stored.find("MARKER-NOWHERE") == std::string::npos);
  CHECK(read_file(stack.log_file(worker)).find(journalist) == std::string::npos);

  // The requeue script of docs/OPERATIONS.md puts it back with attempt 0: tried twice more.
  auto dead_entry = redis.command({"XRANGE", "md:outbox:dead", "-", "+"});
  std::string dead_id{queue::text_of(dead_entry->element[0]->element[0])};
  auto requeued = redis.command({"EVAL", requeue_script, "2", "md:outbox:dead", "md:outbox", dead_id});
  CHECK(queue::text_of(requeued.get()) == mail.id);
  CHECK(eventually(
      [&] { return occurrences(read_file(stack.log_file(worker)), "moved to the dead-letter stream") == 2; }, 20s));
  CHECK(occurrences(read_file(stack.log_file(worker)), "attempt 1 of 2 failed") == 2);
  CHECK(integer(redis, {"XLEN", "md:outbox:dead"}) == 1);
  CHECK(first_entry(redis, "md:outbox:dead")["attempt"] == "2");
}

TEST_CASE("a message waiting for its retry sits in the retry schedule, sealed, then goes back to the stream") {
  test_stack stack("outbox_retry_set");
  auto redis = stack.redis();
  auto mail = sample_mail("MARKER-RETRY");
  queue::enqueue_mail(redis, keys, stack.keys(), mail);
  int worker = stack.start(
      "worker", {{"MEDIADESK_MAIL_TRANSPORT", "smtp"},
                 {"MEDIADESK_MAIL_SMTP_URL", fmt::format("smtp://127.0.0.1:{}", server::free_loopback_port())},
                 {"MEDIADESK_MAIL_STARTTLS", "false"},
                 {"MEDIADESK_MAIL_MAX_ATTEMPTS", "3"},
                 {"MEDIADESK_MAIL_RETRY_BASE_MS", "3000"}});
  REQUIRE(eventually([&] { return integer(redis, {"ZCARD", "md:outbox:retry"}) == 1; }, 20s));
  auto members = redis.command({"ZRANGE", "md:outbox:retry", "0", "-1", "WITHSCORES"});
  REQUIRE(members->elements == 2);
  // The member holds only the clear fields: id, attempt, purpose, ref, enqueued at.
  CHECK(std::string{queue::text_of(members->element[0])}.starts_with(mail.id + "|1|acknowledgement|MD-2026-000042|"));
  auto due_ms = std::stoll(std::string{queue::text_of(members->element[1])});
  auto delay = due_ms - to_unix_ms(now());
  CHECK(delay > 0);
  CHECK(delay <= 3000);
  CHECK(integer(redis, {"XLEN", "md:outbox"}) == 0);
  CHECK(integer(redis, {"HLEN", "md:outbox:retry:messages"}) == 1);
  auto stored = everything_in_redis(redis);
  CHECK(stored.find(journalist) == std::string::npos);
  CHECK(stored.find("MARKER-RETRY") == std::string::npos);
  // Due: back in the stream and tried again (attempt 2 of 3).
  CHECK(stack.wait_for_log(worker, "attempt 2 of 3 failed", 20s));
}

TEST_CASE("libcurl delivers to an SMTP server; a 5xx refusal is dead-lettered at once") {
  test_stack stack("outbox_smtp");
  fake_smtp accepting(stack.home(), "accept");
  fake_smtp refusing(stack.home(), "reject");
  auto redis = stack.redis();
  auto mail = sample_mail("MARKER-SMTP");
  queue::enqueue_mail(redis, keys, stack.keys(), mail);
  stack.start("worker", {{"MEDIADESK_MAIL_TRANSPORT", "smtp"},
                         {"MEDIADESK_MAIL_SMTP_URL", accepting.url()},
                         {"MEDIADESK_MAIL_STARTTLS", "false"}});
  REQUIRE(eventually([&] { return files_in(accepting.out).size() == 1; }, 20s));
  auto received = read_file(files_in(accepting.out).front());
  CHECK(received ==
        fmt::format("X-Envelope-From: <requests@desk.example>\r\nX-Envelope-To: <{}>\r\n{}", journalist, mail.message));
  auto parsed = mail::parse_message(received);
  CHECK(parsed.subject == "Re: Channel crossings [MD-2026-000042]");
  CHECK(parsed.text.find("\n.leading dot line") != std::string::npos);  // dot-stuffing undone intact
  CHECK(eventually([&] { return integer(redis, {"XLEN", "md:outbox"}) == 0; }, 10s));

  // A relay that refuses the recipient permanently: straight to the dead letters, attempt 1.
  int second = stack.start("worker", {{"MEDIADESK_MAIL_TRANSPORT", "smtp"},
                                      {"MEDIADESK_MAIL_SMTP_URL", refusing.url()},
                                      {"MEDIADESK_MAIL_STARTTLS", "false"}});
  stack.kill(0, SIGTERM);
  REQUIRE(stack.wait_exit(0, 20s) == 0);
  REQUIRE(stack.wait_for_log(second, "mail sender"));
  auto refused = sample_mail("MARKER-REFUSED");
  queue::enqueue_mail(redis, keys, stack.keys(), refused);
  REQUIRE(eventually([&] { return integer(redis, {"XLEN", "md:outbox:dead"}) == 1; }, 20s));
  auto dead = first_entry(redis, "md:outbox:dead");
  CHECK(dead["id"] == refused.id);
  CHECK(dead["attempt"] == "1");
  CHECK(dead["reason"].starts_with("permanent failure: smtp:"));
  CHECK(dead["reason"].find("550") != std::string::npos);
  CHECK(dead["reason"].find(journalist) == std::string::npos);  // the server's text is never kept
  CHECK(files_in(refusing.out).empty());
  CHECK(read_file(stack.log_file(second)).find(journalist) == std::string::npos);
}

TEST_CASE("a staff reply goes to the journalist, threaded and tagged, and is recorded sealed on the case") {
  test_stack stack("outbox_reply");
  auto maildir = stack.home() / "mailbox";
  stack.start("serve");
  stack.start("worker", {{"MEDIADESK_MAIL_MAILDIR", maildir.string()}});
  auto posted = stack.post_request(request_json("Channel crossings"));
  REQUIRE(posted.status == 202);
  auto admin = stack.admin();
  auto intake = stack.wait_for_intake(admin, json_string(posted.body, "intake_id"));
  auto ref = json_string(intake, "case");
  REQUIRE(ref.starts_with("MD-"));

  auto reply = admin.request("POST", "/api/v1/cases/" + ref + "/replies",
                             R"({"body":"Hello Sam,\nWe have a spokesperson in Dover. MARKER-REPLY-1\nThe desk"})");
  REQUIRE(reply.status == 201);
  CHECK(reply.body.find(R"("status":"queued")") != std::string::npos);
  auto message_id = boost::json::parse(reply.body).at("reply").at("message_id").as_string();
  CHECK(message_id.find('<') == boost::json::string::npos);
  auto file = std::optional<std::string>{};
  REQUIRE(eventually(
      [&] {
        return (file = file_with(maildir / "new", {"X-MediaDesk-Case: " + ref, "MARKER-REPLY-1"})).has_value();
      },
      20s));
  auto parsed = mail::parse_message(*file);
  CHECK(parsed.to_addresses == std::vector<std::string>{journalist});
  CHECK(parsed.subject == "Re: Channel crossings [" + ref + "]");
  CHECK(parsed.in_reply_to.empty());  // a webhook request has no Message-ID to answer
  CHECK(parsed.from_address == "requests@desk.example");
  CHECK(parsed.auto_submitted.empty());
  CHECK(parsed.text.find("We have a spokesperson in Dover.") != std::string::npos);

  auto detail = admin.get("/api/v1/cases/" + ref);
  CHECK(detail.body.find(R"("kind":"reply_sent")") != std::string::npos);
  CHECK(detail.body.find("message_id_hash") != std::string::npos);
  CHECK(detail.body.find("MARKER-REPLY-1") == std::string::npos);
  CHECK(detail.body.find(journalist) == std::string::npos);
  auto db = stack.database();
  CHECK(count_rows(
            db,
            "SELECT count(*) FROM case_messages WHERE direction = 'out' AND source = 'reply' AND intake_id IS NULL") ==
        1);
  auto sealed = db.exec("SELECT sealed FROM case_messages WHERE direction = 'out'").get_bytes(0, 0);
  auto id_in_file = parsed.message_id;
  CHECK(id_in_file == message_id);
  auto opened = stack.keys().open(sealed, "case_messages.sealed:out:" + id_in_file);
  REQUIRE(opened);
  CHECK(opened->find("MARKER-REPLY-1") != std::string::npos);
  CHECK(count_rows(db, "SELECT count(*) FROM case_events WHERE kind = 'reply_sent' AND data::text LIKE '%newsroom%'") ==
        0);
  // Registered for threading: the journalist's answer to it finds the case.
  auto registered = db.exec("SELECT direction FROM case_message_ids WHERE message_id_index = $1",
                            {store::bytes(store::message_id_index(stack.keys(), id_in_file))});
  REQUIRE(registered.rows() == 1);
  CHECK(registered.get(0, 0) == "out");

  // The body is checked; the case must exist; staff must send the CSRF token.
  CHECK(admin.request("POST", "/api/v1/cases/" + ref + "/replies", R"({"body":"  "})").status == 400);
  CHECK(admin.request("POST", "/api/v1/cases/" + ref + "/replies", R"({})").body.find(R"("field":"body")") !=
        std::string::npos);
  CHECK(admin
            .request("POST", "/api/v1/cases/" + ref + "/replies",
                     fmt::format(R"({{"body":"{}"}})", std::string(20'001, 'a')))
            .status == 400);
  CHECK(admin
            .request("POST", "/api/v1/cases/" + ref + "/replies",
                     fmt::format(R"({{"body":"{}"}})", std::string(20'000, 'a')))
            .status == 201);
  CHECK(admin.request("POST", "/api/v1/cases/MD-2026-999999/replies", R"({"body":"hi"})").status == 404);
  CHECK(admin.request("POST", "/api/v1/cases/not-a-ref/replies", R"({"body":"hi"})").status == 404);
  auto no_csrf = stack.client();
  CHECK(no_csrf.request("POST", "/api/v1/cases/" + ref + "/replies", R"({"body":"hi"})").status == 401);
}

TEST_CASE("a reply to an emailed request answers its Reply-To and threads on its Message-ID") {
  test_stack stack("outbox_reply_email");
  auto maildir = stack.home() / "mailbox";
  stack.start("serve");
  stack.start("worker", {{"MEDIADESK_MAIL_MAILDIR", maildir.string()}});
  insert_email_case(stack, "MD-2026-900001",
                    "Return-Path: <sam@newsroom.example>\r\n"
                    "From: =?utf-8?q?Z=C3=B6e_Reporter?= <zoe@newsroom.example>\r\n"
                    "Reply-To: desk@newsroom.example\r\n"
                    "To: requests@desk.example\r\n"
                    "Subject: Re: Asylum hotels feature [MD-2026-900001]\r\n"
                    "Message-ID: <second@newsroom.example>\r\n"
                    "References: <first@newsroom.example> <ack@desk.example>\r\n"
                    "\r\n"
                    "Any news?\r\n");
  // A case whose request names no address cannot be answered.
  {
    auto c = stack.database();
    auto sealed = stack.keys().seal(R"({"journalist":{"name":"Anon"},"subject":"x","body":"y"})",
                                    store::case_request_binding("MD-2026-900002"));
    c.exec("INSERT INTO cases (ref, source, request_sealed) VALUES ('MD-2026-900002', 'webhook', $1)",
           {store::bytes(sealed)});
  }
  auto admin = stack.admin();
  auto reply = admin.request("POST", "/api/v1/cases/MD-2026-900001/replies", R"({"body":"Yes: MARKER-EMAIL-REPLY"})");
  REQUIRE(reply.status == 201);
  std::optional<std::string> file;
  REQUIRE(eventually([&] { return (file = file_with(maildir / "new", {"MARKER-EMAIL-REPLY"})).has_value(); }, 20s));
  auto parsed = mail::parse_message(*file);
  CHECK(parsed.to_addresses == std::vector<std::string>{"desk@newsroom.example"});
  CHECK(parsed.subject == "Re: Asylum hotels feature [MD-2026-900001]");
  CHECK(parsed.in_reply_to == "second@newsroom.example");
  CHECK(parsed.references ==
        std::vector<std::string>{"first@newsroom.example", "ack@desk.example", "second@newsroom.example"});
  CHECK(file->find("To: =?utf-8?B?") != std::string::npos);  // the name, encoded

  CHECK(admin.request("POST", "/api/v1/cases/MD-2026-900002/replies", R"({"body":"hello"})").status == 409);
}
