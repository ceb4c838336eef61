// Purges, a journalist's export and erasure, retention sweeps and consent reminders (see
// retention_store.hpp). Queries are named constants; nothing personal is ever written in clear.
#include "store/retention_store.hpp"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>

#include "crypto/primitives.hpp"
#include "store/note_store.hpp"
#include "store/offer_store.hpp"
#include "store/outbound_store.hpp"
#include "store/registry_store.hpp"

namespace md::store {
namespace {

// A journalist has at most this many cases exported or erased in one call: far beyond any real
// journalist's history, and a bound on the work one request can cause.
constexpr std::int64_t journalist_case_limit = 5'000;

constexpr std::string_view purge_case_sql = R"sql(
WITH purged AS (
  UPDATE cases SET request_sealed = NULL, journalist_email_index = NULL, personal_data_purged_at = now(),
                   updated_at = now()
  WHERE id = $1 AND personal_data_purged_at IS NULL
  RETURNING id
), messages AS (
  UPDATE case_messages SET sealed = NULL WHERE case_id IN (SELECT id FROM purged) AND sealed IS NOT NULL
  RETURNING 1
), ids AS (
  DELETE FROM case_message_ids WHERE case_id IN (SELECT id FROM purged)
), reasons AS (
  UPDATE offers SET decline_reason_sealed = NULL WHERE case_id IN (SELECT id FROM purged) AND decline_reason_sealed IS NOT NULL
), notes AS (
  UPDATE case_notes SET text_sealed = NULL, purged_at = now()
  WHERE case_id IN (SELECT id FROM purged) AND text_sealed IS NOT NULL
  RETURNING 1
), coverage_details AS (
  UPDATE coverage SET details_sealed = NULL WHERE case_id IN (SELECT id FROM purged) AND details_sealed IS NOT NULL
), event AS (
  INSERT INTO case_events (case_id, actor, kind, data)
  SELECT id, $2, 'personal_data_purged', jsonb_build_object('reason', $3::text, 'messages', (SELECT count(*) FROM messages),
                                                            'notes', (SELECT count(*) FROM notes))
  FROM purged
)
SELECT (SELECT count(*) FROM purged), (SELECT count(*) FROM messages))sql";

// Cases each retention class no longer allows, oldest first, locked for the purge.
constexpr std::string_view closed_cases_due_sql = R"sql(
SELECT id FROM cases
WHERE personal_data_purged_at IS NULL AND status IN ('fulfilled', 'no_match', 'declined', 'withdrawn')
  AND updated_at < $1::timestamptz - make_interval(days => $2::int)
ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED)sql";

constexpr std::string_view contacts_due_sql = R"sql(
SELECT id FROM cases
WHERE personal_data_purged_at IS NULL AND received_at < $1::timestamptz - make_interval(days => $2::int)
ORDER BY received_at LIMIT $3 FOR UPDATE SKIP LOCKED)sql";

constexpr std::string_view consent_evidence_due_sql = R"sql(
WITH due AS (
  SELECT id FROM consents
  WHERE evidence_sealed IS NOT NULL
    AND coalesce(withdrawn_at, expires_at) < $1::timestamptz - make_interval(days => $2::int)
  ORDER BY coalesce(withdrawn_at, expires_at) LIMIT $3 FOR UPDATE SKIP LOCKED
), purged AS (
  UPDATE consents c SET evidence_sealed = NULL FROM due WHERE c.id = due.id RETURNING c.id
), events AS (
  INSERT INTO registry_events (actor, subject, kind, data)
  SELECT 'system:retention', 'consent:' || id, 'consent_evidence_purged', jsonb_build_object('older_than_days', $2::int)
  FROM purged
)
SELECT count(*) FROM purged)sql";

constexpr std::string_view expiring_columns = R"sql(
c.id, c.spokesperson_id, s.alias, {}, {})sql";

constexpr std::string_view expiring_where = R"sql(
c.withdrawn_at IS NULL AND c.expires_at IS NOT NULL AND s.erased_at IS NULL AND c.granted_at <= $1::timestamptz
AND c.expires_at > $1::timestamptz AND c.expires_at <= $1::timestamptz + make_interval(days => $2::int))sql";

expiring_consent read_expiring(const pg_result& r, int i) {
  return {r.get_int(i, 0), r.get_int(i, 1), std::string{r.get(i, 2)}, std::string{r.get(i, 3)}, r.get_optional(i, 4)};
}

std::int64_t purge_cases(pg_connection& tx, std::string_view due_sql, const std::vector<pg_param>& params,
                         purge_reason why) {
  auto due = tx.exec(due_sql, params);
  std::int64_t purged = 0;
  for (int i = 0; i < due.rows(); ++i)
    if (purge_case_personal_data(tx, due.get_int(i, 0), why, "system:retention")) ++purged;
  return purged;
}

}  // namespace

std::string_view to_string(purge_reason why) {
  switch (why) {
    case purge_reason::closed_case: return "retention_closed_case";
    case purge_reason::journalist_contact: return "retention_journalist_contact";
    case purge_reason::erasure: return "erasure";
  }
  return "erasure";
}

bool purge_case_personal_data(pg_connection& tx, std::int64_t case_id, purge_reason why, std::string_view actor) {
  auto r = tx.exec(purge_case_sql, {number(case_id), text(actor), text(to_string(why))});
  if (r.get_int(0, 0) == 0) return false;
  // Nothing can be passed on to a partner any more: open offers go (the worker tells them).
  withdraw_case_offers(tx, case_id, "the journalist's details were erased", actor);
  return true;
}

std::string journalist_subject(const crypto::keyring& keys, std::string_view email) {
  return "journalist:" + crypto::to_hex(journalist_email_index(keys, email));
}

std::vector<journalist_case> export_journalist(pg_connection& c, const crypto::keyring& keys, std::string_view email) {
  auto cases = c.exec("SELECT id, ref, request_sealed FROM cases WHERE journalist_email_index = $1 ORDER BY id LIMIT $2",
                      {bytes(journalist_email_index(keys, email)), number(journalist_case_limit)});
  std::vector<journalist_case> out;
  for (int i = 0; i < cases.rows(); ++i) {
    std::string ref{cases.get(i, 1)};
    auto detail = find_case(c, ref);
    if (!detail) continue;
    journalist_case jc{detail->summary, std::nullopt, {}, list_case_notes(c, keys, cases.get_int(i, 0))};
    if (!cases.is_null(i, 2)) {
      jc.request = keys.open(cases.get_bytes(i, 2), case_request_binding(ref));
      if (!jc.request) throw std::runtime_error(fmt::format("case {}: the request could not be opened", ref));
    }
    auto messages = c.exec(fmt::format("SELECT {}, direction, source, intake_id, message_id, sealed FROM case_messages "
                                       "WHERE case_id = $1 ORDER BY id",
                                       iso8601_sql("at")),
                           {number(cases.get_int(i, 0))});
    for (int m = 0; m < messages.rows(); ++m) {
      journalist_message jm{std::string{messages.get(m, 0)}, std::string{messages.get(m, 1)},
                            std::string{messages.get(m, 2)}, std::nullopt};
      if (!messages.is_null(m, 5)) {
        auto binding = !messages.is_null(m, 3) ? fmt::format("case_messages.sealed:{}", messages.get(m, 3))
                       : !messages.is_null(m, 4) ? outbound_message_binding(messages.get(m, 4))
                                                 : std::string{};
        jm.text = binding.empty() ? std::nullopt : keys.open(messages.get_bytes(m, 5), binding);
        // An outbound message stored before its Message-ID was kept cannot be opened: say so.
        if (!jm.text) jm.text = "(a message sealed before this version kept its Message-ID: it cannot be opened)";
      }
      jc.messages.push_back(std::move(jm));
    }
    out.push_back(std::move(jc));
  }
  return out;
}

journalist_erasure erase_journalist(pg_connection& tx, const crypto::keyring& keys, std::string_view email,
                                    std::string_view actor) {
  auto cases = tx.exec("SELECT id, ref FROM cases WHERE journalist_email_index = $1 ORDER BY id LIMIT $2 FOR UPDATE",
                       {bytes(journalist_email_index(keys, email)), number(journalist_case_limit)});
  journalist_erasure out;
  for (int i = 0; i < cases.rows(); ++i) {
    auto r = tx.exec(purge_case_sql, {number(cases.get_int(i, 0)), text(actor), text(to_string(purge_reason::erasure))});
    if (r.get_int(0, 0) == 0) continue;
    withdraw_case_offers(tx, cases.get_int(i, 0), "the journalist's details were erased", actor);
    out.refs.emplace_back(cases.get(i, 1));
    out.messages += r.get_int(0, 1);
  }
  boost::json::array refs;
  for (auto& ref : out.refs) refs.emplace_back(ref);
  append_registry_event(tx, actor, journalist_subject(keys, email), "journalist_erased",
                        boost::json::serialize(boost::json::object{{"cases", std::move(refs)}, {"messages", out.messages}}));
  return out;
}

retention_sweep apply_retention(pg_connection& c, const retention_policy& policy, time_point now,
                                std::int64_t batch_size) {
  retention_sweep sweep;
  auto at = text(format_iso8601(now));
  // One class at a time, one short transaction per batch, until a batch comes back short. Each
  // batch that purged something records it (subject retention:<class>) in its own transaction.
  auto run = [&](std::string_view data_class, std::int64_t days, auto&& purge_batch) {
    std::int64_t total = 0;
    if (days <= 0) return total;
    for (;;) {
      auto purged = c.transaction([&](pg_connection& tx) {
        std::int64_t n = purge_batch(tx, days);
        if (n > 0)
          append_registry_event(tx, "system:retention", fmt::format("retention:{}", data_class), "purged",
                                fmt::format(R"({{"count":{},"older_than_days":{}}})", n, days));
        return n;
      });
      total += purged;
      if (purged < batch_size) break;
    }
    return total;
  };
  sweep.closed_cases = run("closed_case", policy.closed_case_days, [&](pg_connection& tx, std::int64_t days) {
    return purge_cases(tx, closed_cases_due_sql, {at, number(days), number(batch_size)}, purge_reason::closed_case);
  });
  sweep.journalist_contacts =
      run("journalist_contact", policy.journalist_contact_days, [&](pg_connection& tx, std::int64_t days) {
        return purge_cases(tx, contacts_due_sql, {at, number(days), number(batch_size)},
                           purge_reason::journalist_contact);
      });
  sweep.consent_evidence = run("consent_evidence", policy.consent_evidence_days, [&](pg_connection& tx, std::int64_t days) {
    return tx.exec(consent_evidence_due_sql, {at, number(days), number(batch_size)}).get_int(0, 0);
  });
  return sweep;
}

std::vector<expiring_consent> list_expiring_consents(pg_connection& c, time_point now, std::int64_t within_days,
                                                     std::int64_t limit) {
  auto sql = fmt::format("SELECT {} FROM consents c JOIN spokespeople s ON s.id = c.spokesperson_id WHERE {} "
                         "ORDER BY c.expires_at, c.id LIMIT $3",
                         fmt::format(fmt::runtime(expiring_columns), iso8601_sql("c.expires_at"), iso8601_sql("c.reminded_at")), expiring_where);
  auto r = c.exec(sql, {text(format_iso8601(now)), number(within_days), number(limit)});
  std::vector<expiring_consent> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_expiring(r, i));
  return out;
}

std::vector<expiring_consent> take_consent_reminders(pg_connection& tx, time_point now, std::int64_t days) {
  if (days <= 0) return {};
  auto sql = fmt::format(R"sql(
WITH due AS (
  SELECT c.id FROM consents c JOIN spokespeople s ON s.id = c.spokesperson_id
  WHERE {} AND c.reminded_at IS NULL
  ORDER BY c.expires_at LIMIT 500 FOR UPDATE OF c SKIP LOCKED
), reminded AS (
  UPDATE consents c SET reminded_at = $1::timestamptz FROM due WHERE c.id = due.id
  RETURNING c.id, c.spokesperson_id, c.expires_at, c.reminded_at
), events AS (
  INSERT INTO registry_events (actor, subject, kind, data)
  SELECT 'system:worker', 'consent:' || id, 'consent_expiry_reminder',
         jsonb_build_object('expires_at', {})
  FROM reminded
)
SELECT {} FROM reminded c JOIN spokespeople s ON s.id = c.spokesperson_id ORDER BY c.expires_at, c.id)sql",
                         expiring_where, iso8601_sql("expires_at"),
                         fmt::format(fmt::runtime(expiring_columns), iso8601_sql("c.expires_at"), iso8601_sql("c.reminded_at")));
  auto r = tx.exec(sql, {text(format_iso8601(now)), number(days)});
  std::vector<expiring_consent> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_expiring(r, i));
  return out;
}

}  // namespace md::store
