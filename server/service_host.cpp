// Service host (see service_host.hpp).
#include "server/service_host.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <spdlog/spdlog.h>

#include "core/errors.hpp"
#include "server/intake_worker.hpp"
#include "server/mail_sender.hpp"
#include "store/key_rotation.hpp"
#include "store/migrations.hpp"

namespace md::server {

std::unique_ptr<crypto::keyring> load_keyring(const settings& config) {
  if (config.keys.master_key.empty())
    throw std::runtime_error(
        "keys.master_key is not set: set MEDIADESK_MASTER_KEY or keys.master_key_file "
        "(`mediadesk keys generate` makes a key)");
  auto raw = crypto::keyring::parse_master_key(config.keys.master_key);
  if (!raw) throw std::runtime_error("keys.master_key must be 64 hex digits or base64 of 32 bytes");
  return std::make_unique<crypto::keyring>(std::move(*raw), static_cast<std::uint32_t>(config.keys.current_key_id));
}

namespace {

// Each connection holds a file descriptor, and Debian's default soft limit (1024) is below the
// default http.max_connections (4096). Raise the soft limit to the hard one, and if the caps
// still do not fit, lower the HTTP cap so that a flood of connections meets 503 rather than
// accept() failing with EMFILE while PostgreSQL, Redis and log files also need descriptors.
std::size_t fit_connection_cap(std::size_t http_cap, std::size_t smtp_cap) {
  constexpr std::size_t reserve = 256;  // database pool, Redis, listeners, logs, the live feed's subscriber
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) != 0) return http_cap;
  if (nofile.rlim_cur < nofile.rlim_max) {
    auto raised = nofile;
    raised.rlim_cur = nofile.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) nofile = raised;
  }
  auto available = nofile.rlim_cur == RLIM_INFINITY ? http_cap + smtp_cap + reserve : nofile.rlim_cur;
  if (http_cap + smtp_cap + reserve <= available) return http_cap;
  auto fitted = available > smtp_cap + reserve + 64 ? available - smtp_cap - reserve : 64;
  spdlog::warn("open-file limit {} is too low for http.max_connections {} and smtp.max_connections {}; "
               "serving at most {} HTTP connections (raise LimitNOFILE / ulimit -n)",
               available, http_cap, smtp_cap, fitted);
  return fitted;
}

}  // namespace

service_host::service_host(const settings& config, roles r) : config_(config), roles_(r) {
  keys_ = load_keyring(config);
  taxonomy_ = std::make_unique<taxonomy_holder>(config.triage.taxonomy_dir);
  if (r.serve && config.webhook.secret.empty())
    throw std::runtime_error("webhook.secret is not set: set MEDIADESK_WEBHOOK_SECRET or webhook.secret_file");
  // Pool: the HTTP side's blocking pool plus one connection per worker thread.
  auto pool_size = static_cast<std::size_t>(config.database.pool_size + (r.worker ? config.worker.threads : 0));
  database_ = std::make_unique<store::pg_pool>(
      store::pg_options{config.database.url, std::chrono::seconds(config.database.connect_timeout_s),
                        std::chrono::milliseconds(config.database.statement_timeout_ms)},
      pool_size);
  if (r.serve) {
    appender_ = std::make_unique<redis_appender>(io_, config.redis,
                                                 std::chrono::seconds(config.webhook.idempotency_ttl_s));
    redis_ = std::make_unique<queue::shared_redis>(queue::parse_redis_url(config.redis.url),
                                                   std::chrono::milliseconds(config.redis.timeout_ms));
    blocking_ = std::make_unique<asio::thread_pool>(static_cast<std::size_t>(config.database.pool_size));
    queue::redis_keys redis_keys{config.redis.key_prefix};
    // The subscriber's own connection, with a timeout short enough that stopping it is prompt.
    events_ = std::make_unique<event_hub>(
        event_hub_options{queue::parse_redis_url(config.redis.url), redis_keys.events_channel(),
                          std::min(std::chrono::milliseconds(config.redis.timeout_ms), std::chrono::milliseconds(1'000)),
                          static_cast<std::size_t>(config.http.max_event_streams)},
        metrics_);
    app_ = std::make_unique<app_context>(app_context{config, *keys_, *appender_, *database_, *redis_, redis_keys,
                                                     *blocking_, metrics_, *taxonomy_, *events_});
    add_all_routes(routes_, *app_);
  }
}

service_host::~service_host() { shutdown(); }

void service_host::start() {
  // Refuse to run against an unmigrated database or with the wrong master key; if PostgreSQL
  // is not reachable yet, start anyway (readyz says so, workers retry).
  try {
    database_->with([&](store::pg_connection& c) {
      if (!store::schema_is_current(c))
        throw std::runtime_error("the database schema is not current: run `mediadesk migrate` first");
      store::verify_master_key(c, *keys_);  // after a rotation, raises the key id to the newest
    });
    spdlog::info("sealing under key id {}", keys_->current_key_id());
  } catch (const unavailable_error& e) {
    spdlog::warn("cannot check the database at start ({}); going on", e.what());
  }
  start_key_refresh();
  if (roles_.serve) {
    http_limits limits;
    limits.header_limit = static_cast<std::size_t>(config_.http.header_limit_bytes);
    limits.body_limit = static_cast<std::size_t>(config_.http.body_limit_bytes);
    limits.header_timeout = std::chrono::milliseconds(config_.http.header_timeout_ms);
    limits.body_timeout = std::chrono::milliseconds(config_.http.body_timeout_ms);
    limits.idle_timeout = std::chrono::milliseconds(config_.http.idle_timeout_ms);
    limits.max_connections = fit_connection_cap(static_cast<std::size_t>(config_.http.max_connections),
                                                static_cast<std::size_t>(config_.smtp.max_connections));
    auto address = asio::ip::make_address(config_.http.address);
    server_ = std::make_unique<http_server>(io_, tcp::endpoint{address, static_cast<unsigned short>(config_.http.port)},
                                            limits, routes_, metrics_);
    server_->start();
    events_->start();
    start_smtp();  // before the I/O threads run, so the listeners are in place when they do
    io_work_.emplace(io_.get_executor());
    for (int i = 0; i < config_.http.threads; ++i) io_threads_.emplace_back([this] { io_.run(); });
    spdlog::info("serving HTTP on {}:{}", server_->local_endpoint().address().to_string(),
                 server_->local_endpoint().port());
  }
  if (roles_.worker) {
    for (int i = 0; i < config_.worker.threads; ++i)
      worker_threads_.emplace_back([this, i] {
        intake_worker worker(config_, *keys_, *database_, *taxonomy_, metrics_, make_consumer_name(roles_.consumer_prefix, i));
        worker.run(stop_workers_);
      });
    // One mail sender per worker process (its own consumer group on the outbox stream),
    // joined with the intake workers in shutdown().
    worker_threads_.emplace_back([this] {
      mail_sender sender(config_, *keys_, metrics_, make_consumer_name(roles_.consumer_prefix, 0));
      sender.run(stop_workers_);
    });
  }
}

// The email doors share the HTTP side's io_context, threads and Redis appender. A listener that
// cannot bind is logged as an error and the others (and HTTP) go on: the sending MTA keeps the
// mail queued, whereas refusing to start would also stop the webhook door.
void service_host::start_smtp() {
  auto& s = config_.smtp;
  if (s.port == 0 && s.lmtp_port == 0 && s.lmtp_socket.empty()) return;
  smtp_ = std::make_unique<smtp_server>(io_, *app_);
  if (s.domains.empty() && s.addresses.empty())
    spdlog::warn("smtp.domains and smtp.addresses are both empty: every recipient will be refused");
  auto try_listen = [](std::string_view what, auto&& listen) {
    try {
      listen();
    } catch (const std::exception& e) {
      spdlog::error("not listening for {}: {}", what, e.what());
    }
  };
  if (s.port != 0)
    try_listen("SMTP", [&] {
      smtp_->listen_smtp(tcp::endpoint{asio::ip::make_address(s.address), static_cast<unsigned short>(s.port)});
      spdlog::info("serving SMTP on {}:{}", s.address, smtp_->smtp_endpoint()->port());
    });
  if (s.lmtp_port != 0)
    try_listen("LMTP", [&] {
      smtp_->listen_lmtp(tcp::endpoint{asio::ip::make_address(s.lmtp_address), static_cast<unsigned short>(s.lmtp_port)});
      spdlog::info("serving LMTP on {}:{}", s.lmtp_address, smtp_->lmtp_endpoint()->port());
    });
  if (!s.lmtp_socket.empty())
    try_listen("LMTP (unix socket)", [&] {
      smtp_->listen_lmtp_unix(s.lmtp_socket);
      spdlog::info("serving LMTP on unix socket {}", s.lmtp_socket);
    });
  smtp_->start();
}

std::optional<tcp::endpoint> service_host::smtp_endpoint() const {
  if (!smtp_) return std::nullopt;
  return smtp_->smtp_endpoint();
}

std::optional<tcp::endpoint> service_host::http_endpoint() const {
  if (!server_) return std::nullopt;
  return server_->local_endpoint();
}

// `mediadesk keys rotate` registers a new key id, waits 2 × keys.refresh_s + 1 seconds, then
// re-seals what is under older ids: every running process must seal under the new id by then.
// A database that is down only delays this; a newer id this master key cannot open is logged
// and never used (values sealed under it could never be opened again).
void service_host::start_key_refresh() {
  key_refresh_thread_ = std::thread([this] {
    const auto interval = std::chrono::seconds(config_.keys.refresh_s);
    // Its own connection with short timeouts: the pool is sized for the handlers and workers,
    // and shutdown() joins this thread, so no call here may take long.
    const store::pg_options options{config_.database.url, std::chrono::seconds(2), std::chrono::milliseconds(1000)};
    std::unique_ptr<store::pg_connection> connection;
    std::string last_problem;  // logged once, not every interval
    while (!key_refresh_stop_.wait_for(interval)) {
      try {
        if (!connection || connection->broken()) connection = std::make_unique<store::pg_connection>(options);
        if (auto key_id = store::adopt_newest_key_id(*connection, *keys_))
          spdlog::info("sealing under key id {}", *key_id);
        last_problem.clear();
      } catch (const unavailable_error& e) {
        if (last_problem != e.what()) spdlog::warn("cannot look for a newer key id now: {}", e.what());
        last_problem = e.what();
      } catch (const std::exception& e) {
        if (last_problem != e.what()) spdlog::error("{}", e.what());
        last_problem = e.what();
      }
    }
  });
}

void service_host::stop_key_refresh() {
  key_refresh_stop_.request();
  if (key_refresh_thread_.joinable()) key_refresh_thread_.join();
}

void service_host::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  stop_key_refresh();  // first: at most one short query in flight
  if (server_) server_->begin_shutdown();
  if (smtp_) smtp_->begin_shutdown();  // SMTP sessions finish their current transaction
  auto open = [this] {
    return (server_ ? server_->open_connections() : 0) + (smtp_ ? smtp_->open_connections() : 0);
  };
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.http.shutdown_grace_ms);
  while (open() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (events_) events_->stop();      // its streams have ended; at most one poll or connection attempt
  if (smtp_) smtp_->close_all();     // grace over: 421 to whoever is left
  if (appender_) appender_->stop();  // answers anything still waiting (SMTP: 451, never a lost 250)
  if (smtp_) {
    auto goodbye = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (smtp_->open_connections() > 0 && std::chrono::steady_clock::now() < goodbye)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  io_work_.reset();
  io_.stop();
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
  if (blocking_) blocking_->join();
  stop_workers_ = true;
  for (auto& t : worker_threads_) t.join();
  worker_threads_.clear();
}

void service_host::reload() {
  if (auto problem = taxonomy_->reload()) spdlog::error("taxonomy not reloaded, keeping the previous one: {}", *problem);
  else spdlog::info("taxonomy reloaded");
}

void block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

int wait_for_termination_signal(const std::function<void()>& on_hangup) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  for (;;) {
    int signal = 0;
    sigwait(&set, &signal);
    if (signal != SIGHUP) return signal;
    if (on_hangup) on_hangup();
  }
}

}  // namespace md::server
