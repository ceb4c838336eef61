// Integration: the public request form (/submit) and the email providers' inbound webhooks
// (Postmark, Mailgun) against a real serve (and worker), PostgreSQL and Redis.
#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "core/london_time.hpp"
#include "mail/provider_messages.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;

namespace {

std::size_t write_body(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::size_t write_header(char* data, std::size_t size, std::size_t n, void* out) {
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    auto name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}

// A POST with exactly the headers given (the shared client always sends JSON), or a multipart
// body built by libcurl itself when parts are given: name → (value, file name).
struct part {
  std::string name, value, filename, type;
};
http_result post(const test_stack& stack, const std::string& path, const std::string& body,
                 const std::vector<std::string>& headers, const std::vector<part>& parts = {}) {
  CURL* curl = curl_easy_init();
  http_result result;
  auto url = stack.base_url() + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30'000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_mime* mime = nullptr;
  if (!parts.empty()) {
    mime = curl_mime_init(curl);
    for (auto& p : parts) {
      auto* field = curl_mime_addpart(mime);
      curl_mime_name(field, p.name.c_str());
      curl_mime_data(field, p.value.data(), p.value.size());
      if (!p.filename.empty()) curl_mime_filename(field, p.filename.c_str());
      if (!p.type.empty()) curl_mime_type(field, p.type.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
  } else {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_slist* list = curl_slist_append(nullptr, "Expect:");
  for (auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, write_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.headers);
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  curl_slist_free_all(list);
  if (mime) curl_mime_free(mime);
  curl_easy_cleanup(curl);
  return result;
}

std::string escape(const std::string& s) {
  CURL* curl = curl_easy_init();
  char* out = curl_easy_escape(curl, s.data(), static_cast<int>(s.size()));
  std::string result(out);
  curl_free(out);
  curl_easy_cleanup(curl);
  return result;
}

using fields = std::vector<std::pair<std::string, std::string>>;

http_result post_form(const test_stack& stack, const fields& values, const std::vector<std::string>& headers = {}) {
  std::string body;
  for (auto& [k, v] : values) body += (body.empty() ? "" : "&") + escape(k) + "=" + escape(v);
  auto all = headers;
  all.push_back("Content-Type: application/x-www-form-urlencoded");
  return post(stack, "/submit", body, all);
}

fields valid_form(const std::string& deadline = {}) {
  return {{"name", "Sam Example"},
          {"email", "sam@newsroom.example"},
          {"phone", "+44 7700 900123"},
          {"outlet", "BBC Radio Kent"},
          {"subject", "Channel crossings"},
          {"body", "Looking for someone with lived experience of crossing the Channel, voice only."},
          {"deadline", deadline},
          {"website", ""}};
}

fields with(fields f, const std::string& key, const std::string& value) {
  for (auto& [k, v] : f)
    if (k == key) v = value;
  return f;
}

std::int64_t stream_length(const test_stack& stack) {
  auto redis = stack.redis();
  return redis.command({"XLEN", "md:intake"})->integer;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string intake_id_from(const http_result& r) {
  auto location = r.header("location");
  const std::string prefix = "/submit/received/";
  return location.starts_with(prefix) ? location.substr(prefix.size()) : std::string{};
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

TEST_CASE("the public form: page, validation, escaping, honeypot, and a request that becomes a case") {
  test_stack stack("form");
  stack.start("serve");
  auto client = stack.client();

  // The page: labels, fieldsets, the honeypot, no inline script, the strict CSP.
  auto page = client.get("/submit");
  REQUIRE(page.status == 200);
  CHECK(contains(page.header("content-type"), "text/html"));
  CHECK(contains(page.header("content-security-policy"), "script-src 'self'"));
  for (auto label : {"name", "email", "phone", "outlet", "subject", "body", "deadline"})
    CHECK(contains(page.body, fmt::format("<label for=\"{}\">", label)));
  CHECK(contains(page.body, "<fieldset>"));
  CHECK(contains(page.body, "<legend>"));
  CHECK(contains(page.body, R"(type="datetime-local")"));
  CHECK(contains(page.body, R"(<input id="website" name="website" type="text" tabindex="-1" autocomplete="off">)"));
  CHECK(contains(page.body, R"(method="post" action="/submit")"));
  CHECK_FALSE(contains(page.body, "<script>"));
  CHECK_FALSE(contains(page.body, "{{"));
  CHECK_FALSE(contains(page.body, "There is a problem"));
  CHECK(client.get("/static/submit.js").status == 200);

  // Invalid input: 400, the form again with each error linked to its field, what was typed kept
  // (HTML-escaped), and nothing queued.
  auto bad = post_form(stack, with(with(with(valid_form(), "name", ""), "email", "not-an-email"), "body",
                                   "Need <b>someone</b> & \"quick\""));
  REQUIRE(bad.status == 400);
  CHECK(contains(bad.body, "There is a problem"));
  CHECK(contains(bad.body, R"(<a href="#name">Enter your name</a>)"));
  CHECK(contains(bad.body, R"(<a href="#email">Enter an email address in the correct format)"));
  CHECK(contains(bad.body, R"(id="email-error")"));
  CHECK(contains(bad.body, R"(aria-invalid="true")"));
  CHECK(contains(bad.body, "<title>Error: "));
  CHECK(contains(bad.body, R"(value="not-an-email")"));
  CHECK(contains(bad.body, "Need &lt;b&gt;someone&lt;/b&gt; &amp; &quot;quick&quot;</textarea>"));
  CHECK(contains(bad.body, R"(value="BBC Radio Kent")"));

  auto past = post_form(stack, valid_form("2020-01-01T10:00"));
  CHECK(past.status == 400);
  CHECK(contains(past.body, R"(<a href="#deadline">The deadline must be in the future</a>)"));
  auto nonsense = post_form(stack, valid_form("2026-02-30T10:00"));
  CHECK(nonsense.status == 400);
  CHECK(contains(nonsense.body, R"(href="#deadline")"));

  // HTML in the name is escaped wherever it is shown again.
  auto script =
      post_form(stack, with(with(valid_form(), "name", "<script>alert(1)</script>\"><img src=x>"), "email", ""));
  REQUIRE(script.status == 400);
  CHECK(contains(script.body, R"(value="&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x&gt;")"));
  CHECK_FALSE(contains(script.body, "<script>alert"));
  CHECK_FALSE(contains(script.body, "<img src=x>"));

  auto wrong_type = post(stack, "/submit", "{}", {"Content-Type: application/json"});
  CHECK(wrong_type.status == 415);
  CHECK(stream_length(stack) == 0);

  // The honeypot: looks accepted (303 to a received page that says queued), queues nothing.
  auto trap = post_form(stack, with(valid_form(), "website", "http://spam.example"));
  REQUIRE(trap.status == 303);
  auto trap_id = intake_id_from(trap);
  CHECK(crypto::is_valid_intake_id(trap_id));
  CHECK(stream_length(stack) == 0);
  CHECK(json_string(client.get("/submit/status/" + trap_id).body, "status") == "queued");
  CHECK(client.get("/submit/received/" + trap_id).status == 200);

  // A valid request, with a deadline in London time three days from now at 16:00.
  auto day = std::chrono::floor<std::chrono::days>(now()) + std::chrono::days(3);
  std::chrono::year_month_day date{day};
  auto deadline_text = fmt::format("{:04}-{:02}-{:02}T16:00", static_cast<int>(date.year()),
                                   static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  auto deadline_utc = format_iso8601(from_london(date, 16, 0));
  auto ok = post_form(stack, with(valid_form(deadline_text), "name", "Zoë Brontë"));
  REQUIRE(ok.status == 303);
  auto id = intake_id_from(ok);
  REQUIRE(crypto::is_valid_intake_id(id));
  CHECK(stream_length(stack) == 1);
  auto status = client.get("/submit/status/" + id);
  REQUIRE(status.status == 200);
  CHECK(json_string(status.body, "status") == "queued");
  CHECK(contains(status.body, "\"case\":null"));
  auto received = client.get("/submit/received/" + id);
  REQUIRE(received.status == 200);
  CHECK(contains(received.body, id));
  CHECK(contains(received.body, R"(<script type="module" src="/static/submit.js"></script>)"));
  CHECK(contains(received.body, R"(data-status="queued")"));
  CHECK(client.get("/submit/received/not-an-id").status == 404);
  CHECK(client.get("/submit/received/01M8FE6KBRM7GSWF313SZ85AYQ").status == 404);
  CHECK(client.get("/submit/status/01M8FE6KBRM7GSWF313SZ85AYQ").status == 404);

  // The worker treats "form" like "webhook": the same document, so a case with a reference.
  stack.start("worker");
  std::string ref;
  CHECK(eventually(
      [&] {
        auto s = client.get("/submit/status/" + id);
        ref = json_string(s.body, "case");
        return json_string(s.body, "status") == "processed" && !ref.empty();
      },
      30s));
  REQUIRE(ref.starts_with("MD-"));
  auto done = client.get("/submit/received/" + id);
  CHECK(contains(done.body, ref));
  CHECK(contains(done.body, R"(data-status="processed")"));
  // The public endpoints reveal the case reference only.
  CHECK_FALSE(contains(client.get("/submit/status/" + id).body, "Zo"));

  auto admin = stack.admin();
  auto reveal = admin.request("POST", "/api/v1/cases/" + ref + "/reveal", R"({"reason":"to reply"})");
  REQUIRE(reveal.status == 200);
  CHECK(contains(reveal.body, "Zoë Brontë"));
  CHECK(contains(reveal.body, "\"deadline\":\"" + deadline_utc + "\""));
  CHECK(contains(reveal.body, "\"outlet\":\"BBC Radio Kent\""));
  CHECK_FALSE(contains(reveal.body, "website"));
}

TEST_CASE("the form's rate limit answers 429, and a Redis outage 503 with nothing sent") {
  test_stack stack("formlimit");
  stack.start("serve", {{"MEDIADESK_INBOUND_FORM_SUBMISSIONS_PER_IP_PER_HOUR", "3"}});
  for (int i = 0; i < 3; ++i) REQUIRE(post_form(stack, valid_form()).status == 303);
  auto limited = post_form(stack, valid_form());
  REQUIRE(limited.status == 429);
  auto retry_after = std::stoll(limited.header("retry-after"));
  CHECK(retry_after > 0);
  CHECK(retry_after <= 3600);
  CHECK(contains(limited.body, "Too many requests"));
  CHECK(contains(limited.body, R"(value="Sam Example")"));  // nothing typed is lost
  CHECK(stream_length(stack) == 3);
  // Invalid posts are not counted and still get their field errors.
  CHECK(post_form(stack, with(valid_form(), "body", "")).status == 400);
  // Behind a local reverse proxy, the client is the last X-Forwarded-For entry: another client
  // has its own count (and what it writes itself before the proxy's entry does not matter).
  CHECK(post_form(stack, valid_form(), {"X-Forwarded-For: 127.0.0.1, 203.0.113.7"}).status == 303);
  CHECK(post_form(stack, valid_form(), {"X-Forwarded-For: 10.1.1.1, 203.0.113.7"}).status == 303);
  CHECK(post_form(stack, valid_form(), {"X-Forwarded-For: 203.0.113.7"}).status == 303);
  CHECK(post_form(stack, valid_form(), {"X-Forwarded-For: 203.0.113.7"}).status == 429);
  CHECK(post_form(stack, valid_form(), {"X-Forwarded-For: 2001:db8:1:2::1"}).status == 303);
  CHECK(post_form(stack, valid_form(), {"X-Forwarded-For: 2001:db8:1:2::ffff"}).status == 303);
  CHECK(post_form(stack, valid_form(), {"X-Forwarded-For: 2001:db8:1:2:abcd::9"}).status == 303);
  CHECK(post_form(stack, valid_form(), {"X-Forwarded-For: 2001:db8:1:2::7"}).status == 429);  // one /64
  CHECK(stream_length(stack) == 9);

  // Not configured: the provider endpoints do not exist.
  auto client = stack.client();
  CHECK(client.request("POST", "/api/v1/inbound/postmark", "{}").status == 404);
  CHECK(post(stack, "/api/v1/inbound/mailgun", "a=b", {"Content-Type: application/x-www-form-urlencoded"}).status ==
        404);

  stack.redis_server().stop();
  auto down = post_form(stack, valid_form());
  CHECK(down.status == 503);
  CHECK(contains(down.body, "Nothing was sent"));
  CHECK(contains(down.body, R"(value="Sam Example")"));
  CHECK_FALSE(down.header("retry-after").empty());
}

TEST_CASE("one email address is allowed so many form requests an hour, whatever network it comes from") {
  test_stack stack("formsender");
  stack.start("serve", {{"MEDIADESK_INBOUND_FORM_SUBMISSIONS_PER_SENDER_PER_HOUR", "2"}});
  CHECK(post_form(stack, valid_form(), {"X-Forwarded-For: 203.0.113.1"}).status == 303);
  CHECK(post_form(stack, valid_form(), {"X-Forwarded-For: 203.0.113.2"}).status == 303);
  auto limited = post_form(stack, with(valid_form(), "email", "SAM@newsroom.example"), {"X-Forwarded-For: 203.0.113.3"});
  REQUIRE(limited.status == 429);
  CHECK(contains(limited.body, "Too many requests from this email address"));
  CHECK(contains(limited.body, "Nothing was sent"));
  CHECK(contains(limited.body, R"(value="Sam Example")"));  // nothing typed is lost
  CHECK(std::stoll(limited.header("retry-after")) > 0);
  CHECK(post_form(stack, with(valid_form(), "email", "kim@newsroom.example")).status == 303);
  CHECK(stream_length(stack) == 3);
}

TEST_CASE("Postmark and Mailgun posts become email intakes") {
  test_stack stack("providers");
  const std::string token = "pm-token-" + crypto::random_token(12);
  const std::string key = "mg-key-" + crypto::random_token(16);
  stack.start("serve", {{"MEDIADESK_INBOUND_POSTMARK_TOKEN", token}, {"MEDIADESK_INBOUND_MAILGUN_SIGNING_KEY", key}});
  auto client = stack.client();

  // ---- Postmark
  const std::string postmark_json = R"({
    "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
    "FromFull": {"Email": "chloe@news.example", "Name": "Chloé Dupont"},
    "ToFull": [{"Email": "desk@mediadesk.example", "Name": ""}],
    "Subject": "Témoin à Douvres ce soir",
    "Date": "Tue, 10 Mar 2026 08:45:12 +00:00",
    "TextBody": "Bonjour, we need someone in Dover who crossed the Channel, by 6pm today, voice only.",
    "Headers": [{"Name": "Message-ID", "Value": "<pm-1@news.example>"}],
    "Attachments": [{"Name": "brief.txt", "Content": "aGVsbG8=", "ContentType": "text/plain"}]
  })";
  auto basic = [](const std::string& credentials) {
    return "Authorization: Basic " + crypto::to_base64url(credentials);
  };
  auto missing = client.request("POST", "/api/v1/inbound/postmark", postmark_json);
  CHECK(missing.status == 401);
  CHECK(contains(missing.header("www-authenticate"), "Basic"));
  CHECK(client.request("POST", "/api/v1/inbound/postmark", postmark_json, {basic("postmark:wrong")}).status == 401);
  CHECK(client.request("POST", "/api/v1/inbound/postmark", postmark_json, {"Authorization: Bearer " + token}).status ==
        401);
  auto refused =
      client.request("POST", "/api/v1/inbound/postmark", R"({"TextBody":"no sender"})", {basic("postmark:" + token)});
  CHECK(refused.status == 403);  // permanent: Postmark stops retrying
  CHECK(json_string(refused.body, "field") == "From");
  CHECK(stream_length(stack) == 0);

  auto accepted = client.request("POST", "/api/v1/inbound/postmark", postmark_json, {basic("postmark:" + token)});
  REQUIRE(accepted.status == 200);
  CHECK(json_string(accepted.body, "status") == "queued");
  auto postmark_id = json_string(accepted.body, "intake_id");
  REQUIRE(crypto::is_valid_intake_id(postmark_id));
  CHECK(stream_length(stack) == 1);
  // Postmark retries the same MessageID after a lost answer: the first intake comes back.
  auto again = client.request("POST", "/api/v1/inbound/postmark", postmark_json, {basic("anyone:" + token)});
  REQUIRE(again.status == 200);
  CHECK(json_string(again.body, "intake_id") == postmark_id);
  CHECK(stream_length(stack) == 1);

  // ---- Mailgun
  auto signed_parts = [&](std::int64_t t, const std::string& mg_token, std::vector<part> parts) {
    auto ts = std::to_string(t);
    parts.push_back({"timestamp", ts, "", ""});
    parts.push_back({"token", mg_token, "", ""});
    parts.push_back({"signature", mail::sign_mailgun(ts, mg_token, key), "", ""});
    return parts;
  };
  const std::vector<part> message{
      {"sender", "bounce@bbc.example", "", ""},
      {"from", "Jane Doe <jane@bbc.example>", "", ""},
      {"recipient", "desk@mediadesk.example", "", ""},
      {"subject", "Refugee doctor in Birmingham", "", ""},
      {"body-plain", "Looking for a refugee doctor in Birmingham to speak on camera tomorrow.", "", ""},
      {"message-headers", R"([["Message-Id", "<mg-1@bbc.example>"], ["Date", "Tue, 10 Mar 2026 09:00:00 +0000"]])", "",
       ""},
      {"attachment-1", "photo.jpg", "photo.jpg", "image/jpeg"},
  };
  auto mailgun = [&](const std::vector<part>& parts) { return post(stack, "/api/v1/inbound/mailgun", "", {}, parts); };

  auto forged = signed_parts(unix_now(), crypto::random_token(25), message);
  forged.back().value = std::string(64, 'a');
  CHECK(mailgun(forged).status == 401);
  CHECK(mailgun(message).status == 401);                                                            // unsigned
  CHECK(mailgun(signed_parts(unix_now() - 400, crypto::random_token(25), message)).status == 401);  // stale
  CHECK(stream_length(stack) == 1);

  auto mg_token = crypto::random_token(25);
  auto good = mailgun(signed_parts(unix_now(), mg_token, message));
  REQUIRE(good.status == 200);
  CHECK(json_string(good.body, "status") == "queued");
  auto mailgun_id = json_string(good.body, "intake_id");
  REQUIRE(crypto::is_valid_intake_id(mailgun_id));
  CHECK(stream_length(stack) == 2);
  auto replay = mailgun(signed_parts(unix_now(), mg_token, message));
  CHECK(replay.status == 406);  // refused, and Mailgun does not retry a 406
  CHECK(stream_length(stack) == 2);

  // Without attachments Mailgun posts urlencoded; "…/mime" routes send body-mime.
  auto ts = std::to_string(unix_now());
  auto url_token = crypto::random_token(25);
  auto urlencoded =
      post(stack, "/api/v1/inbound/mailgun",
           "timestamp=" + ts + "&token=" + url_token + "&signature=" + mail::sign_mailgun(ts, url_token, key) +
               "&sender=a%40news.example&subject=Hello&body-plain=Need+a+case+study",
           {"Content-Type: application/x-www-form-urlencoded"});
  CHECK(urlencoded.status == 200);
  auto mime = post(stack, "/api/v1/inbound/mailgun/mime", "", {},
                   signed_parts(unix_now(), crypto::random_token(25),
                                {{"body-mime",
                                  "From: Sam <sam@itv.example>\r\nTo: desk@mediadesk.example\r\nSubject: Case study\r\n"
                                  "Message-ID: <mime-1@itv.example>\r\n\r\nA case study in Leeds, please.\r\n",
                                  "", ""}}));
  REQUIRE(mime.status == 200);
  auto mime_id = json_string(mime.body, "intake_id");
  auto no_sender = mailgun(signed_parts(unix_now(), crypto::random_token(25), {{"body-plain", "x", "", ""}}));
  CHECK(no_sender.status == 406);
  CHECK(json_string(no_sender.body, "field") == "from");
  CHECK(stream_length(stack) == 4);

  // The worker reads them as email: each becomes a case.
  stack.start("worker");
  auto admin = stack.admin();
  for (auto& id : {postmark_id, mailgun_id, mime_id}) {
    auto intake = stack.wait_for_intake(admin, id);
    CHECK(json_string(intake, "status") == "processed");
    CHECK(json_string(intake, "case").starts_with("MD-"));
  }
}
