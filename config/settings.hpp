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
  std::string base_url;  // public URL for links in mail; empty: http://address:port
  std::string web_root;  // development: serve web/ from this folder instead of the binary
  bool benchmark_route = false;  // POST /bench/trivial: the baseline for bench/webhook.sh
};

struct smtp_settings {
  std::string address = "127.0.0.1";
  std::int64_t port = 2525;  // 0: no SMTP listener
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
};

struct session_settings {
  std::int64_t idle_timeout_minutes = 30;
  std::int64_t absolute_timeout_hours = 12;
  std::int64_t login_attempts_per_15_minutes = 10;
  bool secure_cookie = false;  // set true behind TLS
};

struct log_settings {
  std::string level = "info";
  bool json = false;
};

struct settings {
  http_settings http;
  smtp_settings smtp;
  database_settings database;
  redis_settings redis;
  worker_settings worker;
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
