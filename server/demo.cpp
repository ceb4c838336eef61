// The demo role (see demo.hpp): starts what is missing (PostgreSQL, Redis), migrates, makes the
// admin, writes DIR/demo.env, seeds a few requests through the real intake path, and runs the
// server and a worker until SIGINT or SIGTERM; then stops everything it started.
#include "server/demo.hpp"

#include <errno.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include "core/embedded_file.hpp"
#include "core/time.hpp"
#include "crypto/primitives.hpp"
#include "intake/intake_record.hpp"
#include "mail/smtp_session.hpp"
#include "server/registry_import_command.hpp"
#include "server/embedded_services.hpp"
#include "server/logging.hpp"
#include "server/service_host.hpp"
#include "store/migrations.hpp"
#include "store/user_store.hpp"

std::span<const md::embedded_file> embedded_demo_registry();

namespace md::server {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view admin_email = "admin@example.org";

// Realistic requests with invented journalists, spread over the next days.
std::vector<std::string> demo_requests(time_point now) {
  using namespace std::chrono;
  struct seed {
    const char *name, *email, *phone, *outlet, *subject, *body;
    minutes deadline_in;
  };
  const seed seeds[] = {
      {"Sam Example", "sam.example@itv.example", "+44 7700 900001", "ITV News Central",
       "Refugee doctor in Birmingham for tonight",
       "Hi, we are looking for a refugee doctor working in the NHS in Birmingham to speak on camera about "
       "re-qualifying. Need a name by 2pm for the 6pm programme.",
       minutes(150)},
      {"Alex Placeholder", "alex.placeholder@bbc.example", "", "BBC Radio Kent",
       "Channel crossings: voice from Dover",
       "Could someone with lived experience of crossing the Channel talk to us (voice only, can be anonymous) "
       "for tomorrow's breakfast show?",
       minutes(20 * 60)},
      {"Jo Sample", "jo.sample@guardian.example", "+44 7700 900003", "The Guardian",
       "Asylum hotels feature",
       "I'm writing a feature on people housed in asylum hotels in the North East. Looking for two or three "
       "people who would speak on the record, and a partner organisation for comment.",
       minutes(3 * 24 * 60)},
      {"Chris Test", "chris.test@nottinghampost.example", "", "Nottingham Post",
       "EU Settlement Scheme deadline stories",
       "Looking for EU citizens in Nottingham who had problems with the EU Settlement Scheme.", minutes(0)},
  };
  std::vector<std::string> out;
  for (auto& s : seeds) {
    boost::json::object journalist{{"name", s.name}, {"email", s.email}};
    if (*s.phone) journalist["phone"] = s.phone;
    boost::json::object doc{{"journalist", journalist}, {"outlet", s.outlet}, {"subject", s.subject},
                            {"body", s.body}};
    if (s.deadline_in.count() > 0) doc["deadline"] = format_iso8601(now + s.deadline_in);
    out.push_back(boost::json::serialize(doc));
  }
  return out;
}

// The fictional partners and spokespeople (config/demo/*.csv, built in), into an empty registry:
// varied consents (expired, withdrawn, anonymous-only, not yet started) to try matching on.
void seed_demo_registry(const settings& config, const crypto::keyring& keys) {
  store::pg_connection c({config.database.url, std::chrono::seconds(config.database.connect_timeout_s),
                          std::chrono::milliseconds(60'000)});
  if (c.exec("SELECT 1 FROM partners LIMIT 1").rows() > 0) return;
  auto taxonomy = load_taxonomy(config.triage.taxonomy_dir);
  auto file = [](std::string_view name) {
    for (auto& f : embedded_demo_registry())
      if (f.name == name) return f.content;
    throw std::runtime_error(fmt::format("demo registry file {} is not built in", name));
  };
  for (auto [kind, name] : {std::pair{import_kind::partners, "partners.csv"},
                            std::pair{import_kind::spokespeople, "spokespeople.csv"}}) {
    auto done = import_registry_text(c, keys, *taxonomy, kind, file(name), name, "import:demo", std::cerr);
    if (!done) throw std::runtime_error(fmt::format("the demo's {} does not import (see above)", name));
    spdlog::info("demo registry: {} rows from {}", done->created, name);
  }
}

void seed_demo_requests(service_host& host, const fs::path& marker) {
  if (fs::exists(marker)) return;
  auto requests = demo_requests(now());
  std::vector<std::future<queue::append_outcome>> pending;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto promise = std::make_shared<std::promise<queue::append_outcome>>();
    pending.push_back(promise->get_future());
    auto record = intake::make_intake_record(host.keys(), intake::intake_source::webhook, requests[i],
                                             to_unix_ms(now()));
    // Idempotency keys make a re-run after a crash mid-seed harmless.
    host.appender().submit({std::move(record), fmt::format("demo-seed-{}", i + 1)},
                           [promise](queue::append_outcome o) { promise->set_value(std::move(o)); });
  }
  for (auto& f : pending)
    if (f.get().result == queue::append_outcome::status::unavailable)
      throw std::runtime_error("could not queue the demo requests: Redis is unavailable");
  std::ofstream{marker} << "seeded\n";
}

}  // namespace

int run_demo(const demo_options& options) {
  auto home = fs::absolute(options.home);
  fs::create_directories(home);
  // One demo per folder at a time. A demo just killed releases the lock only once the kernel has
  // torn the process down, a moment after `kill -9` returns: so wait briefly before calling
  // the folder busy, or `kill -9 $pid; mediadesk demo` would fail at random.
  int lock_fd = ::open((home / "demo.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  bool locked = false;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3); lock_fd >= 0;) {
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) == 0) {
      locked = true;
      break;
    }
    if (errno != EWOULDBLOCK || std::chrono::steady_clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!locked) {
    std::cerr << "another mediadesk demo is already running on " << home.string() << "\n";
    return 75;
  }
  auto env = process_environment();
  auto loaded = load_settings(options.config_file, env);
  if (!loaded.errors.empty()) {
    for (auto& e : loaded.errors) std::cerr << "configuration: " << e.setting << ": " << e.message << "\n";
    return 78;
  }
  settings config = loaded.value;
  resolve_secret_files(config);
  setup_logging(config.log);
  config.http.port = options.http_port;
  // --smtp-port 0 picks a free port, as --http-port 0 does (a demo has no use for "off").
  config.smtp.port = options.smtp_port != 0 ? options.smtp_port : free_loopback_port();
  if (config.smtp.domains.empty()) config.smtp.domains = "desk.example";
  if (config.mail.transport == "maildir" && config.mail.maildir.empty()) config.mail.maildir = (home / "outbox").string();

  if (config.keys.master_key.empty())
    config.keys.master_key = read_or_create_secret_file(home / "master.key", crypto::keyring::generate_master_key_text()).first;
  if (config.webhook.secret.empty()) {
    auto [secret, created] = read_or_create_secret_file(home / "webhook.secret", crypto::random_token(32));
    config.webhook.secret = secret;
    if (created) {
      std::cout << "Webhook secret (generated; shown once, kept in " << (home / "webhook.secret").string()
                << "): " << secret << "\n";
    }
  }

  std::optional<embedded_postgres> postgres;
  std::optional<embedded_redis> redis;
  if (!env.contains("MEDIADESK_DATABASE_URL")) {
    postgres.emplace(home / "postgres");
    postgres->start();
    config.database.url = postgres->url();
    spdlog::info("started PostgreSQL on 127.0.0.1:{} (data in {})", postgres->port(), (home / "postgres").string());
  }
  if (!env.contains("MEDIADESK_REDIS_URL")) {
    redis.emplace(home / "redis");
    redis->start();
    config.redis.url = redis->url();
    spdlog::info("started Redis on 127.0.0.1:{} (AOF in {})", redis->port(), (home / "redis").string());
  }

  auto keys = load_keyring(config);
  {
    store::pg_connection c({config.database.url, std::chrono::seconds(config.database.connect_timeout_s),
                            std::chrono::milliseconds(60'000)});
    store::migrate(c);
    auto password_env = env.find("MEDIADESK_ADMIN_PASSWORD");
    if (password_env != env.end() && !password_env->second.empty()) {
      store::upsert_user(c, *keys, admin_email, crypto::hash_password(password_env->second), "admin");
    } else if (!store::find_user_by_email(c, *keys, admin_email)) {
      auto password = crypto::random_token(12);
      store::upsert_user(c, *keys, admin_email, crypto::hash_password(password), "admin");
      std::cout << "Admin password for " << admin_email << " (generated; shown once): " << password << "\n";
    }
  }

  seed_demo_registry(config, *keys);
  // On its own Redis the demo is the only worker, and the lock above proves the previous run
  // gone: fixed consumer names let a run after a crash finish the entries the dead one had
  // been delivered at once, instead of after worker.reclaim_idle_ms (60 s by default).
  service_host host(config, {.serve = true, .worker = true, .consumer_prefix = redis ? "demo" : ""});
  host.start();
  auto endpoint = *host.http_endpoint();
  auto http_url = fmt::format("http://127.0.0.1:{}", endpoint.port());
  {
    // Written aside and renamed into place: a reader polling for the file (a script, the demo
    // test) never sees it half written, e.g. without its HTTP URL.
    auto env_file = home / "demo.env";
    auto partial = home / "demo.env.partial";
    std::ofstream out(partial, std::ios::trunc);
    out << "MEDIADESK_DATABASE_URL=" << config.database.url << "\n"
        << "MEDIADESK_REDIS_URL=" << config.redis.url << "\n"
        << "MEDIADESK_HTTP_URL=" << http_url << "\n";
    if (fs::exists(home / "master.key")) out << "MEDIADESK_MASTER_KEY_FILE=" << (home / "master.key").string() << "\n";
    if (fs::exists(home / "webhook.secret"))
      out << "MEDIADESK_WEBHOOK_SECRET_FILE=" << (home / "webhook.secret").string() << "\n";
    out.close();
    fs::permissions(partial, fs::perms::owner_read | fs::perms::owner_write);
    fs::rename(partial, env_file);
  }
  seed_demo_requests(host, home / "seeded");
  std::string smtp_line = "not listening (see the log)";
  if (auto smtp = host.smtp_endpoint()) {
    auto addresses = mail::parse_address_list(config.smtp.addresses);
    auto domains = mail::parse_address_list(config.smtp.domains);
    auto example = !addresses.empty() ? addresses.front() : "requests@" + (domains.empty() ? "desk.example" : domains.front());
    smtp_line = fmt::format("{}:{} (mail to {})", config.smtp.address, smtp->port(), example);
  }
  std::cout << "MediaDesk demo is running.\n"
            << "  Dashboard: " << http_url << "/  (log in as " << admin_email << ")\n"
            << "  Webhook:   POST " << http_url << "/api/v1/requests\n"
            << "  SMTP:      " << smtp_line << "\n"
            << "  Settings:  " << (home / "demo.env").string() << "\n";
  if (config.mail.transport == "maildir")
    std::cout << "  Outbox: " << (fs::path(config.mail.maildir) / "new").string() << " (one file per message sent)\n";
  std::cout << "Press Ctrl-C to stop." << std::endl;

  int signal = wait_for_termination_signal([&host] { host.reload(); });
  spdlog::info("signal {} received: stopping", signal);
  host.shutdown();
  if (redis) redis->stop();
  if (postgres) postgres->stop();
  spdlog::info("demo stopped");
  return 0;
}

}  // namespace md::server
