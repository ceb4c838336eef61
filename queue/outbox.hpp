// The outbox: outbound mail sealed in a Redis stream for the mail sender, its consumer group, retry schedule and
// dead letters, and the per-address acknowledgement limit. Never holds an address or a message in clear.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.hpp"
#include "core/time.hpp"
#include "crypto/keyring.hpp"
#include "queue/keys.hpp"
#include "queue/redis_connection.hpp"

namespace md::queue {

struct outbound_mail {
  std::string id;             // new_outbox_id(): names the maildir file and binds the seal
  std::string envelope_from;  // MAIL FROM (bounces go here)
  std::vector<std::string> recipients;
  std::string message;   // the RFC 5322 message as built (mail::build_message)
  std::string purpose;   // in clear: "acknowledgement", "reply", "offer"... ([a-z_], 1..32)
  std::string case_ref;  // in clear: MD-YYYY-NNNNNN, or empty
};

std::string new_outbox_id();
// The seal's binding: a sealed message copied to another id does not open.
std::string outbox_binding(std::string_view outbox_id);

// XADD to the outbox stream: id, purpose, ref and attempt 0 in clear; envelope sender,
// recipients and message sealed together. Throws std::invalid_argument for an id, purpose or
// ref outside their character sets (they are stored in clear and name files), and
// unavailable_error when Redis cannot be reached or refuses the append.
void enqueue_mail(redis_connection& c, const redis_keys& keys, const crypto::keyring& ring, const outbound_mail& mail);

// Takes one of the per_hour acknowledgements allowed to an address in any sliding hour:
// true if taken, false if the address has had per_hour already (or per_hour <= 0). The key is
// the address's blind index (raw bytes or hex), never the address. Atomic (one Lua script).
bool take_acknowledgement_slot(redis_connection& c, const redis_keys& keys, std::string_view address_blind_index,
                               std::int64_t per_hour);

// ---- the sender's side ----

struct outbox_entry {
  std::string entry_id;  // the stream entry id, for XACK
  std::string id, purpose, case_ref;
  std::int64_t attempt = 0;  // failed delivery attempts before this one
  std::int64_t enqueued_unix_ms = 0;
  std::string sealed;
  std::int64_t deliveries = 1;  // how often this stream entry was delivered (a crashing sender)
  bool malformed = false;       // fields missing or out of their character sets
};

// Opens the sealed part; nullopt if it cannot be opened or read.
std::optional<outbound_mail> open_outbox_entry(const crypto::keyring& ring, const outbox_entry& entry);

struct outbox_consumer_options {
  std::int64_t batch_size = 10;
  std::int64_t reclaim_idle_ms = 60'000;  // longer than one delivery attempt can take
  std::int64_t max_deliveries = 5;        // stream deliveries (crashes), not delivery attempts
  std::chrono::milliseconds sent_marker_ttl = std::chrono::hours(24 * 7);
};

class outbox_consumer {
 public:
  outbox_consumer(const redis_settings& redis, outbox_consumer_options options, std::string consumer_name);

  // Entries delivered to this consumer earlier and not acknowledged (after a restart).
  std::vector<outbox_entry> read_own_pending();
  // New entries, waiting up to block for some.
  std::vector<outbox_entry> read_new(std::chrono::milliseconds block);
  // Claims entries other consumers left idle longer than reclaim_idle_ms; those delivered more
  // than max_deliveries times come back in over_limit, for dead-lettering.
  struct reclaimed {
    std::vector<outbox_entry> to_process, over_limit;
  };
  reclaimed reclaim();

  // Whether this outbox id was delivered already (its entry came back after a crash before XACK).
  bool already_sent(const outbox_entry& entry);
  // Marks the id sent, then XACK and XDEL: one atomic script.
  void mark_delivered(const outbox_entry& entry);
  // Moves the entry out of the stream into the retry schedule with attempt + 1, due at due:
  // one atomic script, so it is never in both places nor in neither.
  void schedule_retry(const outbox_entry& entry, time_point due);
  // Copies the entry (still sealed) to the dead-letter stream with the reason, then XACK and XDEL: atomic.
  void dead_letter(const outbox_entry& entry, std::string_view reason);
  // Moves retries that are due back into the stream (atomic); returns how many, and when the
  // next one is due.
  struct due_retries {
    std::int64_t moved = 0;
    std::optional<time_point> next_due;
  };
  due_retries move_due_retries(time_point now);

  const std::string& consumer_name() const { return consumer_name_; }

 private:
  redis_connection& connection();
  void ensure_group(redis_connection& c);
  std::vector<outbox_entry> read(std::string_view start_id, std::optional<std::chrono::milliseconds> block);
  std::vector<outbox_entry> parse_entries(redis_connection& c, const redisReply* entries);
  redis_reply eval(std::string_view script, std::span<const std::string_view> keys,
                   std::span<const std::string_view> args);

  redis_endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  outbox_consumer_options options_;
  redis_keys keys_;
  std::string consumer_name_;
  std::unique_ptr<redis_connection> connection_;
};

}  // namespace md::queue
