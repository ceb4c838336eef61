// The offer flow between the stores, the matcher and the outbox, shared by the HTTP handlers
// (staff sending, partners answering) and the worker (expiry, the automatic waterfall): matches
// for a case, sending an offer (every hard rule checked again at send time), what follows an
// answer, and telling partners when an offer is withdrawn. Callers pass their transaction and a
// Redis connection: mail is queued inside the transaction, so nothing is recorded that was not
// queued.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <variant>

#include "config/settings.hpp"
#include "crypto/keyring.hpp"
#include "queue/keys.hpp"
#include "queue/redis_connection.hpp"
#include "routing/matching.hpp"
#include "store/offer_store.hpp"
#include "store/pg.hpp"

namespace md::server {

struct offer_deps {
  const settings& config;
  const crypto::keyring& keys;
  std::shared_ptr<const routing::taxonomy> taxonomy;
  const queue::redis_keys& redis_keys;
};

// The request as matching reads it, from the case's (possibly corrected) triage fields.
routing::match_request match_request_of(const store::case_summary& c);

// A case's matches and exclusions; candidates already offered on this case are listed among
// the exclusions ("already offered: declined"). nullopt for an unknown case.
struct case_matches {
  store::case_detail case_detail;  // the case as read for matching (its offers included)
  routing::matcher matcher;        // owns the registry the indexes point into
  routing::match_result result;
};
std::optional<case_matches> matches_for_case(store::pg_connection& c, const offer_deps& deps, std::string_view ref,
                                             time_point now, bool with_exclusions, std::size_t limit);

struct offer_request {
  std::string ref;
  std::int64_t partner_id = 0;
  std::optional<std::int64_t> spokesperson_id;
  std::optional<std::int64_t> expires_in_minutes;
  std::string actor;
};
struct offer_sent {
  std::int64_t id = 0;
  time_point expires_at{};
};
struct offer_refused {
  int status = 409;   // 400 bad field, 404 unknown case, 409 not allowed now
  std::string field;  // for 400
  std::string message;
};
// Checks every rule again (consent at send time above all), creates the offer with a random
// 256-bit token (only its hash stored), and emails the partner's contact the link.
std::variant<offer_sent, offer_refused> send_offer(store::pg_connection& tx, queue::redis_connection& redis,
                                                   const offer_deps& deps, const offer_request& request, time_point now);

// What follows an answer or an expiry, in the caller's transaction:
// accepted: the contact details go to the partner and the journalist is told (or, with
//           offers.release_contact = after_approval, the case waits for staff to release them);
// declined or expired: with the case's waterfall on, the next candidate gets an offer.
void after_accept(store::pg_connection& tx, queue::redis_connection& redis, const offer_deps& deps,
                  std::string_view ref, std::int64_t offer_id);
void after_close(store::pg_connection& tx, queue::redis_connection& redis, const offer_deps& deps,
                 const store::closed_offer& closed, time_point now);

// Sends the journalist's contact details to the partner of an accepted offer and tells the
// journalist, with a `contact_released` event. False if the offer is not accepted on this case
// or was released already.
bool release_contact(store::pg_connection& tx, queue::redis_connection& redis, const offer_deps& deps,
                     std::string_view ref, std::int64_t offer_id, std::string_view actor);

// Tells a partner that an offer to them was withdrawn (consent withdrawn, person erased, staff),
// giving closed.reason.
void tell_partner_withdrawn(store::pg_connection& tx, queue::redis_connection& redis, const offer_deps& deps,
                            const store::closed_offer& closed);

// The partner-facing description of a case: outlet, medium, topics, places, deadline, what is
// asked. Never the journalist's contact details or the request's text.
struct offer_brief {
  std::string outlet, medium, topics, places, deadline, asked;
};
offer_brief brief_of(const routing::taxonomy& taxonomy, const store::case_summary& c);
std::string london_text(time_point t);  // "Fri 28 Nov 16:00" (London time)

// Publishes a change of one case to dashboards (any serve process); losing it is harmless.
// Inside a publish_after_commit scope on this thread it is only noted, and published when the
// scope's transaction has committed: a dashboard that reloads on the event must find the change.
void publish_case_changed(queue::redis_connection& redis, const queue::redis_keys& keys, std::string_view ref);

// Holds back this thread's publish_case_changed calls until commit(); dropped if the scope ends
// without it (the transaction rolled back, so nothing changed). Scopes do not nest.
class publish_after_commit {
 public:
  publish_after_commit(queue::redis_connection& redis, const queue::redis_keys& keys);
  ~publish_after_commit();
  publish_after_commit(const publish_after_commit&) = delete;
  publish_after_commit& operator=(const publish_after_commit&) = delete;
  void note(std::string_view ref);
  void commit();  // publishes each ref noted, once

 private:
  queue::redis_connection& redis_;
  const queue::redis_keys& keys_;
  std::vector<std::string> refs_;
};

}  // namespace md::server
