// mediadesk: the composition root. Parses the command line (CLI11), loads the one typed config,
// and runs one role. main only wires; the roles live in their own files.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>
#include <filesystem>
#include <iostream>
#include <iterator>

#include "config/settings.hpp"
#include "core/errors.hpp"
#include "crypto/primitives.hpp"
#include "intake/intake_record.hpp"
#include "mail/message.hpp"
#include "queue/append.hpp"
#include "server/demo.hpp"
#include "server/logging.hpp"
#include "server/match_command.hpp"
#include "server/registry_import_command.hpp"
#include "server/service_host.hpp"
#include "server/triage_service.hpp"
#include "store/key_rotation.hpp"
#include "store/migrations.hpp"
#include "store/user_store.hpp"

namespace {

namespace fs = std::filesystem;
using namespace md;

constexpr int exit_temporary_failure = 75;  // EX_TEMPFAIL
constexpr int exit_config_error = 78;       // EX_CONFIG
constexpr int exit_usage = 64;              // EX_USAGE
constexpr int exit_data_error = 65;         // EX_DATAERR
constexpr std::size_t triage_input_limit = 25 << 20;

// Reads all of stdin, up to limit bytes; nullopt when there is more.
std::optional<std::string> read_stdin(std::size_t limit) {
  std::string input;
  char buffer[64 * 1024];
  while (std::cin.read(buffer, sizeof buffer) || std::cin.gcount() > 0) {
    input.append(buffer, static_cast<std::size_t>(std::cin.gcount()));
    if (input.size() > limit) return std::nullopt;
  }
  return input;
}

// `mediadesk triage`: one request (an RFC 5322 message or plain text) on stdin, one JSON object
// out. The reference time is --now, else the message's Date header, else the clock.
int run_triage(const settings& config, const std::string& now_flag) {
  std::optional<time_point> reference;
  if (!now_flag.empty()) {
    reference = parse_iso8601(now_flag);
    if (!reference) {
      std::cerr << "--now: expected an ISO-8601 date-time such as 2026-11-27T09:30:00Z\n";
      return exit_usage;
    }
  }
  auto input = read_stdin(triage_input_limit);
  if (!input) {
    std::cerr << "stdin: the request is larger than 25 MiB\n";
    return exit_data_error;
  }
  auto taxonomy = server::load_taxonomy(config.triage.taxonomy_dir);
  auto request = server::text_of_raw(*input);
  if (!reference) reference = request.date;
  auto result = routing::triage(*taxonomy, request.text.input(), reference.value_or(now()));
  std::cout << boost::json::serialize(routing::triage_json(result)) << "\n";
  return 0;
}

// `mediadesk mailgate`: one message on stdin from an MTA's pipe transport, queued like mail
// received over SMTP. Exit 0 once Redis has it, 75 (the MTA keeps it and retries) when it
// cannot be queued now, for whatever reason, 65 (the MTA bounces it) only for a message that
// can never be accepted: empty, or over smtp.max_message_bytes.
int run_mailgate(const settings& config, const std::string& sender) {
  auto input = read_stdin(static_cast<std::size_t>(config.smtp.max_message_bytes));
  if (!input) {
    std::cerr << "mailgate: 5.3.4 the message is larger than smtp.max_message_bytes\n";
    return exit_data_error;
  }
  if (input->find_first_not_of(" \t\r\n") == std::string::npos) {
    std::cerr << "mailgate: 5.6.0 the message is empty\n";
    return exit_data_error;
  }
  // The pipe transport may pass the envelope sender apart from the message (Postfix without
  // flags=R): keep it as a final delivery would, for auto-reply suppression.
  if (!sender.empty() && !input->starts_with("Return-Path:"))
    input->insert(0, "Return-Path: <" + (sender == "<>" ? std::string{} : sender) + ">\r\n");
  *input = mail::with_crlf_line_ends(*input);
  try {
    auto keys = server::load_keyring(config);
    auto record = intake::make_intake_record(*keys, intake::intake_source::email, *input, to_unix_ms(now()));
    queue::redis_connection redis(queue::parse_redis_url(config.redis.url),
                                  std::chrono::milliseconds(config.redis.timeout_ms));
    queue::append_intake_now(redis, queue::redis_keys{config.redis.key_prefix}, record);
    std::cout << "queued as " << record.id << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "mailgate: 4.3.0 not queued, try again later: " << e.what() << "\n";
    return exit_temporary_failure;
  }
}

// --config, else MEDIADESK_CONFIG, else ./config/mediadesk.toml or /etc/mediadesk/mediadesk.toml
// if present, else defaults and the environment only.
std::optional<fs::path> choose_config_file(const std::string& flag) {
  if (!flag.empty()) return fs::path(flag);
  if (const char* env = std::getenv("MEDIADESK_CONFIG"); env && *env) return fs::path(env);
  for (auto candidate : {"config/mediadesk.toml", "/etc/mediadesk/mediadesk.toml"})
    if (fs::exists(candidate)) return fs::path(candidate);
  return std::nullopt;
}

std::optional<settings> load_config(const std::string& flag) {
  auto file = choose_config_file(flag);
  auto loaded = load_settings(file, process_environment());
  if (!loaded.errors.empty()) {
    for (auto& e : loaded.errors) std::cerr << "configuration: " << e.setting << ": " << e.message << "\n";
    return std::nullopt;
  }
  try {
    resolve_secret_files(loaded.value);
  } catch (const std::exception& e) {
    std::cerr << "configuration: " << e.what() << "\n";
    return std::nullopt;
  }
  server::setup_logging(loaded.value.log);
  if (file) spdlog::info("configuration from {}", file->string());
  return loaded.value;
}

int run_roles(const settings& config, server::service_host::roles roles) {
  server::service_host host(config, roles);
  host.start();
  int signal = server::wait_for_termination_signal([&host] { host.reload(); });
  spdlog::info("signal {} received: finishing in-flight work", signal);
  host.shutdown();
  spdlog::info("stopped");
  return 0;
}

store::pg_connection connect_database(const settings& config) {
  return store::pg_connection({config.database.url, std::chrono::seconds(config.database.connect_timeout_s),
                               std::chrono::milliseconds(10 * 60'000)});
}

}  // namespace

int main(int argc, char** argv) {
  server::block_termination_signals();
  crypto::initialise();

  CLI::App app{"MediaDesk: a rapid-response media request desk"};
  app.require_subcommand(1);
  app.fallthrough();  // `mediadesk demo --config FILE` works as well as `mediadesk --config FILE demo`
  std::string config_flag;
  app.add_option("--config", config_flag, "TOML configuration file (default: $MEDIADESK_CONFIG, "
                                          "./config/mediadesk.toml, /etc/mediadesk/mediadesk.toml)");

  auto* serve = app.add_subcommand("serve", "Run the HTTP server (webhook, API, dashboard)");
  auto* worker = app.add_subcommand("worker", "Run intake workers (Redis stream to PostgreSQL cases)");
  auto* migrate = app.add_subcommand("migrate", "Apply database migrations");

  server::demo_options demo_options;
  std::string demo_home = "var";
  auto* demo = app.add_subcommand("demo", "Run everything on a private PostgreSQL and Redis under --home");
  demo->add_option("--home", demo_home, "folder for data, logs and demo.env")->capture_default_str();
  demo->add_option("--http-port", demo_options.http_port, "HTTP port")->capture_default_str()->check(CLI::Range(0, 65535));
  demo->add_option("--smtp-port", demo_options.smtp_port, "SMTP port for email to the desk (domain desk.example); 0 picks a free one")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));

  auto* user = app.add_subcommand("user", "Manage staff users");
  user->require_subcommand(1);
  std::string user_email, user_role = "staff";
  auto* user_add = user->add_subcommand(
      "add", "Create a user or reset their password (password from MEDIADESK_USER_PASSWORD or stdin)");
  user_add->add_option("--email", user_email, "log-in email")->required();
  user_add->add_option("--role", user_role, "admin, staff or viewer")
      ->capture_default_str()
      ->check(CLI::IsMember({"admin", "staff", "viewer"}));

  auto* keys = app.add_subcommand("keys", "Key management");
  keys->require_subcommand(1);
  auto* keys_generate = keys->add_subcommand("generate", "Print a new random master key (64 hex digits)");
  int rotate_wait_seconds = -1;  // -1: 2 × keys.refresh_s + 1, known once the config is loaded
  auto* keys_rotate = keys->add_subcommand(
      "rotate", "Seal under a new key id from now on and re-seal everything under older ids (services keep running)");
  keys_rotate
      ->add_option("--wait-seconds", rotate_wait_seconds,
                   "time for running serve and worker processes to start sealing under the new id before the sweep "
                   "(default: 2 x keys.refresh_s + 1)")
      ->check(CLI::Range(0, 3600));

  std::string mailgate_sender;
  auto* mailgate = app.add_subcommand(
      "mailgate", "Queue one RFC 5322 message from stdin, for an MTA's pipe transport (exit 0 queued, 75 retry, 65 refused)");
  mailgate->add_option("--sender", mailgate_sender, "envelope sender, kept as Return-Path if the message has none");

  auto* import_cmd = app.add_subcommand("import", "Import the registry from CSV (all or nothing; re-import updates by key)");
  import_cmd->require_subcommand(1);
  std::string import_file;
  auto* import_partners = import_cmd->add_subcommand("partners", "key,name,contact_name,contact_email,regions,topics");
  import_partners->add_option("file", import_file, "CSV file")->required();
  auto* import_spokespeople = import_cmd->add_subcommand(
      "spokespeople",
      "key,partner_key,alias,full_name,email,phone,regions,topics,languages,media,identification,"
      "consent_granted,consent_expires,consent_withdrawn,max_per_month");
  import_spokespeople->add_option("file", import_file, "CSV file")->required();

  std::string triage_now;
  auto* triage = app.add_subcommand("triage", "Triage one request (RFC 5322 message or plain text) from stdin; print JSON");
  triage->add_option("--now", triage_now, "reference time, ISO-8601 (default: the message's Date header, else the clock)");

  server::match_command_flags match_flags;
  auto* match_cmd = app.add_subcommand(
      "match", "Triage one request from stdin and print its matches as JSON (registry from the database, or CSV files)");
  match_cmd->add_option("--now", match_flags.now, "reference time, ISO-8601 (default: the message's Date header, else the clock)");
  match_cmd->add_option("--partners", match_flags.partners_file, "partners CSV (with --spokespeople: no database needed)");
  match_cmd->add_option("--spokespeople", match_flags.spokespeople_file, "spokespeople CSV (with --partners)");

  auto* config_cmd = app.add_subcommand("config", "Check or describe the configuration");
  config_cmd->require_subcommand(1);
  auto* config_check = config_cmd->add_subcommand("check", "Load and validate the configuration");
  auto* config_describe = config_cmd->add_subcommand("describe", "List every setting, its variable and default");

  CLI11_PARSE(app, argc, argv);

  try {
    if (*demo) {
      demo_options.home = demo_home;
      demo_options.config_file = choose_config_file(config_flag);
      return server::run_demo(demo_options);
    }
    if (*keys_generate) {
      std::cout << crypto::keyring::generate_master_key_text() << "\n";
      return 0;
    }
    if (*config_describe) {
      for (auto& d : describe_settings()) std::cout << d.name << "\t" << d.env << "\t" << d.default_text << "\n";
      return 0;
    }
    auto config = load_config(config_flag);
    if (!config) return *mailgate ? exit_temporary_failure : exit_config_error;  // an MTA keeps the message
    if (*mailgate) return run_mailgate(*config, mailgate_sender);
    if (*config_check) {
      server::load_keyring(*config);  // throws naming the setting if the master key is missing or malformed
      server::load_taxonomy(config->triage.taxonomy_dir);  // throws naming the file and line of a problem
      if (config->webhook.secret.empty()) {
        std::cerr << "configuration: webhook.secret is not set (serve needs it)\n";
        return exit_config_error;
      }
      std::cout << "configuration OK\n";
      return 0;
    }
    if (*triage) return run_triage(*config, triage_now);
    if (*match_cmd) return server::run_match(*config, match_flags, std::cin, std::cout, std::cerr);
    if (*keys_rotate) {
      // Register the new id, give running processes time to adopt it (they look every
      // keys.refresh_s), then re-seal what is still under older ids. Output: one line per column.
      auto keyring = server::load_keyring(*config);
      auto c = connect_database(*config);
      auto key_id = store::register_key_id(c, *keyring);
      auto wait = std::chrono::seconds(rotate_wait_seconds >= 0 ? rotate_wait_seconds : 2 * config->keys.refresh_s + 1);
      spdlog::info("key id {} registered; waiting {} s for running processes to seal under it", key_id, wait.count());
      std::this_thread::sleep_for(wait);
      auto summary = store::reseal_stale_values(c, *keyring, key_id);
      for (auto& column : summary.columns) std::cout << fmt::format("{}: {} re-sealed\n", column.name, column.resealed);
      if (summary.unopenable_outbound > 0)
        spdlog::warn("{} outbound message(s) stored before their Message-ID was kept cannot be opened: left as they are",
                     summary.unopenable_outbound);
      std::cout << fmt::format("key id {} is current; {} values re-sealed\n", key_id, summary.total());
      return 0;
    }
    if (*import_cmd) {
      auto kind = *import_partners ? server::import_kind::partners : server::import_kind::spokespeople;
      auto keyring = server::load_keyring(*config);
      auto taxonomy = server::load_taxonomy(config->triage.taxonomy_dir);
      auto c = connect_database(*config);
      auto summary = server::import_registry_file(c, *keyring, *taxonomy, kind, import_file, "import:cli", std::cerr);
      if (!summary) return exit_data_error;
      if (kind == server::import_kind::partners)
        std::cout << fmt::format("partners: {} created, {} updated\n", summary->created, summary->updated);
      else
        std::cout << fmt::format("spokespeople: {} created, {} updated; consents: {} recorded, {} withdrawn\n",
                                 summary->created, summary->updated, summary->consents_recorded,
                                 summary->consents_withdrawn);
      return 0;
    }
    if (*serve) return run_roles(*config, {.serve = true, .worker = false});
    if (*worker) return run_roles(*config, {.serve = false, .worker = true});
    if (*migrate) {
      auto c = connect_database(*config);
      auto applied = store::migrate(c);
      std::cout << (applied.empty() ? "database is up to date" : fmt::format("applied {} migration(s)", applied.size()))
                << "\n";
      return 0;
    }
    if (*user_add) {
      std::string password;
      if (const char* p = std::getenv("MEDIADESK_USER_PASSWORD"); p && *p) password = p;
      else std::getline(std::cin, password);
      if (password.size() < 12) {
        std::cerr << "password: use at least 12 characters\n";
        return 65;
      }
      auto keyring = server::load_keyring(*config);
      auto c = connect_database(*config);
      store::upsert_user(c, *keyring, user_email, crypto::hash_password(password), user_role);
      std::cout << "user saved with role " << user_role << "\n";
      return 0;
    }
  } catch (const unavailable_error& e) {
    spdlog::error("{}", e.what());
    return exit_temporary_failure;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
