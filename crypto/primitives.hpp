// Small cryptographic building blocks over libsodium: randomness, ids, tokens, encodings,
// HMAC-SHA256, Argon2id password hashes. No keys are stored here; see keyring.hpp for those.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace md::crypto {

// Must be called once before any other function (idempotent, thread-safe).
void initialise();

std::string random_bytes(std::size_t n);
// URL-safe base64 without padding of n random bytes: session tokens, CSRF tokens, secrets.
std::string random_token(std::size_t n_bytes = 32);
// Whether text has the shape random_token(n_bytes) gives (length and alphabet only): bearer
// tokens from a link or cookie are checked with this before they are hashed and looked up.
bool plausible_token(std::string_view token, std::size_t n_bytes = 32);
// Time-ordered, 26-character Crockford base32 id (48-bit milliseconds + 80 random bits).
std::string new_intake_id();
bool is_valid_intake_id(std::string_view id);

std::string to_hex(std::string_view bytes);
std::optional<std::string> from_hex(std::string_view hex);
std::string to_base64url(std::string_view bytes);
std::optional<std::string> from_base64(std::string_view text);  // standard or URL-safe, padded or not

std::string hmac_sha256(std::string_view key, std::string_view message);  // 32 raw bytes
bool equal_constant_time(std::string_view a, std::string_view b);
// Unkeyed BLAKE2b-256: for storing bearer tokens as hashes.
std::string token_hash(std::string_view token);

// Argon2id (libsodium's crypto_pwhash_str, interactive limits).
std::string hash_password(std::string_view password);
bool verify_password(std::string_view stored_hash, std::string_view password);

}  // namespace md::crypto
