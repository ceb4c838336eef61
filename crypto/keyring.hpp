// The key ring: every key MediaDesk uses is derived from one 32-byte master key (kept in a file
// or the environment, never in the database). Sealing is XChaCha20-Poly1305 in a versioned
// envelope whose associated data binds the ciphertext to where it is stored (table.column:row),
// so a sealed value copied to another row or column does not open.
#pragma once
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace md::crypto {

// Envelope v1: 0x01 | key id (u32, big-endian) | 24-byte nonce | ciphertext with 16-byte tag.
class keyring {
 public:
  // master_key: 32 raw bytes. current_key_id: the id new seals use (rotation raises it).
  // Every key id opens: each is derived from the master key, so old values keep opening.
  keyring(std::string master_key, std::uint32_t current_key_id = 1);
  ~keyring();
  keyring(const keyring&) = delete;
  keyring& operator=(const keyring&) = delete;

  // Parses a master key written as 64 hex digits or base64 of 32 bytes (whitespace trimmed).
  static std::optional<std::string> parse_master_key(std::string_view text);
  static std::string generate_master_key_text();

  std::string seal(std::string_view plaintext, std::string_view bound_to) const;
  // nullopt when the envelope is malformed, sealed for another place, or under an unknown key.
  std::optional<std::string> open(std::string_view envelope, std::string_view bound_to) const;
  // Which key id sealed this envelope (0 if malformed): rotation finds stale rows with it.
  static std::uint32_t key_id_of(std::string_view envelope);

  // Keyed BLAKE2b-256 of a normalised value, for exact look-ups without storing the value.
  // domain separates uses ("journalist.email", "user.email") so equal values differ across them.
  std::string blind_index(std::string_view domain, std::string_view normalised_value) const;

  std::uint32_t current_key_id() const { return current_key_id_.load(std::memory_order_acquire); }
  // Key rotation: new seals use key_id from now on, in every thread. Only ever raises the id
  // (a process that saw a newer id never goes back to sealing under an older one); returns
  // whether it changed. Throws std::invalid_argument for 0.
  bool use_key_id(std::uint32_t key_id);
  // The derived sealing key for a key id: exposed for the known-answer tests.
  std::string sealing_key(std::uint32_t key_id) const { return derive(key_id, "mdseal01"); }

 private:
  std::string derive(std::uint64_t subkey_id, const char (&context)[9]) const;

  std::string master_key_;
  std::atomic<std::uint32_t> current_key_id_;  // read once per seal: header and key always agree
};

// One person's data key (crypto-shredding): everything personal about that person is sealed
// under it, and it is stored only wrapped (sealed by the keyring, bound to its row). Destroying
// the wrapped copy makes every sealed value, wherever it was copied, unreadable.
// Envelope v2: 0x02 | data key id (u64, big-endian) | 24-byte nonce | ciphertext with 16-byte tag;
// the associated data is the 9-byte header followed by where the value is stored.
class data_key {
 public:
  data_key(std::uint64_t id, std::string key_bytes);  // 32 bytes; id: the row that keeps it wrapped
  ~data_key();
  data_key(data_key&& other) noexcept;
  data_key(const data_key&) = delete;
  data_key& operator=(const data_key&) = delete;
  data_key& operator=(data_key&&) = delete;

  static std::string generate_bytes();  // 32 random bytes for a new person
  std::string seal(std::string_view plaintext, std::string_view bound_to) const;
  // nullopt when malformed, sealed for another place, or under another data key.
  std::optional<std::string> open(std::string_view envelope, std::string_view bound_to) const;
  static std::uint64_t id_of(std::string_view envelope);  // 0 unless a v2 envelope

  std::uint64_t id() const { return id_; }
  const std::string& bytes() const { return key_; }  // for wrapping only

 private:
  std::uint64_t id_;
  std::string key_;
};

namespace detail {
// The AEAD step both envelopes share: header | nonce | XChaCha20-Poly1305(plaintext) with the
// header and bound_to as associated data. Exposed for the known-answer tests (fixed nonce).
std::string seal_envelope(std::string_view key, std::string_view header, std::string_view nonce,
                          std::string_view plaintext, std::string_view bound_to);
std::optional<std::string> open_envelope(std::string_view key, std::size_t header_size, std::string_view envelope,
                                         std::string_view bound_to);
}  // namespace detail

// Lower-cases and trims an email address so equal addresses index equally.
std::string normalise_email(std::string_view email);

}  // namespace md::crypto
