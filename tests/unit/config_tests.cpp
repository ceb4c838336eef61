// Unit tests for config/: defaults, TOML, environment overrides, and validation errors.
#include <catch2/catch.hpp>

#include <fstream>

#include "config/settings.hpp"
#include "queue/redis_connection.hpp"

using namespace md;

namespace {
std::filesystem::path write_toml(const std::string& text) {
  static int n = 0;
  auto path = std::filesystem::temp_directory_path() / ("mediadesk-config-test-" + std::to_string(++n) + ".toml");
  std::ofstream(path) << text;
  return path;
}

bool has_error(const load_result& r, std::string_view setting) {
  for (auto& e : r.errors)
    if (e.setting == setting) return true;
  return false;
}
}  // namespace

TEST_CASE("defaults load without a file and validate") {
  auto r = load_settings(std::nullopt, {});
  CHECK(r.errors.empty());
  CHECK(r.value.http.body_limit_bytes == 256 * 1024);
  CHECK(r.value.webhook.replay_window_s == 300);
}

TEST_CASE("the shipped config/mediadesk.toml is valid") {
  auto r = load_settings(std::filesystem::path(MEDIADESK_SOURCE_DIR "/config/mediadesk.toml"), {});
  for (auto& e : r.errors) FAIL_CHECK(e.setting << ": " << e.message);
  CHECK(r.errors.empty());
  CHECK(r.value.worker.max_deliveries == 5);
}

TEST_CASE("TOML values and environment overrides apply, environment last") {
  auto file = write_toml("[http]\nport = 9000\n[worker]\nmax_deliveries = 3\n");
  auto r = load_settings(file, {{"MEDIADESK_HTTP_PORT", "9100"}, {"MEDIADESK_DATABASE_URL", "postgresql://x/y"},
                                {"MEDIADESK_LOG_JSON", "true"}});
  CHECK(r.errors.empty());
  CHECK(r.value.http.port == 9100);
  CHECK(r.value.worker.max_deliveries == 3);
  CHECK(r.value.database.url == "postgresql://x/y");
  CHECK(r.value.log.json);
}

TEST_CASE("unknown keys, wrong types and out-of-range values are errors") {
  auto file = write_toml("[http]\nprot = 9000\nthreads = \"two\"\n[worker]\nmax_deliveries = 0\n[nosuch]\nx = 1\n");
  auto r = load_settings(file, {{"MEDIADESK_HTTP_PORT", "eighty"}});
  CHECK(has_error(r, "http.prot"));
  CHECK(has_error(r, "http.threads"));
  CHECK(has_error(r, "worker.max_deliveries"));
  CHECK(has_error(r, "nosuch.x"));
  CHECK(has_error(r, "MEDIADESK_HTTP_PORT"));
  CHECK_FALSE(load_settings(write_toml("[http\n"), {}).errors.empty());
  CHECK(has_error(load_settings(std::nullopt, {{"MEDIADESK_REDIS_URL", "http://x"}}), "redis.url"));
  CHECK(has_error(load_settings(std::nullopt, {{"MEDIADESK_LOG_LEVEL", "loud"}}), "log.level"));
}

TEST_CASE("describe lists every setting and hides secrets") {
  auto all = describe_settings();
  CHECK(all.size() > 30);
  for (auto& d : all) {
    CHECK(d.env.starts_with("MEDIADESK_"));
    if (d.name == "webhook.secret" || d.name == "keys.master_key") CHECK(d.default_text == "(secret)");
  }
}

TEST_CASE("Redis URLs parse into endpoints") {
  auto e = queue::parse_redis_url("redis://:pa%40ss@127.0.0.1:6390/2");
  CHECK(e.host == "127.0.0.1");
  CHECK(e.port == 6390);
  CHECK(e.password == "pa@ss");
  CHECK(e.database == 2);
  auto u = queue::parse_redis_url("unix:///run/redis.sock?db=3");
  CHECK(u.socket_path == "/run/redis.sock");
  CHECK(u.database == 3);
  CHECK_THROWS(queue::parse_redis_url("http://x"));
  CHECK_THROWS(queue::parse_redis_url("redis://host:port"));
}
