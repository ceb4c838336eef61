// Unit tests for crypto/: sealing bound to its place, tampering, key ids, blind indexes,
// passwords, tokens and ids.
#include <catch2/catch.hpp>

#include "crypto/keyring.hpp"
#include "crypto/primitives.hpp"

using namespace md::crypto;

namespace {
std::string master() { return std::string(32, '\x07'); }
}  // namespace

TEST_CASE("a sealed value opens only where it was sealed for") {
  keyring keys(master());
  auto sealed = keys.seal("Zed Secretname", "cases.request:MD-2026-000001");
  CHECK(sealed.find("Zed") == std::string::npos);
  CHECK(keys.open(sealed, "cases.request:MD-2026-000001") == "Zed Secretname");
  CHECK_FALSE(keys.open(sealed, "cases.request:MD-2026-000002"));
  CHECK_FALSE(keys.open(sealed, "users.email:MD-2026-000001"));
  CHECK(keys.seal("x", "a") != keys.seal("x", "a"));  // fresh nonce each time
}

TEST_CASE("tampered, truncated or foreign envelopes do not open") {
  keyring keys(master());
  auto sealed = keys.seal("payload", "here");
  for (std::size_t i = 0; i < sealed.size(); i += 7) {
    auto altered = sealed;
    altered[i] = static_cast<char>(altered[i] ^ 0x01);
    CHECK_FALSE(keys.open(altered, "here"));
  }
  CHECK_FALSE(keys.open(sealed.substr(0, sealed.size() - 1), "here"));
  CHECK_FALSE(keys.open("", "here"));
  keyring other(std::string(32, '\x08'));
  CHECK_FALSE(other.open(sealed, "here"));
}

TEST_CASE("key ids travel in the envelope and old ids still open") {
  keyring v1(master(), 1), v2(master(), 2);
  auto old_sealed = v1.seal("old", "row");
  auto new_sealed = v2.seal("new", "row");
  CHECK(keyring::key_id_of(old_sealed) == 1);
  CHECK(keyring::key_id_of(new_sealed) == 2);
  CHECK(v2.open(old_sealed, "row") == "old");
  CHECK(v1.open(new_sealed, "row") == "new");  // derived from the same master key
}

TEST_CASE("blind indexes are stable, normalised by the caller, and separated by domain") {
  keyring keys(master());
  auto a = keys.blind_index("journalist.email", normalise_email(" Sam@News.Example "));
  auto b = keys.blind_index("journalist.email", normalise_email("sam@news.example"));
  CHECK(a == b);
  CHECK(a.size() == 32);
  CHECK(keys.blind_index("user.email", "sam@news.example") != a);
  CHECK(keyring(std::string(32, '\x09')).blind_index("journalist.email", "sam@news.example") != a);
}

TEST_CASE("master keys parse from hex or base64 and nothing else") {
  auto text = keyring::generate_master_key_text();
  CHECK(text.size() == 64);
  CHECK(keyring::parse_master_key(text + "\n"));
  CHECK(keyring::parse_master_key(to_base64url(std::string(32, 'k'))));
  CHECK_FALSE(keyring::parse_master_key("too short"));
  CHECK_FALSE(keyring::parse_master_key(std::string(62, 'a')));
}

TEST_CASE("passwords hash with Argon2id and verify") {
  auto hash = hash_password("correct horse battery");
  CHECK(hash.starts_with("$argon2id$"));
  CHECK(verify_password(hash, "correct horse battery"));
  CHECK_FALSE(verify_password(hash, "correct horse battery!"));
  CHECK_FALSE(verify_password("not a hash", "x"));
}

TEST_CASE("intake ids are 26 Crockford characters, unique and time-ordered") {
  auto a = new_intake_id();
  auto b = new_intake_id();
  CHECK(is_valid_intake_id(a));
  CHECK(a != b);
  CHECK(a.substr(0, 8) <= b.substr(0, 8));
  CHECK_FALSE(is_valid_intake_id("01M8FE6KBRM7GSWF313SZ85AY"));    // 25
  CHECK_FALSE(is_valid_intake_id("01M8FE6KBRM7GSWF313SZ85AYI"));   // I is not Crockford
  CHECK_FALSE(is_valid_intake_id("81M8FE6KBRM7GSWF313SZ85AYQ"));   // over 128 bits
}

TEST_CASE("hex, base64 and HMAC-SHA256 agree with known answers") {
  CHECK(to_hex("\x01\xab") == "01ab");
  CHECK(from_hex("01ab") == std::string("\x01\xab"));
  CHECK_FALSE(from_hex("0g"));
  CHECK(from_base64("aGVsbG8=") == "hello");
  CHECK(from_base64("aGVsbG8") == "hello");
  // RFC 4231 test case 2
  CHECK(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(equal_constant_time("abc", "abc"));
  CHECK_FALSE(equal_constant_time("abc", "abd"));
  CHECK_FALSE(equal_constant_time("abc", "abcd"));
  CHECK(random_token(32).size() == 43);
}
