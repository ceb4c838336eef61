// Integration: the live feed (GET /api/v1/events) end to end, with real serve and worker processes,
// PostgreSQL and Redis. No fixed sleeps: every wait is for a named event, under a deadline.
#include <catch2/catch.hpp>
#include <signal.h>

#include <optional>

#include "support/event_reader.hpp"
#include "support/test_env.hpp"

using namespace md;
using namespace md::test;
using namespace std::chrono_literals;

namespace {

std::int64_t subscribers(test_stack& stack) {
  auto r = stack.redis().command({"PUBSUB", "NUMSUB", "md:events"});
  return r->element[1]->integer;
}

void publish(test_stack& stack, const std::string& message) {
  stack.redis().command({"PUBLISH", "md:events", message});
}

std::string metric(test_stack& stack, int serve, const std::string& name) {
  auto text = http_client("http://127.0.0.1:" + std::to_string(stack.http_port(serve))).get("/metrics").body;
  auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return {};
  at += name.size() + 2;
  return text.substr(at, text.find('\n', at) - at);
}

// Connects, checks the head and the hello event.
void expect_hello(event_reader& reader) {
  REQUIRE(reader.status() == 200);
  auto hello = reader.next(5s);
  REQUIRE(hello);
  CHECK(hello->event == "hello");
  CHECK(hello->data == "{}");
  CHECK(reader.raw().find("retry: 3000\n") != std::string::npos);
}

void expect_event(event_reader& reader, const std::string& event, const std::string& data,
                  std::chrono::milliseconds timeout = 10s) {
  auto e = reader.next(timeout);
  REQUIRE(e);
  CHECK(e->event == event);
  CHECK(e->data == data);
}

}  // namespace

TEST_CASE("the live feed: sessions, hello, a worker's change, two serve processes, garbage dropped, Redis restarted") {
  test_stack stack("events");
  auto serve_a = stack.start("serve");
  auto serve_b = stack.start("serve");
  REQUIRE(stack.http_port(serve_a) != stack.http_port(serve_b));
  stack.start("worker");
  // Each serve process has one subscriber; connecting after both are in place means no resync.
  REQUIRE(eventually([&] { return subscribers(stack) == 2; }, 10s));

  event_reader anonymous(stack.http_port(serve_a), "");
  CHECK(anonymous.status() == 401);

  auto admin = stack.admin();
  auto viewer = logged_in_as(stack, "viewer.events@example.org", "viewer");
  event_reader a(stack.http_port(serve_a), admin.cookie());
  event_reader b(stack.http_port(serve_b), viewer.cookie());
  expect_hello(a);
  expect_hello(b);
  CHECK(a.header("Content-Type") == "text/event-stream");
  CHECK(a.header("Cache-Control") == "no-store");
  CHECK(a.header("X-Accel-Buffering") == "no");
  CHECK(a.header("X-Content-Type-Options") == "nosniff");

  // A webhook request, stored by the worker, is announced to both processes' clients.
  REQUIRE(stack.post_request(R"({"journalist":{"name":"Feed Tester","email":"feed@news.example"},"body":"live"})")
              .status == 202);
  expect_event(a, "cases_changed", R"({"type":"cases_changed","count":1})", 20s);
  expect_event(b, "cases_changed", R"({"type":"cases_changed","count":1})", 20s);

  // Published straight into Redis: garbage and untyped messages never reach a client.
  publish(stack, "garbage\n\nevent: case_changed\ndata: {}");
  publish(stack, R"({"ref":"MD-2026-000001"})");
  publish(stack, R"({"type":"case_changed","ref":"MD-2026-000042"})");
  expect_event(a, "case_changed", R"({"type":"case_changed","ref":"MD-2026-000042"})");
  expect_event(b, "case_changed", R"({"type":"case_changed","ref":"MD-2026-000042"})");
  CHECK(a.raw().find("garbage") == std::string::npos);
  CHECK(metric(stack, serve_a, "mediadesk_event_streams_open") == "1");
  // Counted once the write completes, which may be a moment after the client has read it.
  CHECK(eventually([&] { return metric(stack, serve_a, "mediadesk_events_delivered_total") == "2"; }, 2s));

  // Redis restarted: the subscription is lost and regained, so every client gets resync (events
  // may have been missed), and later events arrive again.
  auto port = stack.redis_server().port();
  stack.redis_server().stop();
  stack.redis_server().start(port);
  expect_event(a, "resync", "{}", 15s);
  expect_event(b, "resync", "{}", 15s);
  publish(stack, R"({"type":"case_changed","ref":"MD-2026-000043"})");
  expect_event(a, "case_changed", R"({"type":"case_changed","ref":"MD-2026-000043"})");
  expect_event(b, "case_changed", R"({"type":"case_changed","ref":"MD-2026-000043"})");
  CHECK(eventually([&] { return metric(stack, serve_b, "mediadesk_event_resyncs_total") == "1"; }, 2s));
}

TEST_CASE("the live feed's cap answers 503, a stream ends at its maximum lifetime, SIGTERM ends it at once") {
  test_stack stack("events_limits");
  auto serve = stack.start("serve", {{"MEDIADESK_HTTP_MAX_EVENT_STREAMS", "1"},
                                     {"MEDIADESK_HTTP_EVENT_STREAM_MAX_S", "2"}});
  auto port = stack.http_port(serve);
  auto admin = stack.admin();

  event_reader first(port, admin.cookie());
  expect_hello(first);
  auto opened = std::chrono::steady_clock::now();
  event_reader second(port, admin.cookie());
  CHECK(second.status() == 503);
  CHECK_FALSE(second.header("Retry-After").empty());

  // The browser reconnects after the lifetime, and its session is checked again then.
  CHECK(first.ends_within(5s));
  auto lifetime = std::chrono::steady_clock::now() - opened;
  CHECK(lifetime > 1500ms);
  CHECK(lifetime < 4s);

  event_reader third(port, admin.cookie());  // the place is free again
  expect_hello(third);
  auto signalled = std::chrono::steady_clock::now();
  stack.kill(serve, SIGTERM);
  CHECK(third.ends_within(1s));
  CHECK(stack.wait_exit(serve, 5s) == 0);
  // Well under the shutdown grace (2 s in the tests): the open stream did not hold the exit up.
  CHECK(std::chrono::steady_clock::now() - signalled < 1500ms);
}
