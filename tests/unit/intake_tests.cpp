// Unit tests for the webhook contract's pure parts: signatures, the replay window, body
// validation with the field named, idempotency keys; and the foundation's priority rule.
#include <catch2/catch.hpp>

#include "intake/intake_record.hpp"
#include "crypto/primitives.hpp"
#include "intake/webhook.hpp"
#include "routing/triage.hpp"

using namespace md;
using namespace md::intake;
using std::chrono::seconds;

namespace {
const std::string secret = "s3cret";
const std::string body = R"({"journalist":{"name":"A","email":"a@b.example"},"body":"hi"})";
time_point at(std::int64_t unix_seconds) { return time_point{std::chrono::milliseconds(unix_seconds * 1000)}; }

std::string error_field(std::string_view json) {
  auto r = validate_webhook_body(json);
  auto* e = std::get_if<field_error>(&r);
  return e ? e->field : "(accepted)";
}
}  // namespace

TEST_CASE("a correct signature inside the window is accepted") {
  auto header = sign_body(body, secret, 1'800'000'000);
  CHECK(verify_signature(header, body, secret, at(1'800'000'000), seconds(300)) == signature_verdict::ok);
  CHECK(verify_signature(header, body, secret, at(1'800'000'299), seconds(300)) == signature_verdict::ok);
  CHECK(verify_signature(header, body, secret, at(1'799'999'701), seconds(300)) == signature_verdict::ok);
}

TEST_CASE("stale, future, altered or missing signatures are refused") {
  auto header = sign_body(body, secret, 1'800'000'000);
  CHECK(verify_signature(header, body, secret, at(1'800'000'301), seconds(300)) == signature_verdict::stale);
  CHECK(verify_signature(header, body, secret, at(1'799'999'699), seconds(300)) == signature_verdict::stale);
  CHECK(verify_signature(header, body + " ", secret, at(1'800'000'000), seconds(300)) == signature_verdict::mismatch);
  CHECK(verify_signature(header, body, "other", at(1'800'000'000), seconds(300)) == signature_verdict::mismatch);
  CHECK(verify_signature("", body, secret, at(1'800'000'000), seconds(300)) == signature_verdict::missing);
  for (auto bad : {"t=1800000000", "v1=00", "t=abc,v1=00", "t=1800000000,v1=zz", "t=1,t=2,v1=00", "garbage"})
    CHECK(verify_signature(bad, body, secret, at(1'800'000'000), seconds(300)) == signature_verdict::malformed);
  // The timestamp is signed too: moving it breaks the signature.
  auto moved = "t=1800000001" + header.substr(header.find(','));
  CHECK(verify_signature(moved, body, secret, at(1'800'000'000), seconds(300)) == signature_verdict::mismatch);
  CHECK(verify_signature(header, body, "", at(1'800'000'000), seconds(300)) == signature_verdict::mismatch);
}

TEST_CASE("several v1 signatures are accepted while a secret rotates") {
  auto good = sign_body(body, secret, 1'800'000'000);
  auto v1 = good.substr(good.find("v1="));
  auto header = "t=1800000000,v1=" + std::string(64, '0') + "," + v1;
  CHECK(verify_signature(header, body, secret, at(1'800'000'000), seconds(300)) == signature_verdict::ok);
}

TEST_CASE("a signed message's key is the same however the header is written, and no client key") {
  auto header = sign_body(body, secret, 1'800'000'000);
  auto key = signed_message_key(header, body);
  REQUIRE(key);
  auto v1 = header.substr(header.find("v1="));
  CHECK(signed_message_key(v1 + ",t=1800000000", body) == key);
  CHECK(signed_message_key(header + ",v0=00", body) == key);
  CHECK(signed_message_key(" " + header + " ", body) == key);
  // Another time or another body is another message; a malformed header has none.
  CHECK(signed_message_key(sign_body(body, secret, 1'800'000'001), body) != key);
  CHECK(signed_message_key(header, body + " ") != key);
  CHECK_FALSE(signed_message_key("garbage", body));
  CHECK_FALSE(signed_message_key("t=1,t=2," + v1, body));
  // A client's Idempotency-Key can never be the same string.
  CHECK_FALSE(valid_idempotency_key(*key));
}

TEST_CASE("valid bodies become requests and keep unknown fields") {
  auto r = validate_webhook_body(
      R"({"journalist":{"name":"Sam","email":"sam@itv.example","phone":"+44 7700 900001"},"outlet":"ITV",
          "subject":"Doctor","body":"Need a doctor","deadline":"2026-11-27T14:00:00Z","newsroom_ref":42})");
  auto* v = std::get_if<validated_request>(&r);
  REQUIRE(v);
  CHECK(v->request.journalist.name == "Sam");
  CHECK(v->request.journalist.phone == "+44 7700 900001");
  CHECK(v->request.outlet == "ITV");
  CHECK(format_iso8601(*v->request.deadline) == "2026-11-27T14:00:00.000Z");
  CHECK(v->document.contains("newsroom_ref"));
}

TEST_CASE("invalid bodies name the field that is wrong") {
  CHECK(error_field("not json") == "$");
  CHECK(error_field("[1,2]") == "$");
  CHECK(error_field(R"({"body":"x"})") == "journalist");
  CHECK(error_field(R"({"journalist":"Sam","body":"x"})") == "journalist");
  CHECK(error_field(R"({"journalist":{"email":"a@b.example"},"body":"x"})") == "journalist.name");
  CHECK(error_field(R"({"journalist":{"name":"A"},"body":"x"})") == "journalist.email");
  CHECK(error_field(R"({"journalist":{"name":"A","email":"not-an-email"},"body":"x"})") == "journalist.email");
  CHECK(error_field(R"({"journalist":{"name":"A","email":"a@b.example","phone":7},"body":"x"})") ==
        "journalist.phone");
  CHECK(error_field(R"({"journalist":{"name":"A","email":"a@b.example"}})") == "body");
  CHECK(error_field(R"({"journalist":{"name":"A","email":"a@b.example"},"body":"   "})") == "body");
  CHECK(error_field(R"({"journalist":{"name":"A","email":"a@b.example"},"body":"x","deadline":"4pm"})") ==
        "deadline");
  CHECK(error_field(R"({"journalist":{"name":"A","email":"a@b.example"},"body":"x","outlet":{}})") == "outlet");
  CHECK(error_field(R"({"journalist":{"name":"A","email":"a@b.example"},"body":"x","subject":null})") ==
        "(accepted)");
  std::string deep(100, '[');
  CHECK(error_field(deep) == "$");
  // U+0000, which PostgreSQL text cannot keep, in any field of the contract.
  CHECK(error_field(R"({"journalist":{"name":"A","email":"a@b.example"},"body":"x","outlet":"a\u0000b"})") == "outlet");
  CHECK(error_field(R"({"journalist":{"name":"A\u0000","email":"a@b.example"},"body":"x"})") == "journalist.name");
  CHECK(error_field(R"({"journalist":{"name":"A","email":"a@b.example"},"body":"x\u0000"})") == "body");
  CHECK(error_field(R"({"journalist":{"name":"A","email":"a@b.example"},"body":"x","subject":"\u0000"})") == "subject");
  CHECK(error_field(R"({"journalist":{"name":"A","email":"a@b.example"},"body":"x","ref":"\u0000"})") == "(accepted)");
}

TEST_CASE("idempotency keys and emails are checked") {
  CHECK(valid_idempotency_key("newsroom-123"));
  CHECK_FALSE(valid_idempotency_key(""));
  CHECK_FALSE(valid_idempotency_key("has space"));
  CHECK_FALSE(valid_idempotency_key(std::string(201, 'k')));
  CHECK(plausible_email("a.b+c@news.example.org"));
  for (auto bad : {"a@b", "@b.example", "a@@b.example", "a b@c.example", "a@.example", "a@example."})
    CHECK_FALSE(plausible_email(bad));
}

TEST_CASE("intake records seal their payload bound to the intake id") {
  crypto::keyring keys(std::string(32, 'm'));
  auto r = make_intake_record(keys, intake_source::webhook, body, 123);
  CHECK(crypto::is_valid_intake_id(r.id));
  CHECK(keys.open(r.sealed_payload, payload_binding(r.id)) == body);
  CHECK_FALSE(keys.open(r.sealed_payload, payload_binding(crypto::new_intake_id())));
  CHECK(parse_intake_source("email") == intake_source::email);
  CHECK_FALSE(parse_intake_source("fax"));
}

