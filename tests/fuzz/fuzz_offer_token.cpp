// libFuzzer target for token checking, the pure parts: the offer link's token (its shape, its
// unkeyed BLAKE2b hash, the constant-time comparison), the staff session cookie (read from Cookie
// headers, bounded, hashed, and the CSRF header compared), the encodings beside them, and the
// key ring's envelopes opened from arbitrary bytes. No database: the look-up by hash is what
// follows. Checks the properties the handlers rely on besides "returns". Needs md_http (the
// cookie reader) and md_crypto.
//
// Input: the token or cookie text itself. Lines: the first is also tried as a Cookie header and
// the second as X-CSRF-Token; the whole input is also tried as a sealed envelope.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "crypto/keyring.hpp"
#include "crypto/primitives.hpp"
#include "server/http_util.hpp"

namespace {

using namespace md;
using namespace md::server;

void require(bool ok) {
  if (!ok) std::abort();
}

const crypto::keyring& keys() {
  static const crypto::keyring ring(std::string(32, '\x42'), 2);
  return ring;
}

// GET/POST /respond/{token}: the shape check, then only the hash is looked up.
void check_offer_token(std::string_view token) {
  if (!crypto::plausible_token(token)) return;
  require(token.size() == 43);
  auto decoded = crypto::from_base64(token);
  if (decoded) require(decoded->size() == 32);
  auto hash = crypto::token_hash(token);
  require(hash.size() == 32 && crypto::equal_constant_time(hash, crypto::token_hash(token)));
  std::string altered{token};
  altered[0] = altered[0] == 'A' ? 'B' : 'A';
  require(!crypto::equal_constant_time(hash, crypto::token_hash(altered)));
}

// require_session's checks before the database: the md_session cookie, 1 to 100 bytes, hashed;
// then the CSRF header against the session's token.
void check_session(std::string_view cookie_header, std::string_view csrf_header) {
  http_request request{http::verb::post, "/api/v1/cases/MD-2026-000001/notes", 11};
  // The header as Beast would have stored it: a value with CR, LF or NUL never gets this far.
  if (cookie_header.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) return;
  request.insert(http::field::cookie, cookie_header);
  request.insert(http::field::cookie, "theme=dark; md_session=second-header-value");
  if (csrf_header.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos)
    request.set("X-CSRF-Token", csrf_header);
  auto token = cookie_value(request, "md_session");
  if (token) {
    require(token->size() <= cookie_header.size() || *token == "second-header-value");
    if (!token->empty() && token->size() <= 100) require(crypto::token_hash(*token).size() == 32);
  }
  auto csrf = crypto::random_token(32);
  require(!crypto::equal_constant_time(request["X-CSRF-Token"], csrf) || request["X-CSRF-Token"] == csrf);
}

void check_encodings(std::string_view text) {
  if (auto raw = crypto::from_hex(text)) {
    require(raw->size() * 2 == text.size());
    auto hex = crypto::to_hex(*raw);
    require(crypto::from_hex(hex) == raw);
  }
  if (auto raw = crypto::from_base64(text)) require(crypto::from_base64(crypto::to_base64url(*raw)) == raw);
  // Whatever random_token(n) makes from these bytes has the shape the handlers accept.
  auto bytes = text.substr(0, 32);
  if (bytes.size() == 32) require(crypto::plausible_token(crypto::to_base64url(bytes)));
  crypto::plausible_token(text, 16);
  crypto::is_valid_intake_id(text);
}

void check_envelope(std::string_view bytes) {
  auto& ring = keys();
  crypto::keyring::key_id_of(bytes);
  // Arbitrary bytes never open (forging one would take breaking XChaCha20-Poly1305).
  require(!ring.open(bytes, "offers.token:1"));
  require(!crypto::data_key::id_of(bytes) || bytes.size() >= 9);
  crypto::keyring::parse_master_key(bytes);
  // A sealed value opens where it was sealed for, and nowhere else.
  auto sealed = ring.seal(bytes, "cases.body:7");
  require(crypto::keyring::key_id_of(sealed) == 2);
  require(ring.open(sealed, "cases.body:7") == std::string(bytes));
  require(!ring.open(sealed, "cases.body:8"));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  crypto::initialise();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto eol = input.find('\n');
  auto first = input.substr(0, eol);
  auto second = eol == std::string_view::npos ? std::string_view{} : input.substr(eol + 1);
  second = second.substr(0, second.find('\n'));

  check_offer_token(input);
  check_offer_token(first);
  check_session(first, second);
  check_encodings(input);
  check_envelope(input);
  return 0;
}
