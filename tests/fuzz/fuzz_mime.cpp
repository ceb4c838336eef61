// libFuzzer target for the MIME entry points: parse_message and looks_like_message on arbitrary bytes.
// Must not assert anything about the result beyond "returns": crashes, leaks and UB are the findings.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mail/message.hpp"
#include "mail/reply_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  md::mail::looks_like_message(raw);
  // Small limits so that the dropping and truncating paths are reached with small inputs too.
  md::mail::parse_limits limits{.max_attachment_bytes = 1024, .max_attachments = 4, .max_text_bytes = 4096, .max_depth = 4};
  auto message = md::mail::parse_message(raw, limits);
  // The body text is what the reply splitter gets in production.
  md::mail::split_reply_text(message.text);
  return 0;
}
