// Key derivation, sealing and blind indexes (see keyring.hpp).
#include "crypto/keyring.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "crypto/primitives.hpp"

namespace md::crypto {
namespace {
constexpr unsigned char envelope_v1 = 0x01;  // under a key derived from the master key
constexpr unsigned char envelope_v2 = 0x02;  // under one person's data key
constexpr std::size_t v1_prefix_size = 1 + 4 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;  // header and nonce
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
  if (current_key_id == 0) throw std::invalid_argument("key ids start at 1");
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

namespace detail {

std::string seal_envelope(std::string_view key, std::string_view header, std::string_view nonce,
                          std::string_view plaintext, std::string_view bound_to) {
  if (nonce.size() != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES || key.size() != crypto_aead_xchacha20poly1305_ietf_KEYBYTES)
    throw std::invalid_argument("seal_envelope: bad key or nonce size");
  std::string out;
  out.reserve(header.size() + nonce.size() + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  out.append(header);
  out.append(nonce);
  // The header is part of the associated data too, so the key id cannot be swapped.
  std::string aad{header};
  aad.append(bound_to);
  auto prefix = out.size();
  out.resize(prefix + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(p + prefix, &written, reinterpret_cast<const unsigned char*>(plaintext.data()),
                                             plaintext.size(), reinterpret_cast<const unsigned char*>(aad.data()),
                                             aad.size(), nullptr, p + header.size(),
                                             reinterpret_cast<const unsigned char*>(key.data()));
  out.resize(prefix + written);
  return out;
}

std::optional<std::string> open_envelope(std::string_view key, std::size_t header_size, std::string_view envelope,
                                         std::string_view bound_to) {
  constexpr auto nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  if (envelope.size() < header_size + nonce_size + crypto_aead_xchacha20poly1305_ietf_ABYTES) return std::nullopt;
  std::string aad{envelope.substr(0, header_size)};
  aad.append(bound_to);
  const auto* p = reinterpret_cast<const unsigned char*>(envelope.data());
  auto body = header_size + nonce_size;
  std::string out(envelope.size() - body - crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(out.data()), &written, nullptr,
                                                 p + body, envelope.size() - body,
                                                 reinterpret_cast<const unsigned char*>(aad.data()), aad.size(),
                                                 p + header_size, reinterpret_cast<const unsigned char*>(key.data())) != 0)
    return std::nullopt;
  out.resize(written);
  return out;
}

}  // namespace detail

namespace {

std::string big_endian(std::uint64_t value, int bytes) {
  std::string out(static_cast<std::size_t>(bytes), '\0');
  for (int i = bytes - 1; i >= 0; --i, value >>= 8) out[static_cast<std::size_t>(i)] = static_cast<char>(value & 0xff);
  return out;
}

std::uint64_t read_big_endian(std::string_view bytes) {
  std::uint64_t value = 0;
  for (unsigned char c : bytes) value = (value << 8) | c;
  return value;
}

std::string random_nonce() { return random_bytes(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES); }

}  // namespace

bool keyring::use_key_id(std::uint32_t key_id) {
  if (key_id == 0) throw std::invalid_argument("key ids start at 1");
  auto current = current_key_id_.load(std::memory_order_acquire);
  while (current < key_id)
    if (current_key_id_.compare_exchange_weak(current, key_id, std::memory_order_acq_rel)) return true;
  return false;
}

std::string keyring::seal(std::string_view plaintext, std::string_view bound_to) const {
  // One load: a rotation between deriving the key and writing the header must not mix ids.
  auto key_id = current_key_id();
  auto key = derive(key_id, seal_context);
  auto out = detail::seal_envelope(key, std::string(1, static_cast<char>(envelope_v1)) + big_endian(key_id, 4),
                                   random_nonce(), plaintext, bound_to);
  sodium_memzero(key.data(), key.size());
  return out;
}

std::uint32_t keyring::key_id_of(std::string_view envelope) {
  if (envelope.size() < v1_prefix_size || static_cast<unsigned char>(envelope[0]) != envelope_v1) return 0;
  return static_cast<std::uint32_t>(read_big_endian(envelope.substr(1, 4)));
}

std::optional<std::string> keyring::open(std::string_view envelope, std::string_view bound_to) const {
  auto key_id = key_id_of(envelope);
  if (key_id == 0) return std::nullopt;
  auto key = derive(key_id, seal_context);
  auto out = detail::open_envelope(key, 5, envelope, bound_to);
  sodium_memzero(key.data(), key.size());
  return out;
}

// ---- a person's data key ----

data_key::data_key(std::uint64_t id, std::string key_bytes) : id_(id), key_(std::move(key_bytes)) {
  if (key_.size() != crypto_aead_xchacha20poly1305_ietf_KEYBYTES) throw std::invalid_argument("data key must be 32 bytes");
  if (id_ == 0) throw std::invalid_argument("data key ids start at 1");
  sodium_mlock(key_.data(), key_.size());
}

data_key::~data_key() {
  if (!key_.empty()) sodium_munlock(key_.data(), key_.size());
}

data_key::data_key(data_key&& other) noexcept : id_(other.id_), key_(std::move(other.key_)) { other.key_.clear(); }

std::string data_key::generate_bytes() { return random_bytes(crypto_aead_xchacha20poly1305_ietf_KEYBYTES); }

std::string data_key::seal(std::string_view plaintext, std::string_view bound_to) const {
  return detail::seal_envelope(key_, std::string(1, static_cast<char>(envelope_v2)) + big_endian(id_, 8), random_nonce(),
                               plaintext, bound_to);
}

std::optional<std::string> data_key::open(std::string_view envelope, std::string_view bound_to) const {
  if (id_of(envelope) != id_) return std::nullopt;
  return detail::open_envelope(key_, 9, envelope, bound_to);
}

std::uint64_t data_key::id_of(std::string_view envelope) {
  if (envelope.size() < 9 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ||
      static_cast<unsigned char>(envelope[0]) != envelope_v2)
    return 0;
  return read_big_endian(envelope.substr(1, 8));
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
