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
  // Outbound mail: the stream the mail sender consumes (sealed messages), where it gives up,
  // messages waiting for a retry (a sorted set of "id|attempt|purpose|ref|at" by due time in
  // ms, and a hash id -> sealed message), and a marker per delivered id against resending.
  std::string outbox_stream() const { return prefix + "outbox"; }
  std::string outbox_dead_letter_stream() const { return prefix + "outbox:dead"; }
  std::string outbox_consumer_group() const { return "senders"; }
  std::string outbox_retry_schedule() const { return prefix + "outbox:retry"; }
  std::string outbox_retry_messages() const { return prefix + "outbox:retry:messages"; }
  std::string outbox_sent(std::string_view outbox_id) const { return prefix + "outbox:sent:" + std::string{outbox_id}; }
  // Acknowledgements sent to one address in the last hour, keyed by the address's blind index.
  std::string acknowledgement_rate_limit(std::string_view address_index_hex) const {
    return rate_limit("ack", address_index_hex);
  }
};

}  // namespace md::queue
