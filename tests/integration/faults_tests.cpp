// Integration: what happens when parts fail. Redis down (503, then nothing acknowledged is
// lost), a worker crashing between its commit and its XACK (no duplicate), dead-lettering of
// entries that can never succeed or were delivered too often.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <signal.h>

#include <map>

#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;

namespace {
std::string request_json(int n) {
  return fmt::format(R"({{"journalist":{{"name":"Fault Tester","email":"fault@news.example"}},"body":"request {}"}})", n);
}
}  // namespace

TEST_CASE("while Redis is down intake answers 503, and every 202 becomes exactly one case") {
  test_stack stack("redis_down");
  stack.start("serve");
  stack.start("worker");
  std::vector<std::string> acknowledged;
  auto post = [&](int n) {
    auto r = stack.post_request(request_json(n));
    if (r.status == 202) acknowledged.push_back(json_string(r.body, "intake_id"));
    return r;
  };
  for (int i = 0; i < 5; ++i) REQUIRE(post(i).status == 202);

  auto port = stack.redis_server().port();
  stack.redis_server().stop();
  for (int i = 5; i < 10; ++i) {
    auto r = post(i);
    CHECK(r.status == 503);
    CHECK(r.header("retry-after") == "5");
  }
  stack.redis_server().start(port);
  REQUIRE(eventually([&] { return post(100).status == 202; }, 15s));
  for (int i = 10; i < 15; ++i) CHECK(post(i).status == 202);

  auto admin = stack.admin();
  for (auto& id : acknowledged) CHECK(json_string(stack.wait_for_intake(admin, id), "status") == "processed");
  auto db = stack.database();
  CHECK(count_rows(db, "SELECT count(*) FROM cases") == static_cast<std::int64_t>(acknowledged.size()));
  CHECK(count_rows(db, "SELECT count(DISTINCT intake_id) FROM cases") == static_cast<std::int64_t>(acknowledged.size()));
}

TEST_CASE("a worker that dies between its commit and its XACK causes no duplicate") {
  test_stack stack("crash_after_commit");
  stack.start("serve");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(json_string(stack.post_request(request_json(i)).body, "intake_id"));
  auto crashing = stack.start("worker", {{"MEDIADESK_FAULT_INJECT", "crash_after_commit"}});
  CHECK(stack.wait_exit(crashing, 30s) == 86);
  auto db = stack.database();
  auto committed = count_rows(db, "SELECT count(*) FROM cases");
  CHECK(committed >= 1);
  auto redis = stack.redis();
  CHECK(redis.command({"XPENDING", "md:intake", "workers"})->element[0]->integer >= committed);  // not acknowledged

  stack.start("worker");  // takes over the dead worker's entries after reclaim_idle_ms
  auto admin = stack.admin();
  for (auto& id : ids) CHECK(json_string(stack.wait_for_intake(admin, id), "status") == "processed");
  REQUIRE(eventually([&] { return stack.redis().command({"XPENDING", "md:intake", "workers"})->element[0]->integer == 0; },
                     15s));
  CHECK(count_rows(db, "SELECT count(*) FROM cases") == 3);
  CHECK(count_rows(db, "SELECT count(*) FROM case_events WHERE kind = 'case_opened'") == 3);
}

TEST_CASE("entries that can never succeed, or failed too often, go to the dead-letter stream") {
  test_stack stack("dead_letter");
  stack.start("serve");
  auto redis = stack.redis();
  // 1. A payload that cannot be opened (not sealed with our key): permanent, dead-lettered at once.
  auto bad_id = crypto::new_intake_id();
  redis.command({"XADD", "md:intake", "*", "id", bad_id, "src", "webhook", "at", "1", "p", "not a sealed payload"});
  // 2. A good request whose entry was already delivered max_deliveries times to a worker that died.
  auto good = json_string(stack.post_request(request_json(1)).body, "intake_id");
  redis.command({"XGROUP", "CREATE", "md:intake", "workers", "0", "MKSTREAM"});
  auto delivered = redis.command({"XREADGROUP", "GROUP", "workers", "ghost", "COUNT", "10", "STREAMS", "md:intake", ">"});
  REQUIRE(delivered->elements == 1);
  auto entries = delivered->element[0]->element[1];
  std::string good_entry, bad_entry;
  for (std::size_t i = 0; i < entries->elements; ++i) {
    auto id = std::string(queue::text_of(entries->element[i]->element[0]));
    auto fields = entries->element[i]->element[1];
    for (std::size_t f = 0; f + 1 < fields->elements; f += 2)
      if (queue::text_of(fields->element[f]) == "id")
        (queue::text_of(fields->element[f + 1]) == good ? good_entry : bad_entry) = id;
  }
  REQUIRE_FALSE(good_entry.empty());
  for (int i = 0; i < 4; ++i) redis.command({"XCLAIM", "md:intake", "workers", "ghost", "0", good_entry});  // 5 deliveries
  // Leave the ghost's delivery of the bad entry to be reclaimed too.
  stack.start("worker", {{"MEDIADESK_WORKER_MAX_DELIVERIES", "5"}});

  auto admin = stack.admin();
  auto bad_status = stack.wait_for_intake(admin, bad_id);
  CHECK(json_string(bad_status, "status") == "failed");
  CHECK(json_string(bad_status, "error").find("cannot be opened") != std::string::npos);
  auto good_status = stack.wait_for_intake(admin, good);
  CHECK(json_string(good_status, "status") == "failed");
  CHECK(json_string(good_status, "error") == "failed 5 deliveries");
  CHECK(eventually([&] { return stack.redis().command({"XLEN", "md:intake:dead"})->integer == 2; }, 10s));
  CHECK(stack.redis().command({"XLEN", "md:intake"})->integer == 0);
  auto db = stack.database();
  CHECK(count_rows(db, "SELECT count(*) FROM cases") == 0);
  auto metrics = stack.client().get("/metrics");
  CHECK(metrics.body.find("mediadesk_intake_dead_letters 2") != std::string::npos);

  // An operator puts the good one back (docs/OPERATIONS.md): it is processed this time.
  auto dead = stack.redis().command({"XRANGE", "md:intake:dead", "-", "+"});
  for (std::size_t i = 0; i < dead->elements; ++i) {
    auto fields = dead->element[i]->element[1];
    std::map<std::string, std::string> f;
    for (std::size_t k = 0; k + 1 < fields->elements; k += 2)
      f[std::string(queue::text_of(fields->element[k]))] = std::string(queue::text_of(fields->element[k + 1]));
    if (f["id"] == good)
      stack.redis().command({"XADD", "md:intake", "*", "id", f["id"], "src", f["src"], "at", f["at"], "p", f["p"]});
  }
  CHECK(eventually([&] { return json_string(admin.get("/api/v1/intake/" + good).body, "status") == "processed"; }, 15s));
  CHECK(count_rows(db, "SELECT count(*) FROM cases") == 1);
}

TEST_CASE("a process started with another master key refuses to run") {
  test_stack stack("wrong_key");
  stack.start("serve");  // records the key check for the right key
  auto wrong = stack.start("worker", {{"MEDIADESK_MASTER_KEY", crypto::keyring::generate_master_key_text()}});
  CHECK(stack.wait_exit(wrong, 20s) == 1);
  CHECK(stack.wait_for_log(wrong, "master key does not match", 1s));
}

TEST_CASE("serve and worker stop gracefully on SIGTERM") {
  test_stack stack("shutdown");
  auto serve = stack.start("serve");
  auto worker = stack.start("worker");
  REQUIRE(stack.post_request(request_json(1)).status == 202);
  REQUIRE(stack.wait_for_log(worker, "started"));
  stack.kill(serve, SIGTERM);
  stack.kill(worker, SIGTERM);
  CHECK(stack.wait_exit(serve, 10s) == 0);
  CHECK(stack.wait_exit(worker, 10s) == 0);
}
