// Integration test support (see test_env.hpp).
#include "support/test_env.hpp"

#include <catch2/catch.hpp>
#include <curl/curl.h>
#include <signal.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "crypto/primitives.hpp"
#include "intake/webhook.hpp"
#include "store/migrations.hpp"
#include "store/user_store.hpp"

namespace md::test {
namespace fs = std::filesystem;

fs::path test_home() {
  static const fs::path home = [] {
    fs::path root(MEDIADESK_TEST_HOME);
    fs::create_directories(root);
    // Folders of earlier runs whose process is gone are removed (kept while a run is live).
    std::error_code iteration_error;
    for (auto& entry : fs::directory_iterator(root, iteration_error)) {
      auto name = entry.path().filename().string();
      if (!name.starts_with("run-")) continue;
      auto pid = std::atoi(name.c_str() + 4);
      std::error_code ignored;  // another test binary may be removing it at the same time
      if (pid > 0 && ::kill(pid, 0) != 0) fs::remove_all(entry.path(), ignored);
    }
    auto dir = root / fmt::format("run-{}", ::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
  }();
  return home;
}

server::embedded_postgres& shared_postgres() {
  static std::unique_ptr<server::embedded_postgres> postgres = [] {
    auto p = std::make_unique<server::embedded_postgres>(test_home() / "postgres");
    p->start();
    return p;
  }();
  return *postgres;
}

std::map<std::string, std::string> read_env_file(const fs::path& file) {
  std::map<std::string, std::string> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    if (auto eq = line.find('='); eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  return out;
}

bool eventually(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return predicate();
}

command_result run_command(const std::string& shell_command, const std::string& stdin_bytes) {
  static std::atomic<int> counter = 0;
  auto input = test_home() / fmt::format("stdin-{}.bin", ++counter);
  std::ofstream(input, std::ios::binary | std::ios::trunc) << stdin_bytes;
  auto command = fmt::format("( {} ) < '{}'", shell_command, input.string());
  command_result result{-1, {}};
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + shell_command);
  char buffer[4096];
  while (auto n = std::fread(buffer, 1, sizeof buffer, pipe)) result.out.append(buffer, n);
  int status = ::pclose(pipe);
  fs::remove(input);
  if (WIFEXITED(status)) result.status = WEXITSTATUS(status);
  return result;
}

std::string json_string(const std::string& json, const std::string& key) {
  boost::json::error_code ec;
  auto v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return {};
  auto* field = v.get_object().if_contains(key);
  if (!field || !field->is_string()) return {};
  return std::string{field->get_string()};
}

std::int64_t count_rows(store::pg_connection& c, const std::string& sql) { return c.exec(sql).get_int(0, 0); }

// ---- HTTP ----

std::string http_result::header(const std::string& name) const {
  auto lower = name;  // stored lower-case (write_header): names are case-insensitive
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  auto it = headers.find(lower);
  return it == headers.end() ? std::string{} : it->second;
}

namespace {
size_t write_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}
size_t write_header(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    auto name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}
}  // namespace

http_result http_client::request(const std::string& method, const std::string& path, const std::string& body,
                                 const std::vector<std::string>& headers) {
  CURL* curl = curl_easy_init();
  http_result result;
  auto url = base_url_ + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);  // else curl waits for the body a HEAD never has
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30'000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (!body.empty() || method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_slist* list = nullptr;
  // JSON unless the caller names another Content-Type (forms).
  bool own_type = std::any_of(headers.begin(), headers.end(), [](const std::string& h) {
    return h.size() > 13 && strncasecmp(h.c_str(), "Content-Type:", 13) == 0;
  });
  if (!own_type) list = curl_slist_append(list, "Content-Type: application/json");
  list = curl_slist_append(list, "Expect:");
  if (!cookie_.empty()) list = curl_slist_append(list, ("Cookie: " + cookie_).c_str());
  if (!csrf_.empty() && method != "GET") list = curl_slist_append(list, ("X-CSRF-Token: " + csrf_).c_str());
  for (auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, write_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.headers);
  auto rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  if (auto cookie = result.header("set-cookie"); !cookie.empty()) cookie_ = cookie.substr(0, cookie.find(';'));
  return result;
}

http_result http_client::log_in(const std::string& email, const std::string& password) {
  auto r = request("POST", "/api/v1/login", fmt::format(R"({{"email":"{}","password":"{}"}})", email, password));
  csrf_ = json_string(r.body, "csrf");
  return r;
}

// ---- the stack ----

test_stack::test_stack(const std::string& name) {
  static int counter = 0;
  auto db_name = fmt::format("t{}_{}", ++counter, name);
  home_ = test_home() / db_name;
  fs::create_directories(home_);
  database_url_ = shared_postgres().create_database(db_name);
  redis_ = std::make_unique<server::embedded_redis>(home_ / "redis");
  redis_->start();
  master_key_text_ = crypto::keyring::generate_master_key_text();
  keys_ = std::make_unique<crypto::keyring>(*crypto::keyring::parse_master_key(master_key_text_));
  webhook_secret_ = crypto::random_token(32);
  http_port_ = server::free_loopback_port();
  auto c = database();
  store::migrate(c);
  store::upsert_user(c, *keys_, admin_email, crypto::hash_password(admin_password), "admin");
}

test_stack::~test_stack() {
  // Servers before Redis (a member destroyed later): SIGTERM, then SIGKILL after 10 s.
  for (auto& p : processes_) p.child.stop(SIGTERM, std::chrono::seconds(10));
}

std::map<std::string, std::string> test_stack::environment(const std::map<std::string, std::string>& extra) const {
  std::map<std::string, std::string> env{
      {"MEDIADESK_DATABASE_URL", database_url_},
      {"MEDIADESK_REDIS_URL", redis_->url()},
      {"MEDIADESK_MASTER_KEY", master_key_text_},
      {"MEDIADESK_WEBHOOK_SECRET", webhook_secret_},
      {"MEDIADESK_HTTP_PORT", std::to_string(http_port_)},
      {"MEDIADESK_SMTP_PORT", "0"},  // off unless a test asks: suites run side by side (default 2525)
      // The corpus and load tests send hundreds of messages from one address and sender; the
      // smtp suite sets small limits where it tests them.
      {"MEDIADESK_SMTP_MESSAGES_PER_IP_PER_HOUR", "0"},
      {"MEDIADESK_SMTP_MESSAGES_PER_SENDER_PER_HOUR", "0"},
      {"MEDIADESK_INBOUND_WEBHOOK_REQUESTS_PER_SENDER_PER_HOUR", "0"},
      {"MEDIADESK_INBOUND_FORM_SUBMISSIONS_PER_SENDER_PER_HOUR", "0"},
      {"MEDIADESK_WORKER_BLOCK_MS", "200"},
      {"MEDIADESK_WORKER_RECLAIM_IDLE_MS", "1000"},
      {"MEDIADESK_HTTP_SHUTDOWN_GRACE_MS", "2000"},
      {"MEDIADESK_LOG_LEVEL", "debug"},
      {"PATH", "/usr/local/bin:/usr/bin:/bin"},
  };
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

server::child_process spawn_mediadesk(const std::vector<std::string>& args,
                                      const std::map<std::string, std::string>& env, const fs::path& log) {
  std::vector<std::string> argv{MEDIADESK_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return server::child_process(argv, log, std::nullopt, SIGKILL, env);
}

int test_stack::start(const std::string& role, const std::map<std::string, std::string>& extra) {
  auto log = home_ / fmt::format("{}-{}.log", role, processes_.size());
  auto env = environment(extra);
  int port = std::stoi(env["MEDIADESK_HTTP_PORT"]);
  // Not yet waited for (wait_exit, or stopped): the port may still be taken. Asking running()
  // instead would reap the process and lose the exit status a test may still want.
  bool port_in_use = std::any_of(processes_.begin(), processes_.end(),
                                 [&](const process& p) { return p.http_port == port && p.child.pid() > 0; });
  if (role == "serve" && port_in_use && !extra.contains("MEDIADESK_HTTP_PORT")) {
    port = server::free_loopback_port();  // a second serve on the same Redis and PostgreSQL
    env["MEDIADESK_HTTP_PORT"] = std::to_string(port);
  }
  // --config /dev/null: the defaults and the environment only, whatever the working folder holds.
  processes_.push_back({spawn_mediadesk({"--config", "/dev/null", role}, env, log), role, log,
                        role == "serve" ? port : 0});
  int index = static_cast<int>(processes_.size() - 1);
  if (role == "serve") {
    http_client c("http://127.0.0.1:" + std::to_string(port));
    if (!eventually([&] { return c.get("/healthz").status == 200; }, std::chrono::seconds(20)))
      throw std::runtime_error("mediadesk serve did not come up; see " + log.string());
  }
  return index;
}

void test_stack::kill(int index, int signal) { processes_[index].child.signal(signal); }

int test_stack::wait_exit(int index, std::chrono::milliseconds timeout) {
  return processes_[index].child.wait(timeout);
}

bool test_stack::running(int index) { return processes_[index].child.running(); }

bool test_stack::wait_for_log(int index, const std::string& text, std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        std::ifstream in(processes_[index].log);
        std::stringstream s;
        s << in.rdbuf();
        return s.str().find(text) != std::string::npos;
      },
      timeout);
}

fs::path test_stack::log_file(int index) const { return processes_[index].log; }

http_client test_stack::admin() {
  auto c = client();
  auto r = c.log_in(admin_email, admin_password);
  if (r.status != 200) throw std::runtime_error("admin log-in failed: " + std::to_string(r.status) + " " + r.body);
  return c;
}

http_result test_stack::post_request(const std::string& json, const std::string& idempotency_key,
                                     std::optional<std::int64_t> signed_at) {
  auto t = signed_at.value_or(std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
  std::vector<std::string> headers{"X-Signature: " + intake::sign_body(json, webhook_secret_, t)};
  if (!idempotency_key.empty()) headers.push_back("Idempotency-Key: " + idempotency_key);
  return client().request("POST", "/api/v1/requests", json, headers);
}

std::string test_stack::wait_for_intake(http_client& admin, const std::string& intake_id, std::chrono::seconds timeout) {
  std::string body;
  eventually(
      [&] {
        auto r = admin.get("/api/v1/intake/" + intake_id);
        body = r.body;
        auto status = json_string(r.body, "status");
        return status == "processed" || status == "failed";
      },
      timeout);
  return body;
}

store::pg_connection test_stack::database() const {
  return store::pg_connection({database_url_, std::chrono::seconds(5), std::chrono::milliseconds(30'000)});
}

queue::redis_connection test_stack::redis() const {
  return queue::redis_connection(queue::parse_redis_url(redis_->url()), std::chrono::milliseconds(2000));
}

std::string test_stack::cli_command(const std::map<std::string, std::string>& extra) const {
  std::string out = "env -i";
  for (auto& [name, value] : environment(extra)) out += " " + name + "='" + value + "'";
  return fmt::format("{} '{}' --config /dev/null", out, MEDIADESK_BINARY);
}

std::pair<std::string, std::string> request_to_case(test_stack& stack, http_client& admin, const std::string& json) {
  auto r = stack.post_request(json);
  REQUIRE(r.status == 202);
  auto intake_id = json_string(r.body, "intake_id");
  auto intake = stack.wait_for_intake(admin, intake_id);
  REQUIRE(json_string(intake, "status") == "processed");
  return {intake_id, json_string(intake, "case")};
}

boost::json::object json_object_of(const http_result& r) {
  namespace json = boost::json;
  INFO(r.status << " " << r.body);
  json::error_code ec;
  auto v = json::parse(r.body, ec);
  REQUIRE(!ec);
  REQUIRE(v.is_object());
  return v.as_object();
}

http_client logged_in_as(test_stack& stack, const std::string& email, const std::string& role) {
  auto db = stack.database();
  store::upsert_user(db, stack.keys(), email, crypto::hash_password("a long test password"), role);
  auto c = stack.client();
  REQUIRE(c.log_in(email, "a long test password").status == 200);
  return c;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace md::test
