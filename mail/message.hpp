// One RFC 5322 message (raw bytes) parsed into plain values: headers, readable UTF-8 text, attachments.
// Must not expose GMime types, throw on any input, or keep state between calls beyond GMime's one-time init.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"

namespace md::mail {

struct attachment {
  std::string filename;      // as the sender named it (UTF-8, may be empty)
  std::string content_type;  // "type/subtype", lowercase
  std::string data;          // decoded bytes
};

struct parsed_message {
  bool parsed = true;  // false: not a message at all (no header, or only the trace fields a delivery adds);
                      // only text (the raw input past those trace fields, made safe) is set
  std::string subject;  // encoded-words decoded, UTF-8, whitespace collapsed
  std::string from_name, from_address;  // first From mailbox; the address's domain lowercased
  std::string reply_to_address;
  std::vector<std::string> to_addresses, cc_addresses;
  std::string message_id;  // without angle brackets
  std::string in_reply_to;  // without angle brackets
  std::vector<std::string> references;  // without angle brackets, in order
  std::optional<time_point> date;  // from the Date header
  std::string auto_submitted;  // header values, for auto-reply suppression
  std::string precedence;
  bool has_list_headers = false;  // List-Id or List-Unsubscribe present
  std::string return_path;  // without angle brackets
  // The readable body in UTF-8 with LF line ends: the text/plain part if any, else the HTML part as
  // readable text; each nested message/rfc822 follows after a "Forwarded message" separator line.
  std::string text;
  std::vector<attachment> attachments;  // non-text parts, and text parts marked as attachments
  std::vector<std::string> warnings;  // what was dropped or truncated and why (fixed strings)
};

struct parse_limits {
  std::size_t max_attachment_bytes = 10 << 20;
  std::size_t max_attachments = 20;
  std::size_t max_text_bytes = 1 << 20;
  int max_depth = 8;  // MIME nesting below the top-level message that is still read
};

parsed_message parse_message(std::string_view raw, const parse_limits& limits = {});

// True when raw starts like an RFC 5322 message: an optional mbox "From " line, then a header block
// whose first line is "Name: value" and whose lines are all fields or folded continuations, holding
// one of From/Subject/Date/Message-ID/Received/Return-Path/To, up to the first empty line (or the end).
// Tells an email from plain text on stdin.
bool looks_like_message(std::string_view raw);

// The message with every line ending in CRLF, as SMTP carries it: an MTA's pipe hands over bare
// LF lines (and flags=R adds Return-Path so), and every door seals the same wire form. CRLF and
// lone CR are kept as they are.
std::string with_crlf_line_ends(std::string_view raw);

}  // namespace md::mail
