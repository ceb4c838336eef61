// The worker's side of the intake stream: a consumer group member that first finishes its own
// pending entries, then reads new ones in batches, reclaims entries left idle by dead workers,
// acknowledges only after the caller has committed, and moves entries that failed too often to
// the dead-letter stream.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "intake/intake_record.hpp"
#include "queue/keys.hpp"
#include "queue/redis_connection.hpp"

namespace md::queue {

struct delivered_intake {
  std::string entry_id;  // the stream entry id, for XACK
  std::optional<intake::intake_record> record;  // nullopt: the entry is malformed
  std::int64_t deliveries = 1;
};

struct stream_stats {
  std::int64_t length = 0, pending = 0, dead_letters = 0;
};

class intake_consumer {
 public:
  intake_consumer(const redis_settings& redis, const worker_settings& worker, std::string consumer_name);

  // Entries delivered to this consumer earlier and not acknowledged (after a restart).
  std::vector<delivered_intake> read_own_pending();
  // New entries, waiting up to worker.block_ms for some.
  std::vector<delivered_intake> read_new();
  // Claims entries idle longer than worker.reclaim_idle_ms. Those already delivered
  // max_deliveries times come back in over_limit, for dead-lettering.
  struct reclaimed {
    std::vector<delivered_intake> to_process, over_limit;
  };
  reclaimed reclaim();

  void acknowledge(const std::vector<std::string>& entry_ids);
  // Copies the entry to the dead-letter stream with the reason, then acknowledges it.
  void dead_letter(const delivered_intake& entry, std::string_view reason);
  void publish(std::string_view channel, std::string_view message);

  const std::string& consumer_name() const { return consumer_name_; }

 private:
  redis_connection& connection();
  std::vector<delivered_intake> read(std::string_view start_id, bool block);
  std::vector<delivered_intake> parse_entries(const redisReply* entries);
  void ensure_group(redis_connection& c);

  redis_endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::int64_t batch_size_, block_ms_, reclaim_idle_ms_, max_deliveries_;
  redis_keys keys_;
  std::string consumer_name_;
  std::unique_ptr<redis_connection> connection_;
};

// Stream statistics without being a consumer (for /metrics).
stream_stats read_stream_stats(redis_connection& c, const redis_keys& keys);

}  // namespace md::queue
