// Runs the serve role (HTTP, and SMTP/LMTP when configured), the worker role (intake workers), or both in one process (demo),
// from one settings value; owns their shared parts and shuts them down in order: stop
// accepting, let in-flight requests finish, close the Redis appender, stop the workers.
// Every keys.refresh_s it adopts a newer key id from key_checks (`mediadesk keys rotate`).
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>

#include "config/settings.hpp"
#include "crypto/keyring.hpp"
#include "queue/shared_redis.hpp"
#include "server/app.hpp"
#include "server/event_stream.hpp"
#include "server/http_server.hpp"
#include "server/metrics.hpp"
#include "server/redis_appender.hpp"
#include "server/smtp_server.hpp"
#include "server/stop_signal.hpp"
#include "server/triage_service.hpp"
#include "store/pg.hpp"

namespace md::server {

// The keyring from keys.master_key; throws std::runtime_error naming the setting if missing.
std::unique_ptr<crypto::keyring> load_keyring(const settings& config);

class service_host {
 public:
  struct roles {
    bool serve = false;
    bool worker = false;
    // Empty: consumer names host-pid-index, unique to the process, since several worker
    // processes may share the streams. The demo on its own Redis, the only worker there, uses a
    // fixed prefix so that after a crash it finishes its own pending entries at once (demo.cpp).
    std::string consumer_prefix = {};
  };
  service_host(const settings& config, roles r);
  ~service_host();
  void start();  // binds the HTTP port (throws if it cannot) and the SMTP/LMTP listeners (logs if it cannot)
  void shutdown();
  std::optional<tcp::endpoint> http_endpoint() const;
  // The SMTP listener's address, if smtp.port is set and it could bind.
  std::optional<tcp::endpoint> smtp_endpoint() const;
  redis_appender& appender() { return *appender_; }  // serve role only
  store::pg_pool& database() { return *database_; }
  const crypto::keyring& keys() const { return *keys_; }
  // SIGHUP: loads the taxonomy again; on a problem keeps the old one and logs why.
  void reload();

 private:
  void start_smtp();
  void start_key_refresh();
  void stop_key_refresh();
  const settings& config_;
  roles roles_;
  std::unique_ptr<crypto::keyring> keys_;
  std::unique_ptr<taxonomy_holder> taxonomy_;
  metrics_registry metrics_;
  std::unique_ptr<store::pg_pool> database_;
  std::unique_ptr<queue::shared_redis> redis_;
  std::unique_ptr<asio::thread_pool> blocking_;
  // Before io_: streams still suspended when io_ is destroyed leave the hub as their frames go.
  std::unique_ptr<event_hub> events_;
  std::unique_ptr<app_context> app_;
  router routes_;
  asio::io_context io_;
  // Keeps io_.run() going until shutdown() is done with it: without connections (all closed by
  // begin_shutdown) it would return early, and the appender's stop, posted to it, wait in vain.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> io_work_;
  std::unique_ptr<redis_appender> appender_;
  std::unique_ptr<http_server> server_;
  std::unique_ptr<smtp_server> smtp_;  // SMTP/LMTP listeners, when configured
  std::vector<std::thread> io_threads_, worker_threads_;
  std::atomic<bool> stop_workers_{false};
  // The key id refresher: one small thread with its own short-timeout connection, so that it
  // never waits for the pool and shutdown never waits for it longer than one short query.
  std::thread key_refresh_thread_;
  stop_signal key_refresh_stop_;
  bool stopped_ = false;
};

// Blocks SIGINT, SIGTERM and SIGHUP in every thread (call first in main). The wait returns on
// SIGINT or SIGTERM; each SIGHUP meanwhile calls on_hangup (reload) and goes on waiting.
void block_termination_signals();
int wait_for_termination_signal(const std::function<void()>& on_hangup = {});

}  // namespace md::server
