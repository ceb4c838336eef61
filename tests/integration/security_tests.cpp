// Integration: personal data never appears in plaintext in PostgreSQL (rows and files on disk,
// WAL included), in Redis (keys, values, streams and the AOF on disk), or in the logs.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> personal_values{
    "Zephyrine Quillfeather", "zephyrine.quillfeather@secret-news.example", "+44 7700 912345",
    "Octavius Bramblewood",   "17 Larkspur Row",                           "Kestrel Moorcroft"};

// Every personal value found in text.
std::vector<std::string> leaks_in(const std::string& text, const std::string& where) {
  std::vector<std::string> found;
  for (auto& v : personal_values)
    if (text.find(v) != std::string::npos) found.push_back(v + " in " + where);
  return found;
}

std::vector<std::string> leaks_in_folder(const fs::path& dir) {
  std::vector<std::string> found;
  for (auto& entry : fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied))
    if (entry.is_regular_file())
      for (auto& leak : leaks_in(read_file(entry.path()), entry.path().string())) found.push_back(leak);
  return found;
}

}  // namespace

TEST_CASE("no seeded personal value is stored or logged in plaintext") {
  test_stack stack("pii_scan");
  stack.start("serve");
  stack.start("worker");
  auto json = fmt::format(
      R"({{"journalist":{{"name":"{}","email":"{}","phone":"{}"}},"outlet":"The Guardian","subject":"{} story",)"
      R"("body":"My neighbour {} lives at {} and would talk.","deadline":"2030-01-01T12:00:00Z"}})",
      personal_values[0], personal_values[1], personal_values[2], personal_values[5], personal_values[3],
      personal_values[4]);
  std::vector<std::string> ids;
  ids.push_back(json_string(stack.post_request(json, "pii-1").body, "intake_id"));
  ids.push_back(json_string(stack.post_request(json).body, "intake_id"));
  // A request that fails validation must not leak through the error either.
  auto bad = stack.post_request(fmt::format(R"({{"journalist":{{"name":"{}","email":"{}"}}}})", personal_values[0],
                                            personal_values[0]));
  CHECK(bad.status == 400);
  CHECK(leaks_in(bad.body, "error response").empty());

  auto admin = stack.admin();
  std::string ref;
  for (auto& id : ids) {
    auto status = stack.wait_for_intake(admin, id);
    REQUIRE(json_string(status, "status") == "processed");
    ref = json_string(status, "case");
  }
  auto reveal = admin.request("POST", "/api/v1/cases/" + ref + "/reveal", R"({"reason":"scan test"})");
  REQUIRE(reveal.status == 200);
  CHECK(reveal.body.find(personal_values[0]) != std::string::npos);  // the scan can see plaintext when it is there

  std::vector<std::string> leaks;
  // PostgreSQL, row by row, every table.
  auto db = stack.database();
  auto tables = db.exec("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
  for (int i = 0; i < tables.rows(); ++i) {
    auto table = std::string(tables.get(i, 0));
    auto rows = db.exec(fmt::format("SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM {} t", table));
    for (auto& l : leaks_in(std::string(rows.get(0, 0)), "table " + table)) leaks.push_back(l);
  }
  auto users = db.exec("SELECT coalesce(string_agg(u::text, ''), '') FROM users u");
  CHECK(std::string(users.get(0, 0)).find(test_stack::admin_email) == std::string::npos);
  // PostgreSQL's files on disk, WAL included (after a checkpoint so that data pages are written).
  db.exec("CHECKPOINT");
  for (auto& l : leaks_in_folder(test_home() / "postgres")) leaks.push_back(l);

  // Redis: every key and value, streams included, then the AOF on disk.
  auto redis = stack.redis();
  auto keys = redis.command({"KEYS", "*"});
  for (std::size_t i = 0; i < keys->elements; ++i) {
    std::string key(queue::text_of(keys->element[i]));
    for (auto& l : leaks_in(key, "redis key")) leaks.push_back(l);
    auto type = std::string(queue::text_of(redis.command({"TYPE", key}).get()));
    if (type == "string") {
      for (auto& l : leaks_in(std::string(queue::text_of(redis.command({"GET", key}).get())), "redis " + key))
        leaks.push_back(l);
    } else if (type == "stream") {
      auto entries = redis.command({"XRANGE", key, "-", "+"});
      for (std::size_t e = 0; e < entries->elements; ++e) {
        auto fields = entries->element[e]->element[1];
        for (std::size_t f = 0; f < fields->elements; ++f)
          for (auto& l : leaks_in(std::string(queue::text_of(fields->element[f])), "redis " + key)) leaks.push_back(l);
      }
    }
  }
  for (auto& l : leaks_in_folder(stack.home() / "redis")) leaks.push_back(l);

  // The logs of every process.
  for (auto& l : leaks_in_folder(stack.home())) leaks.push_back(l);

  // Control: the scanner does find a value where one is.
  auto control = test_home() / "scan-control";
  fs::create_directories(control);
  std::ofstream(control / "leak.bin") << "xx" << personal_values[1] << "yy";
  CHECK(leaks_in_folder(control).size() == 1);

  for (auto& l : leaks) FAIL_CHECK("plaintext personal data: " << l);
  CHECK(leaks.empty());
}
