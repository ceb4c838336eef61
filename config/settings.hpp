// The one typed configuration: every setting's name, environment variable, default and limits
// are defined once in settings.cpp. Loaded from TOML (unknown keys are errors), then MEDIADESK_*
// environment variables, then validated. Holds secrets once loaded: never log a settings value.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace md {

struct http_settings {
  std::string address = "127.0.0.1";
  std::int64_t port = 8080;
  std::int64_t threads = 2;
  std::int64_t body_limit_bytes = 256 * 1024;  // the webhook contract's 413 limit
  std::int64_t header_limit_bytes = 16 * 1024;
  std::int64_t header_timeout_ms = 10'000;
  std::int64_t body_timeout_ms = 30'000;
  std::int64_t idle_timeout_ms = 60'000;
  std::int64_t max_connections = 4096;
  std::int64_t shutdown_grace_ms = 5'000;
  // The dashboard's live feed (GET /api/v1/events): a stream ends after this long, and the
  // browser reconnects, so that the session is checked again; beyond the cap, 503.
  std::int64_t event_stream_max_s = 600;
  std::int64_t max_event_streams = 1'000;
  std::string base_url;  // public URL for links in mail; empty: http://address:port
  std::string web_root;  // development: serve web/ from this folder instead of the binary
  bool benchmark_route = false;  // POST /bench/trivial: the baseline for bench/webhook.sh
};

// Email intake: the SMTP listener and the LMTP listener an MTA in front delivers to.
struct smtp_settings {
  std::string address = "127.0.0.1";
  std::int64_t port = 2525;          // 0: no SMTP listener
  std::string lmtp_address = "127.0.0.1";
  std::int64_t lmtp_port = 0;        // 0: no LMTP TCP listener
  std::string lmtp_socket;           // a unix socket path for LMTP; empty: none
  std::string hostname = "localhost";  // in the greeting and EHLO reply
  // The desk's addresses: mail to any of these domains, or to these exact addresses, is
  // accepted; every other recipient gets 550 5.1.1 (never an open relay). Comma-separated.
  std::string domains;
  std::string addresses;
  std::int64_t max_message_bytes = 25 << 20;  // 552 5.3.4 beyond
  std::int64_t max_recipients = 50;
  std::int64_t max_line_bytes = 4096;         // a command or DATA line longer than this is refused
  std::int64_t max_commands = 500;            // per connection
  std::int64_t max_errors = 10;               // bad commands before the connection is closed
  std::int64_t command_timeout_ms = 120'000;  // idle between commands
  std::int64_t data_timeout_ms = 300'000;     // for the whole DATA transfer
  std::int64_t max_connections = 256;
  // Messages accepted per hour (0: no limit) from one client address (SMTP, not LMTP: behind a
  // local MTA every message comes from it) and from one envelope sender (both); beyond, 450 4.7.1.
  std::int64_t messages_per_ip_per_hour = 60;
  std::int64_t messages_per_sender_per_hour = 20;
};

// Outbound mail (acknowledgements, offers, staff replies) through the outbox stream.
struct mail_settings {
  std::string transport = "maildir";  // maildir | smtp
  std::string maildir;                // transport maildir: the folder (new/ holds one file per message)
  std::string smtp_url;               // transport smtp: smtp://relay:587 or smtps://relay:465
  std::string smtp_username;
  std::string smtp_password;          // prefer smtp_password_file or MEDIADESK_MAIL_SMTP_PASSWORD
  std::string smtp_password_file;
  bool starttls = true;               // require STARTTLS on smtp:// relays
  std::string from_address = "requests@desk.example";
  std::string from_name = "MediaDesk";
  std::int64_t max_attempts = 8;      // then the message goes to the outbox dead letters
  std::int64_t retry_base_ms = 2'000; // doubled per attempt
  std::int64_t timeout_ms = 30'000;   // per delivery attempt
  std::int64_t acknowledgements_per_address_per_hour = 5;
};

// The public request form and the email providers' inbound webhooks.
struct inbound_settings {
  std::int64_t form_submissions_per_ip_per_hour = 20;
  // Webhook calls with a bad or stale signature per client address and hour; beyond, 429 (0: no
  // limit). Only failures are counted, so a partner's good calls never wait on Redis for it.
  std::int64_t webhook_bad_signatures_per_ip_per_hour = 30;
  // Requests per journalist's address and hour, counted under the address's blind index; beyond,
  // 429 and nothing queued (0: no limit). One flood of requests in one name, whichever door.
  std::int64_t form_submissions_per_sender_per_hour = 10;
  std::int64_t webhook_requests_per_sender_per_hour = 30;
  std::string postmark_token;        // the password in the Postmark webhook URL's basic auth
  std::string mailgun_signing_key;   // Mailgun's HTTP webhook signing key
  std::string mailgun_signing_key_file;
};

struct database_settings {
  std::string url = "postgresql:///mediadesk";
  std::int64_t pool_size = 4;
  std::int64_t connect_timeout_s = 5;
  std::int64_t statement_timeout_ms = 5'000;
};

struct redis_settings {
  std::string url = "redis://127.0.0.1:6379/0";
  std::int64_t timeout_ms = 2'000;
  std::string key_prefix = "md:";
};

struct worker_settings {
  std::int64_t threads = 1;
  std::int64_t batch_size = 100;
  std::int64_t block_ms = 1'000;
  std::int64_t reclaim_idle_ms = 60'000;
  std::int64_t max_deliveries = 5;
  std::int64_t escalation_interval_ms = 30'000;  // how often deadlines are checked for escalation
  std::int64_t housekeeping_interval_s = 600;    // retention purges, consent reminders, old sessions
};

// How long personal data is kept, per data class (days; 0 keeps it). The worker purges what is
// older on every housekeeping round and records each purge.
struct retention_settings {
  std::int64_t closed_case_days = 180;         // a closed case's request and messages, from closing
  std::int64_t journalist_contact_days = 730;  // anything naming a journalist, from the request, even on an open case
  std::int64_t consent_evidence_days = 1095;   // a consent's evidence note, from its withdrawal or expiry
};

// Consents coming to an end: staff are reminded this many days before (0: no reminders), by
// email to staff_address when it is set, and on the dashboard.
// Offers to partners: how long the link is valid, and when the journalist's contact details go
// to a partner who accepts.
struct offers_settings {
  std::int64_t default_expiry_minutes = 240;  // without a deadline, or when it is further away
  std::int64_t deadline_margin_minutes = 30;  // a link expires this long before the journalist's deadline
  std::string release_contact = "on_accept";  // on_accept | after_approval (staff release it)
};

struct consent_settings {
  std::int64_t reminder_days = 14;
  std::string staff_address;
};

// Aftercare: every engagement of a spokesperson creates a check-in task, due this many working
// days (Monday to Friday, London) after it, at due_hour London time.
struct aftercare_settings {
  std::int64_t due_working_days = 1;
  std::int64_t due_hour = 17;
};

struct triage_settings {
  std::string taxonomy_dir;  // topics, regions, outlets...: empty = the copies built into the binary
};

struct webhook_settings {
  std::string secret;       // prefer secret_file or MEDIADESK_WEBHOOK_SECRET
  std::string secret_file;
  std::int64_t replay_window_s = 300;
  std::int64_t idempotency_ttl_s = 86'400;
};

struct keys_settings {
  std::string master_key;  // prefer master_key_file or MEDIADESK_MASTER_KEY
  std::string master_key_file;
  std::int64_t current_key_id = 1;
  // How often serve and worker look for a newer key id in key_checks (`mediadesk keys rotate`).
  std::int64_t refresh_s = 5;
};

struct session_settings {
  std::int64_t idle_timeout_minutes = 30;
  std::int64_t absolute_timeout_hours = 12;
  std::int64_t login_attempts_per_15_minutes = 10;       // failures per client address
  std::int64_t login_attempts_per_account_per_15_minutes = 20;  // failures per account, from any address
  bool secure_cookie = false;  // set true behind TLS
};

struct log_settings {
  std::string level = "info";
  bool json = false;
};

struct settings {
  http_settings http;
  smtp_settings smtp;
  mail_settings mail;
  inbound_settings inbound;
  database_settings database;
  redis_settings redis;
  worker_settings worker;
  retention_settings retention;
  consent_settings consent;
  offers_settings offers;
  aftercare_settings aftercare;
  triage_settings triage;
  webhook_settings webhook;
  keys_settings keys;
  session_settings session;
  log_settings log;

  std::string public_base_url() const;
};

struct config_error {
  std::string setting;  // e.g. "http.port" or the TOML key path that was not understood
  std::string message;
};

// Reads the file (if given), then the environment (env: name -> value, normally the process
// environment), then validates. Returns every problem found, not just the first.
struct load_result {
  settings value;
  std::vector<config_error> errors;
};
load_result load_settings(const std::optional<std::filesystem::path>& file,
                          const std::map<std::string, std::string>& env);
std::map<std::string, std::string> process_environment();

// Reads secret-bearing settings from their *_file forms; throws std::runtime_error naming the
// setting (never the value) if a file cannot be read.
void resolve_secret_files(settings& s);

// Every setting with its environment variable and default, for `mediadesk config` and docs.
struct setting_description {
  std::string name, env, default_text;
};
std::vector<setting_description> describe_settings();

}  // namespace md
