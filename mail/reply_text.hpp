// Splits a message body into what the sender wrote now, the quoted history and the signature.
// Pure text heuristics: no GMime, no regex, linear in the input, never throws on any input.
#pragma once
#include <string>
#include <string_view>

namespace md::mail {

struct text_parts {
  std::string new_text;   // what triage reads
  std::string quoted;     // earlier messages: "> " lines, text after an attribution or Outlook header block
  std::string signature;  // from a "-- " line, a sign-off ("Best,") or a mobile footer to the end of the new text
};

// A forward ("Begin forwarded message:", "---------- Forwarded message ---------") whose note above
// it has fewer than 15 words is the request itself: the note followed by the forwarded body
// (without its header lines) becomes new_text, and the forwarded body's own signature the signature.
text_parts split_reply_text(std::string_view text);

}  // namespace md::mail
