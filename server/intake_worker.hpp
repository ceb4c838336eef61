// The worker role's loop: read intakes from the stream in batches, open and parse each, triage
// it, store the batch as cases (or join duplicates to their case) in one PostgreSQL transaction, then acknowledge in Redis and
// publish the new cases. Redeliveries are harmless (idempotent on intake id); entries that can
// never succeed, or were delivered too often, go to the dead-letter stream. It also raises
// deadline escalations on open cases.
#pragma once
#include <atomic>
#include <string>
#include <string_view>

#include "config/settings.hpp"
#include "crypto/keyring.hpp"
#include "server/metrics.hpp"
#include "server/triage_service.hpp"
#include "store/pg.hpp"

namespace md::server {

class intake_worker {
 public:
  intake_worker(const settings& config, const crypto::keyring& keys, store::pg_pool& database,
                const taxonomy_holder& taxonomy, metrics_registry& metrics, std::string consumer_name);
  // Runs until stop is set; returns after finishing (or abandoning, unacknowledged) its batch.
  void run(const std::atomic<bool>& stop);

 private:
  const settings& config_;
  const crypto::keyring& keys_;
  store::pg_pool& database_;
  const taxonomy_holder& taxonomy_;
  metrics_registry& metrics_;
  std::string consumer_name_;
};

// A consumer name unique to this process and thread: host-pid-index; with a prefix,
// prefix-index instead (the same in the next run: only for a process sure to be the only one).
std::string make_consumer_name(std::string_view prefix, int index);

}  // namespace md::server
