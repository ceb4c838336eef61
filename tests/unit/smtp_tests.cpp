// Unit tests for mail/smtp_session: every command and reply code, pipelining, dot-unstuffing,
// the size, line, command and error limits, recipient checks and LMTP's per-recipient replies.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "mail/smtp_session.hpp"

using namespace md;
using namespace md::mail;

namespace {

smtp_session_config desk_config(bool lmtp = false) {
  smtp_session_config c;
  c.hostname = "mx.desk.example";
  c.lmtp = lmtp;
  c.domains = parse_address_list("desk.example");
  c.addresses = parse_address_list("press@partner.example");
  c.max_message_bytes = 4096;
  c.max_recipients = 3;
  c.max_line_bytes = 512;
  c.max_commands = 100;
  c.max_errors = 5;
  return c;
}

std::vector<std::string> lines_of(const std::string& replies) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < replies.size()) {
    auto end = replies.find("\r\n", start);
    REQUIRE(end != std::string::npos);  // every reply line ends in CRLF
    out.push_back(replies.substr(start, end - start));
    start = end + 2;
  }
  return out;
}

// "250 2.1.0 Ok" -> "250 2.1.0"; "354 End data..." -> "354": the reply code and any enhanced code.
std::string code_of(const std::string& line) {
  auto token = line.substr(4, line.find(' ', 4) == std::string::npos ? std::string::npos : line.find(' ', 4) - 4);
  bool enhanced = token.size() >= 5 && token[1] == '.' && token[0] >= '2' && token[0] <= '5';
  return enhanced ? line.substr(0, 4 + token.size()) : line.substr(0, 3);
}

// Feeds one command line and returns its one reply line's codes.
std::string say(smtp_session& s, const std::string& line) {
  auto step = s.feed(line + "\r\n");
  auto lines = lines_of(step.replies);
  REQUIRE(lines.size() >= 1);
  return code_of(lines.back());
}

// A session after EHLO, MAIL and one RCPT, ready for DATA.
smtp_session ready_for_data(smtp_session_config c = desk_config()) {
  std::string hello = c.lmtp ? "LHLO" : "EHLO";
  smtp_session s(std::move(c));
  s.start();
  s.feed(hello + " client.example\r\nMAIL FROM:<sam@news.example>\r\nRCPT TO:<requests@desk.example>\r\n");
  return s;
}

}  // namespace

TEST_CASE("the greeting and EHLO announce SIZE, PIPELINING, 8BITMIME and ENHANCEDSTATUSCODES, not STARTTLS", "[smtp]") {
  smtp_session s(desk_config());
  CHECK(s.start().replies == "220 mx.desk.example ESMTP ready\r\n");
  auto step = s.feed("EHLO client.example\r\n");
  CHECK(step.action == smtp_action::read);
  CHECK(lines_of(step.replies) == std::vector<std::string>{"250-mx.desk.example", "250-PIPELINING", "250-SIZE 4096",
                                                           "250-8BITMIME", "250 ENHANCEDSTATUSCODES"});
  CHECK(step.replies.find("STARTTLS") == std::string::npos);
  CHECK(s.envelope().protocol == "ESMTP");
  CHECK(say(s, "HELO other.example") == "250");
  CHECK(s.envelope().protocol == "SMTP");
  CHECK(say(s, "EHLO") == "501 5.5.4");
}

TEST_CASE("a whole SMTP transaction: MAIL, RCPT, DATA, the queue's answer, QUIT", "[smtp]") {
  smtp_session s(desk_config());
  s.start();
  CHECK(say(s, "EHLO client.example") == "250");
  CHECK(say(s, "MAIL FROM:<sam@news.example> SIZE=1000 BODY=8BITMIME") == "250 2.1.0");
  CHECK(say(s, "RCPT TO:<requests@desk.example>") == "250 2.1.5");
  CHECK(say(s, "RCPT TO:<Press@Partner.Example>") == "250 2.1.5");  // an exact address, any case
  CHECK(say(s, "DATA") == "354");
  CHECK(s.in_data());
  auto step = s.feed("Subject: hello\r\n\r\nLine one\r\n.\r\n");
  CHECK(step.action == smtp_action::deliver);
  CHECK(step.replies.empty());
  CHECK(s.awaiting_delivery());
  CHECK(s.envelope().sender == "sam@news.example");
  CHECK(s.envelope().recipients == std::vector<std::string>{"requests@desk.example", "Press@Partner.Example"});
  CHECK(s.envelope().data == "Subject: hello\r\n\r\nLine one\r\n");
  auto done = s.complete({true, "01JABCDEF"});
  CHECK(done.replies == "250 2.0.0 Ok: queued as 01JABCDEF\r\n");  // once for SMTP, whatever the recipients
  CHECK(done.action == smtp_action::read);
  CHECK_FALSE(s.in_transaction());
  auto quit = s.feed("QUIT\r\n");
  CHECK(code_of(lines_of(quit.replies)[0]) == "221 2.0.0");
  CHECK(quit.action == smtp_action::close);
  CHECK(s.closed());
}

TEST_CASE("a message over the hourly limit gets 450 4.7.1, per recipient for LMTP, and the session goes on") {
  smtp_session_config config;
  config.domains = {"desk.example"};
  smtp_session s(config);
  s.start();
  s.feed("EHLO client.example\r\nMAIL FROM:<sam@news.example>\r\nRCPT TO:<requests@desk.example>\r\nDATA\r\n");
  CHECK(s.feed("Subject: again\r\n\r\nx\r\n.\r\n").action == smtp_action::deliver);
  smtp_delivery limited;
  limited.rate_limited = true;
  auto refused = s.complete(limited);
  CHECK(refused.replies == "450 4.7.1 Too many messages from you in the last hour; try again later\r\n");
  CHECK_FALSE(s.in_transaction());
  CHECK(s.feed("QUIT\r\n").action == smtp_action::close);

  config.lmtp = true;
  smtp_session l(config);
  l.start();
  l.feed("LHLO mta.desk.example\r\nMAIL FROM:<sam@news.example>\r\nRCPT TO:<requests@desk.example>\r\n"
         "RCPT TO:<press@desk.example>\r\nDATA\r\n");
  CHECK(l.feed("Subject: again\r\n\r\nx\r\n.\r\n").action == smtp_action::deliver);
  CHECK(l.complete(limited).replies ==
        "450 4.7.1 Too many messages from you in the last hour; try again later\r\n"
        "450 4.7.1 Too many messages from you in the last hour; try again later\r\n");
}

TEST_CASE("when the queue does not confirm, the answer is 451 4.3.0 and the session goes on", "[smtp]") {
  auto s = ready_for_data();
  CHECK(say(s, "DATA") == "354");
  REQUIRE(s.feed("hi\r\n.\r\n").action == smtp_action::deliver);
  auto step = s.complete({false, ""});
  CHECK(code_of(lines_of(step.replies)[0]) == "451 4.3.0");
  CHECK(say(s, "MAIL FROM:<>") == "250 2.1.0");  // a new transaction may start
}

TEST_CASE("commands in one read are answered together (PIPELINING), and input behind a message waits", "[smtp]") {
  smtp_session s(desk_config());
  s.start();
  auto step = s.feed("EHLO c\r\nMAIL FROM:<a@news.example>\r\nRCPT TO:<requests@desk.example>\r\n"
                     "RCPT TO:<x@elsewhere.example>\r\nDATA\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n");
  auto lines = lines_of(step.replies);
  REQUIRE(lines.size() == 9);  // 5 for EHLO, MAIL, RCPT, RCPT refused, 354
  CHECK(code_of(lines[5]) == "250 2.1.0");
  CHECK(code_of(lines[6]) == "250 2.1.5");
  CHECK(code_of(lines[7]) == "550 5.1.1");
  CHECK(code_of(lines[8]) == "354");
  CHECK(step.action == smtp_action::deliver);
  CHECK(s.buffered_bytes() == std::string("NOOP\r\nQUIT\r\n").size());
  auto done = s.complete({true, "ID1"});
  CHECK(lines_of(done.replies) ==
        std::vector<std::string>{"250 2.0.0 Ok: queued as ID1", "250 2.0.0 Ok", "221 2.0.0 mx.desk.example closing connection"});
  CHECK(done.action == smtp_action::close);
}

TEST_CASE("lines may arrive byte by byte, end in a bare LF, and the end of data may be split anywhere", "[smtp]") {
  smtp_session s(desk_config());
  s.start();
  std::string input = "EHLO c\nMAIL FROM:<a@news.example>\nRCPT TO:<requests@desk.example>\nDATA\n"
                      "one\n..two\r\n.\r\n";
  std::string replies;
  smtp_step last;
  for (char c : input) {
    last = s.feed(std::string(1, c));
    replies += last.replies;
  }
  CHECK(last.action == smtp_action::deliver);
  CHECK(lines_of(replies).size() == 8);
  CHECK(s.envelope().data == "one\r\n.two\r\n");  // bare LF normalised to CRLF; the stuffed dot removed
}

TEST_CASE("dot-unstuffing: a leading dot is removed once; a lone dot ends the data", "[smtp]") {
  auto s = ready_for_data();
  say(s, "DATA");
  auto step = s.feed("..\r\n...\r\n.x\r\n. \r\nx.\r\n.\r\n");
  REQUIRE(step.action == smtp_action::deliver);
  CHECK(s.envelope().data == ".\r\n..\r\nx\r\n \r\nx.\r\n");
}

TEST_CASE("an empty message and a message without a final line end are delivered as sent", "[smtp]") {
  auto s = ready_for_data();
  say(s, "DATA");
  REQUIRE(s.feed(".\r\n").action == smtp_action::deliver);
  CHECK(s.envelope().data.empty());
}

TEST_CASE("a message over the size limit is read to its end, refused with 552 5.3.4, and the session stays usable",
          "[smtp]") {
  auto s = ready_for_data();
  say(s, "DATA");
  std::string line(100, 'x');
  smtp_step step;
  for (int i = 0; i < 100; ++i) {  // 10 KB into a 4 KB limit
    step = s.feed(line + "\r\n");
    CHECK(step.replies.empty());
    CHECK(step.action == smtp_action::read);
  }
  CHECK(s.envelope().data.empty());  // discarded, not kept
  step = s.feed(".\r\n");
  CHECK(code_of(lines_of(step.replies)[0]) == "552 5.3.4");
  CHECK(step.action == smtp_action::read);
  CHECK_FALSE(s.in_transaction());
  CHECK(say(s, "MAIL FROM:<a@news.example>") == "250 2.1.0");
  CHECK(say(s, "RCPT TO:<requests@desk.example>") == "250 2.1.5");
  CHECK(say(s, "DATA") == "354");
  CHECK(s.feed("small\r\n.\r\n").action == smtp_action::deliver);
}

TEST_CASE("MAIL FROM SIZE= over the limit is refused with 552 5.3.4 before any data", "[smtp]") {
  smtp_session s(desk_config());
  s.start();
  say(s, "EHLO c");
  CHECK(say(s, "MAIL FROM:<a@news.example> SIZE=4097") == "552 5.3.4");
  CHECK(say(s, "MAIL FROM:<a@news.example> SIZE=99999999999999999999999") == "501 5.5.4");
  CHECK(say(s, "MAIL FROM:<a@news.example> SIZE=4096") == "250 2.1.0");
}

TEST_CASE("recipients: the desk's domains and addresses only, never a relay", "[smtp]") {
  smtp_session s(desk_config());
  s.start();
  say(s, "EHLO c");
  say(s, "MAIL FROM:<a@news.example>");
  CHECK(say(s, "RCPT TO:<requests@desk.example>") == "250 2.1.5");
  CHECK(say(s, "RCPT TO:<Anyone@DESK.Example>") == "250 2.1.5");
  CHECK(say(s, "RCPT TO:<requests@desk.example.evil.com>") == "550 5.1.1");  // a suffix is not the domain
  CHECK(say(s, "RCPT TO:<requests@sub.desk.example>") == "550 5.1.1");
  CHECK(say(s, "RCPT TO:<other@partner.example>") == "550 5.1.1");  // only the exact address there
  CHECK(say(s, "RCPT TO:<@desk.example:user@evil.example>") == "550 5.1.1");  // source route ignored
}

TEST_CASE("recipient syntax tricks are refused", "[smtp]") {
  auto c = desk_config();
  c.max_errors = 50;
  smtp_session s(c);
  s.start();
  say(s, "EHLO c");
  say(s, "MAIL FROM:<a@news.example>");
  CHECK(say(s, "RCPT TO:<requests@evil.example@desk.example>") == "501 5.1.3");
  CHECK(say(s, "RCPT TO:<requests@desk.example.>") == "501 5.1.3");
  CHECK(say(s, "RCPT TO:<>") == "501 5.1.3");
  CHECK(say(s, "RCPT TO:<requests@desk.example") == "501 5.1.3");
  CHECK(say(s, "RCPT TO:<requests@desk.example> NOTIFY=NEVER") == "555 5.5.4");
  CHECK(say(s, "RCPT TO:<\"a>b\"@desk.example>") == "250 2.1.5");  // a quoted local part at our domain
  CHECK(say(s, "RCPT TO:<postmaster>") == "250 2.1.5");  // RFC 5321 4.5.1
  CHECK(say(s, "RCPT TO: <requests@desk.example>") == "250 2.1.5");  // a space after the colon is tolerated
  CHECK(say(s, "RCPT TO:<" + std::string(300, 'a') + "@desk.example>") == "501 5.1.3");
}

TEST_CASE("with no desk domains or addresses configured, every recipient is refused", "[smtp]") {
  smtp_session_config c;
  smtp_session s(c);
  s.start();
  say(s, "EHLO c");
  say(s, "MAIL FROM:<a@news.example>");
  CHECK(say(s, "RCPT TO:<requests@desk.example>") == "550 5.1.1");
  CHECK(say(s, "RCPT TO:<postmaster>") == "550 5.1.1");
}

TEST_CASE("too many recipients get 452 4.5.3", "[smtp]") {
  smtp_session s(desk_config());
  s.start();
  say(s, "EHLO c");
  say(s, "MAIL FROM:<a@news.example>");
  for (int i = 0; i < 3; ++i) CHECK(say(s, "RCPT TO:<r" + std::to_string(i) + "@desk.example>") == "250 2.1.5");
  CHECK(say(s, "RCPT TO:<r9@desk.example>") == "452 4.5.3");
}

TEST_CASE("bad sequences get 503 5.5.1; DATA after only refused recipients gets 554 5.5.1", "[smtp]") {
  auto c = desk_config();
  c.max_errors = 50;
  smtp_session s(c);
  s.start();
  CHECK(say(s, "MAIL FROM:<a@news.example>") == "503 5.5.1");  // no EHLO yet
  CHECK(say(s, "RCPT TO:<requests@desk.example>") == "503 5.5.1");
  CHECK(say(s, "DATA") == "503 5.5.1");
  say(s, "EHLO c");
  CHECK(say(s, "RCPT TO:<requests@desk.example>") == "503 5.5.1");  // no MAIL
  CHECK(say(s, "MAIL FROM:<a@news.example>") == "250 2.1.0");
  CHECK(say(s, "MAIL FROM:<a@news.example>") == "503 5.5.1");  // nested
  CHECK(say(s, "DATA") == "503 5.5.1");                       // no RCPT
  CHECK(say(s, "RCPT TO:<x@evil.example>") == "550 5.1.1");
  CHECK(say(s, "DATA") == "554 5.5.1");
}

TEST_CASE("syntax errors get 501 5.5.4 (addresses 501 5.1.7 / 5.1.3); parameters need EHLO", "[smtp]") {
  auto c = desk_config();
  c.max_errors = 50;
  smtp_session s(c);
  s.start();
  say(s, "EHLO c");
  CHECK(say(s, "MAIL <a@news.example>") == "501 5.5.4");
  CHECK(say(s, "MAIL FROM:<a news@example>") == "501 5.1.7");
  CHECK(say(s, "MAIL FROM:<a@news.example> BODY=BINARYMIME") == "501 5.5.4");
  CHECK(say(s, "MAIL FROM:<a@news.example> SMTPUTF8") == "555 5.5.4");
  CHECK(say(s, "MAIL FROM:<@relay.example:a@news.example>") == "250 2.1.0");
  CHECK(s.envelope().sender == "a@news.example");
  CHECK(say(s, "RCPT <requests@desk.example>") == "501 5.5.4");
  CHECK(say(s, "DATA now") == "501 5.5.4");
  CHECK(say(s, "RSET please") == "501 5.5.4");
  CHECK(say(s, "VRFY") == "501 5.5.4");
  CHECK(say(s, "HELO c") == "250");
  CHECK(say(s, "MAIL FROM:<a@news.example> SIZE=10") == "555 5.5.4");  // HELO: no extensions
  CHECK(say(s, "MAIL FROM:a@news.example") == "250 2.1.0");  // without <>, as Postfix tolerates
}

TEST_CASE("RSET, NOOP, VRFY 252, EXPN 502, HELP, unknown 500 5.5.2, STARTTLS not offered", "[smtp]") {
  smtp_session s(desk_config());
  s.start();
  say(s, "EHLO c");
  CHECK(say(s, "MAIL FROM:<a@news.example>") == "250 2.1.0");
  CHECK(say(s, "RSET") == "250 2.0.0");
  CHECK_FALSE(s.in_transaction());
  CHECK(say(s, "RCPT TO:<requests@desk.example>") == "503 5.5.1");  // RSET ended the transaction
  CHECK(say(s, "NOOP") == "250 2.0.0");
  CHECK(say(s, "noop with arguments") == "250 2.0.0");
  CHECK(say(s, "VRFY requests@desk.example") == "252 2.0.0");
  CHECK(say(s, "EXPN staff") == "502 5.5.1");
  CHECK(say(s, "HELP") == "214 2.0.0");
  CHECK(say(s, "STARTTLS") == "502 5.5.1");
  CHECK(say(s, "FROB") == "500 5.5.2");
  CHECK(say(s, "LHLO c") == "500 5.5.2");  // SMTP, not LMTP
}

TEST_CASE("too many errors end the session with 421", "[smtp]") {
  smtp_session s(desk_config());  // max_errors 5
  s.start();
  for (int i = 0; i < 4; ++i) CHECK(s.feed("FROB\r\n").action == smtp_action::read);
  auto step = s.feed("FROB\r\nNOOP\r\n");
  auto lines = lines_of(step.replies);
  REQUIRE(lines.size() == 2);
  CHECK(code_of(lines[0]) == "500 5.5.2");
  CHECK(code_of(lines[1]) == "421 4.7.0");
  CHECK(step.action == smtp_action::close);
  CHECK(s.feed("NOOP\r\n").replies.empty());  // nothing more after close
}

TEST_CASE("too many commands end the session with 421", "[smtp]") {
  auto c = desk_config();
  c.max_commands = 10;
  smtp_session s(c);
  s.start();
  for (int i = 0; i < 10; ++i) CHECK(say(s, "NOOP") == "250 2.0.0");
  auto step = s.feed("NOOP\r\n");
  CHECK(code_of(lines_of(step.replies)[0]) == "421 4.7.0");
  CHECK(step.action == smtp_action::close);
}

TEST_CASE("the command cap counts afresh after each queued message, so one connection may carry many", "[smtp]") {
  auto c = desk_config();
  c.max_commands = 10;
  smtp_session s(c);
  s.start();
  say(s, "EHLO c");
  for (int i = 0; i < 20; ++i) {
    REQUIRE(say(s, "MAIL FROM:<a@news.example>") == "250 2.1.0");
    REQUIRE(say(s, "RCPT TO:<requests@desk.example>") == "250 2.1.5");
    REQUIRE(say(s, "DATA") == "354");
    REQUIRE(s.feed("x\r\n.\r\n").action == smtp_action::deliver);
    REQUIRE(code_of(lines_of(s.complete({true, "ID"}).replies)[0]) == "250 2.0.0");
  }
  // A 451 is not progress: the count goes on.
  for (int i = 0; i < 3; ++i) {
    say(s, "MAIL FROM:<a@news.example>");
    say(s, "RCPT TO:<requests@desk.example>");
    say(s, "DATA");
    s.feed("x\r\n.\r\n");
    s.complete({false, ""});
  }
  CHECK(say(s, "NOOP") == "250 2.0.0");  // the 10th since the last queued message
  CHECK(code_of(lines_of(s.feed("NOOP\r\n").replies)[0]) == "421 4.7.0");
}

TEST_CASE("a command line over the limit gets 500 5.5.6 once, even when it arrives in pieces", "[smtp]") {
  smtp_session s(desk_config());  // max_line_bytes 512
  s.start();
  std::string replies;
  for (int i = 0; i < 20; ++i) replies += s.feed("NOOP " + std::string(100, 'x')).replies;
  CHECK(replies.empty());
  CHECK(s.buffered_bytes() <= 514);  // the partial line is dropped, not kept
  auto step = s.feed("\r\nNOOP\r\n");
  auto lines = lines_of(step.replies);
  REQUIRE(lines.size() == 2);
  CHECK(code_of(lines[0]) == "500 5.5.6");
  CHECK(code_of(lines[1]) == "250 2.0.0");
  CHECK(say(s, "NOOP " + std::string(600, 'y')) == "500 5.5.6");
}

TEST_CASE("a DATA line over the limit makes the message 552 5.3.4 at its end", "[smtp]") {
  auto s = ready_for_data();
  say(s, "DATA");
  CHECK(s.feed(std::string(600, 'z') + "\r\nshort\r\n").replies.empty());
  auto step = s.feed(".\r\n");
  CHECK(code_of(lines_of(step.replies)[0]) == "552 5.3.4");
  CHECK(step.action == smtp_action::read);
}

TEST_CASE("an HTTP request is not read as SMTP commands", "[smtp]") {
  smtp_session s(desk_config());
  s.start();
  auto step = s.feed("POST / HTTP/1.1\r\nHost: 127.0.0.1:2525\r\n\r\nEHLO x\r\nMAIL FROM:<a@b.example>\r\n");
  auto lines = lines_of(step.replies);
  REQUIRE(lines.size() == 1);
  CHECK(code_of(lines[0]) == "421 4.7.0");
  CHECK(step.action == smtp_action::close);
}

TEST_CASE("timeouts and shutdown answer 421 and close", "[smtp]") {
  smtp_session a(desk_config());
  a.start();
  auto t = a.timeout();
  CHECK(code_of(lines_of(t.replies)[0]) == "421 4.4.2");
  CHECK(t.action == smtp_action::close);
  smtp_session b(desk_config());
  b.start();
  auto d = b.shutting_down();
  CHECK(code_of(lines_of(d.replies)[0]) == "421 4.3.2");
  CHECK(code_of(smtp_session::too_many_connections_reply("h")) == "421 4.3.2");
}

TEST_CASE("LMTP: LHLO only, and one DATA reply per accepted recipient", "[smtp]") {
  auto c = desk_config(true);
  c.max_errors = 50;
  smtp_session s(c);
  CHECK(s.start().replies == "220 mx.desk.example LMTP ready\r\n");
  CHECK(say(s, "EHLO c") == "500 5.5.2");
  CHECK(say(s, "HELO c") == "500 5.5.2");
  CHECK(say(s, "MAIL FROM:<a@news.example>") == "503 5.5.1");
  CHECK(say(s, "LHLO mta.example") == "250");
  CHECK(s.envelope().protocol == "LMTP");
  CHECK(say(s, "MAIL FROM:<a@news.example>") == "250 2.1.0");
  CHECK(say(s, "RCPT TO:<requests@desk.example>") == "250 2.1.5");
  CHECK(say(s, "RCPT TO:<nobody@evil.example>") == "550 5.1.1");
  CHECK(say(s, "RCPT TO:<press@partner.example>") == "250 2.1.5");
  CHECK(say(s, "DATA") == "354");
  REQUIRE(s.feed("x\r\n.\r\n").action == smtp_action::deliver);
  auto done = s.complete({true, "ID7"});
  CHECK(lines_of(done.replies) ==
        std::vector<std::string>{"250 2.0.0 Ok: queued as ID7", "250 2.0.0 Ok: queued as ID7"});

  // A refusal is per recipient too.
  say(s, "MAIL FROM:<>");
  say(s, "RCPT TO:<a@desk.example>");
  say(s, "RCPT TO:<b@desk.example>");
  say(s, "DATA");
  REQUIRE(s.feed("x\r\n.\r\n").action == smtp_action::deliver);
  auto failed = lines_of(s.complete({false, ""}).replies);
  REQUIRE(failed.size() == 2);
  CHECK(code_of(failed[1]) == "451 4.3.0");
  say(s, "MAIL FROM:<>");
  say(s, "RCPT TO:<a@desk.example>");
  say(s, "RCPT TO:<b@desk.example>");
  say(s, "DATA");
  auto big = s.feed(std::string(5000, 'x') + "\r\n.\r\n");  // over the line limit
  auto refused = lines_of(big.replies);
  REQUIRE(refused.size() == 2);
  CHECK(code_of(refused[0]) == "552 5.3.4");
}

TEST_CASE("EHLO mid-transaction starts over; the EHLO name is cleaned for the Received header", "[smtp]") {
  smtp_session s(desk_config());
  s.start();
  say(s, "EHLO c");
  say(s, "MAIL FROM:<a@news.example>");
  CHECK(s.in_transaction());
  say(s, "EHLO weird(name)\x01 trailing");
  CHECK_FALSE(s.in_transaction());
  CHECK(s.envelope().helo == "weird?name??");
}

TEST_CASE("trace headers: Return-Path with the envelope sender, then Received", "[smtp]") {
  smtp_envelope e;
  e.helo = "client.example";
  e.protocol = "ESMTP";
  e.sender = "sam@news.example";
  auto t = from_unix_ms(1'770'109'445'000);  // 2026-02-03 09:04:05 UTC, a Tuesday
  CHECK(format_rfc5322_date(t) == "Tue, 03 Feb 2026 09:04:05 +0000");
  CHECK(trace_headers(e, "[192.0.2.7]", "mx.desk.example", "ID9", t) ==
        "Return-Path: <sam@news.example>\r\n"
        "Received: from client.example ([192.0.2.7]) by mx.desk.example with ESMTP id ID9; "
        "Tue, 03 Feb 2026 09:04:05 +0000\r\n");
  e.sender.clear();
  CHECK(trace_headers(e, "local", "h", "ID9", t).starts_with("Return-Path: <>\r\n"));
}

TEST_CASE("address lists are trimmed and lower-cased", "[smtp]") {
  CHECK(parse_address_list(" Desk.Example , ,b.example,") == std::vector<std::string>{"desk.example", "b.example"});
  CHECK(parse_address_list("").empty());
}
