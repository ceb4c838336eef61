// libFuzzer target for the SMTP/LMTP state machine (mail/smtp_session): arbitrary bytes in
// arbitrary read sizes, queue outcomes chosen by the input. Asserts only the session's own
// invariants (replies are whole CRLF lines, buffered input stays bounded); crashes, leaks and UB
// are the findings. Build and run: scripts/fuzz.sh smtp_session (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mail/smtp_session.hpp"

namespace {

void check(const md::mail::smtp_step& step, const md::mail::smtp_session& s, std::size_t max_line) {
  if (!step.replies.empty() && !step.replies.ends_with("\r\n")) std::abort();
  // A partial line (+CR) beyond what one feed added is never kept; a deliver may leave the rest
  // of that feed buffered, which the fuzzer bounds by its chunk size below.
  if (s.buffered_bytes() > max_line + 1 + 256) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // The first byte picks the mode and small limits, so that every limit is reachable quickly.
  md::mail::smtp_session_config config;
  config.hostname = "fuzz.example";
  config.lmtp = data[0] & 1;
  config.domains = md::mail::parse_address_list("desk.example,b.example");
  config.addresses = md::mail::parse_address_list("press@partner.example");
  config.max_message_bytes = 64 + (data[0] >> 1) * 16;
  config.max_recipients = 1 + (data[1] & 3);
  config.max_line_bytes = 64;
  config.max_commands = 40;
  config.max_errors = 1 + (data[1] >> 4);
  md::mail::smtp_session session(config);
  session.start();
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  bool queued = true;
  while (!input.empty() && !session.closed()) {
    // Read sizes from 1 to 256 bytes, taken from the input itself.
    std::size_t n = 1 + static_cast<unsigned char>(input.front()) % 256;
    n = std::min(n, input.size());
    auto step = session.feed(input.substr(0, n));
    input.remove_prefix(n);
    check(step, session, config.max_line_bytes);
    while (step.action == md::mail::smtp_action::deliver) {
      if (session.envelope().recipients.empty() || session.envelope().data.size() > config.max_message_bytes)
        std::abort();
      step = session.complete({queued, "FUZZID"});
      queued = !queued;
      check(step, session, config.max_line_bytes);
    }
  }
  session.timeout();
  return 0;
}
