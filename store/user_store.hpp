// Staff users and their sessions. Emails are stored sealed with a blind index for log-in;
// session tokens are stored only as hashes, so a database dump cannot be used to log in.
#pragma once
#include <chrono>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/keyring.hpp"
#include "store/pg.hpp"

namespace md::store {

struct user_record {
  std::int64_t id = 0;
  std::string role;
  std::string password_hash;
  bool disabled = false;
};

std::optional<user_record> find_user_by_email(pg_connection& c, const crypto::keyring& keys, std::string_view email);
// Creates the user, or sets the password and role of an existing one. Returns the id.
std::int64_t upsert_user(pg_connection& c, const crypto::keyring& keys, std::string_view email,
                         std::string_view password_hash, std::string_view role);

// users.email_sealed is bound to the hex of the email's blind index (users.email_index).
std::string user_email_binding(std::string_view email_index);

// A staff member as other staff see them: the label is their own email address, opened for the
// dashboard (who is assigned, who wrote a note). Labels are personal data: never log them.
struct staff_member {
  std::int64_t id = 0;
  std::string label, role;
};
// Users not disabled, ordered by label.
std::vector<staff_member> list_staff(pg_connection& c, const crypto::keyring& keys);
// The labels of these users (disabled ones too: they may still be named on a case); ids that
// do not exist are left out.
std::map<std::int64_t, std::string> staff_labels(pg_connection& c, const crypto::keyring& keys,
                                                 std::span<const std::int64_t> ids);
std::string staff_label(pg_connection& c, const crypto::keyring& keys, std::int64_t id);  // empty if unknown

struct session_record {
  std::int64_t user_id = 0;
  std::string role;
  std::string csrf_token;
};

struct session_timeouts {
  std::chrono::minutes idle{30};
  std::chrono::hours absolute{12};
};

// Returns the new session's token (for the cookie); only its hash is stored.
std::string create_session(pg_connection& c, std::int64_t user_id, std::string_view csrf_token,
                           const session_timeouts& timeouts);
// A live session for the token: not past its absolute expiry, used within the idle timeout,
// user not disabled. Refreshes last_seen_at (at most once a minute).
std::optional<session_record> find_session(pg_connection& c, std::string_view token, const session_timeouts& timeouts);
void delete_session(pg_connection& c, std::string_view token);
std::int64_t purge_expired_sessions(pg_connection& c, const session_timeouts& timeouts);

}  // namespace md::store
