// Personal data over time: purging a case's personal data (a journalist's erasure request or a
// retention period), a journalist's subject access export, the retention sweeps per data class,
// and consents coming to an end (reminders to staff). Every purge is recorded: a timeline event
// on each case, a registry event per consent and per sweep.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"
#include "crypto/keyring.hpp"
#include "store/case_store.hpp"
#include "store/note_store.hpp"
#include "store/pg.hpp"

namespace md::store {

// Why a case's personal data was purged: recorded on its timeline.
enum class purge_reason { closed_case, journalist_contact, erasure };
std::string_view to_string(purge_reason why);

// Destroys the personal data of one case in the caller's transaction: the sealed request,
// every sealed message (in and out) and every internal note's text, the journalist's blind index and the case's Message-IDs
// (so that nothing links it to a journalist any more). The triage fields and the timeline stay
// for statistics. Writes a `personal_data_purged` event. False if already purged.
bool purge_case_personal_data(pg_connection& tx, std::int64_t case_id, purge_reason why, std::string_view actor);

// ---- a journalist, found by email ----

struct journalist_message {
  std::string at, direction, source;
  std::optional<std::string> text;  // the message as received or sent; nullopt if purged
};
struct journalist_case {
  case_summary summary;
  std::optional<std::string> request;  // the request as received (JSON or the raw email)
  std::vector<journalist_message> messages;
  std::vector<case_note> notes;  // staff's internal notes on the case, opened (oldest first)
};
// Everything held about the journalist with this email (a subject access request): their cases
// with requests, messages and internal notes opened, oldest first. Empty if none.
std::vector<journalist_case> export_journalist(pg_connection& c, const crypto::keyring& keys, std::string_view email);

struct journalist_erasure {
  std::vector<std::string> refs;  // the cases purged
  std::int64_t messages = 0;      // their messages destroyed
};
// Purges every case of this journalist and records the erasure in the registry history under
// the email's blind index (never the address).
journalist_erasure erase_journalist(pg_connection& tx, const crypto::keyring& keys, std::string_view email,
                                    std::string_view actor);
std::string journalist_subject(const crypto::keyring& keys, std::string_view email);  // "journalist:<index hex>"

// ---- retention ----

struct retention_policy {
  std::int64_t closed_case_days = 0;         // 0: kept
  std::int64_t journalist_contact_days = 0;  // 0: kept
  std::int64_t consent_evidence_days = 0;    // 0: kept
};
struct retention_sweep {
  std::int64_t closed_cases = 0, journalist_contacts = 0, consent_evidence = 0;
  std::int64_t total() const { return closed_cases + journalist_contacts + consent_evidence; }
};
// Purges what the policy no longer allows, in short transactions of at most batch_size rows, safe
// with several workers (rows locked SKIP LOCKED). Each batch that purged something writes, in
// its own transaction, a registry event (subject "retention:<class>") with its count.
retention_sweep apply_retention(pg_connection& c, const retention_policy& policy, time_point now,
                                std::int64_t batch_size = 200);

// ---- consents coming to an end ----

struct expiring_consent {
  std::int64_t consent_id = 0, spokesperson_id = 0;
  std::string alias;  // shown by default: never a real name
  std::string expires_at;
  std::optional<std::string> reminded_at;
};
// Live consents of people not erased that expire within the given days, soonest first.
std::vector<expiring_consent> list_expiring_consents(pg_connection& c, time_point now, std::int64_t within_days,
                                                     std::int64_t limit = 500);
// Marks the consents due a reminder (expiring within days, not yet reminded) as reminded, with a
// registry event each, in the caller's transaction, and returns them.
std::vector<expiring_consent> take_consent_reminders(pg_connection& tx, time_point now, std::int64_t days);

}  // namespace md::store
