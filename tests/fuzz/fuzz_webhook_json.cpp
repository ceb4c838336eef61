// libFuzzer target for the webhook's intake contract (intake/webhook): the X-Signature check and
// validate_webhook_body (boost::json with the server's parse options, then request_from_document)
// on arbitrary bytes. Beyond "returns", it checks what the server and the worker rely on: an
// accepted body honours every limit, the worker's re-reading of the body and of the document agrees
// with it, and a body signed with sign_body verifies (and only with its own secret and time
// window). Needs md_intake only.
//
// Input: the raw request body; or "X-Signature: <value>\n" then the body, to drive the header parser.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "crypto/primitives.hpp"
#include "intake/webhook.hpp"

namespace {

using namespace md;
using namespace md::intake;

constexpr std::string_view secret = "whsec-fuzz-0123456789abcdef";
constexpr std::chrono::seconds window{300};
const time_point fixed_now = from_unix_ms(1'780'000'000'000);  // 2026-05-28, BST

void require(bool ok) {
  if (!ok) std::abort();
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

bool same_request(const journalist_request& a, const journalist_request& b) {
  return a.journalist.name == b.journalist.name && a.journalist.email == b.journalist.email &&
         a.journalist.phone == b.journalist.phone && a.outlet == b.outlet && a.subject == b.subject &&
         a.body == b.body && a.deadline == b.deadline;
}

// What validate_webhook_body promises about a body it accepts (webhook.cpp's limits).
void check_accepted(const validated_request& v) {
  auto& r = v.request;
  require(!blank(r.journalist.name) && r.journalist.name.size() <= 200);
  require(plausible_email(r.journalist.email) && r.journalist.email.size() <= 320);
  require(r.journalist.phone.size() <= 50 && r.outlet.size() <= 200 && r.subject.size() <= 1000);
  require(!blank(r.body) && r.body.size() <= 256 * 1024);
  // The worker reads the same document again (request_from_document): it must agree.
  auto again = request_from_document(v.document);
  require(std::holds_alternative<journalist_request>(again) && same_request(std::get<journalist_request>(again), r));
}

// The server validates the body before the 202; the worker validates the same raw bytes again
// (intake_worker.cpp) and must reach the same request. The document itself is never serialised
// again: only the raw body is stored (Boost.JSON would write 1e999 back as "Infinity").
void check_worker_agrees(std::string_view raw, const validated_request& v) {
  auto again = validate_webhook_body(raw);
  require(std::holds_alternative<validated_request>(again));
  require(same_request(std::get<validated_request>(again).request, v.request));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  crypto::initialise();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view header, body = input;
  constexpr std::string_view prefix = "X-Signature: ";
  if (input.starts_with(prefix)) {
    auto eol = input.find('\n');
    header = input.substr(prefix.size(), eol == std::string_view::npos ? eol : eol - prefix.size());
    body = eol == std::string_view::npos ? std::string_view{} : input.substr(eol + 1);
  }

  // The header as sent: whatever it says, the verdict is one of the five and never throws.
  auto verdict = verify_signature(header, body, secret, fixed_now, window);
  require(!describe(verdict).empty());
  if (header.empty()) require(verdict == signature_verdict::missing);

  // A body signed as a client would: verifies within the window, not outside it, not with another secret.
  auto unix_now = to_unix_ms(fixed_now) / 1000;
  auto signed_header = sign_body(body, secret, unix_now);
  require(verify_signature(signed_header, body, secret, fixed_now, window) == signature_verdict::ok);
  require(verify_signature(signed_header, body, "another secret", fixed_now, window) == signature_verdict::mismatch);
  require(verify_signature(sign_body(body, secret, unix_now - 301), body, secret, fixed_now, window) ==
          signature_verdict::stale);
  // Rotation: an unknown v1 alongside the right one still verifies.
  require(verify_signature(signed_header + ",v1=" + std::string(64, '0'), body, secret, fixed_now, window) ==
          signature_verdict::ok);

  auto validated = validate_webhook_body(body);
  if (auto* v = std::get_if<validated_request>(&validated)) {
    check_accepted(*v);
    check_worker_agrees(body, *v);
  } else {
    // Errors name a field and never echo what was sent (their text is fixed by the validator).
    auto& e = std::get<field_error>(validated);
    require(!e.field.empty() && !e.message.empty() && e.message.size() < 200);
  }

  valid_idempotency_key(body.substr(0, 256));
  return 0;
}
