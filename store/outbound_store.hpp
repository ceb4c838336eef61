// Mail the desk sends on a case: the message sealed in case_messages, its Message-ID for threading and a timeline
// event (a hash and a length, never text or address), in the caller's transaction.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/keyring.hpp"
#include "store/pg.hpp"

namespace md::store {

struct outbound_message_record {
  std::string ref;          // the case
  std::string message_id;   // without angle brackets
  std::string source;       // case_messages.source: "reply", "acknowledgement"...
  std::string message;      // the RFC 5322 message as queued: sealed here
  std::string actor;        // "user:<id>" or "system:worker"
  std::string event_kind;   // "reply_sent"...
  std::int64_t length = 0;  // characters of the text written, for the event
};

// Inserts case_messages (direction 'out', intake_id NULL, sealed under
// outbound_message_binding(message_id)), a case_events row {message_id_hash, length}, and the
// Message-ID's blind index in case_message_ids so that answers to it thread into the case.
// false for an unknown case (nothing written).
bool store_outbound_message(pg_connection& tx, const crypto::keyring& keys, const outbound_message_record& record);

std::string outbound_message_binding(std::string_view message_id);  // "case_messages.sealed:out:<id>"
// The first 12 hex digits of the BLAKE2b hash of the Message-ID: enough to match a message to
// its event, nothing that names a host or a person.
std::string message_id_hash(std::string_view message_id);

// A case's source and its request document (the sealed request, opened), for writing to the
// journalist; nullopt for an unknown case. Not a reveal to a person, so no event.
struct case_document {
  std::string source;    // webhook | form | email | staff
  std::string document;  // JSON for webhook and form; the raw RFC 5322 message for email
};
std::optional<case_document> open_case_document(pg_connection& c, const crypto::keyring& keys, std::string_view ref);

}  // namespace md::store
