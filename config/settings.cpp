// Setting table, TOML and environment loading, validation (see settings.hpp).
#include "config/settings.hpp"

#include <fmt/format.h>

#include <charconv>
#include <fstream>
#include <functional>
#include <sstream>
#include <toml++/toml.h>
#include <variant>

extern char** environ;

namespace md {
namespace {

using value_ref = std::variant<std::string*, std::int64_t*, bool*>;

struct setting_entry {
  std::string_view name;  // "section.key" as written in the TOML file
  std::string_view env;   // MEDIADESK_* variable that overrides it
  value_ref target;
  std::int64_t min = 0, max = 0;  // for integers
};

// The one place that names every setting. Ranges are what makes sense, not what merely parses.
std::vector<setting_entry> setting_table(settings& s) {
  return {
      {"http.address", "MEDIADESK_HTTP_ADDRESS", &s.http.address},
      {"http.port", "MEDIADESK_HTTP_PORT", &s.http.port, 0, 65535},
      {"http.threads", "MEDIADESK_HTTP_THREADS", &s.http.threads, 1, 64},
      {"http.body_limit_bytes", "MEDIADESK_HTTP_BODY_LIMIT_BYTES", &s.http.body_limit_bytes, 1024, 64 << 20},
      {"http.header_limit_bytes", "MEDIADESK_HTTP_HEADER_LIMIT_BYTES", &s.http.header_limit_bytes, 1024, 1 << 20},
      {"http.header_timeout_ms", "MEDIADESK_HTTP_HEADER_TIMEOUT_MS", &s.http.header_timeout_ms, 100, 600'000},
      {"http.body_timeout_ms", "MEDIADESK_HTTP_BODY_TIMEOUT_MS", &s.http.body_timeout_ms, 100, 600'000},
      {"http.idle_timeout_ms", "MEDIADESK_HTTP_IDLE_TIMEOUT_MS", &s.http.idle_timeout_ms, 100, 3'600'000},
      {"http.max_connections", "MEDIADESK_HTTP_MAX_CONNECTIONS", &s.http.max_connections, 1, 1'000'000},
      {"http.shutdown_grace_ms", "MEDIADESK_HTTP_SHUTDOWN_GRACE_MS", &s.http.shutdown_grace_ms, 0, 60'000},
      {"http.event_stream_max_s", "MEDIADESK_HTTP_EVENT_STREAM_MAX_S", &s.http.event_stream_max_s, 1, 86'400},
      {"http.max_event_streams", "MEDIADESK_HTTP_MAX_EVENT_STREAMS", &s.http.max_event_streams, 1, 1'000'000},
      {"http.base_url", "MEDIADESK_HTTP_BASE_URL", &s.http.base_url},
      {"http.web_root", "MEDIADESK_HTTP_WEB_ROOT", &s.http.web_root},
      {"http.benchmark_route", "MEDIADESK_HTTP_BENCHMARK_ROUTE", &s.http.benchmark_route},
      {"smtp.address", "MEDIADESK_SMTP_ADDRESS", &s.smtp.address},
      {"smtp.port", "MEDIADESK_SMTP_PORT", &s.smtp.port, 0, 65535},
      {"smtp.lmtp_address", "MEDIADESK_SMTP_LMTP_ADDRESS", &s.smtp.lmtp_address},
      {"smtp.lmtp_port", "MEDIADESK_SMTP_LMTP_PORT", &s.smtp.lmtp_port, 0, 65535},
      {"smtp.lmtp_socket", "MEDIADESK_SMTP_LMTP_SOCKET", &s.smtp.lmtp_socket},
      {"smtp.hostname", "MEDIADESK_SMTP_HOSTNAME", &s.smtp.hostname},
      {"smtp.domains", "MEDIADESK_SMTP_DOMAINS", &s.smtp.domains},
      {"smtp.addresses", "MEDIADESK_SMTP_ADDRESSES", &s.smtp.addresses},
      {"smtp.max_message_bytes", "MEDIADESK_SMTP_MAX_MESSAGE_BYTES", &s.smtp.max_message_bytes, 1024, 256 << 20},
      {"smtp.max_recipients", "MEDIADESK_SMTP_MAX_RECIPIENTS", &s.smtp.max_recipients, 1, 1000},
      {"smtp.max_line_bytes", "MEDIADESK_SMTP_MAX_LINE_BYTES", &s.smtp.max_line_bytes, 512, 1 << 20},
      {"smtp.max_commands", "MEDIADESK_SMTP_MAX_COMMANDS", &s.smtp.max_commands, 10, 1'000'000},
      {"smtp.max_errors", "MEDIADESK_SMTP_MAX_ERRORS", &s.smtp.max_errors, 1, 1000},
      {"smtp.command_timeout_ms", "MEDIADESK_SMTP_COMMAND_TIMEOUT_MS", &s.smtp.command_timeout_ms, 100, 3'600'000},
      {"smtp.data_timeout_ms", "MEDIADESK_SMTP_DATA_TIMEOUT_MS", &s.smtp.data_timeout_ms, 100, 3'600'000},
      {"smtp.max_connections", "MEDIADESK_SMTP_MAX_CONNECTIONS", &s.smtp.max_connections, 1, 100'000},
      {"smtp.messages_per_ip_per_hour", "MEDIADESK_SMTP_MESSAGES_PER_IP_PER_HOUR", &s.smtp.messages_per_ip_per_hour, 0,
       1'000'000},
      {"smtp.messages_per_sender_per_hour", "MEDIADESK_SMTP_MESSAGES_PER_SENDER_PER_HOUR",
       &s.smtp.messages_per_sender_per_hour, 0, 1'000'000},
      {"mail.transport", "MEDIADESK_MAIL_TRANSPORT", &s.mail.transport},
      {"mail.maildir", "MEDIADESK_MAIL_MAILDIR", &s.mail.maildir},
      {"mail.smtp_url", "MEDIADESK_MAIL_SMTP_URL", &s.mail.smtp_url},
      {"mail.smtp_username", "MEDIADESK_MAIL_SMTP_USERNAME", &s.mail.smtp_username},
      {"mail.smtp_password", "MEDIADESK_MAIL_SMTP_PASSWORD", &s.mail.smtp_password},
      {"mail.smtp_password_file", "MEDIADESK_MAIL_SMTP_PASSWORD_FILE", &s.mail.smtp_password_file},
      {"mail.starttls", "MEDIADESK_MAIL_STARTTLS", &s.mail.starttls},
      {"mail.from_address", "MEDIADESK_MAIL_FROM_ADDRESS", &s.mail.from_address},
      {"mail.from_name", "MEDIADESK_MAIL_FROM_NAME", &s.mail.from_name},
      {"mail.max_attempts", "MEDIADESK_MAIL_MAX_ATTEMPTS", &s.mail.max_attempts, 1, 100},
      {"mail.retry_base_ms", "MEDIADESK_MAIL_RETRY_BASE_MS", &s.mail.retry_base_ms, 10, 3'600'000},
      {"mail.timeout_ms", "MEDIADESK_MAIL_TIMEOUT_MS", &s.mail.timeout_ms, 100, 600'000},
      {"mail.acknowledgements_per_address_per_hour", "MEDIADESK_MAIL_ACKNOWLEDGEMENTS_PER_ADDRESS_PER_HOUR",
       &s.mail.acknowledgements_per_address_per_hour, 0, 1000},
      {"inbound.form_submissions_per_ip_per_hour", "MEDIADESK_INBOUND_FORM_SUBMISSIONS_PER_IP_PER_HOUR",
       &s.inbound.form_submissions_per_ip_per_hour, 1, 100'000},
      {"inbound.webhook_bad_signatures_per_ip_per_hour", "MEDIADESK_INBOUND_WEBHOOK_BAD_SIGNATURES_PER_IP_PER_HOUR",
       &s.inbound.webhook_bad_signatures_per_ip_per_hour, 0, 1'000'000},
      {"inbound.form_submissions_per_sender_per_hour", "MEDIADESK_INBOUND_FORM_SUBMISSIONS_PER_SENDER_PER_HOUR",
       &s.inbound.form_submissions_per_sender_per_hour, 0, 100'000},
      {"inbound.webhook_requests_per_sender_per_hour", "MEDIADESK_INBOUND_WEBHOOK_REQUESTS_PER_SENDER_PER_HOUR",
       &s.inbound.webhook_requests_per_sender_per_hour, 0, 1'000'000},
      {"inbound.postmark_token", "MEDIADESK_INBOUND_POSTMARK_TOKEN", &s.inbound.postmark_token},
      {"inbound.mailgun_signing_key", "MEDIADESK_INBOUND_MAILGUN_SIGNING_KEY", &s.inbound.mailgun_signing_key},
      {"inbound.mailgun_signing_key_file", "MEDIADESK_INBOUND_MAILGUN_SIGNING_KEY_FILE",
       &s.inbound.mailgun_signing_key_file},
      {"database.url", "MEDIADESK_DATABASE_URL", &s.database.url},
      {"database.pool_size", "MEDIADESK_DATABASE_POOL_SIZE", &s.database.pool_size, 1, 256},
      {"database.connect_timeout_s", "MEDIADESK_DATABASE_CONNECT_TIMEOUT_S", &s.database.connect_timeout_s, 1, 300},
      {"database.statement_timeout_ms", "MEDIADESK_DATABASE_STATEMENT_TIMEOUT_MS", &s.database.statement_timeout_ms,
       100, 3'600'000},
      {"redis.url", "MEDIADESK_REDIS_URL", &s.redis.url},
      {"redis.timeout_ms", "MEDIADESK_REDIS_TIMEOUT_MS", &s.redis.timeout_ms, 50, 60'000},
      {"redis.key_prefix", "MEDIADESK_REDIS_KEY_PREFIX", &s.redis.key_prefix},
      {"worker.threads", "MEDIADESK_WORKER_THREADS", &s.worker.threads, 1, 64},
      {"worker.batch_size", "MEDIADESK_WORKER_BATCH_SIZE", &s.worker.batch_size, 1, 10'000},
      {"worker.block_ms", "MEDIADESK_WORKER_BLOCK_MS", &s.worker.block_ms, 10, 60'000},
      {"worker.reclaim_idle_ms", "MEDIADESK_WORKER_RECLAIM_IDLE_MS", &s.worker.reclaim_idle_ms, 100, 86'400'000},
      {"worker.max_deliveries", "MEDIADESK_WORKER_MAX_DELIVERIES", &s.worker.max_deliveries, 1, 1000},
      {"worker.escalation_interval_ms", "MEDIADESK_WORKER_ESCALATION_INTERVAL_MS", &s.worker.escalation_interval_ms, 100,
       3'600'000},
      {"worker.housekeeping_interval_s", "MEDIADESK_WORKER_HOUSEKEEPING_INTERVAL_S", &s.worker.housekeeping_interval_s,
       1, 86'400},
      {"retention.closed_case_days", "MEDIADESK_RETENTION_CLOSED_CASE_DAYS", &s.retention.closed_case_days, 0,
       36'500},
      {"retention.journalist_contact_days", "MEDIADESK_RETENTION_JOURNALIST_CONTACT_DAYS",
       &s.retention.journalist_contact_days, 0, 36'500},
      {"retention.consent_evidence_days", "MEDIADESK_RETENTION_CONSENT_EVIDENCE_DAYS",
       &s.retention.consent_evidence_days, 0, 36'500},
      {"consent.reminder_days", "MEDIADESK_CONSENT_REMINDER_DAYS", &s.consent.reminder_days, 0, 365},
      {"consent.staff_address", "MEDIADESK_CONSENT_STAFF_ADDRESS", &s.consent.staff_address},
      {"offers.default_expiry_minutes", "MEDIADESK_OFFERS_DEFAULT_EXPIRY_MINUTES", &s.offers.default_expiry_minutes, 5,
       10'080},
      {"offers.deadline_margin_minutes", "MEDIADESK_OFFERS_DEADLINE_MARGIN_MINUTES", &s.offers.deadline_margin_minutes,
       0, 1'440},
      {"offers.release_contact", "MEDIADESK_OFFERS_RELEASE_CONTACT", &s.offers.release_contact},
      {"aftercare.due_working_days", "MEDIADESK_AFTERCARE_DUE_WORKING_DAYS", &s.aftercare.due_working_days, 0, 20},
      {"aftercare.due_hour", "MEDIADESK_AFTERCARE_DUE_HOUR", &s.aftercare.due_hour, 0, 23},
      {"triage.taxonomy_dir", "MEDIADESK_TAXONOMY_DIR", &s.triage.taxonomy_dir},
      {"webhook.secret", "MEDIADESK_WEBHOOK_SECRET", &s.webhook.secret},
      {"webhook.secret_file", "MEDIADESK_WEBHOOK_SECRET_FILE", &s.webhook.secret_file},
      {"webhook.replay_window_s", "MEDIADESK_WEBHOOK_REPLAY_WINDOW_S", &s.webhook.replay_window_s, 1, 86'400},
      {"webhook.idempotency_ttl_s", "MEDIADESK_WEBHOOK_IDEMPOTENCY_TTL_S", &s.webhook.idempotency_ttl_s, 60,
       30 * 86'400},
      {"keys.master_key", "MEDIADESK_MASTER_KEY", &s.keys.master_key},
      {"keys.master_key_file", "MEDIADESK_MASTER_KEY_FILE", &s.keys.master_key_file},
      {"keys.current_key_id", "MEDIADESK_KEYS_CURRENT_KEY_ID", &s.keys.current_key_id, 1, 1'000'000},
      {"keys.refresh_s", "MEDIADESK_KEYS_REFRESH_S", &s.keys.refresh_s, 1, 3'600},
      {"session.idle_timeout_minutes", "MEDIADESK_SESSION_IDLE_TIMEOUT_MINUTES", &s.session.idle_timeout_minutes, 1,
       24 * 60},
      {"session.absolute_timeout_hours", "MEDIADESK_SESSION_ABSOLUTE_TIMEOUT_HOURS",
       &s.session.absolute_timeout_hours, 1, 24 * 30},
      {"session.login_attempts_per_15_minutes", "MEDIADESK_SESSION_LOGIN_ATTEMPTS_PER_15_MINUTES",
       &s.session.login_attempts_per_15_minutes, 1, 10'000},
      {"session.login_attempts_per_account_per_15_minutes", "MEDIADESK_SESSION_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_15_MINUTES",
       &s.session.login_attempts_per_account_per_15_minutes, 1, 10'000},
      {"session.secure_cookie", "MEDIADESK_SESSION_SECURE_COOKIE", &s.session.secure_cookie},
      {"log.level", "MEDIADESK_LOG_LEVEL", &s.log.level},
      {"log.json", "MEDIADESK_LOG_JSON", &s.log.json},
  };
}

bool is_secret(std::string_view name) {
  return name == "webhook.secret" || name == "keys.master_key" || name == "mail.smtp_password" ||
         name == "inbound.postmark_token" || name == "inbound.mailgun_signing_key";
}

std::string render(const value_ref& v, std::string_view name) {
  if (is_secret(name)) return "(secret)";
  return std::visit(
      [](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::string>) return *p;
        else if constexpr (std::is_same_v<T, bool>) return *p ? "true" : "false";
        else return std::to_string(*p);
      },
      v);
}

// Assigns text (from the environment) to a setting; returns an error message or empty.
std::string assign_text(const setting_entry& e, std::string_view text) {
  return std::visit(
      [&](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::string>) {
          *p = std::string{text};
          return {};
        } else if constexpr (std::is_same_v<T, bool>) {
          if (text == "true" || text == "1" || text == "yes") *p = true;
          else if (text == "false" || text == "0" || text == "no") *p = false;
          else return "expected true or false";
          return {};
        } else {
          std::int64_t value = 0;
          auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
          if (ec != std::errc{} || ptr != text.data() + text.size()) return "expected an integer";
          *p = value;
          return {};
        }
      },
      e.target);
}

std::string assign_node(const setting_entry& e, const toml::node& node) {
  return std::visit(
      [&](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (auto v = node.value<std::string>(); v && node.is_string()) *p = *v;
          else return "expected a string";
        } else if constexpr (std::is_same_v<T, bool>) {
          if (node.is_boolean()) *p = *node.value<bool>();
          else return "expected true or false";
        } else {
          if (node.is_integer()) *p = *node.value<std::int64_t>();
          else return "expected an integer";
        }
        return {};
      },
      e.target);
}

void check_range(const setting_entry& e, std::vector<config_error>& errors) {
  if (auto* p = std::get_if<std::int64_t*>(&e.target); p && (**p < e.min || **p > e.max))
    errors.push_back({std::string{e.name}, fmt::format("must be between {} and {}", e.min, e.max)});
}

void walk_table(const toml::table& table, const std::string& prefix, std::vector<setting_entry>& entries,
                std::vector<config_error>& errors) {
  for (auto&& [key, node] : table) {
    std::string path = prefix.empty() ? std::string{key.str()} : prefix + "." + std::string{key.str()};
    if (auto* sub = node.as_table()) {
      walk_table(*sub, path, entries, errors);
      continue;
    }
    auto it = std::find_if(entries.begin(), entries.end(), [&](auto& e) { return e.name == path; });
    if (it == entries.end()) {
      errors.push_back({path, "unknown setting"});
      continue;
    }
    if (auto problem = assign_node(*it, node); !problem.empty()) errors.push_back({path, problem});
  }
}

}  // namespace

std::string settings::public_base_url() const {
  if (!http.base_url.empty()) return http.base_url;
  return fmt::format("http://{}:{}", http.address == "0.0.0.0" ? "localhost" : http.address, http.port);
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv{*e};
    if (auto eq = kv.find('='); eq != std::string_view::npos && kv.starts_with("MEDIADESK_"))
      env.emplace(std::string{kv.substr(0, eq)}, std::string{kv.substr(eq + 1)});
  }
  return env;
}

load_result load_settings(const std::optional<std::filesystem::path>& file,
                          const std::map<std::string, std::string>& env) {
  load_result result;
  auto entries = setting_table(result.value);
  if (file) {
    try {
      auto table = toml::parse_file(file->string());
      walk_table(table, "", entries, result.errors);
    } catch (const toml::parse_error& e) {
      result.errors.push_back({file->string(), fmt::format("not valid TOML at line {}: {}",
                                                           e.source().begin.line, e.description())});
    }
  }
  for (auto& e : entries)
    if (auto it = env.find(std::string{e.env}); it != env.end())
      if (auto problem = assign_text(e, it->second); !problem.empty())
        result.errors.push_back({std::string{e.env}, problem});
  for (auto& e : entries) check_range(e, result.errors);

  auto& s = result.value;
  if (s.log.level != "trace" && s.log.level != "debug" && s.log.level != "info" && s.log.level != "warn" &&
      s.log.level != "error")
    result.errors.push_back({"log.level", "must be one of trace, debug, info, warn, error"});
  if (!s.webhook.secret.empty() && !s.webhook.secret_file.empty())
    result.errors.push_back({"webhook.secret", "set either webhook.secret or webhook.secret_file, not both"});
  if (!s.keys.master_key.empty() && !s.keys.master_key_file.empty())
    result.errors.push_back({"keys.master_key", "set either keys.master_key or keys.master_key_file, not both"});
  if (!s.mail.smtp_password.empty() && !s.mail.smtp_password_file.empty())
    result.errors.push_back({"mail.smtp_password", "set either mail.smtp_password or mail.smtp_password_file, not both"});
  if (!s.inbound.mailgun_signing_key.empty() && !s.inbound.mailgun_signing_key_file.empty())
    result.errors.push_back({"inbound.mailgun_signing_key",
                             "set either inbound.mailgun_signing_key or inbound.mailgun_signing_key_file, not both"});
  if (s.mail.transport != "maildir" && s.mail.transport != "smtp")
    result.errors.push_back({"mail.transport", "must be maildir or smtp"});
  if (s.offers.release_contact != "on_accept" && s.offers.release_contact != "after_approval")
    result.errors.push_back({"offers.release_contact", "must be on_accept or after_approval"});
  if (s.mail.transport == "smtp" && !s.mail.smtp_url.starts_with("smtp://") && !s.mail.smtp_url.starts_with("smtps://"))
    result.errors.push_back({"mail.smtp_url", "with mail.transport = smtp, must be an smtp:// or smtps:// URL"});
  if (!s.redis.url.starts_with("redis://") && !s.redis.url.starts_with("unix://"))
    result.errors.push_back({"redis.url", "must start with redis:// or unix://"});
  if (!s.database.url.starts_with("postgresql://") && !s.database.url.starts_with("postgres://") &&
      s.database.url.find('=') == std::string::npos)
    result.errors.push_back({"database.url", "must be a postgresql:// URL or a libpq key=value string"});
  return result;
}

void resolve_secret_files(settings& s) {
  auto read_file = [](const std::string& path, std::string_view setting) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("{}: cannot read the file it names", setting));
    std::stringstream buffer;
    buffer << in.rdbuf();
    auto text = buffer.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    return text;
  };
  if (!s.webhook.secret_file.empty()) s.webhook.secret = read_file(s.webhook.secret_file, "webhook.secret_file");
  if (!s.keys.master_key_file.empty()) s.keys.master_key = read_file(s.keys.master_key_file, "keys.master_key_file");
  if (!s.mail.smtp_password_file.empty())
    s.mail.smtp_password = read_file(s.mail.smtp_password_file, "mail.smtp_password_file");
  if (!s.inbound.mailgun_signing_key_file.empty())
    s.inbound.mailgun_signing_key = read_file(s.inbound.mailgun_signing_key_file, "inbound.mailgun_signing_key_file");
}

std::vector<setting_description> describe_settings() {
  settings defaults;
  std::vector<setting_description> out;
  for (auto& e : setting_table(defaults))
    out.push_back({std::string{e.name}, std::string{e.env}, render(e.target, e.name)});
  return out;
}

}  // namespace md
