// Mail the desk writes: to a case's journalist in the case's thread (recorded sealed on the
// case, then queued), and to anyone else (partners, staff), queued only. Both build the message
// with mail::build_message and seal it in the outbox; callers queue inside their transaction so
// that nothing is recorded when Redis refuses.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.hpp"
#include "crypto/keyring.hpp"
#include "queue/keys.hpp"
#include "queue/redis_connection.hpp"
#include "store/outbound_store.hpp"
#include "store/pg.hpp"

namespace md::server {

// Who the journalist is and what to thread on, from the case's stored request.
struct correspondent {
  std::string address, name, phone, subject, message_id;
  std::vector<std::string> references;
};
// nullopt when the request has no plausible email address.
std::optional<correspondent> correspondent_of(const store::case_document& doc);

std::size_t code_points(std::string_view s);

struct mail_context {
  const settings& config;
  const crypto::keyring& keys;
  const queue::redis_keys& redis_keys;
};

// Writes to the journalist in the case's thread (tag in the subject, In-Reply-To their message),
// records it sealed on the case with an `event_kind` event, and queues it. Returns its Message-ID.
std::string write_to_journalist(store::pg_connection& tx, queue::redis_connection& redis, const mail_context& m,
                                std::string_view ref, const correspondent& to, std::string_view body,
                                std::string_view source, std::string_view actor, std::string_view event_kind);

struct plain_mail {
  std::string to_name, to_address, subject, body;
  std::string purpose;   // outbox purpose: offer, offer_withdrawn, contact_details...
  std::string case_ref;  // may be empty
};
// Builds and queues a message that is not part of a journalist's thread (partners, staff).
void queue_plain_mail(queue::redis_connection& redis, const mail_context& m, const plain_mail& mail);

}  // namespace md::server
