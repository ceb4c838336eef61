// Integration test support: real PostgreSQL and Redis started for the test binary (one
// PostgreSQL cluster, a database per test; a Redis per test so that tests may stop it), the real
// mediadesk binary run as serve/worker processes, and a small libcurl HTTP client.
#pragma once
#include <boost/json/object.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/keyring.hpp"
#include "crypto/primitives.hpp"
#include "intake/webhook.hpp"
#include "queue/redis_connection.hpp"
#include "server/embedded_services.hpp"
#include "store/pg.hpp"

namespace md::test {

// The cluster shared by every test in this binary (started on first use, stopped at exit).
server::embedded_postgres& shared_postgres();
std::filesystem::path test_home();  // a fresh folder for this binary's run

struct http_result {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string header(const std::string& name) const;
};

class http_client {
 public:
  explicit http_client(std::string base_url) : base_url_(std::move(base_url)) {}
  http_result request(const std::string& method, const std::string& path, const std::string& body = {},
                      const std::vector<std::string>& headers = {});
  http_result get(const std::string& path) { return request("GET", path); }
  // Keeps cookies across calls; log_in stores the CSRF token for later state-changing calls.
  http_result log_in(const std::string& email, const std::string& password);
  const std::string& csrf() const { return csrf_; }
  const std::string& cookie() const { return cookie_; }  // "md_session=…" once logged in

 private:
  std::string base_url_;
  std::string cookie_;
  std::string csrf_;
};

// Everything one test needs: its database, its Redis, keys and secrets, and the processes.
class test_stack {
 public:
  explicit test_stack(const std::string& name);
  ~test_stack();

  // Environment for mediadesk processes (and extra variables for this one).
  std::map<std::string, std::string> environment(const std::map<std::string, std::string>& extra = {}) const;
  // A shell command prefix running the mediadesk binary as an operator would: `env -i` with this
  // stack's environment (and extra), then the binary and `--config /dev/null`; append the arguments.
  std::string cli_command(const std::map<std::string, std::string>& extra = {}) const;
  // Starts `mediadesk <role>`; waits for /healthz when role is serve. Returns its index. A serve
  // started while another of this stack's serve processes has not been waited for gets a port
  // of its own (http_port(index)); after wait_exit, a new one takes the old port again.
  int start(const std::string& role, const std::map<std::string, std::string>& extra = {});
  void kill(int index, int signal);
  int wait_exit(int index, std::chrono::milliseconds timeout);  // exit status, or -1 on timeout
  bool running(int index);
  // Waits until the process's log contains text (e.g. "started").
  bool wait_for_log(int index, const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(20));

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(http_port_); }
  int http_port(int index) const { return processes_[index].http_port; }  // of a serve process
  http_client client() const { return http_client(base_url()); }
  // A client logged in as the seeded admin.
  http_client admin();

  // Signs and posts a webhook request.
  http_result post_request(const std::string& json, const std::string& idempotency_key = {},
                           std::optional<std::int64_t> signed_at = std::nullopt);
  // Waits until the intake is processed or failed (needs a worker) and returns its status JSON.
  std::string wait_for_intake(http_client& admin, const std::string& intake_id,
                              std::chrono::seconds timeout = std::chrono::seconds(30));

  store::pg_connection database() const;
  queue::redis_connection redis() const;
  server::embedded_redis& redis_server() { return *redis_; }
  const crypto::keyring& keys() const { return *keys_; }
  const std::string& webhook_secret() const { return webhook_secret_; }
  std::filesystem::path log_file(int index) const;
  std::filesystem::path home() const { return home_; }
  std::string database_url() const { return database_url_; }

  static constexpr const char* admin_email = "admin@example.org";
  static constexpr const char* admin_password = "test-admin-password";

 private:
  std::filesystem::path home_;
  std::string database_url_;
  std::unique_ptr<server::embedded_redis> redis_;
  std::string master_key_text_, webhook_secret_;
  std::unique_ptr<crypto::keyring> keys_;
  int http_port_ = 0;
  struct process {
    server::child_process child;
    std::string role;
    std::filesystem::path log;
    int http_port = 0;
  };
  std::vector<process> processes_;
};

// Starts the mediadesk binary with exactly these arguments and environment, output to log.
// The child dies with the test process.
server::child_process spawn_mediadesk(const std::vector<std::string>& args,
                                      const std::map<std::string, std::string>& env, const std::filesystem::path& log);

// Polls predicate every 50 ms until it holds or the timeout passes.
bool eventually(const std::function<bool()>& predicate, std::chrono::milliseconds timeout);

// KEY=value lines (demo.env), by key.
std::map<std::string, std::string> read_env_file(const std::filesystem::path& file);

// Runs a /bin/sh command as a real client would, stdin from the given bytes (through a file, so
// binary input reaches it unchanged); returns {exit status (-1 if killed), stdout}.
struct command_result {
  int status;
  std::string out;
};
command_result run_command(const std::string& shell_command, const std::string& stdin_bytes = {});

std::string json_string(const std::string& json, const std::string& key);  // top-level string field
// Posts a signed webhook request and waits until the worker has stored it: {intake id, case ref}.
std::pair<std::string, std::string> request_to_case(test_stack& stack, http_client& admin, const std::string& json);
// The body as a JSON object (the test fails, showing status and body, if it is not one).
boost::json::object json_object_of(const http_result& r);
// A client logged in as a user with this role (created, or its password and role reset).
http_client logged_in_as(test_stack& stack, const std::string& email, const std::string& role);
std::string read_file(const std::filesystem::path& p);  // the whole file as bytes; empty if missing
std::int64_t count_rows(store::pg_connection& c, const std::string& sql);

}  // namespace md::test
