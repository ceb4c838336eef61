// Outbound messages on a case (see outbound_store.hpp). Queries are named constants.
#include "store/outbound_store.hpp"

#include <fmt/format.h>

#include "crypto/primitives.hpp"
#include "store/case_store.hpp"

namespace md::store {
namespace {

constexpr std::string_view insert_outbound_sql = R"sql(
INSERT INTO case_messages (case_id, intake_id, direction, source, sealed, message_id)
SELECT id, NULL, 'out', $2, $3, $4 FROM cases WHERE ref = $1
RETURNING case_id)sql";

constexpr std::string_view insert_event_sql = R"sql(
INSERT INTO case_events (case_id, actor, kind, data) VALUES ($1, $2, $3, $4::jsonb))sql";

constexpr std::string_view case_source_sql = "SELECT source FROM cases WHERE ref = $1";

}  // namespace

std::string outbound_message_binding(std::string_view message_id) {
  return fmt::format("case_messages.sealed:out:{}", message_id);
}

std::string message_id_hash(std::string_view message_id) {
  return crypto::to_hex(crypto::token_hash(message_id)).substr(0, 12);
}

bool store_outbound_message(pg_connection& tx, const crypto::keyring& keys, const outbound_message_record& record) {
  auto sealed = keys.seal(record.message, outbound_message_binding(record.message_id));
  auto r = tx.exec(insert_outbound_sql, {text(record.ref), text(record.source), bytes(sealed), text(record.message_id)});
  if (r.rows() == 0) return false;
  // Both values are a hex digest and an integer: no JSON escaping needed.
  auto data =
      fmt::format(R"({{"message_id_hash":"{}","length":{}}})", message_id_hash(record.message_id), record.length);
  tx.exec(insert_event_sql, {text(r.get(0, 0)), text(record.actor), text(record.event_kind), text(data)});
  // The journalist's answer names this Message-ID (In-Reply-To): that is how it finds the case.
  register_message_id(tx, keys, r.get_int(0, 0), record.message_id, "out");
  return true;
}

std::optional<case_document> open_case_document(pg_connection& c, const crypto::keyring& keys, std::string_view ref) {
  auto r = c.exec(case_source_sql, {text(ref)});
  if (r.rows() == 0) return std::nullopt;
  return case_document{std::string{r.get(0, 0)}, open_case_request(c, keys, ref)};
}

}  // namespace md::store
