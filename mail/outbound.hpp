// Outbound messages as bytes (RFC 5322 headers with threading, RFC 2047 subjects, RFC 3834 marks; a QP body),
// subject tags and the acknowledgement text. Pure: no I/O, no logging, no state.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"

namespace md::mail {

struct outbound_fields {
  std::string from_name, from_address, to_name, to_address, subject, body_text;
  std::string message_id;               // without angle brackets (make_message_id)
  std::string in_reply_to;              // without angle brackets; empty: none
  std::vector<std::string> references;  // without angle brackets, oldest first
  bool auto_reply = false;              // an acknowledgement: Auto-Submitted, X-Auto-Response-Suppress
  std::string case_ref;                 // MD-YYYY-NNNNNN, for X-MediaDesk-Case; may be empty
};

// A new, random Message-ID "md.<time>.<random>@domain" (without angle brackets). An empty or
// unusable domain becomes "mediadesk.invalid".
std::string make_message_id(std::string_view domain);

// The domain of an address ("desk.example" for "requests@desk.example"), lowercased; empty if none.
std::string domain_of(std::string_view address);

// The whole message with CRLF line ends, ready for SMTP or a maildir. Every header value has
// CR, LF and other control characters removed first, so no value can add a header; addresses
// also lose spaces, angle brackets and commas, so none can add a recipient. Date is written in
// Europe/London time.
std::string build_message(const outbound_fields& fields, time_point date);

// "[MD-2026-000123]"
std::string case_tag(std::string_view ref);

// "Re: <subject> [ref]": leading reply prefixes (Re:, RE:, Aw:, Re[2]:...) and any copy of the
// tag are removed first, so replying to a reply does not grow the subject.
std::string reply_subject(std::string_view original_subject, std::string_view ref);

// The automatic acknowledgement's body: the desk has the request, its reference, keep the tag
// in the subject when replying, what happens next; never a promise of a spokesperson.
std::string acknowledgement_text(std::string_view ref, std::string_view journalist_name);

// The staff reminder of consents coming to an end: one line per consent (alias, consent id,
// expiry date) and where to renew them. Aliases only: never a real name.
struct consent_reminder_line {
  std::string alias;
  std::int64_t consent_id = 0, spokesperson_id = 0;
  std::string expires_at;  // ISO 8601; the date part is shown
};
std::string consent_reminder_text(const std::vector<consent_reminder_line>& lines, std::string_view dashboard_url);

// The body encoded as quoted-printable (RFC 2045) with CRLF line ends: exposed for tests.
std::string quoted_printable(std::string_view text);

// A header value as RFC 2047 encoded-words when it needs it (non-ASCII, "=?" or a very long
// word), else unchanged; exposed for tests.
std::string encode_header_text(std::string_view text);

}  // namespace md::mail
