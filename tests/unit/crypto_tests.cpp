// Unit tests for crypto/: sealing bound to its place, tampering, key ids, blind indexes,
// passwords, tokens and ids.
#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

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
  CHECK(plausible_token(random_token(32)));
  CHECK(plausible_token(random_token(16), 16));
  CHECK_FALSE(plausible_token(random_token(16)));
  CHECK_FALSE(plausible_token(std::string(42, 'A')));
  CHECK_FALSE(plausible_token(std::string(42, 'A') + "="));
  CHECK_FALSE(plausible_token(std::string(42, 'A') + "/"));
}

// ---- known-answer vectors (computed independently by tests/data/crypto/envelope_vectors.py) ----

namespace {
std::string unhex(std::string_view hex) { return *md::crypto::from_hex(hex); }
std::string bytes_from(int first) {
  std::string out;
  for (int i = 0; i < 32; ++i) out += static_cast<char>(first + i);
  return out;
}
}  // namespace

TEST_CASE("known answers: XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha A.3.1) through the envelope's AEAD step") {
  auto key = bytes_from(0x80);
  auto nonce = unhex("404142434445464748494a4b4c4d4e4f5051525354555657");
  std::string plaintext =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
  auto sealed = md::crypto::detail::seal_envelope(key, "", nonce, plaintext, unhex("50515253c0c1c2c3c4c5c6c7"));
  CHECK(md::crypto::to_hex(sealed.substr(24)) ==
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216"
        "cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13"
        "b52ec0875924c1c7987947deafd8780acf49");
}

TEST_CASE("known answers: key derivation and both envelope versions, byte for byte") {
  md::crypto::keyring keys(bytes_from(0), 7);
  CHECK(md::crypto::to_hex(keys.sealing_key(1)) == "3240c3176e9009f4590d332da6fb69ab7b6b6c013c3063f9c0bfe3246caa985e");
  CHECK(md::crypto::to_hex(keys.sealing_key(7)) == "21c703f0fb2d61ae861d0b1ac6ce5cffb7ed711cbcc2799f10709d5f074ca978");
  auto nonce = unhex("404142434445464748494a4b4c4d4e4f5051525354555657");
  const std::string plaintext = "Amal, +44 7700 900123", where = "spokespeople.phone:42";

  auto v1 = unhex(
      "0100000007404142434445464748494a4b4c4d4e4f5051525354555657235d1e4b58c69964425c28b0ee24a99064848c6bba19ec25ac2387"
      "2f878e68a907e731701f");
  CHECK(md::crypto::detail::seal_envelope(keys.sealing_key(7), unhex("0100000007"), nonce, plaintext, where) == v1);
  CHECK(keys.open(v1, where) == plaintext);
  CHECK(md::crypto::keyring::key_id_of(v1) == 7);

  auto v2 = unhex(
      "020000000000000102404142434445464748494a4b4c4d4e4f5051525354555657b061129877d0df6ecf3240e4c69ebd6c0277435c3619"
      "4f5ac1a762e01a4d7f3f2ec8d3cca1");
  md::crypto::data_key person(258, bytes_from(0x80));
  CHECK(md::crypto::detail::seal_envelope(person.bytes(), unhex("020000000000000102"), nonce, plaintext, where) == v2);
  CHECK(person.open(v2, where) == plaintext);
  CHECK(md::crypto::data_key::id_of(v2) == 258);
  CHECK(md::crypto::data_key::id_of(v1) == 0);
  CHECK(md::crypto::keyring::key_id_of(v2) == 0);
}

TEST_CASE("data keys: bound to the place, to the key, and tamper-evident") {
  md::crypto::data_key amal(5, md::crypto::data_key::generate_bytes());
  md::crypto::data_key other(6, md::crypto::data_key::generate_bytes());
  auto sealed = amal.seal("Amal Haddad", "spokespeople.full_name:5");
  CHECK(amal.open(sealed, "spokespeople.full_name:5") == "Amal Haddad");
  CHECK_FALSE(amal.open(sealed, "spokespeople.full_name:6"));  // copied to another row
  CHECK_FALSE(amal.open(sealed, "spokespeople.email:5"));      // or column
  CHECK_FALSE(other.open(sealed, "spokespeople.full_name:5")); // another person's key
  // A key with the same id but other bytes (a destroyed key re-created) opens nothing.
  md::crypto::data_key recreated(5, md::crypto::data_key::generate_bytes());
  CHECK_FALSE(recreated.open(sealed, "spokespeople.full_name:5"));
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    auto altered = sealed;
    altered[i] = static_cast<char>(altered[i] ^ 0x01);
    CHECK_FALSE(amal.open(altered, "spokespeople.full_name:5"));
  }
  CHECK_FALSE(amal.open(sealed.substr(0, 20), "spokespeople.full_name:5"));
  CHECK_FALSE(amal.open("", "spokespeople.full_name:5"));
  CHECK(amal.seal("x", "a") != amal.seal("x", "a"));  // fresh nonce each time
  CHECK_THROWS(md::crypto::data_key(0, md::crypto::data_key::generate_bytes()));
  CHECK_THROWS(md::crypto::data_key(1, "short"));
}

TEST_CASE("key rotation: use_key_id switches new seals to the new id; old ids still open") {
  keyring keys(master());
  auto before = keys.seal("sealed under 1", "cases.request:MD-2026-000001");
  CHECK(keyring::key_id_of(before) == 1);

  CHECK(keys.use_key_id(2));
  CHECK(keys.current_key_id() == 2);
  auto after = keys.seal("sealed under 2", "cases.request:MD-2026-000001");
  CHECK(keyring::key_id_of(after) == 2);
  CHECK(keys.open(before, "cases.request:MD-2026-000001") == "sealed under 1");
  CHECK(keys.open(after, "cases.request:MD-2026-000001") == "sealed under 2");
  // Another process that never switched opens the new id too: ids derive from the master key.
  keyring elsewhere(master(), 1);
  CHECK(elsewhere.open(after, "cases.request:MD-2026-000001") == "sealed under 2");

  // Only ever raised: an older or equal id is ignored, 0 is refused.
  CHECK_FALSE(keys.use_key_id(1));
  CHECK_FALSE(keys.use_key_id(2));
  CHECK(keys.current_key_id() == 2);
  CHECK_THROWS_AS(keys.use_key_id(0), std::invalid_argument);
  CHECK(keys.use_key_id(70'000));
  CHECK(keyring::key_id_of(keys.seal("x", "row")) == 70'000);
}

TEST_CASE("key rotation: seals racing a switch carry a consistent id and always open") {
  keyring keys(master());
  std::atomic<bool> done{false};
  std::vector<std::string> sealed;
  std::thread sealer([&] {
    // At least some seals whatever the scheduler does (a loaded machine may run the switches first).
    while (!done.load() || sealed.size() < 100) sealed.push_back(keys.seal("racing", "row"));
  });
  for (std::uint32_t id = 2; id <= 50; ++id) {
    keys.use_key_id(id);
    std::this_thread::yield();
  }
  done = true;
  sealer.join();
  REQUIRE_FALSE(sealed.empty());
  std::uint32_t previous = 0;
  for (auto& s : sealed) {
    auto id = keyring::key_id_of(s);
    CHECK(id >= previous);  // one thread's seals never go back to an older id
    previous = id;
    CHECK(keys.open(s, "row") == "racing");  // the header names the key that sealed it
  }
  CHECK(keyring::key_id_of(keys.seal("x", "row")) == 50);
}
