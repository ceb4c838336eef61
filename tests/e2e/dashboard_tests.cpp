// Browser end-to-end test (ctest e2e_dashboard): starts the real stack (PostgreSQL, Redis,
// `mediadesk serve` and `worker` with a maildir outbox), adds a staff and a viewer user and a registry
// that matches the scenario's request, then runs tests/e2e/dashboard.mjs (playwright-core driving
// Debian's chromium, headless) and requires its exit status 0. Skips (exit 77) only when node or
// chromium is missing and MEDIADESK_E2E_REQUIRED is not 1 (scripts/test.sh sets it: CI never skips).
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>

#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// The scenario's own limit is 4 minutes (E2E_TOTAL_TIMEOUT_MS); this one only catches a hung node.
constexpr auto node_time_limit = 270s;

std::optional<fs::path> find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    auto end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// Copies new bytes of the log to stdout as they arrive, so `ctest -V` shows each step live.
struct log_follower {
  fs::path file;
  std::streamoff done = 0;
  void pump() {
    std::ifstream in(file, std::ios::binary);
    if (!in) return;
    in.seekg(done);
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    done += static_cast<std::streamoff>(chunk.size());
    std::cout << chunk << std::flush;
  }
};

void add_user(test_stack& stack, const std::string& email, const std::string& role, const std::string& password) {
  auto r = run_command(stack.cli_command({{"MEDIADESK_USER_PASSWORD", password}}) +
                       fmt::format(" user add --email '{}' --role {} 2>&1", email, role));
  INFO(r.out);
  REQUIRE(r.status == 0);
}

std::int64_t create(http_client& staff, const std::string& path, const std::string& body, const std::string& kind) {
  auto r = staff.request("POST", path, body);
  INFO(path << ": " << r.status << " " << r.body);
  REQUIRE(r.status == 201);
  return json_object_of(r).at(kind).at("id").as_int64();
}

}  // namespace

TEST_CASE("e2e: the dashboard in a real browser (tests/e2e/dashboard.mjs)", "[e2e]") {
  auto node = find_in_path("node");
  fs::path chromium = env_or("MEDIADESK_CHROMIUM", "/usr/bin/chromium");
  bool have_chromium = ::access(chromium.c_str(), X_OK) == 0;
  if (!node || !have_chromium) {
    std::string missing = !node && !have_chromium ? "node and " + chromium.string()
                          : !node                 ? std::string("node (in PATH)")
                                                  : chromium.string();
    if (env_or("MEDIADESK_E2E_REQUIRED", "") != "1") {
      std::cout << "SKIPPED e2e_dashboard: " << missing
                << " not found. scripts/packages.sh installs them (Debian: chromium, nodejs, npm), "
                   "scripts/e2e_deps.sh installs playwright-core; MEDIADESK_E2E_REQUIRED=1 turns this skip "
                   "into a failure (scripts/test.sh sets it)."
                << std::endl;
      std::exit(77);  // ctest SKIP_RETURN_CODE; nothing has been started yet
    }
    FAIL(missing << " not found and MEDIADESK_E2E_REQUIRED=1: run scripts/setup.sh (scripts/packages.sh installs "
                    "chromium, nodejs and npm), then scripts/e2e_deps.sh");
  }
  fs::path e2e_dir = MEDIADESK_E2E_DIR;
  {
    INFO("playwright-core is not installed in " << (e2e_dir / "node_modules").string()
                                                << ": run scripts/e2e_deps.sh (scripts/test.sh runs it)");
    REQUIRE(fs::exists(e2e_dir / "node_modules" / "playwright-core" / "package.json"));
  }
  fs::path artifacts = MEDIADESK_E2E_ARTIFACTS;
  fs::remove_all(artifacts);  // no screenshot of an earlier run may pass for this one's
  fs::create_directories(artifacts);

  test_stack stack("e2e");
  auto maildir = stack.home() / "mailbox";
  // The offer email's link must point at this server: http.base_url is what links start with.
  std::map<std::string, std::string> env{{"MEDIADESK_MAIL_MAILDIR", maildir.string()},
                                         {"MEDIADESK_WORKER_ESCALATION_INTERVAL_MS", "300"},
                                         {"MEDIADESK_HTTP_BASE_URL", stack.base_url()},
                                         {"MEDIADESK_LOG_LEVEL", "info"}};
  int serve = stack.start("serve", env);
  int worker = stack.start("worker", env);

  // Users as an operator adds them.
  const std::string staff_email = "staff@e2e.example.org", staff_password = "e2e staff password 1";
  const std::string viewer_email = "viewer@e2e.example.org", viewer_password = "e2e viewer password 1";
  add_user(stack, staff_email, "staff", staff_password);
  add_user(stack, viewer_email, "viewer", viewer_password);

  // A registry that matches the scenario's request (the asylum process, Newcastle, radio or TV):
  // one partner and a spokesperson with a live consent, so that "Send offer" has a row to click.
  auto staff = stack.client();
  REQUIRE(staff.log_in(staff_email, staff_password).status == 200);
  auto forum = create(staff, "/api/v1/partners",
                      R"({"key": "forum", "name": "North Refugee Forum", "contact_name": "Parveen",
                          "contact_email": "contact@forum.example.org", "regions": ["newcastle"],
                          "topics": ["asylum_process"]})",
                      "partner");
  auto speaker = create(staff, "/api/v1/spokespeople",
                        fmt::format(R"({{"partner_id": {}, "alias": "Speaker A", "full_name": "Amal Secret-Name",
                                       "regions": ["newcastle"], "topics": ["asylum_process"], "languages": ["en"]}})",
                                    forum),
                        "spokesperson");
  create(staff, fmt::format("/api/v1/spokespeople/{}/consents", speaker),
         R"({"media": ["radio", "tv"], "identification": "first_name", "topics": ["asylum_process"],
             "expires_at": "2099-01-01T00:00:00Z"})",
         "consent");

  std::map<std::string, std::string> node_env{
      {"PATH", "/usr/local/bin:/usr/bin:/bin"},
      {"HOME", (stack.home() / "browser-home").string()},  // chromium's and node's own files stay here
      {"BASE_URL", stack.base_url()},
      {"CHROMIUM", chromium.string()},
      {"ADMIN_EMAIL", test_stack::admin_email},
      {"ADMIN_PASSWORD", test_stack::admin_password},
      {"STAFF_EMAIL", staff_email},
      {"STAFF_PASSWORD", staff_password},
      {"VIEWER_EMAIL", viewer_email},
      {"VIEWER_PASSWORD", viewer_password},
      {"WEBHOOK_SECRET", stack.webhook_secret()},
      {"MAILDIR", maildir.string()},
      {"PARTNER_EMAIL", "contact@forum.example.org"},
      {"SPOKESPERSON_ALIAS", "Speaker A"},
      {"ARTIFACTS", artifacts.string()},
  };
  for (auto name : {"E2E_STEP_TIMEOUT_MS", "E2E_TOTAL_TIMEOUT_MS", "E2E_STOP_AT_FIRST_FAILURE", "E2E_HEADED"})
    if (const char* v = std::getenv(name)) node_env[name] = v;
  fs::create_directories(stack.home() / "browser-home");

  auto log = artifacts / "dashboard.log";
  std::cout << "== tests/e2e/dashboard.mjs against " << stack.base_url() << " (log and screenshots: "
            << artifacts.string() << ")" << std::endl;
  server::child_process scenario({node->string(), (e2e_dir / "dashboard.mjs").string()}, log, std::nullopt, SIGKILL,
                                 node_env);
  log_follower follow{log};
  int status = -1;
  auto until = std::chrono::steady_clock::now() + node_time_limit;
  while ((status = scenario.wait(250ms)) == -1 && std::chrono::steady_clock::now() < until) follow.pump();
  if (status == -1) {
    scenario.stop(SIGKILL, 5s);
    std::cout << "\n== killed: the scenario ran longer than " << node_time_limit.count() << " s" << std::endl;
  }
  follow.pump();

  // The servers' logs next to the screenshots: the test home is removed by the next run.
  std::error_code ignored;
  fs::copy_file(stack.log_file(serve), artifacts / "serve.log", fs::copy_options::overwrite_existing, ignored);
  fs::copy_file(stack.log_file(worker), artifacts / "worker.log", fs::copy_options::overwrite_existing, ignored);

  INFO("dashboard.mjs exit status " << status << "; its output is above and in " << log.string());
  REQUIRE(status == 0);
}
