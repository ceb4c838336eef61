// The webhook intake contract, as pure functions: signature check (HMAC-SHA256 over
// "<t>.<raw body>", constant-time, replay window) and validation of the JSON body into a
// journalist_request. Errors name the field; they never echo the values sent.
#pragma once
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/errors.hpp"
#include "core/request.hpp"

namespace md::intake {

enum class signature_verdict { ok, missing, malformed, stale, mismatch };
std::string_view describe(signature_verdict v);

// header: the X-Signature value "t=<unix seconds>,v1=<hex>" (several v1= accepted, for rotation).
signature_verdict verify_signature(std::string_view header, std::string_view raw_body, std::string_view secret,
                                   time_point now, std::chrono::seconds window);

// What a header that verify_signature accepted signs ("<t>.<raw body>"), hashed, as an idempotency
// key: the same signed post sent again, within the window, is the same request however its header
// is written (parts reordered, schemes added). Never equal to a valid Idempotency-Key (it holds a
// space). nullopt if the header is malformed.
std::optional<std::string> signed_message_key(std::string_view header, std::string_view raw_body);

// For clients and tests: the header value for a body signed at time t.
std::string sign_body(std::string_view raw_body, std::string_view secret, std::int64_t unix_seconds);

struct validated_request {
  journalist_request request;
  boost::json::object document;  // the whole body, unknown fields included
};

// Parses and validates the JSON body. Field names in errors use dots: "journalist.email".
std::variant<validated_request, field_error> validate_webhook_body(std::string_view raw_body);

// Reads a journalist_request back from a document that validate_webhook_body accepted earlier
// (the worker's side of the same contract).
std::variant<journalist_request, field_error> request_from_document(const boost::json::object& document);

// Idempotency-Key header: 1..200 visible ASCII characters.
bool valid_idempotency_key(std::string_view key);

bool plausible_email(std::string_view email);

}  // namespace md::intake
