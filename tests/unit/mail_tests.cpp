// Unit tests for mail/: MIME parsing into parsed_message, message sniffing and the reply splitter.
// Messages are built inline so that each test shows the exact bytes it feeds in.
#include <catch2/catch.hpp>

#include <string>

#include "core/time.hpp"
#include "mail/message.hpp"
#include "mail/reply_text.hpp"

using namespace md;
using namespace md::mail;
using namespace std::string_literals;

namespace {

bool contains(const std::string& haystack, std::string_view needle) { return haystack.find(needle) != std::string::npos; }

bool has_warning(const parsed_message& m, std::string_view fragment) {
  for (const auto& w : m.warnings)
    if (contains(w, fragment)) return true;
  return false;
}

std::string crlf(std::string_view lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

}  // namespace

// ---- parse_message -----------------------------------------------------------------------------

TEST_CASE("a plain message yields its headers and text", "[mail]") {
  auto m = parse_message(
      "Return-Path: <bounce@Example.ORG>\n"
      "From: Jane Doe <Jane.Doe@BBC.CO.UK>\n"
      "Reply-To: desk@bbc.co.uk\n"
      "To: press@uni.example, \"Bob\" <bob@Uni.Example>\n"
      "Cc: Team: a@x.example, b@y.example;\n"
      "Subject: Expert   needed\n\tfor flooding\n"
      "Date: Tue, 1 Jul 2025 10:52:37 +0200\n"
      "Message-ID: <abc.123@mail.bbc.co.uk>\n"
      "\n"
      "Hello,\nCan someone talk about flooding?\n");
  CHECK(m.parsed);
  CHECK(m.subject == "Expert needed for flooding");
  CHECK(m.from_name == "Jane Doe");
  CHECK(m.from_address == "Jane.Doe@bbc.co.uk");
  CHECK(m.reply_to_address == "desk@bbc.co.uk");
  CHECK(m.to_addresses == std::vector<std::string>{"press@uni.example", "bob@uni.example"});
  CHECK(m.cc_addresses == std::vector<std::string>{"a@x.example", "b@y.example"});
  CHECK(m.return_path == "bounce@Example.ORG");
  CHECK(m.message_id == "abc.123@mail.bbc.co.uk");
  CHECK(m.text == "Hello,\nCan someone talk about flooding?");
  CHECK_FALSE(m.has_list_headers);
  CHECK(m.attachments.empty());
  CHECK(m.warnings.empty());
}

TEST_CASE("CRLF line ends and an mbox From line are tolerated", "[mail]") {
  auto m = parse_message(crlf("From jane@bbc.co.uk Tue Jul  1 10:52:37 2025\n"
                              "From: jane@bbc.co.uk\nSubject: Hi there\n\nLine one\nLine two\n"));
  CHECK(m.parsed);
  CHECK(m.subject == "Hi there");
  CHECK(m.from_address == "jane@bbc.co.uk");
  CHECK(m.text == "Line one\nLine two");
}

TEST_CASE("quoted-printable ISO-8859-1 is decoded to UTF-8", "[mail]") {
  auto m = parse_message(
      "From: a@b.example\nSubject: qp\nMIME-Version: 1.0\n"
      "Content-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
      "Caf=E9 cr=E8me, na=EFve =\nsoft break, =A3100\n");
  CHECK(m.text == "Café crème, naïve soft break, £100");
}

TEST_CASE("base64 UTF-8 is decoded", "[mail]") {
  auto m = parse_message(
      "From: a@b.example\nSubject: b64\nMIME-Version: 1.0\n"
      "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
      "R3LDvMOfZSBhdXMgTcO8bmNoZW4g4oCUIGNhZsOpIOKYlQpTZWNvbmQgbGluZQo=\n");
  CHECK(m.text == "Grüße aus München — café ☕\nSecond line");
}

TEST_CASE("other charsets go through iconv; unknown ones fall back to windows-1252", "[mail]") {
  auto koi8 = parse_message(
      "From: a@b.example\nContent-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: 8bit\n\n"
      "\xF0\xD2\xC9\xD7\xC5\xD4\n");
  CHECK(koi8.text == "Привет");
  auto unknown = parse_message(
      "From: a@b.example\nContent-Type: text/plain; charset=x-no-such-charset\n\n"
      "Caf\xE9 \x93quoted\x94\n");
  CHECK(unknown.text == "Café “quoted”");
  CHECK(has_warning(unknown, "charset"));
}

TEST_CASE("invalid UTF-8 and control characters are replaced or dropped", "[mail]") {
  auto m = parse_message("From: a@b.example\nSubject: bad \xC3\x28 bytes\n"
                         "Content-Type: text/plain; charset=utf-8\n\nok \xFF\xFE end\x01\x1B[31m\0!\n"s);
  CHECK(m.subject == "bad \xC3\x83( bytes");  // an undeclared 8-bit header is read as Latin-1
  CHECK(m.text == "ok \xEF\xBF\xBD\xEF\xBF\xBD end[31m!");
}

TEST_CASE("encoded-word subjects in B and Q encodings are decoded", "[mail]") {
  auto b = parse_message("From: a@b.example\nSubject: =?UTF-8?B?SW50ZXJ2aWV3IHJlcXVlc3Q6IFpvw6vigJlzIHN0b3J5?=\n\nx\n");
  CHECK(b.subject == "Interview request: Zoë’s story");
  auto q = parse_message(
      "From: =?iso-8859-1?Q?Ren=E9e_Dupr=E9?= <renee@lemonde.example>\n"
      "Subject: =?iso-8859-1?Q?Caf=E9_interview?= =?UTF-8?Q?_=E2=80=94_today?=\n\nx\n");
  CHECK(q.subject == "Café interview — today");
  CHECK(q.from_name == "Renée Dupré");
}

TEST_CASE("an HTML-only message becomes readable text", "[mail]") {
  auto m = parse_message(
      "From: a@b.example\nContent-Type: text/html; charset=utf-8\n\n"
      "<html><head><title>Ignored title</title><style>p { color: red; }</style></head><body>\n"
      "<p>Hello&nbsp;team,</p><p>We need   an <b>expert</b> on\n  &quot;flood defences&quot; &amp; insurance&#8212;today&#x21;</p>\n"
      "<ul><li>Live at 8am</li><li>Studio in Tonbridge</li></ul>\n"
      "Line one<br>Line two<br/>\n"
      "<script>alert('x')</script><!-- hidden comment -->\n"
      "<p>See <a href=\"https://bbc.co.uk/brief?a=1&amp;b=2\">the brief</a> or mail "
      "<a href=\"mailto:desk@bbc.co.uk\">desk@bbc.co.uk</a>.</p>\n"
      "<blockquote>Earlier message</blockquote>\n"
      "</body></html>\n");
  CHECK(m.text ==
        "Hello team,\n\n"
        "We need an expert on \"flood defences\" & insurance—today!\n\n"
        "- Live at 8am\n- Studio in Tonbridge\n\n"
        "Line one\nLine two\n\n"
        "See the brief (https://bbc.co.uk/brief?a=1&b=2) or mail desk@bbc.co.uk.\n\n"
        "> Earlier message");
  CHECK_FALSE(contains(m.text, "<"));
  CHECK_FALSE(contains(m.text, "alert"));
  CHECK_FALSE(contains(m.text, "Ignored title"));
  CHECK_FALSE(contains(m.text, "color"));
}

TEST_CASE("HTML quotes become '>' lines that the reply splitter recognises", "[mail]") {
  auto m = parse_message(
      "From: a@b.example\nContent-Type: text/html; charset=utf-8\n\n"
      "<div dir=\"ltr\">Yes, Dr Smith can do 8am.</div><br>"
      "<div class=\"gmail_quote\"><div class=\"gmail_attr\">On Tue, 1 Jul 2025 at 10:52, Jane Doe &lt;"
      "<a href=\"mailto:jane@bbc.co.uk\">jane@bbc.co.uk</a>&gt; wrote:<br></div>"
      "<blockquote class=\"gmail_quote\"><p>Can anyone do 8am?</p><p>Thanks</p>"
      "<blockquote>Older</blockquote></blockquote></div>"
      "<pre>  keep   this\n    layout</pre>");
  CHECK(m.text ==
        "Yes, Dr Smith can do 8am.\n\n"
        "On Tue, 1 Jul 2025 at 10:52, Jane Doe <jane@bbc.co.uk> wrote:\n\n"
        "> Can anyone do 8am?\n>\n> Thanks\n>\n> > Older\n>\n"
        "  keep   this\n    layout");
  auto parts = split_reply_text(m.text);
  CHECK(parts.new_text == "Yes, Dr Smith can do 8am.");
  CHECK(contains(parts.quoted, "> > Older"));
}

TEST_CASE("malformed HTML never loses the body or hangs", "[mail]") {
  auto unclosed_head = parse_message("From: a@b.example\nContent-Type: text/html\n\n<head><title>x<p>Body text <3 &bogus; & more");
  CHECK(contains(unclosed_head.text, "Body text <3 &bogus; & more"));
  std::string many_titles = "From: a@b.example\nContent-Type: text/html\n\n";
  for (int i = 0; i < 20000; ++i) many_titles += "<title>";
  many_titles += "end";
  CHECK(parse_message(many_titles).text == "end");
}

TEST_CASE("multipart/alternative prefers text/plain", "[mail]") {
  auto m = parse_message(
      "From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"alt\"\n\n"
      "--alt\nContent-Type: text/html\n\n<p>HTML version</p>\n"
      "--alt\nContent-Type: text/plain\n\nPlain version\n"
      "--alt--\n");
  CHECK(m.text == "Plain version");
  CHECK(m.attachments.empty());
  auto html_only = parse_message(
      "From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"alt\"\n\n"
      "--alt\nContent-Type: text/calendar\n\nBEGIN:VCALENDAR\n"
      "--alt\nContent-Type: text/html\n\n<p>HTML version</p>\n"
      "--alt--\n");
  CHECK(html_only.text == "HTML version");
}

constexpr std::string_view with_attachment =
    "From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"mix\"\n\n"
    "preamble\n"
    "--mix\nContent-Type: text/plain; charset=us-ascii\n\nPlease see the attached brief.\n"
    "--mix\nContent-Type: application/pdf; name=\"ignored.pdf\"\n"
    "Content-Disposition: attachment; filename=\"../../brief.pdf\"\nContent-Transfer-Encoding: base64\n\n"
    "JVBERi0xLjQAAQL/IGJpbmFyeQ==\n"
    "--mix\nContent-Type: text/plain; charset=utf-8\nContent-Disposition: attachment; filename=\"notes.txt\"\n\n"
    "not body text\n"
    "--mix--\n";

TEST_CASE("attachments keep their filename and decoded bytes", "[mail]") {
  auto m = parse_message(with_attachment);
  CHECK(m.text == "Please see the attached brief.");
  REQUIRE(m.attachments.size() == 2);
  CHECK(m.attachments[0].filename == "brief.pdf");
  CHECK(m.attachments[0].content_type == "application/pdf");
  CHECK(m.attachments[0].data == std::string("%PDF-1.4\0\1\2\xFF binary", 19));
  CHECK(m.attachments[1].filename == "notes.txt");
  CHECK(m.attachments[1].content_type == "text/plain");
  CHECK(m.attachments[1].data == "not body text");
  CHECK(m.warnings.empty());
}

TEST_CASE("attachments over the limits are dropped with a warning", "[mail]") {
  auto big = parse_message(with_attachment, {.max_attachment_bytes = 16});
  REQUIRE(big.attachments.size() == 1);
  CHECK(big.attachments[0].filename == "notes.txt");
  CHECK(has_warning(big, "max_attachment_bytes"));
  auto many = parse_message(with_attachment, {.max_attachments = 1});
  CHECK(many.attachments.size() == 1);
  CHECK(has_warning(many, "max_attachments"));
  for (const auto& w : big.warnings) CHECK_FALSE(contains(w, "brief"));  // never message content
}

TEST_CASE("long text is truncated on a character boundary with a warning", "[mail]") {
  auto m = parse_message("From: a@b.example\nContent-Type: text/plain; charset=utf-8\n\nab\xC3\xA9\xC3\xA9\n", {.max_text_bytes = 4});
  CHECK(m.text == "ab\xC3\xA9");
  CHECK(has_warning(m, "max_text_bytes"));
}

TEST_CASE("nested message/rfc822 follows the outer text after a separator", "[mail]") {
  auto m = parse_message(
      "From: desk@uni.example\nSubject: Fwd: request\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"o\"\n\n"
      "--o\nContent-Type: text/plain\n\nFYI see below\n"
      "--o\nContent-Type: message/rfc822\n\n"
      "From: Jane Doe <jane@bbc.co.uk>\nSubject: Expert needed\nDate: Tue, 1 Jul 2025 10:52:37 +0200\n"
      "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"i\"\n\n"
      "--i\nContent-Type: text/plain\n\nCan anyone talk about floods?\n"
      "--i\nContent-Type: image/png; name=chart.png\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n"
      "--i--\n"
      "--o--\n");
  CHECK(m.subject == "Fwd: request");
  CHECK(m.text ==
        "FYI see below\n\n"
        "---------- Forwarded message ---------\n"
        "From: Jane Doe <jane@bbc.co.uk>\n"
        "Date: Tue, 1 Jul 2025 10:52:37 +0200\n"
        "Subject: Expert needed\n\n"
        "Can anyone talk about floods?");
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].filename == "chart.png");
  CHECK(m.attachments[0].data == "hello");
  // The reply splitter sees the forward marker and takes the forwarded request as new text.
  auto parts = split_reply_text(m.text);
  CHECK(parts.new_text == "FYI see below\n\nCan anyone talk about floods?");
}

TEST_CASE("Message-ID, In-Reply-To and References lose their angle brackets", "[mail]") {
  auto m = parse_message(
      "From: a@b.example\nMessage-ID:  <id-3@x.example> \nIn-Reply-To: <id-2@x.example> (Jane's message)\n"
      "References: <id-1@x.example>\n <id-2@x.example>\n\nx\n");
  CHECK(m.message_id == "id-3@x.example");
  CHECK(m.in_reply_to == "id-2@x.example");
  CHECK(m.references == std::vector<std::string>{"id-1@x.example", "id-2@x.example"});
}

TEST_CASE("the Date header is parsed to UTC", "[mail]") {
  auto m = parse_message("From: a@b.example\nDate: Tue, 1 Jul 2025 10:52:37 +0200\n\nx\n");
  REQUIRE(m.date);
  CHECK(format_iso8601(*m.date) == "2025-07-01T08:52:37.000Z");
  auto west = parse_message("From: a@b.example\nDate: 30 Nov 2025 23:30:00 -0500\n\nx\n");
  REQUIRE(west.date);
  CHECK(format_iso8601(*west.date) == "2025-12-01T04:30:00.000Z");
  CHECK_FALSE(parse_message("From: a@b.example\nDate: sometime soon\n\nx\n").date);
}

TEST_CASE("auto-reply and list headers are reported", "[mail]") {
  auto m = parse_message(
      "From: a@b.example\nAuto-Submitted: auto-replied\nPrecedence: bulk\nList-Unsubscribe: <mailto:u@x>\n\nOut of office\n");
  CHECK(m.auto_submitted == "auto-replied");
  CHECK(m.precedence == "bulk");
  CHECK(m.has_list_headers);
}

TEST_CASE("malformed input never crashes", "[mail]") {
  auto empty = parse_message("");
  CHECK_FALSE(empty.parsed);
  CHECK(empty.text.empty());

  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 7919 + 13) % 256);
  auto g = parse_message(garbage);
  CHECK(g.text.find('\0') == std::string::npos);

  auto plain = parse_message("Hi, I'm a producer at BBC Radio Kent.\nCan you help?\n");
  CHECK_FALSE(plain.parsed);
  CHECK(plain.text == "Hi, I'm a producer at BBC Radio Kent.\nCan you help?\n");

  auto headers_only = parse_message("From: a@b.example\nSubject: nothing else");
  CHECK(headers_only.parsed);
  CHECK(headers_only.subject == "nothing else");
  CHECK(headers_only.text.empty());

  auto unterminated = parse_message(
      "From: a@b.example\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nstill here\n--zz\n"
      "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n!!!not base64");
  CHECK(contains(unterminated.text, "still here"));

  auto no_boundary = parse_message("From: a@b.example\nContent-Type: multipart/mixed\n\nbody without parts\n");
  CHECK(no_boundary.parsed);

  std::string deep = "From: a@b.example\nContent-Type: multipart/mixed; boundary=b0\n\n";
  for (int i = 0; i < 10000; ++i)
    deep += "--b" + std::to_string(i) + "\nContent-Type: multipart/mixed; boundary=b" + std::to_string(i + 1) + "\n\n";
  deep += "--b10000\nContent-Type: text/plain\n\ndeep text\n";
  auto d = parse_message(deep);
  CHECK(d.parsed);
  CHECK_FALSE(contains(d.text, "deep text"));
  CHECK(has_warning(d, "max_depth"));

  std::string nested_messages = "From: a@b.example\nContent-Type: message/rfc822\n\n";
  for (int i = 0; i < 2000; ++i) nested_messages += "From: a@b.example\nContent-Type: message/rfc822\n\n";
  CHECK(parse_message(nested_messages).parsed);

  auto bad_encodings = parse_message(
      "From: a@b.example\nSubject: =?bogus?Q?=ZZ?= =?UTF-8?B?####?=\nContent-Type: text/plain; charset=\"//TRANSLIT\"\n"
      "Content-Transfer-Encoding: quoted-printable\n\n=Z=\n=");
  CHECK(bad_encodings.parsed);
}

// ---- looks_like_message ------------------------------------------------------------------------

TEST_CASE("looks_like_message tells an email from plain text", "[mail]") {
  CHECK(looks_like_message("From: jane@bbc.co.uk\nSubject: Expert needed\n\nHello\n"));
  CHECK(looks_like_message(crlf("Received: from mx by x; Tue, 1 Jul 2025\n\tcontinued\nX-Spam: no\nTo: a@b\n\nbody")));
  CHECK(looks_like_message("From jane@bbc.co.uk Tue Jul  1 10:52:37 2025\nFrom: jane@bbc.co.uk\n\nHi\n"));
  CHECK(looks_like_message("Subject: headers only"));
  CHECK(looks_like_message("message-id: <x@y>\n\n"));

  CHECK_FALSE(looks_like_message("Hi, I'm a producer at BBC Radio Kent and need an expert."));
  CHECK_FALSE(looks_like_message("Subject line without colon\nand more text"));
  CHECK_FALSE(looks_like_message(""));
  CHECK_FALSE(looks_like_message("\nFrom: a@b\n"));
  CHECK_FALSE(looks_like_message("Note: no key field here\n\nbody"));
  CHECK_FALSE(looks_like_message("To: the news desk\nI'm a producer at BBC Radio Kent\n"));
  CHECK_FALSE(looks_like_message(" From: indented\n\n"));
}

// ---- split_reply_text --------------------------------------------------------------------------

TEST_CASE("'>' quoted lines are history", "[mail]") {
  auto p = split_reply_text("Yes, 8am works.\n\n> Can you do 8am?\n> Thanks\n");
  CHECK(p.new_text == "Yes, 8am works.");
  CHECK(p.quoted == "> Can you do 8am?\n> Thanks");
  CHECK(p.signature.empty());
  auto interleaved = split_reply_text("> Who?\nDr Smith.\n> When?\nAt noon.\n");
  CHECK(interleaved.new_text == "Dr Smith.\nAt noon.");
  CHECK(interleaved.quoted == "> Who?\n> When?");
}

TEST_CASE("'On ... wrote:' attributions start the quoted history", "[mail]") {
  auto p = split_reply_text("Sounds good.\n\nOn Tue, 1 Jul 2025 at 10:52, Jane Doe <jane@bbc.co.uk> wrote:\n> Old text\n");
  CHECK(p.new_text == "Sounds good.");
  CHECK(p.quoted == "On Tue, 1 Jul 2025 at 10:52, Jane Doe <jane@bbc.co.uk> wrote:\n> Old text");
  auto wrapped = split_reply_text("Sounds good.\n\nOn Tue, 1 Jul 2025 at 10:52, Jane Doe\n<jane@bbc.co.uk> wrote:\n\nOld text without quote marks\n");
  CHECK(wrapped.new_text == "Sounds good.");
  CHECK(contains(wrapped.quoted, "Old text without quote marks"));
  auto french = split_reply_text("D'accord.\nLe mar. 1 juil. 2025 à 10:52, Jeanne <j@lemonde.fr> a écrit :\nAncien\n");
  CHECK(french.new_text == "D'accord.");
  CHECK(contains(french.quoted, "Ancien"));
  auto german = split_reply_text("Gerne.\nAm Di., 1. Juli 2025 um 10:52 Uhr schrieb Hans <h@zdf.de>:\nAlt\n");
  CHECK(german.new_text == "Gerne.");
  CHECK(contains(german.quoted, "Alt"));
  auto prose = split_reply_text("On Monday we would like to talk about floods.\nWho could do it?\n");
  CHECK(prose.new_text == "On Monday we would like to talk about floods.\nWho could do it?");
  CHECK(prose.quoted.empty());
}

TEST_CASE("Outlook header blocks start the quoted history", "[mail]") {
  auto original = split_reply_text("Thanks, confirmed.\n\n-----Original Message-----\nFrom: Jane\nSent: Tuesday\nSubject: x\n\nold\n");
  CHECK(original.new_text == "Thanks, confirmed.");
  CHECK(contains(original.quoted, "-----Original Message-----"));
  auto block = split_reply_text(
      "Confirmed for 8am.\n\nFrom: Jane Doe <jane@bbc.co.uk>\nSent: 01 July 2025 10:52\nTo: Press Office\n"
      "Subject: Expert needed\n\nold request\n");
  CHECK(block.new_text == "Confirmed for 8am.");
  CHECK(contains(block.quoted, "old request"));
  auto underscores = split_reply_text(
      "Confirmed.\n________________________________\nFrom: Jane Doe\nSent: Tuesday\nold\n");
  CHECK(underscores.new_text == "Confirmed.");
  CHECK(contains(underscores.quoted, "________________________________"));
  auto flattened = split_reply_text("Yes.\n*From:* Jane *Sent:* Tuesday *To:* Desk *Subject:* x\nold\n");
  CHECK(flattened.new_text == "Yes.");
  auto not_a_block = split_reply_text("From: the BBC newsroom we need a guest at 8am.\n");
  CHECK(not_a_block.new_text == "From: the BBC newsroom we need a guest at 8am.");
}

TEST_CASE("a forward with a short note makes the forwarded request the new text", "[mail]") {
  auto gmail = split_reply_text(
      "Can someone help?\n\n---------- Forwarded message ---------\nFrom: Jane Doe <jane@bbc.co.uk>\n"
      "Date: Tue, 1 Jul 2025 at 10:52\nSubject: Expert needed\nTo: <desk@uni.example>\n\n\n"
      "We need an expert on floods for 8am tomorrow.\n\nBest,\nJane Doe\nProducer, BBC Radio Kent\n");
  CHECK(gmail.new_text == "Can someone help?\n\nWe need an expert on floods for 8am tomorrow.");
  CHECK(gmail.signature == "Best,\nJane Doe\nProducer, BBC Radio Kent");
  auto apple = split_reply_text(
      "\nBegin forwarded message:\n\nFrom: Jane Doe <jane@bbc.co.uk>\nSubject: Expert needed\n"
      "Date: 1 July 2025 at 10:52:37 BST\nTo: desk@uni.example\n\nWe need an expert on floods.\n"
      "\nOn Mon, 30 Jun 2025, Desk <desk@uni.example> wrote:\n> earlier\n");
  CHECK(apple.new_text == "We need an expert on floods.");
  CHECK(contains(apple.quoted, "> earlier"));
  auto long_note = split_reply_text(
      "I have already spoken to the producer about this and we agreed that the professor should not take part "
      "because of the embargo on the report.\n\n---------- Forwarded message ---------\nFrom: Jane\n\nOld request\n");
  CHECK(contains(long_note.new_text, "embargo"));
  CHECK_FALSE(contains(long_note.new_text, "Old request"));
  CHECK(contains(long_note.quoted, "Old request"));
}

TEST_CASE("signatures: '-- ', sign-offs and mobile footers", "[mail]") {
  auto delimiter = split_reply_text("Can you help with floods?\n-- \nJane Doe\nProducer, BBC Radio Kent\n01234 567890\n");
  CHECK(delimiter.new_text == "Can you help with floods?");
  CHECK(delimiter.signature == "-- \nJane Doe\nProducer, BBC Radio Kent\n01234 567890");

  auto outlet = split_reply_text(
      "Hi,\nWe are looking for a flood expert for tomorrow at 8am.\n\nBest wishes,\n\nJane Doe\nProducer, BBC Radio Kent\n");
  CHECK(outlet.new_text == "Hi,\nWe are looking for a flood expert for tomorrow at 8am.");
  CHECK(outlet.signature == "Best wishes,\n\nJane Doe\nProducer, BBC Radio Kent");

  for (const char* sign_off : {"Best,", "Many thanks,", "Thanks,", "Kind regards,", "Regards,", "Cheers,", "All the best,",
                               "Thanks!", "Kind Regards"}) {
    auto p = split_reply_text(std::string("Hello,\nNeed a guest on housing.\n") + sign_off + "\nJane");
    CHECK(p.new_text == "Hello,\nNeed a guest on housing.");
    CHECK(p.signature == std::string(sign_off) + "\nJane");
  }
  auto same_line = split_reply_text("Need a guest on housing.\nThanks, Jane\n");
  CHECK(same_line.new_text == "Need a guest on housing.");
  CHECK(same_line.signature == "Thanks, Jane");

  auto iphone = split_reply_text("Yes please.\n\nSent from my iPhone\n");
  CHECK(iphone.new_text == "Yes please.");
  CHECK(iphone.signature == "Sent from my iPhone");
  auto outlook = split_reply_text("Yes please.\n\nGet Outlook for iOS\n\n> old\n");
  CHECK(outlook.new_text == "Yes please.");
  CHECK(outlook.signature == "Get Outlook for iOS");
  CHECK(outlook.quoted == "> old");
}

TEST_CASE("sign-off words inside the request stay in the new text", "[mail]") {
  auto thanks_first = split_reply_text("Thanks!\nCould you find a guest on housing for 8am tomorrow?\nJane\n");
  CHECK(thanks_first.signature.empty());
  auto sentence = split_reply_text("Hi,\nThanks, that's great.\nCould someone speak at 8am on housing?\n");
  CHECK(sentence.signature.empty());
  CHECK(contains(sentence.new_text, "Thanks, that's great."));
  auto long_tail = split_reply_text(
      "Hi,\nBest,\n1\n2\n3\n4\n5\n6\n7\n8\n9\n");
  CHECK(long_tail.signature.empty());
}

TEST_CASE("split_reply_text handles empty and very large inputs", "[mail]") {
  auto empty = split_reply_text("");
  CHECK(empty.new_text.empty());
  CHECK(empty.quoted.empty());
  CHECK(empty.signature.empty());
  std::string big;
  for (int i = 0; i < 20000; ++i) big += "---------- Forwarded message ---------\nFrom: x\n\nOn a long line that starts like an attribution\n";
  auto p = split_reply_text(big);
  CHECK(p.new_text.size() + p.quoted.size() + p.signature.size() > 0);
  std::string one_line(1 << 20, 'a');
  CHECK(split_reply_text(one_line).new_text.size() == one_line.size());
}

TEST_CASE("with_crlf_line_ends: bare LF becomes CRLF, CRLF and lone CR stay") {
  using md::mail::with_crlf_line_ends;
  CHECK(with_crlf_line_ends("Return-Path: <a@b>\nSubject: x\n\nbody\n") ==
        "Return-Path: <a@b>\r\nSubject: x\r\n\r\nbody\r\n");
  CHECK(with_crlf_line_ends("a\r\nb\r\n") == "a\r\nb\r\n");
  CHECK(with_crlf_line_ends("\nmixed\r\nlone\rcr\n") == "\r\nmixed\r\nlone\rcr\r\n");
  CHECK(with_crlf_line_ends("") == "");
}
