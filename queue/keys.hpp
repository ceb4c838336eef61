// Names of every Redis key and stream MediaDesk uses, in one place, under a configurable prefix.
#pragma once
#include <string>
#include <string_view>

namespace md::queue {

struct redis_keys {
  std::string prefix = "md:";
  std::string intake_stream() const { return prefix + "intake"; }
  std::string dead_letter_stream() const { return prefix + "intake:dead"; }
  std::string consumer_group() const { return "workers"; }
  // Marks an intake id as accepted (queued) until the worker has stored it: for status look-ups.
  std::string intake_seen(std::string_view id) const { return prefix + "intake:seen:" + std::string{id}; }
  // Holds the intake id answered for an Idempotency-Key (the key is stored hashed).
  std::string idempotency(std::string_view key_hash_hex) const {
    return prefix + "idem:" + std::string{key_hash_hex};
  }
  std::string events_channel() const { return prefix + "events"; }
  std::string rate_limit(std::string_view scope, std::string_view who) const {
    return prefix + "rl:" + std::string{scope} + ":" + std::string{who};
  }
};

}  // namespace md::queue
