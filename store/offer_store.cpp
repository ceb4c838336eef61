// Offers (see offer_store.hpp). Queries are named constants; each change and its timeline
// event share one statement or one transaction.
#include "store/offer_store.hpp"

#include <fmt/format.h>

#include "crypto/primitives.hpp"

namespace md::store {
namespace {

constexpr std::string_view insert_offer_sql = R"sql(
WITH c AS (
  SELECT id FROM cases WHERE ref = $1 FOR UPDATE
), offer AS (
  INSERT INTO offers (case_id, partner_id, spokesperson_id, consent_id, token_hash, score, created_by, expires_at)
  SELECT c.id, $2, $3, $4, $5, $6, $7, $8::timestamptz FROM c
  RETURNING id, case_id
), status AS (
  UPDATE cases SET status = CASE WHEN status IN ('new', 'triaged') THEN 'offered' ELSE status END,
                   first_offer_at = coalesce(first_offer_at, now()), updated_at = now()
  WHERE id IN (SELECT case_id FROM offer)
), event AS (
  INSERT INTO case_events (case_id, actor, kind, data)
  SELECT case_id, $7, 'offer_sent',
         jsonb_build_object('offer_id', id, 'partner_id', $2::bigint, 'spokesperson_id', $3::bigint,
                            'expires_at', $8::text)
  FROM offer
)
SELECT id FROM offer)sql";

// After an offer closes without acceptance: an offered case with nothing open or accepted goes
// back to triaged, so that it shows as needing work again.
constexpr std::string_view reopen_case_sql = R"sql(
UPDATE cases SET status = 'triaged', updated_at = now()
WHERE id = $1 AND status = 'offered'
  AND NOT EXISTS (SELECT 1 FROM offers WHERE case_id = $1 AND state IN ('sent', 'accepted')))sql";

constexpr std::string_view insert_event_sql = R"sql(
INSERT INTO case_events (case_id, actor, kind, data) VALUES ($1, $2, $3, $4::jsonb))sql";

std::string decline_binding(std::int64_t offer_id) { return fmt::format("offers.decline_reason:{}", offer_id); }

std::vector<closed_offer> read_closed(const pg_result& r) {
  std::vector<closed_offer> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({r.get_int(i, 0), r.get_int(i, 1), std::string{r.get(i, 2)}, r.get_bool(i, 3), std::string{r.get(i, 4)}});
  return out;
}

// Closes the given sent offers as `state` with `reason`, writes one event each and reopens
// their cases where nothing is left open. Returns them.
std::vector<closed_offer> close_offers(pg_connection& tx, std::string_view ids_sql, const std::vector<pg_param>& params,
                                       std::string_view state, std::string_view kind, std::string_view reason,
                                       std::string_view actor) {
  auto n = params.size();
  auto sql = fmt::format(R"sql(
WITH due AS ({ids}), closed AS (
  UPDATE offers o SET state = ${state}, responded_at = now(), withdrawn_reason = ${reason}
  FROM due WHERE o.id = due.id AND o.state = 'sent'
  RETURNING o.id, o.partner_id, o.case_id
), events AS (
  INSERT INTO case_events (case_id, actor, kind, data)
  SELECT case_id, ${actor}, ${kind}, jsonb_build_object('offer_id', id, 'reason', ${reason}::text) FROM closed
)
SELECT closed.id, closed.partner_id, c.ref, c.waterfall, ${reason}::text, c.id FROM closed JOIN cases c ON c.id = closed.case_id
ORDER BY closed.id)sql",
                         fmt::arg("ids", ids_sql), fmt::arg("state", n + 1), fmt::arg("reason", n + 2),
                         fmt::arg("actor", n + 3), fmt::arg("kind", n + 4));
  auto all = params;
  all.push_back(text(state));
  all.push_back(text(reason));  // a fixed phrase: why it closed
  all.push_back(text(actor));
  all.push_back(text(kind));
  auto r = tx.exec(sql, all);
  for (int i = 0; i < r.rows(); ++i) tx.exec(reopen_case_sql, {number(r.get_int(i, 5))});
  return read_closed(r);
}

}  // namespace

std::optional<std::int64_t> create_offer(pg_connection& tx, const new_offer& o, std::string_view token_hash) {
  auto r = tx.exec(insert_offer_sql,
                   {text(o.ref), number(o.partner_id), o.spokesperson_id ? number(*o.spokesperson_id) : null_param(),
                    o.consent_id ? number(*o.consent_id) : null_param(), bytes(token_hash),
                    o.score ? text(fmt::format("{:.4f}", *o.score)) : null_param(), text(o.actor),
                    text(format_iso8601(o.expires_at))});
  if (r.rows() == 0) return std::nullopt;
  return r.get_int(0, 0);
}

std::optional<offer_view> find_offer_by_token(pg_connection& c, std::string_view token_hash, bool lock) {
  auto r = c.exec(fmt::format("SELECT o.id, o.case_id, o.token_hash, c.ref FROM offers o JOIN cases c ON c.id = o.case_id "
                              "WHERE o.token_hash = $1{}",
                              lock ? " FOR UPDATE OF o" : ""),
                  {bytes(token_hash)});
  if (r.rows() == 0) return std::nullopt;
  // The index found it by equality; compare again in constant time so that no code path
  // depends on how much of a guessed hash matched.
  if (!crypto::equal_constant_time(r.get_bytes(0, 2), token_hash)) return std::nullopt;
  auto offer_id = r.get_int(0, 0);
  auto detail = find_case(c, r.get(0, 3));
  if (!detail) return std::nullopt;
  offer_view view;
  view.case_id = r.get_int(0, 1);
  view.case_fields = detail->summary;
  for (auto& o : detail->offers)
    if (o.id == offer_id) view.offer = o;
  return view;
}

void answer_offer(pg_connection& tx, const crypto::keyring& keys, std::int64_t offer_id, offer_answer answer,
                  std::string_view decline_reason, const aftercare_policy& aftercare) {
  bool accept = answer == offer_answer::accept;
  auto sealed = !accept && !decline_reason.empty() ? bytes(keys.seal(decline_reason, decline_binding(offer_id)))
                                                    : null_param();
  auto r = tx.exec(R"sql(
UPDATE offers SET state = $2, responded_at = now(), decline_reason_sealed = $3
WHERE id = $1 AND state = 'sent' RETURNING case_id, partner_id, spokesperson_id)sql",
                   {number(offer_id), text(accept ? "accepted" : "declined"), sealed});
  if (r.rows() == 0) throw std::runtime_error("answer_offer: the offer is not open");
  auto case_id = r.get_int(0, 0);
  auto data = fmt::format(R"({{"offer_id":{},"partner_id":{},"spokesperson_id":{},"reason_given":{}}})", offer_id,
                          r.get(0, 1), r.is_null(0, 2) ? "null" : r.get(0, 2),
                          !accept && !decline_reason.empty() ? "true" : "false");
  tx.exec(insert_event_sql, {number(case_id), text(fmt::format("partner:{}", r.get(0, 1))),
                             text(accept ? "offer_accepted" : "offer_declined"), text(data)});
  if (accept) {
    tx.exec("UPDATE cases SET status = 'accepted', updated_at = now() WHERE id = $1 AND status IN ('new', 'triaged', 'offered')",
            {number(case_id)});
    if (!r.is_null(0, 2))
      create_aftercare_task(tx, case_id, r.get_int(0, 2), "offer_accepted", aftercare.due_after(now()),
                            fmt::format("partner:{}", r.get(0, 1)));
  } else
    tx.exec(reopen_case_sql, {number(case_id)});
}

std::vector<closed_offer> expire_due_offers(pg_connection& tx, time_point now) {
  return close_offers(tx,
                      "SELECT id FROM offers WHERE state = 'sent' AND expires_at <= $1::timestamptz "
                      "ORDER BY expires_at LIMIT 500 FOR UPDATE SKIP LOCKED",
                      {text(format_iso8601(now))}, "expired", "offer_expired", "the link expired", "system:worker");
}

std::vector<closed_offer> withdraw_offers_of(pg_connection& tx, std::int64_t spokesperson_id,
                                             std::optional<std::int64_t> consent_id, std::string_view reason,
                                             std::string_view actor) {
  return close_offers(tx,
                      "SELECT id FROM offers WHERE state = 'sent' AND spokesperson_id = $1 "
                      "AND ($2::bigint IS NULL OR consent_id = $2) FOR UPDATE",
                      {number(spokesperson_id), consent_id ? number(*consent_id) : null_param()}, "withdrawn",
                      "offer_withdrawn", reason, actor);
}

std::vector<closed_offer> withdraw_case_offers(pg_connection& tx, std::int64_t case_id, std::string_view reason,
                                               std::string_view actor) {
  return close_offers(tx, "SELECT id FROM offers WHERE case_id = $1 AND state = 'sent' FOR UPDATE", {number(case_id)},
                      "withdrawn", "offer_withdrawn", reason, actor);
}

std::optional<closed_offer> withdraw_offer(pg_connection& tx, std::string_view ref, std::int64_t offer_id,
                                           std::string_view actor, std::string_view reason) {
  auto closed = close_offers(tx,
                             "SELECT o.id FROM offers o JOIN cases c ON c.id = o.case_id "
                             "WHERE o.id = $1 AND c.ref = $2 AND o.state = 'sent' FOR UPDATE OF o",
                             {number(offer_id), text(ref)}, "withdrawn", "offer_withdrawn", reason, actor);
  if (closed.empty()) return std::nullopt;
  return closed.front();
}

std::vector<closed_offer> take_withdrawal_notices(pg_connection& tx, std::int64_t limit) {
  auto r = tx.exec(R"sql(
WITH due AS (
  SELECT id FROM offers WHERE state = 'withdrawn' AND partner_told_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
), told AS (
  UPDATE offers o SET partner_told_at = now() FROM due WHERE o.id = due.id
  RETURNING o.id, o.partner_id, o.case_id, o.withdrawn_reason
)
SELECT told.id, told.partner_id, c.ref, c.waterfall, coalesce(told.withdrawn_reason, 'withdrawn') FROM told JOIN cases c ON c.id = told.case_id ORDER BY told.id)sql",
                   {number(limit)});
  return read_closed(r);
}

offered_to offers_made(pg_connection& c, std::string_view ref) {
  auto r = c.exec("SELECT o.partner_id, o.spokesperson_id FROM offers o JOIN cases c ON c.id = o.case_id WHERE c.ref = $1",
                  {text(ref)});
  offered_to out;
  for (int i = 0; i < r.rows(); ++i) {
    if (r.is_null(i, 1)) out.partner_ids.push_back(r.get_int(i, 0));
    else out.spokesperson_ids.push_back(r.get_int(i, 1));
  }
  return out;
}

std::optional<std::string> open_decline_reason(pg_connection& c, const crypto::keyring& keys, std::int64_t offer_id) {
  auto r = c.exec("SELECT decline_reason_sealed FROM offers WHERE id = $1", {number(offer_id)});
  if (r.rows() == 0 || r.is_null(0, 0)) return std::nullopt;
  return keys.open(r.get_bytes(0, 0), decline_binding(offer_id));
}

bool set_case_waterfall(pg_connection& tx, std::string_view ref, bool on, std::string_view actor) {
  auto r = tx.exec("UPDATE cases SET waterfall = $2, updated_at = now() WHERE ref = $1 AND waterfall <> $2 RETURNING id",
                   {text(ref), text(on ? "true" : "false")});
  if (r.rows() == 0) return tx.exec("SELECT 1 FROM cases WHERE ref = $1", {text(ref)}).rows() > 0;
  tx.exec(insert_event_sql, {number(r.get_int(0, 0)), text(actor), text("waterfall_changed"),
                             text(on ? R"({"on":true})" : R"({"on":false})")});
  return true;
}

}  // namespace md::store
