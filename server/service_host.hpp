// Runs the serve role (HTTP), the worker role (intake workers), or both in one process (demo),
// from one settings value; owns their shared parts and shuts them down in order: stop
// accepting, let in-flight requests finish, close the Redis appender, stop the workers.
#pragma once
#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "config/settings.hpp"
#include "crypto/keyring.hpp"
#include "queue/shared_redis.hpp"
#include "server/app.hpp"
#include "server/http_server.hpp"
#include "server/metrics.hpp"
#include "server/redis_appender.hpp"
#include "store/pg.hpp"

namespace md::server {

// The keyring from keys.master_key; throws std::runtime_error naming the setting if missing.
std::unique_ptr<crypto::keyring> load_keyring(const settings& config);

class service_host {
 public:
  struct roles {
    bool serve = false;
    bool worker = false;
  };
  service_host(const settings& config, roles r);
  ~service_host();
  void start();  // binds the HTTP port (throws if it cannot)
  void shutdown();
  std::optional<tcp::endpoint> http_endpoint() const;
  redis_appender& appender() { return *appender_; }  // serve role only
  store::pg_pool& database() { return *database_; }
  const crypto::keyring& keys() const { return *keys_; }

 private:
  const settings& config_;
  roles roles_;
  std::unique_ptr<crypto::keyring> keys_;
  metrics_registry metrics_;
  std::unique_ptr<store::pg_pool> database_;
  std::unique_ptr<queue::shared_redis> redis_;
  std::unique_ptr<asio::thread_pool> blocking_;
  std::unique_ptr<app_context> app_;
  router routes_;
  asio::io_context io_;
  std::unique_ptr<redis_appender> appender_;
  std::unique_ptr<http_server> server_;
  std::vector<std::thread> io_threads_, worker_threads_;
  std::atomic<bool> stop_workers_{false};
  bool stopped_ = false;
};

// Blocks SIGINT and SIGTERM in every thread (call first in main) and waits for one.
void block_termination_signals();
int wait_for_termination_signal();

}  // namespace md::server
