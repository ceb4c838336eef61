// Webhook signature and body validation (see webhook.hpp).
#include "intake/webhook.hpp"

#include <boost/json/parse.hpp>
#include <charconv>
#include <fmt/format.h>

#include <optional>
#include <vector>

#include "crypto/primitives.hpp"

namespace md::intake {
namespace json = boost::json;

std::string_view describe(signature_verdict v) {
  switch (v) {
    case signature_verdict::ok: return "ok";
    case signature_verdict::missing: return "missing X-Signature header";
    case signature_verdict::malformed: return "X-Signature must be t=<unix seconds>,v1=<hex HMAC-SHA256>";
    case signature_verdict::stale: return "X-Signature timestamp is outside the allowed window";
    case signature_verdict::mismatch: return "X-Signature does not match the body";
  }
  return "invalid signature";
}

namespace {

// The parts of an X-Signature header: its one t= and its v1= HMACs (other schemes, v0= or future
// versions, are ignored, as Stripe-style headers allow). nullopt: malformed.
struct signature_parts {
  std::int64_t t = 0;
  std::vector<std::string> candidates;
};
std::optional<signature_parts> parse_signature(std::string_view header) {
  std::optional<std::int64_t> t;
  signature_parts out;
  while (!header.empty()) {
    auto comma = header.find(',');
    auto part = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (part.starts_with("t=")) {
      std::int64_t value = 0;
      auto digits = part.substr(2);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      if (ec != std::errc{} || p != digits.data() + digits.size() || t) return std::nullopt;
      t = value;
    } else if (part.starts_with("v1=")) {
      auto raw = crypto::from_hex(part.substr(3));
      if (!raw || raw->size() != 32) return std::nullopt;
      out.candidates.push_back(std::move(*raw));
    }
  }
  if (!t || out.candidates.empty()) return std::nullopt;
  out.t = *t;
  return out;
}

std::string signed_message(std::int64_t t, std::string_view raw_body) {
  std::string message = fmt::format("{}.", t);
  message.append(raw_body);
  return message;
}

}  // namespace

signature_verdict verify_signature(std::string_view header, std::string_view raw_body, std::string_view secret,
                                   time_point now, std::chrono::seconds window) {
  if (header.empty()) return signature_verdict::missing;
  if (secret.empty()) return signature_verdict::mismatch;
  auto parts = parse_signature(header);
  if (!parts) return signature_verdict::malformed;
  auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (parts->t < now_s - window.count() || parts->t > now_s + window.count()) return signature_verdict::stale;
  auto expected = crypto::hmac_sha256(secret, signed_message(parts->t, raw_body));
  bool match = false;
  for (auto& c : parts->candidates) match |= crypto::equal_constant_time(c, expected);
  return match ? signature_verdict::ok : signature_verdict::mismatch;
}

std::optional<std::string> signed_message_key(std::string_view header, std::string_view raw_body) {
  auto parts = parse_signature(header);
  if (!parts) return std::nullopt;
  // The space keeps it apart from every Idempotency-Key a client can send (visible ASCII only).
  return "signed " + crypto::to_hex(crypto::token_hash(signed_message(parts->t, raw_body)));
}

std::string sign_body(std::string_view raw_body, std::string_view secret, std::int64_t unix_seconds) {
  return fmt::format("t={},v1={}", unix_seconds,
                     crypto::to_hex(crypto::hmac_sha256(secret, signed_message(unix_seconds, raw_body))));
}

bool plausible_email(std::string_view email) {
  auto at = email.find('@');
  if (at == std::string_view::npos || at == 0 || at != email.rfind('@') || email.size() > 320) return false;
  auto domain = email.substr(at + 1);
  if (domain.size() < 3 || domain.find('.') == std::string_view::npos || domain.front() == '.' ||
      domain.back() == '.')
    return false;
  for (unsigned char c : email)
    if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';') return false;
  return true;
}

bool valid_idempotency_key(std::string_view key) {
  if (key.empty() || key.size() > 200) return false;
  for (unsigned char c : key)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

namespace {

// Reads an optional string field with a length limit. Returns an error or nothing.
std::optional<field_error> read_string(const json::object& obj, std::string_view key, std::string_view field_name,
                                       bool required, std::size_t max_length, std::string& out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->value().is_null()) {
    if (required) return field_error{std::string{field_name}, fmt::format("{} is required", field_name)};
    return std::nullopt;
  }
  if (!it->value().is_string())
    return field_error{std::string{field_name}, fmt::format("{} must be a string", field_name)};
  auto& s = it->value().get_string();
  if (s.size() > max_length)
    return field_error{std::string{field_name},
                       fmt::format("{} is longer than {} characters", field_name, max_length)};
  // PostgreSQL text cannot hold U+0000: libpq ends a parameter at the first one, so the worker
  // would store a stated outlet "a\u0000b" as "a". No field of the contract means it.
  if (std::string_view(s).find('\0') != std::string_view::npos)
    return field_error{std::string{field_name}, fmt::format("{} must not contain the character U+0000 (NUL)", field_name)};
  out.assign(s.data(), s.size());
  auto blank = out.find_first_not_of(" \t\r\n") == std::string::npos;
  if (required && blank)
    return field_error{std::string{field_name}, fmt::format("{} must not be empty", field_name)};
  return std::nullopt;
}

}  // namespace

std::variant<journalist_request, field_error> request_from_document(const json::object& doc) {
  journalist_request r;
  auto journalist = doc.find("journalist");
  if (journalist == doc.end() || journalist->value().is_null())
    return field_error{"journalist", "journalist is required"};
  if (!journalist->value().is_object()) return field_error{"journalist", "journalist must be an object"};
  auto& j = journalist->value().get_object();
  if (auto e = read_string(j, "name", "journalist.name", true, 200, r.journalist.name)) return *e;
  if (auto e = read_string(j, "email", "journalist.email", true, 320, r.journalist.email)) return *e;
  if (!plausible_email(r.journalist.email))
    return field_error{"journalist.email", "journalist.email is not a valid email address"};
  if (auto e = read_string(j, "phone", "journalist.phone", false, 50, r.journalist.phone)) return *e;
  if (auto e = read_string(doc, "outlet", "outlet", false, 200, r.outlet)) return *e;
  if (auto e = read_string(doc, "subject", "subject", false, 1000, r.subject)) return *e;
  if (auto e = read_string(doc, "body", "body", true, 256 * 1024, r.body)) return *e;
  std::string deadline_text;
  if (auto e = read_string(doc, "deadline", "deadline", false, 64, deadline_text)) return *e;
  if (!deadline_text.empty()) {
    r.deadline = parse_iso8601(deadline_text);
    if (!r.deadline)
      return field_error{"deadline", "deadline must be an ISO-8601 date-time such as 2026-11-27T16:00:00Z"};
  }
  return r;
}

std::variant<validated_request, field_error> validate_webhook_body(std::string_view raw_body) {
  json::error_code ec;
  json::parse_options options;
  options.max_depth = 32;
  auto value = json::parse(raw_body, ec, {}, options);
  if (ec) return field_error{"$", "request body is not valid JSON"};
  if (!value.is_object()) return field_error{"$", "request body must be a JSON object"};
  auto request = request_from_document(value.get_object());
  if (auto* e = std::get_if<field_error>(&request)) return *e;
  return validated_request{std::move(std::get<journalist_request>(request)), std::move(value.get_object())};
}

}  // namespace md::intake
