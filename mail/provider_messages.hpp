// Email providers' inbound webhooks (Postmark JSON, Mailgun routes) turned back into one RFC 5322
// message, plus their authentication checks. Pure: no I/O, no throwing on input, no personal data in errors.
#pragma once
#include <chrono>
#include <string>
#include <string_view>
#include <variant>

#include "core/errors.hpp"
#include "core/time.hpp"
#include "mail/multipart_form.hpp"

namespace md::mail {

struct provider_message {
  std::string raw;          // the RFC 5322 message (CRLF line ends when rebuilt here)
  std::string provider_id;  // the provider's own id for the delivery (Postmark MessageID), or empty
};

// Postmark's inbound JSON. Uses RawEmail when Postmark was asked to include it; otherwise rebuilds
// the message from From/FromFull, To/ToFull, Cc/CcFull, ReplyTo, Subject, Date, the Headers list
// (Message-ID, In-Reply-To, References, Auto-Submitted, Precedence, List-*, Return-Path...),
// TextBody/HtmlBody and Attachments. `received` supplies a Date when the post has none.
// Errors name the JSON field ("$" for the document itself).
std::variant<provider_message, field_error> message_from_postmark(std::string_view json, time_point received);

// A Mailgun route's post: body-mime as it came (URLs ending in "mime"), otherwise a message
// rebuilt from from/sender, To/recipient, subject, message-headers, body-plain/body-html and the
// attachment-N files. Errors name the form field.
std::variant<provider_message, field_error> message_from_mailgun(const form_data& form, time_point received);

// Postmark authenticates with HTTP Basic credentials in the webhook URL: true when the
// Authorization header carries this password (any user name). Constant time; false when the
// expected password is empty.
bool postmark_authorized(std::string_view authorization_header, std::string_view expected_password);

// Mailgun signs each post: hex HMAC-SHA256(signing key, timestamp + token), with the timestamp
// within `window` of now (either way).
enum class mailgun_signature_verdict { ok, missing, malformed, stale, mismatch };
std::string_view describe(mailgun_signature_verdict v);
mailgun_signature_verdict verify_mailgun_signature(std::string_view timestamp, std::string_view token,
                                                   std::string_view signature_hex, std::string_view signing_key,
                                                   time_point now, std::chrono::seconds window);
// For tests and local tools: the signature Mailgun would send.
std::string sign_mailgun(std::string_view timestamp, std::string_view token, std::string_view signing_key);

}  // namespace md::mail
