// Unit tests for the provider converters (Postmark JSON, Mailgun routes → RFC 5322, checked by
// parsing back with mail::parse_message), their authentication checks, and the form body parsers.
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "crypto/primitives.hpp"
#include "mail/message.hpp"
#include "mail/multipart_form.hpp"
#include "mail/provider_messages.hpp"

using namespace md;
using namespace md::mail;

namespace {

const time_point received = *parse_iso8601("2026-03-10T09:00:00Z");

std::string postmark_raw(const std::string& json) {
  crypto::initialise();
  auto r = message_from_postmark(json, received);
  if (auto* e = std::get_if<field_error>(&r)) FAIL("postmark conversion failed: " << e->field << ": " << e->message);
  return std::get<provider_message>(r).raw;
}

field_error postmark_error(const std::string& json) {
  crypto::initialise();
  auto r = message_from_postmark(json, received);
  REQUIRE(std::holds_alternative<field_error>(r));
  return std::get<field_error>(r);
}

std::string header_block(const std::string& raw) { return raw.substr(0, raw.find("\r\n\r\n") + 2); }

// Every line of a rebuilt message ends in CRLF and no header line is longer than 78 characters.
void check_wire_form(const std::string& raw) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n') REQUIRE((i > 0 && raw[i - 1] == '\r'));
    if (raw[i] == '\r') REQUIRE((i + 1 < raw.size() && raw[i + 1] == '\n'));
  }
  auto headers = header_block(raw);
  std::size_t start = 0;
  while (start < headers.size()) {
    auto end = headers.find("\r\n", start);
    INFO(headers.substr(start, end - start));
    CHECK(end - start <= 78);
    start = end + 2;
  }
}

form_data fields(std::initializer_list<std::pair<std::string, std::string>> values) {
  form_data f;
  for (auto& [k, v] : values) f.parts.push_back({k, "", "", v});
  return f;
}

const std::string boundary = "------------------------d74496d66958873e";

std::string multipart_body(const std::vector<std::array<std::string, 4>>& parts) {  // name, filename, type, data
  std::string out;
  for (auto& [name, filename, type, data] : parts) {
    out += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
    if (!filename.empty()) out += "; filename=\"" + filename + "\"";
    out += "\r\n";
    if (!type.empty()) out += "Content-Type: " + type + "\r\n";
    out += "\r\n" + data + "\r\n";
  }
  return out + "--" + boundary + "--\r\n";
}
const std::string multipart_type = "multipart/form-data; boundary=" + boundary;

}  // namespace

// ---- Postmark -----------------------------------------------------------------------------------

TEST_CASE("a Postmark post with accents round-trips through parse_message", "[inbound]") {
  auto raw = postmark_raw(R"({
    "FromName": "Zoë Brontë",
    "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
    "FromFull": {"Email": "zoe@newsroom.example", "Name": "Zoë Brontë", "MailboxHash": ""},
    "To": "desk@mediadesk.example",
    "ToFull": [{"Email": "desk@mediadesk.example", "Name": "Media Desk", "MailboxHash": ""}],
    "CcFull": [{"Email": "editor@newsroom.example", "Name": "Éditeur, Chef", "MailboxHash": ""}],
    "Subject": "Réfugiés à Calais : besoin d’un témoin pour ce soir, caméra ou voix seulement — merci beaucoup",
    "Date": "Tue, 10 Mar 2026 08:45:12 -04:00",
    "TextBody": "Bonjour,\nNous cherchons quelqu’un à Calais.\nUne ligne = avec des signes égal et des espaces à la fin   \n",
    "HtmlBody": "<p>Bonjour</p>",
    "Headers": [{"Name": "X-Spam-Score", "Value": "0"},
                {"Name": "Message-ID", "Value": "<CAF=abc123@mail.newsroom.example>"}]
  })");
  check_wire_form(raw);
  auto m = parse_message(raw);
  REQUIRE(m.parsed);
  CHECK(m.subject == "Réfugiés à Calais : besoin d’un témoin pour ce soir, caméra ou voix seulement — merci beaucoup");
  CHECK(m.from_name == "Zoë Brontë");
  CHECK(m.from_address == "zoe@newsroom.example");
  CHECK(m.to_addresses == std::vector<std::string>{"desk@mediadesk.example"});
  CHECK(m.cc_addresses == std::vector<std::string>{"editor@newsroom.example"});
  CHECK(m.message_id == "CAF=abc123@mail.newsroom.example");
  REQUIRE(m.date);
  CHECK(format_iso8601(*m.date) == "2026-03-10T12:45:12.000Z");
  CHECK(m.text.find("Nous cherchons quelqu’un à Calais.") != std::string::npos);
  CHECK(m.text.find("Une ligne = avec des signes égal") != std::string::npos);
  CHECK(header_block(raw).find("X-Spam-Score") == std::string::npos);  // only listed headers are kept
}

TEST_CASE("In-Reply-To, References and auto-reply headers are kept from Postmark's Headers", "[inbound]") {
  auto raw = postmark_raw(R"({
    "FromFull": {"Email": "sam@news.example", "Name": "Sam"},
    "Subject": "Re: Offer [MD-2026-000012]",
    "TextBody": "Yes please.",
    "Headers": [{"Name": "In-Reply-To", "Value": "<offer-1@desk.example>"},
                {"Name": "References", "Value": "<req-1@news.example> <offer-1@desk.example>"},
                {"Name": "Auto-Submitted", "Value": "auto-replied"},
                {"Name": "Precedence", "Value": "bulk"},
                {"Name": "List-Id", "Value": "<press.lists.example>"},
                {"Name": "Return-Path", "Value": "<bounce@news.example>"}]
  })");
  auto m = parse_message(raw);
  CHECK(m.in_reply_to == "offer-1@desk.example");
  CHECK(m.references == std::vector<std::string>{"req-1@news.example", "offer-1@desk.example"});
  CHECK(m.auto_submitted == "auto-replied");
  CHECK(m.precedence == "bulk");
  CHECK(m.has_list_headers);
  CHECK(m.return_path == "bounce@news.example");
  CHECK(m.subject == "Re: Offer [MD-2026-000012]");
  CHECK(m.text == "Yes please.");
  REQUIRE(m.date);  // no Date in the post: the arrival time
  CHECK(*m.date == received);
}

TEST_CASE("an HTML-only Postmark post becomes readable text", "[inbound]") {
  auto raw = postmark_raw(R"({"From": "\"Doe, Jane\" <jane@bbc.example>", "Subject": "Expert",
                              "HtmlBody": "<html><body><p>Need an <b>expert</b> on housing.</p></body></html>"})");
  auto m = parse_message(raw);
  CHECK(m.from_name == "Doe, Jane");
  CHECK(m.from_address == "jane@bbc.example");
  CHECK(m.text.find("Need an expert on housing.") != std::string::npos);
  CHECK(raw.find("Content-Type: text/html; charset=utf-8") != std::string::npos);
}

TEST_CASE("Postmark attachments become base64 MIME parts", "[inbound]") {
  std::string pdf = "%PDF-1.4\n\x01\x02\xff binary \r\n bytes";
  pdf += std::string(200, 'x');
  auto raw = postmark_raw(R"({"FromFull": {"Email": "a@news.example", "Name": ""}, "Subject": "Brief",
    "TextBody": "See the brief.", "HtmlBody": "<p>See the brief.</p>",
    "Attachments": [{"Name": "brief é.pdf", "Content": ")" +
                          crypto::to_base64url(pdf) + R"(",
                     "ContentType": "application/pdf", "ContentLength": 230},
                    {"Name": "notes \"1\".txt", "Content": "aGVsbG8=", "ContentType": "text/plain; charset=utf-8"},
                    {"Name": "", "Content": "", "ContentType": "<script>"}]})");
  check_wire_form(raw);
  auto m = parse_message(raw);
  CHECK(m.text == "See the brief.");
  REQUIRE(m.attachments.size() == 3);
  CHECK(m.attachments[0].filename == "brief é.pdf");
  CHECK(m.attachments[0].content_type == "application/pdf");
  CHECK(m.attachments[0].data == pdf);
  CHECK(m.attachments[1].filename == "notes \"1\".txt");
  CHECK(m.attachments[1].data == "hello");
  CHECK(m.attachments[2].content_type == "application/octet-stream");
}

TEST_CASE("header text cannot inject headers", "[inbound]") {
  auto raw = postmark_raw(R"({"FromFull": {"Email": "a@news.example", "Name": "A\r\nBcc: victim@x.example"},
    "Subject": "Hello\r\nBcc: victim@x.example\r\n\r\nbody", "TextBody": "x",
    "Headers": [{"Name": "References", "Value": "<a@b>\r\nBcc: v@x.example"}]})");
  auto headers = header_block(raw);
  CHECK(headers.find("\r\nBcc:") == std::string::npos);
  auto m = parse_message(raw);
  CHECK(m.subject == "Hello Bcc: victim@x.example body");
  CHECK(m.references == std::vector<std::string>{"a@b"});
}

TEST_CASE("Postmark's MessageID stands in for a missing Message-ID and RawEmail is used as sent", "[inbound]") {
  crypto::initialise();
  auto r = message_from_postmark(R"({"MessageID": "abc-123", "FromFull": {"Email": "a@n.example"}, "TextBody": "x"})",
                                 received);
  REQUIRE(std::holds_alternative<provider_message>(r));
  CHECK(std::get<provider_message>(r).provider_id == "abc-123");
  CHECK(parse_message(std::get<provider_message>(r).raw).message_id == "abc-123@inbound.postmarkapp.com");

  auto raw = message_from_postmark(R"({"RawEmail": "From: a@n.example\r\nSubject: raw\r\n\r\nhi\r\n"})", received);
  REQUIRE(std::holds_alternative<provider_message>(raw));
  CHECK(std::get<provider_message>(raw).raw == "From: a@n.example\r\nSubject: raw\r\n\r\nhi\r\n");
}

TEST_CASE("bad Postmark posts are refused naming the field", "[inbound]") {
  CHECK(postmark_error("{not json").field == "$");
  CHECK(postmark_error("[1,2]").field == "$");
  CHECK(postmark_error(R"({"TextBody": "no sender"})").field == "From");
  CHECK(postmark_error(R"({"From": "not an address", "TextBody": "x"})").field == "From");
  CHECK(postmark_error(R"({"FromFull": {"Email": 5}})").field == "FromFull.Email");
  CHECK(postmark_error(R"({"From": "a@n.example", "Subject": ["x"]})").field == "Subject");
  CHECK(postmark_error(R"({"From": "a@n.example", "Attachments": {}})").field == "Attachments");
  auto e = postmark_error(R"({"From": "a@n.example", "Attachments": [{"Name": "x", "Content": "***not base64***"}]})");
  CHECK(e.field == "Attachments[0].Content");
  CHECK(e.message.find("***") == std::string::npos);  // errors never echo values
}

// ---- Mailgun ------------------------------------------------------------------------------------

TEST_CASE("a parsed Mailgun post is rebuilt from its fields and message-headers", "[inbound]") {
  auto form = fields({
      {"sender", "bounce+abc@news.example"},
      {"from", "Chloé Dupont <chloe@news.example>"},
      {"recipient", "desk@mediadesk.example"},
      {"subject", "Témoin à Douvres"},
      {"body-plain", "Bonjour,\r\nun témoin à Douvres ?\r\n"},
      {"message-headers",
       R"([["Received", "by x"], ["Message-Id", "<m1@news.example>"], ["In-Reply-To", "<o1@desk.example>"],
           ["References", "<r0@news.example> <o1@desk.example>"], ["Date", "Tue, 10 Mar 2026 10:00:00 +0100"],
           ["To", "Desk <desk@mediadesk.example>"], ["Auto-Submitted", "no"]])"},
      {"timestamp", "1"},
      {"token", "t"},
      {"signature", "s"},
  });
  auto r = message_from_mailgun(form, received);
  REQUIRE(std::holds_alternative<provider_message>(r));
  auto& raw = std::get<provider_message>(r).raw;
  check_wire_form(raw);
  auto m = parse_message(raw);
  CHECK(m.subject == "Témoin à Douvres");
  CHECK(m.from_name == "Chloé Dupont");
  CHECK(m.from_address == "chloe@news.example");
  CHECK(m.to_addresses == std::vector<std::string>{"desk@mediadesk.example"});
  CHECK(m.message_id == "m1@news.example");
  CHECK(m.in_reply_to == "o1@desk.example");
  CHECK(m.references == std::vector<std::string>{"r0@news.example", "o1@desk.example"});
  CHECK(m.return_path == "bounce+abc@news.example");
  CHECK(m.auto_submitted == "no");
  CHECK(m.text == "Bonjour,\nun témoin à Douvres ?");
  REQUIRE(m.date);
  CHECK(format_iso8601(*m.date) == "2026-03-10T09:00:00.000Z");
  CHECK(header_block(raw).find("Received") == std::string::npos);
}

TEST_CASE("Mailgun: body-mime is used as sent, files become attachments, a sender is required", "[inbound]") {
  auto mime = fields({{"body-mime", "From: a@n.example\r\n\r\nhi\r\n"}, {"from", "b@n.example"}});
  CHECK(std::get<provider_message>(message_from_mailgun(mime, received)).raw == "From: a@n.example\r\n\r\nhi\r\n");

  auto with_file = fields({{"sender", "a@n.example"}, {"body-html", "<p>See <i>file</i></p>"}});
  with_file.parts.push_back({"attachment-1", "photo.jpg", "image/jpeg", std::string("\xff\xd8\xff\xe0jpeg", 8)});
  auto m = parse_message(std::get<provider_message>(message_from_mailgun(with_file, received)).raw);
  CHECK(m.from_address == "a@n.example");
  CHECK(m.text.find("See file") != std::string::npos);
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].filename == "photo.jpg");
  CHECK(m.attachments[0].data == std::string("\xff\xd8\xff\xe0jpeg", 8));

  auto none = message_from_mailgun(fields({{"body-plain", "x"}, {"message-headers", "not json"}}), received);
  REQUIRE(std::holds_alternative<field_error>(none));
  CHECK(std::get<field_error>(none).field == "from");
}

TEST_CASE("Mailgun signatures: HMAC over timestamp and token, within the window", "[inbound]") {
  crypto::initialise();
  std::string key = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";
  auto t = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(received.time_since_epoch()).count());
  std::string token = "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6ab";
  auto sig = sign_mailgun(t, token, key);
  auto window = std::chrono::seconds(300);
  using v = mailgun_signature_verdict;
  CHECK(verify_mailgun_signature(t, token, sig, key, received, window) == v::ok);
  CHECK(verify_mailgun_signature(t, token, sig, key, received + std::chrono::seconds(299), window) == v::ok);
  CHECK(verify_mailgun_signature(t, token, sig, key, received + std::chrono::seconds(301), window) == v::stale);
  CHECK(verify_mailgun_signature(t, token, sig, "other-key", received, window) == v::mismatch);
  CHECK(verify_mailgun_signature(t, token + "x", sig, key, received, window) == v::mismatch);
  CHECK(verify_mailgun_signature(t, token, sig, "", received, window) == v::mismatch);
  CHECK(verify_mailgun_signature("", token, sig, key, received, window) == v::missing);
  CHECK(verify_mailgun_signature(t, token, "zz", key, received, window) == v::malformed);
  CHECK(verify_mailgun_signature("12abc", token, sig, key, received, window) == v::malformed);
  // The documented example: HMAC-SHA256(key, timestamp + token) in lowercase hex.
  CHECK(sig == crypto::to_hex(crypto::hmac_sha256(key, t + token)));
}

TEST_CASE("Postmark basic auth: the password must match, in constant time", "[inbound]") {
  crypto::initialise();
  auto basic = [](std::string credentials) { return "Basic " + crypto::to_base64url(credentials); };
  CHECK(postmark_authorized(basic("postmark:s3cret-token"), "s3cret-token"));
  CHECK(postmark_authorized("basic " + crypto::to_base64url("anyone:s3cret-token"), "s3cret-token"));
  CHECK_FALSE(postmark_authorized(basic("postmark:wrong"), "s3cret-token"));
  CHECK_FALSE(postmark_authorized(basic("s3cret-token"), "s3cret-token"));  // no colon
  CHECK_FALSE(postmark_authorized("Bearer s3cret-token", "s3cret-token"));
  CHECK_FALSE(postmark_authorized("", "s3cret-token"));
  CHECK_FALSE(postmark_authorized("Basic !!!", "s3cret-token"));
  CHECK_FALSE(postmark_authorized(basic("postmark:"), ""));  // unset token: never authorised
}

// ---- form bodies --------------------------------------------------------------------------------

TEST_CASE("multipart/form-data: fields and files", "[inbound]") {
  auto body = multipart_body({{"timestamp", "", "", "1700000000"},
                              {"body-plain", "", "", "line one\r\nline two"},
                              {"attachment-1", "a b.pdf", "Application/PDF", std::string("\0\r\n--x\r\n", 8)}});
  auto r = parse_multipart_form(multipart_type, body);
  REQUIRE(std::holds_alternative<form_data>(r));
  auto& f = std::get<form_data>(r);
  REQUIRE(f.parts.size() == 3);
  CHECK(f.value("timestamp") == "1700000000");
  CHECK(f.value("body-plain") == "line one\r\nline two");
  CHECK(f.value("missing").empty());
  auto* file = f.find("attachment-1");
  REQUIRE(file);
  CHECK(file->is_file());
  CHECK(file->filename == "a b.pdf");
  CHECK(file->content_type == "application/pdf");
  CHECK(file->data == std::string("\0\r\n--x\r\n", 8));

  // A quoted boundary, a preamble, an RFC 2231 file name and a part without a name (skipped).
  std::string quoted =
      "preamble\r\n--b\r\nContent-Disposition: form-data; name=\"f\"; "
      "filename*=UTF-8''%C3%A9t%C3%A9.txt\r\n\r\nsummer\r\n--b\r\n"
      "Content-Type: text/plain\r\n\r\nanonymous\r\n--b--";
  auto q = parse_multipart_form("multipart/form-data; charset=utf-8; boundary=\"b\"", quoted);
  REQUIRE(std::holds_alternative<form_data>(q));
  REQUIRE(std::get<form_data>(q).parts.size() == 1);
  CHECK(std::get<form_data>(q).parts[0].filename == "été.txt");
}

TEST_CASE("multipart/form-data: missing boundaries, limits and truncation are errors", "[inbound]") {
  auto body = multipart_body({{"a", "", "", "1"}});
  CHECK(std::get<form_error>(parse_multipart_form("multipart/form-data", body)) == form_error::missing_boundary);
  CHECK(std::get<form_error>(parse_multipart_form("multipart/form-data; boundary=", body)) ==
        form_error::missing_boundary);
  CHECK(std::get<form_error>(parse_multipart_form("application/json; boundary=x", body)) ==
        form_error::missing_boundary);
  CHECK(std::get<form_error>(parse_multipart_form(multipart_type, "no delimiter here")) == form_error::malformed);
  CHECK(std::get<form_error>(parse_multipart_form(multipart_type, body.substr(0, body.size() - 30))) ==
        form_error::malformed);

  form_limits small;
  small.max_part_bytes = 1024;
  auto huge = multipart_body({{"a", "", "", "1"}, {"body-mime", "", "", std::string(4096, 'x')}});
  CHECK(std::get<form_error>(parse_multipart_form(multipart_type, huge, small)) == form_error::part_too_large);
  small.max_parts = 3;
  auto many = multipart_body({{"a", "", "", ""}, {"b", "", "", ""}, {"c", "", "", ""}, {"d", "", "", ""}});
  CHECK(std::get<form_error>(parse_multipart_form(multipart_type, many, small)) == form_error::too_many_parts);
  CHECK_FALSE(describe(form_error::malformed).empty());
}

TEST_CASE("multipart/form-data: garbage and every truncation never crash", "[inbound]") {
  auto body = multipart_body({{"a", "", "", "1"}, {"f", "x.bin", "image/png", "\x89PNG\r\n"}});
  for (std::size_t n = 0; n <= body.size(); ++n) (void)parse_multipart_form(multipart_type, body.substr(0, n));
  std::mt19937 rng(42);
  const std::string alphabet = "-\r\n:;=\"\\ abcdform-dataContent-Disposition" + boundary;
  for (int round = 0; round < 2000; ++round) {
    std::string garbage;
    auto length = rng() % 300;
    for (std::size_t i = 0; i < length; ++i)
      garbage += round % 2 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    if (round % 3 == 0) garbage = "--" + boundary + "\r\n" + garbage;
    auto r = parse_multipart_form(multipart_type, garbage);
    (void)r;
    (void)parse_urlencoded_form(garbage);
    (void)multipart_boundary(garbage);
    // The converters take whatever a parse produced, and never throw either.
    if (auto* f = std::get_if<form_data>(&r)) (void)message_from_mailgun(*f, received);
    (void)message_from_postmark(garbage, received);
  }
  SUCCEED();
}

TEST_CASE("application/x-www-form-urlencoded bodies", "[inbound]") {
  auto r = parse_urlencoded_form("name=Sam+O%27Neil&email=sam%40news.example&empty=&flag&bad=%zz%4&&x=%E2%82%AC");
  REQUIRE(std::holds_alternative<form_data>(r));
  auto& f = std::get<form_data>(r);
  CHECK(f.value("name") == "Sam O'Neil");
  CHECK(f.value("email") == "sam@news.example");
  CHECK(f.find("empty"));
  CHECK(f.find("flag"));
  CHECK(f.value("bad") == "%zz%4");
  CHECK(f.value("x") == "€");
  form_limits small;
  small.max_parts = 2;
  CHECK(std::get<form_error>(parse_urlencoded_form("a=1&b=2&c=3", small)) == form_error::too_many_parts);
}
