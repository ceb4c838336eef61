// Key derivation, sealing and blind indexes (see keyring.hpp).
#include "crypto/keyring.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "crypto/primitives.hpp"

namespace md::crypto {
namespace {
constexpr unsigned char envelope_v1 = 0x01;
constexpr std::size_t header_size = 1 + 4 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr char seal_context[9] = "mdseal01";
constexpr char index_context[9] = "mdindx01";

std::string trimmed(std::string_view s) {
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  auto last = s.find_last_not_of(" \t\r\n");
  return std::string{s.substr(first, last - first + 1)};
}
}  // namespace

keyring::keyring(std::string master_key, std::uint32_t current_key_id)
    : master_key_(std::move(master_key)), current_key_id_(current_key_id) {
  if (master_key_.size() != crypto_kdf_KEYBYTES) throw std::invalid_argument("master key must be 32 bytes");
  if (current_key_id_ == 0) throw std::invalid_argument("key ids start at 1");
  sodium_mlock(master_key_.data(), master_key_.size());
}

keyring::~keyring() {
  sodium_munlock(master_key_.data(), master_key_.size());  // also zeroes the memory
}

std::optional<std::string> keyring::parse_master_key(std::string_view text) {
  auto t = trimmed(text);
  if (t.size() == 64)
    if (auto raw = from_hex(t); raw && raw->size() == 32) return raw;
  if (auto raw = from_base64(t); raw && raw->size() == 32) return raw;
  return std::nullopt;
}

std::string keyring::generate_master_key_text() { return to_hex(random_bytes(crypto_kdf_KEYBYTES)); }

std::string keyring::derive(std::uint64_t subkey_id, const char (&context)[9]) const {
  std::string key(crypto_aead_xchacha20poly1305_ietf_KEYBYTES, '\0');
  crypto_kdf_derive_from_key(reinterpret_cast<unsigned char*>(key.data()), key.size(), subkey_id, context,
                             reinterpret_cast<const unsigned char*>(master_key_.data()));
  return key;
}

std::string keyring::seal(std::string_view plaintext, std::string_view bound_to) const {
  auto key = derive(current_key_id_, seal_context);
  std::string out(header_size + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  p[0] = envelope_v1;
  p[1] = static_cast<unsigned char>(current_key_id_ >> 24);
  p[2] = static_cast<unsigned char>(current_key_id_ >> 16);
  p[3] = static_cast<unsigned char>(current_key_id_ >> 8);
  p[4] = static_cast<unsigned char>(current_key_id_);
  randombytes_buf(p + 5, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  // The header is part of the associated data too, so the key id cannot be swapped.
  std::string aad = out.substr(0, 5);
  aad.append(bound_to);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(p + header_size, &written,
                                             reinterpret_cast<const unsigned char*>(plaintext.data()),
                                             plaintext.size(), reinterpret_cast<const unsigned char*>(aad.data()),
                                             aad.size(), nullptr, p + 5, reinterpret_cast<const unsigned char*>(key.data()));
  sodium_memzero(key.data(), key.size());
  out.resize(header_size + written);
  return out;
}

std::uint32_t keyring::key_id_of(std::string_view envelope) {
  if (envelope.size() < header_size || static_cast<unsigned char>(envelope[0]) != envelope_v1) return 0;
  auto b = [&](int i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(envelope[i])); };
  return (b(1) << 24) | (b(2) << 16) | (b(3) << 8) | b(4);
}

std::optional<std::string> keyring::open(std::string_view envelope, std::string_view bound_to) const {
  auto key_id = key_id_of(envelope);
  if (key_id == 0 || envelope.size() < header_size + crypto_aead_xchacha20poly1305_ietf_ABYTES) return std::nullopt;
  auto key = derive(key_id, seal_context);
  std::string aad{envelope.substr(0, 5)};
  aad.append(bound_to);
  const auto* p = reinterpret_cast<const unsigned char*>(envelope.data());
  std::string out(envelope.size() - header_size - crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long written = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      reinterpret_cast<unsigned char*>(out.data()), &written, nullptr, p + header_size, envelope.size() - header_size,
      reinterpret_cast<const unsigned char*>(aad.data()), aad.size(), p + 5,
      reinterpret_cast<const unsigned char*>(key.data()));
  sodium_memzero(key.data(), key.size());
  if (rc != 0) return std::nullopt;
  out.resize(written);
  return out;
}

std::string keyring::blind_index(std::string_view domain, std::string_view normalised_value) const {
  // Blind indexes do not rotate with the seal key id: their key is fixed (subkey 1) so that
  // look-ups keep working across rotations.
  auto key = derive(1, index_context);
  crypto_generichash_state state;
  crypto_generichash_init(&state, reinterpret_cast<const unsigned char*>(key.data()), key.size(), 32);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(domain.data()), domain.size());
  const unsigned char separator = 0;
  crypto_generichash_update(&state, &separator, 1);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(normalised_value.data()),
                            normalised_value.size());
  std::string out(32, '\0');
  crypto_generichash_final(&state, reinterpret_cast<unsigned char*>(out.data()), out.size());
  sodium_memzero(key.data(), key.size());
  return out;
}

std::string normalise_email(std::string_view email) {
  auto out = trimmed(email);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace md::crypto
