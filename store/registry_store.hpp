// The registry in PostgreSQL: partners, spokespeople and consents, each person's data key, the
// registry's history and the reveal audit. Personal fields go in and come out only here, sealed
// under the person's own data key; records returned by default carry no personal field, only
// whether it is set. Every change writes a registry_events row in the same transaction.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/keyring.hpp"
#include "store/pg.hpp"

namespace md::store {

struct registry_event {
  std::int64_t id;
  std::string at, actor, subject, kind, data_json;
};

// ---- partners ----

// What staff or an import set. A personal field left nullopt stays as it is (create: none);
// an empty string clears it.
struct partner_input {
  std::string key;  // the import key; required
  std::string name;
  std::optional<std::string> contact_name, contact_email;
  std::vector<std::string> regions, topics, languages;
  std::optional<std::string> away_until;  // ISO 8601, empty: clear
  std::optional<std::int64_t> capacity;   // -1: clear (no limit)
};

struct partner_record {
  std::int64_t id = 0;
  std::string key, name;
  bool has_contact_name = false, has_contact_email = false;
  std::vector<std::string> regions, topics, languages;
  std::optional<std::string> away_until;
  std::optional<std::int64_t> capacity;
  std::string created_at, updated_at;
  std::optional<std::string> archived_at;
};

struct partner_contact {
  std::optional<std::string> name, email;
};

// Creates the partner, or updates the one with the same key. Returns {id, created}.
std::pair<std::int64_t, bool> save_partner(pg_connection& tx, const crypto::keyring& keys, const partner_input& in,
                                           std::string_view actor);
// Updates partner id (its key may change if free). False if there is none.
bool update_partner(pg_connection& tx, const crypto::keyring& keys, std::int64_t id, const partner_input& in,
                    std::string_view actor);
std::optional<partner_record> find_partner(pg_connection& c, std::int64_t id);
std::optional<std::int64_t> find_partner_id_by_key(pg_connection& c, std::string_view key);
std::vector<partner_record> list_partners(pg_connection& c, bool include_archived);
bool archive_partner(pg_connection& tx, std::int64_t id, std::string_view actor);
// The contact's personal data, for the system (offers) or a recorded reveal.
std::optional<partner_contact> open_partner_contact(pg_connection& c, const crypto::keyring& keys, std::int64_t id);

// ---- spokespeople ----

struct spokesperson_input {
  std::optional<std::string> key;          // the import key, if any
  std::optional<std::int64_t> partner_id;  // nullopt: the desk's own
  std::string alias;
  std::optional<std::string> full_name, email, phone, story_notes;  // personal
  std::vector<std::string> regions, topics, languages;
  std::optional<std::int64_t> max_per_month;  // -1: clear
};

struct spokesperson_record {
  std::int64_t id = 0;
  std::optional<std::string> key;
  std::optional<std::int64_t> partner_id;
  std::string alias;
  bool has_full_name = false, has_email = false, has_phone = false, has_story_notes = false;
  std::vector<std::string> regions, topics, languages;
  std::optional<std::int64_t> max_per_month;
  std::string created_at, updated_at;
  std::optional<std::string> erased_at;
};

struct spokesperson_personal {
  std::optional<std::string> full_name, email, phone, story_notes;
};

std::pair<std::int64_t, bool> save_spokesperson(pg_connection& tx, const crypto::keyring& keys,
                                                const spokesperson_input& in, std::string_view actor);
bool update_spokesperson(pg_connection& tx, const crypto::keyring& keys, std::int64_t id,
                         const spokesperson_input& in, std::string_view actor);
std::optional<spokesperson_record> find_spokesperson(pg_connection& c, std::int64_t id);
std::optional<std::int64_t> find_spokesperson_id_by_key(pg_connection& c, std::string_view key);
std::vector<spokesperson_record> list_spokespeople(pg_connection& c, std::optional<std::int64_t> partner_id);
// nullopt if there is no such person; all fields empty once erased.
std::optional<spokesperson_personal> open_spokesperson(pg_connection& c, const crypto::keyring& keys, std::int64_t id);

// Erasure (crypto-shredding): destroys the person's data key, clears their sealed columns and
// blind indexes, replaces the alias, withdraws every live consent and drops its evidence. What
// stays is anonymous: regions, topics, languages, consent terms and dates, for statistics.
// False if there is no such person or they were already erased.
bool erase_spokesperson(pg_connection& tx, std::int64_t id, std::string_view actor);

// ---- consents ----

struct consent_input {
  std::vector<std::string> media;
  std::string identification;  // named | first_name | anonymous
  std::vector<std::string> topics, excluded_outlets;
  std::string granted_at;                 // ISO 8601
  std::optional<std::string> expires_at;  // ISO 8601
  std::optional<std::string> withdrawn_at;  // an import may record a past withdrawal
  std::optional<std::string> evidence;      // personal: sealed under the person's key
};

struct consent_record {
  std::int64_t id = 0, spokesperson_id = 0;
  std::vector<std::string> media;
  std::string identification;
  std::vector<std::string> topics, excluded_outlets;
  std::string granted_at;
  std::optional<std::string> expires_at, withdrawn_at, withdrawn_by;
  std::string recorded_by;
  bool has_evidence = false;
  std::string state;  // live | pending (not yet granted) | expired | withdrawn, at the database's now()
  std::string created_at;
};

std::int64_t record_consent(pg_connection& tx, const crypto::keyring& keys, std::int64_t spokesperson_id,
                            const consent_input& in, std::string_view actor);
// Withdraws at once. False if no such consent for this person or already withdrawn.
bool withdraw_consent(pg_connection& tx, std::int64_t spokesperson_id, std::int64_t consent_id, std::string_view actor);
std::vector<consent_record> list_consents(pg_connection& c, std::int64_t spokesperson_id);

// Everything held about one spokesperson (a subject access request), personal fields opened:
// the record, the consents with their evidence, the registry history and who revealed what.
struct spokesperson_export {
  spokesperson_record record;
  spokesperson_personal personal;
  std::vector<consent_record> consents;
  std::map<std::int64_t, std::optional<std::string>> evidence;  // by consent id
  std::vector<registry_event> history;
  struct reveal {
    std::string at;
    std::int64_t user_id;
    std::vector<std::string> fields;
  };
  std::vector<reveal> reveals;
};
std::optional<spokesperson_export> export_spokesperson(pg_connection& c, const crypto::keyring& keys, std::int64_t id);

// ---- history and audit ----

void append_registry_event(pg_connection& tx, std::string_view actor, std::string_view subject, std::string_view kind,
                           std::string_view data_json = "{}");

std::vector<registry_event> registry_history(pg_connection& c, std::string_view subject);

// Records a reveal (who, what, why) before the caller shows anything; returns the audit entry's id.
std::string record_reveal(pg_connection& tx, const crypto::keyring& keys, std::int64_t user_id, std::string_view subject,
                   const std::vector<std::string>& fields, std::string_view reason);

struct reveal_entry {
  std::string id, at;
  std::int64_t user_id;
  std::string subject;
  std::vector<std::string> fields;
  std::string reason;
};
// Newest first, at most limit; when paging, only entries before the given time and/or before the
// entry with the given id (the last one shown: exact even within one millisecond).
std::vector<reveal_entry> list_reveals(pg_connection& c, const crypto::keyring& keys, std::int64_t limit,
                                       std::optional<std::string> before_at, std::optional<std::string> before_id = {});

}  // namespace md::store
