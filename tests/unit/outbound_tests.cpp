// Unit tests for outbound mail: building (headers, folding, RFC 2047, QP, no header injection, parsed back),
// subjects, RFC 3834 suppression, the transports' outcomes and maildir delivery, the retry delays.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/time.hpp"
#include "mail/auto_reply.hpp"
#include "mail/message.hpp"
#include "mail/outbound.hpp"
#include "mail/transport.hpp"
#include "server/embedded_services.hpp"
#include "server/mail_sender.hpp"

using namespace md;
using namespace md::mail;
namespace fs = std::filesystem;

namespace {

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

time_point at(std::string_view iso) { return *parse_iso8601(iso); }

outbound_fields sample() {
  outbound_fields f;
  f.from_name = "MediaDesk";
  f.from_address = "requests@desk.example";
  f.to_name = "Sam Example";
  f.to_address = "sam@newsroom.example";
  f.subject = "Re: Channel crossings [MD-2026-000123]";
  f.body_text = "Hello Sam,\nWe have someone for you.\n";
  f.message_id = "md.1.abc@desk.example";
  f.case_ref = "MD-2026-000123";
  return f;
}

// The header block, unfolded lines as they are on the wire.
std::vector<std::string> header_lines(const std::string& message) {
  std::vector<std::string> out;
  auto end = message.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  std::size_t i = 0;
  while (i < end + 2) {
    auto e = message.find("\r\n", i);
    out.push_back(message.substr(i, e - i));
    i = e + 2;
  }
  return out;
}

std::string header_named(const std::string& message, std::string_view name) {
  std::string value;
  bool in = false;
  for (auto& line : header_lines(message)) {
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      if (in) value += line;
      continue;
    }
    in = line.size() > name.size() && line.compare(0, name.size(), name) == 0 && line[name.size()] == ':';
    if (in) value = line.substr(name.size() + 2);
  }
  return value;
}

bool no_bare_line_feeds(const std::string& s) {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return false;
  return true;
}

std::size_t longest_line(const std::string& s) {
  std::size_t longest = 0, start = 0;
  for (std::size_t e; (e = s.find("\r\n", start)) != std::string::npos; start = e + 2)
    longest = std::max(longest, e - start);
  return longest;
}

parsed_message incoming(std::string_view headers, std::string_view body = "Hello, we need a voice.\n") {
  std::string raw{headers};
  raw += "\n";
  raw += body;
  return parse_message(raw);
}

constexpr std::string_view person =
    "Return-Path: <sam@newsroom.example>\n"
    "From: Sam Example <sam@newsroom.example>\n"
    "To: requests@desk.example\n"
    "Subject: Channel crossings\n"
    "Message-ID: <a1@newsroom.example>\n";

fs::path fresh_dir(std::string_view name) {
  static int n = 0;
  auto dir = fs::temp_directory_path() / fmt::format("mediadesk-outbound-{}-{}-{}", ::getpid(), name, ++n);
  fs::remove_all(dir);
  return dir;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t files_in(const fs::path& dir) {
  if (!fs::exists(dir)) return 0;
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

// ---- build_message ------------------------------------------------------------------------------

TEST_CASE("a built message has the headers, CRLF line ends and a quoted-printable body", "[outbound]") {
  auto m = build_message(sample(), at("2026-03-10T09:00:00Z"));
  CHECK(no_bare_line_feeds(m));
  CHECK(header_named(m, "Date") == "Tue, 10 Mar 2026 09:00:00 +0000");
  CHECK(header_named(m, "From") == "MediaDesk <requests@desk.example>");
  CHECK(header_named(m, "To") == "Sam Example <sam@newsroom.example>");
  CHECK(header_named(m, "Subject") == "Re: Channel crossings [MD-2026-000123]");
  CHECK(header_named(m, "Message-ID") == "<md.1.abc@desk.example>");
  CHECK(header_named(m, "MIME-Version") == "1.0");
  CHECK(header_named(m, "Content-Type") == "text/plain; charset=utf-8");
  CHECK(header_named(m, "Content-Transfer-Encoding") == "quoted-printable");
  CHECK(header_named(m, "In-Reply-To").empty());
  CHECK(header_named(m, "References").empty());
  CHECK(header_named(m, "Auto-Submitted").empty());  // a person's reply, not an automatic one
  CHECK(header_named(m, "X-MediaDesk-Case") == "MD-2026-000123");
  CHECK(m.ends_with("\r\n\r\nHello Sam,\r\nWe have someone for you.\r\n"));
}

TEST_CASE("the Date header is London time, with the BST offset in summer", "[outbound]") {
  auto m = build_message(sample(), at("2026-07-01T12:34:56Z"));
  CHECK(header_named(m, "Date") == "Wed, 1 Jul 2026 13:34:56 +0100");
}

TEST_CASE("acknowledgements carry the RFC 3834 and Exchange suppression headers", "[outbound]") {
  auto f = sample();
  f.auto_reply = true;
  auto m = build_message(f, at("2026-03-10T09:00:00Z"));
  CHECK(header_named(m, "Auto-Submitted") == "auto-replied");
  CHECK(header_named(m, "X-Auto-Response-Suppress") == "All");
  auto parsed = parse_message(m);
  CHECK(parsed.auto_submitted == "auto-replied");
  CHECK_FALSE(may_acknowledge(parsed));  // our own acknowledgement never gets one back
}

TEST_CASE("threading headers are written and parse back", "[outbound]") {
  auto f = sample();
  f.in_reply_to = "a1@newsroom.example";
  f.references = {"root@newsroom.example", "<mid@desk.example>"};
  auto m = build_message(f, at("2026-03-10T09:00:00Z"));
  CHECK(header_named(m, "In-Reply-To") == "<a1@newsroom.example>");
  auto parsed = parse_message(m);
  CHECK(parsed.message_id == "md.1.abc@desk.example");
  CHECK(parsed.in_reply_to == "a1@newsroom.example");
  CHECK(parsed.references ==
        std::vector<std::string>{"root@newsroom.example", "mid@desk.example", "a1@newsroom.example"});
  CHECK(parsed.subject == "Re: Channel crossings [MD-2026-000123]");
  CHECK(parsed.from_address == "requests@desk.example");
  CHECK(parsed.to_addresses == std::vector<std::string>{"sam@newsroom.example"});
}

TEST_CASE("long References fold within 78 characters and long chains keep the root and the latest", "[outbound]") {
  auto f = sample();
  for (int i = 0; i < 30; ++i)
    f.references.push_back(fmt::format("message-{:02}.{}@mail.newsroom.example", i, i * 7919));
  f.in_reply_to = f.references.back();
  auto m = build_message(f, at("2026-03-10T09:00:00Z"));
  for (auto& line : header_lines(m)) CHECK(line.size() <= 78);
  auto parsed = parse_message(m);
  REQUIRE(parsed.references.size() == 20);
  CHECK(parsed.references.front() == f.references.front());
  CHECK(parsed.references.back() == f.references.back());
  CHECK(parsed.references[1] == f.references[11]);
}

TEST_CASE("a subject that is not ASCII is RFC 2047 encoded, folded, and decodes back", "[outbound]") {
  auto f = sample();
  f.subject =
      "Re: Réfugiés à Calais — témoignages pour « Envoyé spécial », ça presse énormément [MD-2026-000123]";
  f.to_name = "José Müller";
  auto m = build_message(f, at("2026-03-10T09:00:00Z"));
  CHECK(contains(header_named(m, "Subject"), "=?utf-8?B?"));
  for (auto& line : header_lines(m)) CHECK(line.size() <= 78);
  auto parsed = parse_message(m);
  CHECK(parsed.subject == f.subject);
  CHECK(parsed.to_addresses == std::vector<std::string>{"sam@newsroom.example"});
  CHECK(encode_header_text("Plain words") == "Plain words");
  CHECK(contains(encode_header_text("a =?utf-8?q?x?= trick"), "=?utf-8?B?"));  // never left to be decoded
}

TEST_CASE("display names with specials are quoted", "[outbound]") {
  auto f = sample();
  f.to_name = "Example, Sam \"The Voice\"";
  auto m = build_message(f, at("2026-03-10T09:00:00Z"));
  CHECK(header_named(m, "To") == R"("Example, Sam \"The Voice\"" <sam@newsroom.example>)");
  auto parsed = parse_message(m);
  CHECK(parsed.to_addresses == std::vector<std::string>{"sam@newsroom.example"});
}

TEST_CASE("no header value can add a header or a recipient", "[outbound]") {
  auto f = sample();
  f.subject = "Hello\r\nBcc: victim@elsewhere.example\r\n\r\nInjected body";
  f.to_name = "Sam\nX-Evil: 1";
  f.to_address = "sam@newsroom.example\r\nCc: other@elsewhere.example, third@elsewhere.example";
  f.from_name = "Desk\rReply-To: attacker@elsewhere.example";
  f.in_reply_to = "a1@x.example>\r\nBcc: b@elsewhere.example";
  f.references = {"r@x.example\nBcc: c@elsewhere.example"};
  f.case_ref = "MD-2026-000123\r\nBcc: d@elsewhere.example";
  auto m = build_message(f, at("2026-03-10T09:00:00Z"));
  for (auto& line : header_lines(m)) {
    CHECK_FALSE(line.starts_with("Bcc"));
    CHECK_FALSE(line.starts_with("Cc"));
    CHECK_FALSE(line.starts_with("X-Evil"));
    CHECK_FALSE(line.starts_with("Reply-To"));
  }
  auto parsed = parse_message(m);
  CHECK(parsed.cc_addresses.empty());
  CHECK(parsed.reply_to_address.empty());
  CHECK(parsed.to_addresses == std::vector<std::string>{"sam@newsroom.example"});
  CHECK(parsed.subject == "Hello Bcc: victim@elsewhere.example Injected body");
  CHECK(parsed.text == "Hello Sam,\nWe have someone for you.");
}

TEST_CASE("the body is quoted-printable: long lines soft-wrapped, specials encoded, text intact", "[outbound]") {
  std::string long_line(200, 'x');
  std::string text = "Café = 5 €\ntrailing space \n" + long_line + "\n.\nFrom the desk\n\tindented\n";
  auto qp = quoted_printable(text);
  CHECK(longest_line(qp) <= 76);
  CHECK(contains(qp, "Caf=C3=A9 =3D 5 =E2=82=AC\r\n"));
  CHECK(contains(qp, "trailing space=20\r\n"));
  CHECK(contains(qp, "\r\n=2E\r\n"));
  CHECK(contains(qp, "\r\n=46rom the desk\r\n"));
  CHECK(quoted_printable("no final newline") == "no final newline\r\n");
  CHECK(quoted_printable("a\r\nb\rc") == "a\r\nb\r\nc\r\n");
  auto f = sample();
  f.body_text = text;
  auto parsed = parse_message(build_message(f, at("2026-03-10T09:00:00Z")));
  CHECK(parsed.text == "Café = 5 €\ntrailing space \n" + long_line + "\n.\nFrom the desk\n\tindented");
}

TEST_CASE("invalid UTF-8 is replaced, not declared as UTF-8", "[outbound]") {
  auto qp = quoted_printable(
      "a\xff"
      "b");
  CHECK(qp == "a=EF=BF=BDb\r\n");
}

// ---- ids, tags, subjects, text ------------------------------------------------------------------

TEST_CASE("message ids are random, bracket-free and at the given domain", "[outbound]") {
  auto a = make_message_id("Desk.Example"), b = make_message_id("desk.example");
  CHECK(a != b);
  CHECK(a.ends_with("@desk.example"));
  CHECK_FALSE(contains(a, "<"));
  CHECK(make_message_id("").ends_with("@mediadesk.invalid"));
  CHECK(make_message_id("bad domain>\r\n").ends_with("@baddomain"));
  CHECK(domain_of("Requests@Desk.Example") == "desk.example");
  CHECK(domain_of("nobody").empty());
}

TEST_CASE("case tags and reply subjects never double the prefix or the tag", "[outbound]") {
  constexpr std::string_view ref = "MD-2026-000123";
  CHECK(case_tag(ref) == "[MD-2026-000123]");
  CHECK(reply_subject("Channel crossings", ref) == "Re: Channel crossings [MD-2026-000123]");
  CHECK(reply_subject("Re: Channel crossings [MD-2026-000123]", ref) == "Re: Channel crossings [MD-2026-000123]");
  CHECK(reply_subject("RE: re:  Aw: Channel crossings", ref) == "Re: Channel crossings [MD-2026-000123]");
  CHECK(reply_subject("Re[2]: Re(3): Channel crossings", ref) == "Re: Channel crossings [MD-2026-000123]");
  CHECK(reply_subject("[md-2026-000123] Re: Channel crossings", ref) == "Re: Channel crossings [MD-2026-000123]");
  CHECK(reply_subject("Fwd: Channel crossings", ref) == "Re: Fwd: Channel crossings [MD-2026-000123]");
  CHECK(reply_subject("Regional news", ref) == "Re: Regional news [MD-2026-000123]");  // "Re" only with a colon
  CHECK(reply_subject("", ref) == "Re: Your media request [MD-2026-000123]");
  CHECK(reply_subject("Line\r\nBcc: x@y.example", ref) == "Re: Line Bcc: x@y.example [MD-2026-000123]");
  CHECK(reply_subject("Other case [MD-2026-000001]", ref) == "Re: Other case [MD-2026-000001] [MD-2026-000123]");
}

TEST_CASE("the acknowledgement names the reference and the tag, and promises nobody", "[outbound]") {
  auto text = acknowledgement_text("MD-2026-000123", "Sam Example");
  CHECK(text.starts_with("Dear Sam Example,\n"));
  CHECK(contains(text, "MD-2026-000123"));
  CHECK(contains(text, "[MD-2026-000123] in the subject"));
  CHECK(contains(text, "We cannot\npromise"));
  CHECK(acknowledgement_text("MD-2026-000123", "").starts_with("Hello,\n"));
  // A "name" that is really an advert is not echoed to whoever forged the sender.
  CHECK(acknowledgement_text("MD-2026-000123", "Win money at www.spam.example").starts_with("Hello,\n"));
  CHECK(acknowledgement_text("MD-2026-000123", "http://spam.example").starts_with("Hello,\n"));
  CHECK(acknowledgement_text("MD-2026-000123", "Zoë O'Brien").starts_with("Dear Zoë O'Brien,\n"));
}

// ---- may_acknowledge (RFC 3834) -----------------------------------------------------------------

TEST_CASE("a person's request is acknowledged", "[outbound]") {
  CHECK(may_acknowledge(incoming(person)));
  CHECK(may_acknowledge(incoming(std::string{person} + "Auto-Submitted: no\n")));
  CHECK(may_acknowledge(incoming(std::string{person} + "Precedence: first-class\n")));
  CHECK(may_acknowledge(incoming(person), "requests@desk.example"));
}

TEST_CASE("automatic mail, lists, bounces and system senders are never acknowledged", "[outbound]") {
  std::string p{person};
  CHECK_FALSE(may_acknowledge(incoming(p + "Auto-Submitted: auto-replied\n")));
  CHECK_FALSE(may_acknowledge(incoming(p + "Auto-Submitted: auto-generated\n")));
  CHECK_FALSE(may_acknowledge(incoming(p + "Auto-Submitted: Auto-Notified; owner-email=x@y.example\n")));
  for (auto precedence : {"bulk", "list", "junk", "auto_reply", "BULK"})
    CHECK_FALSE(may_acknowledge(incoming(p + "Precedence: " + precedence + "\n")));
  CHECK_FALSE(may_acknowledge(incoming(p + "List-Id: <press.lists.example>\n")));
  CHECK_FALSE(may_acknowledge(incoming(p + "List-Unsubscribe: <mailto:leave@lists.example>\n")));

  // Empty or missing return path: a bounce, or nothing to answer to.
  auto without_return_path = std::string{person}.substr(std::string{person}.find('\n') + 1);
  CHECK_FALSE(may_acknowledge(incoming("Return-Path: <>\n" + without_return_path)));
  CHECK_FALSE(may_acknowledge(incoming(without_return_path)));

  for (auto sender : {"MAILER-DAEMON@mx.example", "postmaster@newsroom.example", "noreply@newsroom.example",
                      "no-reply@newsroom.example", "do-not-reply@newsroom.example", "DoNotReply@newsroom.example",
                      "no_reply@newsroom.example", "noreply-alerts@newsroom.example", "owner-press@lists.example",
                      "press-request@lists.example", "bounces@newsroom.example"}) {
    INFO(sender);
    CHECK_FALSE(may_acknowledge(incoming(fmt::format("Return-Path: <{0}>\nFrom: {0}\nSubject: x\n", sender))));
  }
  CHECK_FALSE(may_acknowledge(incoming("Return-Path: <mailer-daemon@mx.example>\nFrom: Sam <sam@newsroom.example>\n")));

  for (auto subject : {"Automatic reply: Channel crossings", "Out of Office: back Monday",
                       "Undeliverable: Re: Channel crossings", "Delivery Status Notification (Failure)",
                       "Mail delivery failed: returning message to sender", "AutoReply: away"}) {
    INFO(subject);
    CHECK_FALSE(
        may_acknowledge(incoming(fmt::format("Return-Path: <sam@newsroom.example>\nFrom: sam@newsroom.example\n"
                                             "Subject: {}\n",
                                             subject))));
  }

  auto report = incoming(
      "Return-Path: <sam@newsroom.example>\nFrom: sam@newsroom.example\nSubject: Your message\n"
      "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n",
      "--b\nContent-Type: text/plain\n\nCould not deliver.\n--b\nContent-Type: message/delivery-status\n\n"
      "Reporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; x@y.example\nAction: failed\n--b--\n");
  CHECK_FALSE(may_acknowledge(report));

  // The desk's own address (a loop through a forwarding rule).
  CHECK_FALSE(may_acknowledge(incoming("Return-Path: <requests@desk.example>\nFrom: requests@desk.example\n"),
                              "Requests@Desk.Example"));
  CHECK_FALSE(may_acknowledge(parse_message("just text, no headers")));
}

// ---- transports ---------------------------------------------------------------------------------

TEST_CASE("maildir delivery writes new/<name> once, durably and idempotently", "[outbound]") {
  auto dir = fresh_dir("maildir");
  auto message = build_message(sample(), at("2026-03-10T09:00:00Z"));
  auto r = deliver_to_maildir(dir, "01JOUTBOXID0000000000000001", message);
  REQUIRE(r.result == delivery_result::kind::delivered);
  CHECK(fs::is_directory(dir / "tmp"));
  CHECK(fs::is_directory(dir / "cur"));
  CHECK(files_in(dir / "tmp") == 0);
  REQUIRE(files_in(dir / "new") == 1);
  CHECK(read_file(dir / "new" / "01JOUTBOXID0000000000000001") == message);

  // Delivered again (a redelivered outbox entry): nothing new is written.
  auto again = deliver_to_maildir(dir, "01JOUTBOXID0000000000000001", "different bytes");
  CHECK(again.result == delivery_result::kind::delivered);
  CHECK(files_in(dir / "new") == 1);
  CHECK(read_file(dir / "new" / "01JOUTBOXID0000000000000001") == message);

  // A mail reader moved it to cur/ with flags: still not written again.
  fs::rename(dir / "new" / "01JOUTBOXID0000000000000001", dir / "cur" / "01JOUTBOXID0000000000000001:2,S");
  CHECK(deliver_to_maildir(dir, "01JOUTBOXID0000000000000001", message).result == delivery_result::kind::delivered);
  CHECK(files_in(dir / "new") == 0);

  CHECK(deliver_to_maildir(dir, "../escape", message).result == delivery_result::kind::permanent);
  CHECK(deliver_to_maildir(dir, "", message).result == delivery_result::kind::permanent);
  CHECK(deliver_to_maildir("", "x", message).result == delivery_result::kind::temporary);
  fs::remove_all(dir);
}

TEST_CASE("maildir trouble is temporary", "[outbound]") {
  // A file where the folder should be: the folders cannot be made (even as root).
  auto dir = fresh_dir("blocked");
  fs::create_directories(dir);
  std::ofstream{dir / "box"} << "not a folder";
  auto r = deliver_to_maildir(dir / "box", "x1", "m");
  CHECK(r.result == delivery_result::kind::temporary);
  CHECK(r.detail.starts_with("maildir: cannot create the folders"));
  fs::remove_all(dir);
}

TEST_CASE("SMTP outcomes: 4xx and connection trouble temporary, 5xx permanent", "[outbound]") {
  // curl codes: 0 OK, 7 couldn't connect, 28 timeout, 55 send error, 56 receive error, 67 login denied.
  CHECK(classify_smtp_outcome(0, 250).result == delivery_result::kind::delivered);
  CHECK(classify_smtp_outcome(7, 0).result == delivery_result::kind::temporary);
  CHECK(classify_smtp_outcome(28, 0).result == delivery_result::kind::temporary);
  CHECK(classify_smtp_outcome(56, 451).result == delivery_result::kind::temporary);
  CHECK(classify_smtp_outcome(55, 452).result == delivery_result::kind::temporary);
  CHECK(classify_smtp_outcome(56, 550).result == delivery_result::kind::permanent);
  CHECK(classify_smtp_outcome(55, 554).result == delivery_result::kind::permanent);
  CHECK(classify_smtp_outcome(67, 535).result ==
        delivery_result::kind::temporary);  // the relay set-up, not the message
}

TEST_CASE("SMTP to a port where nothing listens is a temporary failure that names no address", "[outbound]") {
  smtp_options o;
  o.url = fmt::format("smtp://127.0.0.1:{}", server::free_loopback_port());
  o.timeout = std::chrono::milliseconds(3000);
  auto r = deliver_by_smtp(o, "requests@desk.example", {"sam@newsroom.example"}, "Subject: x\r\n\r\nbody\r\n");
  CHECK(r.result == delivery_result::kind::temporary);
  CHECK_FALSE(contains(r.detail, "sam@"));
  CHECK_FALSE(contains(r.detail, "requests@"));
  auto bad = deliver_by_smtp(o, "requests@desk.example", {"sam@newsroom.example>\r\nRCPT TO:<x@y.example"}, "m");
  CHECK(bad.result == delivery_result::kind::permanent);
}

// ---- the sender's backoff -----------------------------------------------------------------------

TEST_CASE("retry delays double per attempt, with jitter, capped at an hour", "[outbound]") {
  using std::chrono::milliseconds;
  CHECK(server::retry_delay(100, 0, 0.0) == milliseconds(50));
  CHECK(server::retry_delay(100, 0, 1.0) == milliseconds(100));
  CHECK(server::retry_delay(100, 3, 1.0) == milliseconds(800));
  CHECK(server::retry_delay(2000, 2, 0.5) == milliseconds(6000));
  CHECK(server::retry_delay(2000, 100, 1.0) == milliseconds(3'600'000));
  CHECK(server::retry_delay(2000, 100, 0.0) == milliseconds(1'800'000));
  CHECK(server::retry_delay(3'600'000, 5, 1.0) == milliseconds(3'600'000));
}
