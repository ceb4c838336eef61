// What the intake doors hand to the Redis appender, and what they get back.
#pragma once
#include <chrono>
#include <string>

#include "intake/intake_record.hpp"

namespace md::queue {

struct append_request {
  intake::intake_record record;
  std::string idempotency_key;  // as sent by the client; empty for none (stored only hashed)
};

struct append_outcome {
  enum class status { queued, replayed, unavailable } result = status::unavailable;
  std::string intake_id;  // for queued: the record's id; for replayed: the id first answered
};

// How long an intake stays findable as "queued" without being processed.
inline constexpr std::chrono::hours intake_seen_ttl{24 * 7};

}  // namespace md::queue
