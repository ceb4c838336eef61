// What the intake doors hand to the Redis appender, and what they get back.
#pragma once
#include <chrono>
#include <string>

#include "core/errors.hpp"
#include "intake/intake_record.hpp"
#include "queue/keys.hpp"
#include "queue/redis_connection.hpp"

namespace md::queue {

struct append_request {
  intake::intake_record record;
  std::string idempotency_key{};  // as sent by the client; empty for none (stored only hashed)
  // A signed webhook's "<t>.<body>" (stored only hashed), kept for as long as its signature is
  // accepted: the same signed post again is the first intake, whatever Idempotency-Key it carries.
  std::string signed_message_key{};
  std::chrono::seconds signed_message_ttl{0};
  // A sender's hourly allowance, counted in the same atomic step as the append (empty: none).
  // A replay of an Idempotency-Key already answered is not counted again.
  std::string sender_rate_key{};
  std::int64_t sender_limit = 0;
};

struct append_outcome {
  enum class status { queued, replayed, limited, unavailable } result = status::unavailable;
  std::string intake_id;         // for queued: the record's id; for replayed: the id first answered
  std::int64_t retry_after_s = 0;  // for limited: until the sender's window ends
};

// How long an intake stays findable as "queued" without being processed.
inline constexpr std::chrono::hours intake_seen_ttl{24 * 7};

// One synchronous append for the small tools (mailgate): the same stream entry as the HTTP and
// SMTP doors' group-committed appender (server/redis_appender.cpp: fields id, src, at, p).
// Returns once Redis has acknowledged the XADD; throws unavailable_error if it cannot.
inline void append_intake_now(redis_connection& c, const redis_keys& keys, const intake::intake_record& r) {
  auto source = intake::to_string(r.source);
  auto received = std::to_string(r.received_unix_ms);
  auto added = c.command({"XADD", keys.intake_stream(), "*", "id", r.id, "src", source, "at", received, "p", r.sealed_payload});
  // An error reply (out of memory, read-only replica, failed disk) means nothing was stored.
  if (is_error(added.get())) throw unavailable_error("redis refused the append");
  auto ttl = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(intake_seen_ttl).count());
  c.command({"SET", keys.intake_seen(r.id), "1", "EX", ttl});
}

}  // namespace md::queue
