// Integration: `mediadesk demo` as the README's first command uses it. It starts its own
// PostgreSQL and Redis, writes demo.env, seeds through the intake path, stops everything on
// SIGTERM within 10 s, and keeps its data for the next run on the same folder.
#include <catch2/catch.hpp>
#include <signal.h>

#include <fstream>
#include <thread>

#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// How many items the list at path holds (counting each "id" key of the top-level array).
std::size_t listed(http_client& admin, const std::string& path) {
  auto body = admin.get(path).body;
  std::size_t n = 0;
  for (auto at = body.find("{\"id\":"); at != std::string::npos; at = body.find("{\"id\":", at + 1)) ++n;
  return n;
}

std::string case_total(http_client& admin) {
  auto body = admin.get("/api/v1/cases").body;
  auto at = body.find("\"total\":");
  return at == std::string::npos ? "" : body.substr(at + 8, body.find('}', at) - at - 8);
}

}  // namespace

TEST_CASE("the demo runs on its own servers, stops on SIGTERM and keeps its data") {
  auto home = test_home() / "demo";
  std::map<std::string, std::string> env{{"PATH", "/usr/local/bin:/usr/bin:/bin"},
                                         {"MEDIADESK_ADMIN_PASSWORD", "demo-admin-password"}};
  auto run_demo = [&](int n) { return spawn_mediadesk({"demo", "--home", home.string(), "--http-port", "0"}, env,
                                                      test_home() / ("demo-" + std::to_string(n) + ".log")); };
  auto first = run_demo(1);
  REQUIRE(eventually([&] { return fs::exists(home / "demo.env") && !read_env_file(home / "demo.env")["MEDIADESK_HTTP_URL"].empty(); },
                     60s));
  auto settings = read_env_file(home / "demo.env");
  CHECK(settings["MEDIADESK_DATABASE_URL"].starts_with("postgresql://mediadesk:"));
  CHECK(settings["MEDIADESK_REDIS_URL"].starts_with("redis://"));
  CHECK((fs::status(home / "demo.env").permissions() & fs::perms::others_read) == fs::perms::none);
  http_client admin(settings["MEDIADESK_HTTP_URL"]);
  REQUIRE(eventually([&] { return admin.log_in("admin@example.org", "demo-admin-password").status == 200; }, 30s));
  REQUIRE(eventually([&] { return case_total(admin) == "4"; }, 30s));  // the seeded requests became cases
  CHECK(listed(admin, "/api/v1/partners") == 34);                        // the demo registry
  CHECK(listed(admin, "/api/v1/spokespeople") == 62);

  auto started = std::chrono::steady_clock::now();
  first.signal(SIGTERM);
  CHECK(first.wait(10s) == 0);
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  // Its PostgreSQL and Redis are gone too.
  http_client gone(settings["MEDIADESK_HTTP_URL"]);
  CHECK(gone.get("/healthz").status == 0);
  CHECK_FALSE(fs::exists(home / "postgres" / "data" / "postmaster.pid"));

  auto second = run_demo(2);
  REQUIRE(eventually([&] {
    auto now = read_env_file(home / "demo.env");
    return !now["MEDIADESK_HTTP_URL"].empty() && (now["MEDIADESK_HTTP_URL"] != settings["MEDIADESK_HTTP_URL"] ||
                                                  now["MEDIADESK_REDIS_URL"] != settings["MEDIADESK_REDIS_URL"]);
  }, 60s));
  http_client again(read_env_file(home / "demo.env")["MEDIADESK_HTTP_URL"]);
  REQUIRE(eventually([&] { return again.log_in("admin@example.org", "demo-admin-password").status == 200; }, 30s));
  std::this_thread::sleep_for(1s);
  CHECK(case_total(again) == "4");  // kept, and not seeded twice
  CHECK(listed(again, "/api/v1/partners") == 34);
  second.signal(SIGINT);
  CHECK(second.wait(10s) == 0);
}
