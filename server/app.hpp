// The serve role's shared parts, wired once in main and handed to the handlers, which stay thin:
// parse, call pure functions and stores, answer. Also the route table for the whole server.
#pragma once
#include <memory>

#include "config/settings.hpp"
#include "crypto/keyring.hpp"
#include "crypto/primitives.hpp"
#include "queue/keys.hpp"
#include "queue/shared_redis.hpp"
#include "server/http_server.hpp"
#include "server/redis_appender.hpp"
#include "server/metrics.hpp"
#include "server/triage_service.hpp"
#include "store/coverage_store.hpp"
#include "store/pg.hpp"
#include "store/user_store.hpp"

namespace md::server {

class event_hub;  // server/event_stream.hpp

struct app_context {
  const settings& config;
  const crypto::keyring& keys;
  redis_appender& appender;
  store::pg_pool& database;
  queue::shared_redis& redis;
  queue::redis_keys redis_keys;
  asio::thread_pool& blocking;  // libpq and hiredis calls run here, never on the I/O threads
  metrics_registry& metrics;
  const taxonomy_holder& taxonomy;
  event_hub& events;  // the live feed: this process's one Redis subscriber

  store::aftercare_policy aftercare_policy() const {
    return {static_cast<int>(config.aftercare.due_working_days), static_cast<int>(config.aftercare.due_hour)};
  }

  // The rate-limit key of one email address at one door ("form", "webhook", "smtp", "login"). The
  // address is counted under its blind index, so it never reaches Redis in plaintext.
  std::string sender_rate_key(std::string_view door, std::string_view email) const {
    return redis_keys.rate_limit(std::string(door) + "-sender",
                                 crypto::to_hex(keys.blind_index("rate.sender", crypto::normalise_email(email))));
  }

  store::session_timeouts session_timeouts() const {
    return {std::chrono::minutes(config.session.idle_timeout_minutes),
            std::chrono::hours(config.session.absolute_timeout_hours)};
  }
};

void add_intake_routes(router& r, app_context& app);
void add_staff_routes(router& r, app_context& app);
void add_triage_routes(router& r, app_context& app);
void add_ops_routes(router& r, app_context& app);
void add_web_routes(router& r, app_context& app);
void add_form_routes(router& r, app_context& app);
void add_inbound_routes(router& r, app_context& app);
void add_reply_routes(router& r, app_context& app);
void add_registry_routes(router& r, app_context& app);
void add_offer_routes(router& r, app_context& app);
void add_dashboard_routes(router& r, app_context& app);
void add_event_routes(router& r, app_context& app);
void add_coverage_routes(router& r, app_context& app);
void add_report_routes(router& r, app_context& app);

inline void add_all_routes(router& r, app_context& app) {
  add_intake_routes(r, app);
  add_staff_routes(r, app);
  add_triage_routes(r, app);
  add_ops_routes(r, app);
  add_web_routes(r, app);
  add_form_routes(r, app);
  add_inbound_routes(r, app);
  add_reply_routes(r, app);
  add_registry_routes(r, app);
  add_offer_routes(r, app);
  add_dashboard_routes(r, app);
  add_event_routes(r, app);
  add_coverage_routes(r, app);
  add_report_routes(r, app);
}

}  // namespace md::server
