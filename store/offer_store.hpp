// Offers in PostgreSQL: sending one (with its link token's hash), a partner's answer by token,
// expiry, and withdrawal when consent goes. Every change writes its case timeline event and
// moves the case's status in the same transaction (one write path). Nothing personal is read
// or written in clear: a decline reason is sealed.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"
#include "crypto/keyring.hpp"
#include "store/case_store.hpp"
#include "store/coverage_store.hpp"
#include "store/pg.hpp"

namespace md::store {

struct new_offer {
  std::string ref;
  std::int64_t partner_id = 0;
  std::optional<std::int64_t> spokesperson_id, consent_id;
  time_point expires_at{};
  std::optional<double> score;
  std::string actor;  // user:<id> or system:waterfall
};

// Inserts the offer (state sent), moves a new or triaged case to offered, writes `offer_sent`.
// Returns the offer id, or nullopt for an unknown case.
std::optional<std::int64_t> create_offer(pg_connection& tx, const new_offer& offer, std::string_view token_hash);

// What a partner sees and answers, found by the hash of the link's token.
struct offer_view {
  offer_summary offer;
  std::int64_t case_id = 0;
  case_summary case_fields;  // non-personal: outlet, medium, topics, regions, deadline, needs
};
// lock: FOR UPDATE (answering). nullopt if no offer has this token hash.
std::optional<offer_view> find_offer_by_token(pg_connection& c, std::string_view token_hash, bool lock);

enum class offer_answer { accept, decline };
// Records the partner's answer on a sent offer (the caller has checked it is sent and not
// expired): state, responded_at, the sealed reason, the timeline event and the case's status
// (accepted; or back to triaged once no offer is open or accepted). An accepted offer naming a
// spokesperson is their engagement: it creates their aftercare task, due by `aftercare`.
void answer_offer(pg_connection& tx, const crypto::keyring& keys, std::int64_t offer_id, offer_answer answer,
                  std::string_view decline_reason, const aftercare_policy& aftercare);

struct closed_offer {
  std::int64_t offer_id = 0, partner_id = 0;
  std::string ref;
  bool case_waterfall = false;  // the case offers down the list automatically
  std::string reason;           // why it closed: a fixed phrase ("consent withdrawn", "the link expired")
};
// Expires sent offers past their time (several workers: SKIP LOCKED), with events.
std::vector<closed_offer> expire_due_offers(pg_connection& tx, time_point now);
// Withdraws the open offers that rely on a spokesperson's consent (consent withdrawn, or the
// person erased), with events. Partners hear of every withdrawal from the worker
// (take_withdrawal_notices), whichever path withdrew it.
std::vector<closed_offer> withdraw_offers_of(pg_connection& tx, std::int64_t spokesperson_id,
                                             std::optional<std::int64_t> consent_id, std::string_view reason,
                                             std::string_view actor);
// Withdraws every open offer of a case (its journalist's data purged), with events.
std::vector<closed_offer> withdraw_case_offers(pg_connection& tx, std::int64_t case_id, std::string_view reason,
                                               std::string_view actor);
// Withdraws one open offer of a case (staff, or a consent found lapsed at acceptance). nullopt
// if it is not open (or not this case's).
std::optional<closed_offer> withdraw_offer(pg_connection& tx, std::string_view ref, std::int64_t offer_id,
                                           std::string_view actor, std::string_view reason = "withdrawn by staff");

// Withdrawn offers whose partner has not been told yet, marked as told (SKIP LOCKED: one
// worker each); the caller emails them inside the same transaction.
std::vector<closed_offer> take_withdrawal_notices(pg_connection& tx, std::int64_t limit = 100);

// Which partners and spokespeople a case was already offered to (any state), for "next candidate".
struct offered_to {
  std::vector<std::int64_t> partner_ids;      // partner-level offers
  std::vector<std::int64_t> spokesperson_ids;
};
offered_to offers_made(pg_connection& c, std::string_view ref);

// The decline reason as the partner wrote it (staff view), nullopt if none.
std::optional<std::string> open_decline_reason(pg_connection& c, const crypto::keyring& keys, std::int64_t offer_id);

bool set_case_waterfall(pg_connection& tx, std::string_view ref, bool on, std::string_view actor);

}  // namespace md::store
