// The worker role's mail sender: delivers outbox messages by the configured transport, retries temporary failures
// with exponential backoff and dead-letters the rest. Never logs addresses or content.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "config/settings.hpp"
#include "crypto/keyring.hpp"
#include "mail/transport.hpp"
#include "queue/outbox.hpp"
#include "server/metrics.hpp"

namespace md::server {

// The wait before the next attempt after `attempt` failed ones (0-based): retry_base_ms *
// 2^attempt, of which a random half is taken off (jitter in [0, 1]), never more than an hour.
std::chrono::milliseconds retry_delay(std::int64_t retry_base_ms, std::int64_t attempt, double jitter);

class mail_sender {
 public:
  mail_sender(const settings& config, const crypto::keyring& keys, metrics_registry& metrics,
              std::string consumer_name);
  // Runs until stop is set. An entry being delivered when stop is set stays pending in the
  // stream (delivered again on the next start), so nothing is lost.
  void run(const std::atomic<bool>& stop);

 private:
  mail::delivery_result deliver(const queue::outbound_mail& mail, const std::atomic<bool>& stop);

  const settings& config_;
  const crypto::keyring& keys_;
  metrics_registry& metrics_;
  std::string consumer_name_;
};

}  // namespace md::server
