// Users and sessions (see user_store.hpp).
#include "store/user_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "crypto/primitives.hpp"

namespace md::store {
namespace {

std::string email_index(const crypto::keyring& keys, std::string_view email) {
  return keys.blind_index("user.email", crypto::normalise_email(email));
}

// A label read with the user's row: the email opened, or (wrong key, damaged value) a stand-in
// naming only the id, so one unreadable row does not break the dashboard.
std::string label_of(const crypto::keyring& keys, const pg_result& r, int row) {
  auto id = r.get(row, 0);
  return keys.open(r.get_bytes(row, 2), user_email_binding(r.get_bytes(row, 1))).value_or(fmt::format("user {}", id));
}

}  // namespace

std::string user_email_binding(std::string_view email_index) { return "users.email:" + crypto::to_hex(email_index); }

std::vector<staff_member> list_staff(pg_connection& c, const crypto::keyring& keys) {
  auto r = c.exec("SELECT id, email_index, email_sealed, role FROM users WHERE disabled_at IS NULL");
  std::vector<staff_member> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.get_int(i, 0), label_of(keys, r, i), std::string{r.get(i, 3)}});
  // Sealed, so sorted here rather than in SQL.
  std::sort(out.begin(), out.end(),
            [](const staff_member& a, const staff_member& b) { return std::tie(a.label, a.id) < std::tie(b.label, b.id); });
  return out;
}

std::map<std::int64_t, std::string> staff_labels(pg_connection& c, const crypto::keyring& keys,
                                                 std::span<const std::int64_t> ids) {
  std::map<std::int64_t, std::string> out;
  if (ids.empty()) return out;
  std::string list = "{";
  for (auto id : ids) list += (list.size() > 1 ? "," : "") + std::to_string(id);
  list += "}";
  auto r = c.exec("SELECT id, email_index, email_sealed FROM users WHERE id = ANY($1::bigint[])", {text(list)});
  for (int i = 0; i < r.rows(); ++i) out.emplace(r.get_int(i, 0), label_of(keys, r, i));
  return out;
}

std::string staff_label(pg_connection& c, const crypto::keyring& keys, std::int64_t id) {
  return staff_labels(c, keys, std::span(&id, 1))[id];
}

std::optional<user_record> find_user_by_email(pg_connection& c, const crypto::keyring& keys, std::string_view email) {
  auto r = c.exec("SELECT id, role, password_hash, disabled_at IS NOT NULL FROM users WHERE email_index = $1",
                  {bytes(email_index(keys, email))});
  if (r.rows() == 0) return std::nullopt;
  return user_record{r.get_int(0, 0), std::string{r.get(0, 1)}, std::string{r.get(0, 2)}, r.get_bool(0, 3)};
}

std::int64_t upsert_user(pg_connection& c, const crypto::keyring& keys, std::string_view email,
                         std::string_view password_hash, std::string_view role) {
  auto index = email_index(keys, email);
  auto sealed = keys.seal(crypto::normalise_email(email), user_email_binding(index));
  auto r = c.exec(R"sql(
INSERT INTO users (email_index, email_sealed, password_hash, role) VALUES ($1, $2, $3, $4)
ON CONFLICT (email_index) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role
RETURNING id)sql",
                  {bytes(index), bytes(sealed), text(password_hash), text(role)});
  // A new password or role ends the user's existing sessions.
  c.exec("DELETE FROM sessions WHERE user_id = $1", {text(r.get(0, 0))});
  return r.get_int(0, 0);
}

std::string create_session(pg_connection& c, std::int64_t user_id, std::string_view csrf_token,
                           const session_timeouts& timeouts) {
  auto token = crypto::random_token(32);
  c.exec(R"sql(
INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at)
VALUES ($1, $2, $3, now() + make_interval(hours => $4::int)))sql",
         {bytes(crypto::token_hash(token)), number(user_id), text(csrf_token), number(timeouts.absolute.count())});
  return token;
}

std::optional<session_record> find_session(pg_connection& c, std::string_view token, const session_timeouts& timeouts) {
  auto hash = crypto::token_hash(token);
  auto r = c.exec(R"sql(
SELECT s.user_id, u.role, s.csrf_token, s.last_seen_at < now() - interval '1 minute'
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = $1 AND s.expires_at > now() AND u.disabled_at IS NULL
  AND s.last_seen_at > now() - make_interval(mins => $2::int))sql",
                  {bytes(hash), number(timeouts.idle.count())});
  if (r.rows() == 0) return std::nullopt;
  if (r.get_bool(0, 3)) c.exec("UPDATE sessions SET last_seen_at = now() WHERE token_hash = $1", {bytes(hash)});
  return session_record{r.get_int(0, 0), std::string{r.get(0, 1)}, std::string{r.get(0, 2)}};
}

void delete_session(pg_connection& c, std::string_view token) {
  c.exec("DELETE FROM sessions WHERE token_hash = $1", {bytes(crypto::token_hash(token))});
}

std::int64_t purge_expired_sessions(pg_connection& c, const session_timeouts& timeouts) {
  auto r = c.exec(
      "DELETE FROM sessions WHERE expires_at <= now() OR last_seen_at <= now() - make_interval(mins => $1::int)",
      {number(timeouts.idle.count())});
  return r.affected();
}

}  // namespace md::store
