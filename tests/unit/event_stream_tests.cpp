// Unit tests for the live feed without Redis: event frames, the hub's queues and cap, and the HTTP
// server's streams (wake-ups, slow clients, shutdown). Real loopback sockets; no PostgreSQL or Redis.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>

#include "server/event_stream.hpp"
#include "server/http_server.hpp"
#include "support/raw_socket.hpp"

using namespace md::server;
using namespace std::chrono_literals;

TEST_CASE("only JSON objects with a lower-case type become events, published text kept as is") {
  auto frame = event_frame(R"({"type":"case_changed","ref":"MD-2026-000001"})");
  REQUIRE(frame);
  CHECK(*frame == "event: case_changed\ndata: {\"type\":\"case_changed\",\"ref\":\"MD-2026-000001\"}\n\n");
  CHECK(event_frame(R"({"count":3,"type":"cases_changed"})") ==
        "event: cases_changed\ndata: {\"count\":3,\"type\":\"cases_changed\"}\n\n");
  // Line breaks (only ever whitespace in JSON) become data lines, which SSE joins back with \n.
  CHECK(event_frame("{\"type\":\"x\",\n\"n\":1}") == "event: x\ndata: {\"type\":\"x\",\ndata: \"n\":1}\n\n");
  CHECK(event_frame("{\"type\":\"x\"}\r\n") == "event: x\ndata: {\"type\":\"x\"}\ndata: \n\n");

  for (std::string bad : {"", "garbage", "event: evil\ndata: x", "[1,2]", "\"case_changed\"", "{}",
                          R"({"type":1})", R"({"type":""})", R"({"type":"Case"})", R"({"type":"case-changed"})",
                          R"({"type":"a\nevent: b"})", R"({"type":"x"} trailing)", R"({"ref":"MD-1"})"})
    CHECK_FALSE(event_frame(bad));
  CHECK_FALSE(event_frame(R"({"type":")" + std::string(65, 'a') + "\"}"));
  CHECK_FALSE(event_frame(R"({"type":"x","pad":")" + std::string(5000, 'a') + "\"}"));
}

TEST_CASE("the hub fans out to every stream; an overflowing stream gets one resync; the cap holds") {
  metrics_registry metrics;
  event_hub hub({{}, "md:events", 1000ms, 2, 3}, metrics);
  auto a = hub.subscribe();
  auto b = hub.subscribe();
  REQUIRE(a);
  REQUIRE(b);
  CHECK_FALSE(hub.subscribe());  // cap of 2
  CHECK(metrics.event_streams_open == 2);

  std::atomic<int> woken = 0;
  a->set_wake([&] { ++woken; });
  hub.deliver(R"({"type":"case_changed","ref":"MD-1"})");
  hub.deliver("not json");  // dropped, nobody woken
  CHECK(woken == 1);
  auto got = a->take();
  CHECK_FALSE(got.resync);
  REQUIRE(got.frames.size() == 1);
  CHECK(*got.frames[0] == "event: case_changed\ndata: {\"type\":\"case_changed\",\"ref\":\"MD-1\"}\n\n");
  CHECK(a->take().frames.empty());

  CHECK(b->take().frames.size() == 1);

  // b stops taking while a keeps up: with 3 frames queued, the 4th clears b's queue for a resync.
  for (int i = 0; i < 4; ++i) {
    hub.deliver(R"({"type":"cases_changed","count":1})");
    CHECK(a->take().frames.size() == 1);
  }
  auto overflowed = b->take();
  CHECK(overflowed.resync);
  CHECK(overflowed.frames.empty());
  hub.deliver(R"({"type":"cases_changed","count":2})");
  auto after = b->take();
  CHECK_FALSE(after.resync);
  CHECK(after.frames.size() == 1);

  hub.deliver(R"({"type":"cases_changed","count":3})");
  hub.resync_all();  // the subscription was regained: queued frames are stale
  auto resynced = a->take();
  CHECK(resynced.resync);
  CHECK(resynced.frames.empty());

  a.reset();  // leaving frees a place
  CHECK(metrics.event_streams_open == 1);
  CHECK(hub.subscribe());
}

TEST_CASE("the hub without Redis neither spins nor delays stop") {
  metrics_registry metrics;
  // A port nobody listens on: every attempt is refused at once; the backoff paces them.
  event_hub hub({{"127.0.0.1", 1, "", "", 0}, "md:events", 200ms}, metrics);
  hub.start();
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(hub.subscribed());
  auto started = std::chrono::steady_clock::now();
  hub.stop();
  CHECK(std::chrono::steady_clock::now() - started < 1s);
}

namespace {

struct stream_probe {
  std::promise<std::function<void()>> notifier;
  std::atomic<int> ended = 0;
  std::atomic<bool> write_failed = false;
};

// Writes "first", then "woken" after each notification, until shutdown.
awaitable<void> waking_writer(response_stream& out, stream_probe& probe) {
  probe.notifier.set_value(out.notifier());
  std::string first = "first\n";
  bool ok = co_await out.write(first);
  while (ok) {
    auto until = std::chrono::steady_clock::now() + 30s;
    co_await out.wait(until);
    if (out.closing()) break;
    std::string woken = "woken\n";
    ok = co_await out.write(woken);
  }
  ++probe.ended;
}

// Writes as fast as it can to a client that never reads, until a write fails.
awaitable<void> flooding_writer(response_stream& out, stream_probe& probe) {
  std::string block(64 * 1024, 'x');
  for (int i = 0; i < 100'000; ++i) {
    bool ok = co_await out.write(block);
    if (!ok) {
      probe.write_failed = true;
      break;
    }
  }
  ++probe.ended;
}

struct test_server {
  explicit test_server(http_limits limits, stream_probe& probe) {
    routes.add(http::verb::get, "/wake", [&probe](request_context& ctx) -> awaitable<http_response> {
      ctx.stream = [&probe](response_stream& out) { return waking_writer(out, probe); };
      http_response r{http::status::ok, 11};
      r.set(http::field::content_type, "text/event-stream");
      co_return r;
    });
    routes.add(http::verb::get, "/flood", [&probe](request_context& ctx) -> awaitable<http_response> {
      ctx.stream = [&probe](response_stream& out) { return flooding_writer(out, probe); };
      co_return http_response{http::status::ok, 11};
    });
    server = std::make_unique<http_server>(io, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}, limits, routes,
                                           metrics);
    server->start();
    thread = std::thread([this] { io.run(); });
  }
  ~test_server() {
    io.stop();
    thread.join();
  }
  int port() const { return server->local_endpoint().port(); }
  asio::io_context io;
  metrics_registry metrics;
  router routes;
  std::unique_ptr<http_server> server;
  std::thread thread;
};

}  // namespace

TEST_CASE("a streaming response is woken by its notifier, and begin_shutdown ends it at once") {
  stream_probe probe;
  test_server server({}, probe);
  md::test::raw_socket client(server.port());
  client.send("GET /wake HTTP/1.1\r\nHost: test\r\n\r\n");
  REQUIRE(client.read_until("first", 5s));
  auto& text = client.received();
  CHECK(text.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(text.find("Transfer-Encoding: chunked") != std::string::npos);
  CHECK(text.find("Connection: close") != std::string::npos);
  CHECK(text.find("X-Content-Type-Options: nosniff") != std::string::npos);
  CHECK(text.find("Content-Length") == std::string::npos);

  auto notify = probe.notifier.get_future().get();
  notify();
  REQUIRE(client.read_until("woken", 5s));
  auto before = client.received().size();
  notify();
  notify();  // two notifications before the writer looks: at least one more write, no lost wake-up
  REQUIRE(client.read_until("woken", 5s, before));

  auto started = std::chrono::steady_clock::now();
  server.server->begin_shutdown();
  CHECK(client.read_until_closed(1s));
  CHECK(std::chrono::steady_clock::now() - started < 1s);
  CHECK(client.received().ends_with("0\r\n\r\n"));  // the last chunk: a complete body
  CHECK(probe.ended == 1);
  auto until = std::chrono::steady_clock::now() + 1s;  // the connection's completion runs just after
  while (server.server->open_connections() != 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  CHECK(server.server->open_connections() == 0);
  notify();  // the hub may still hold it: harmless once the stream is gone
}

TEST_CASE("a client that stops reading a stream is dropped after the write deadline") {
  stream_probe probe;
  http_limits limits;
  limits.stream_write_timeout = 200ms;
  test_server server(limits, probe);
  md::test::raw_socket client(server.port());
  client.send("GET /flood HTTP/1.1\r\nHost: test\r\n\r\n");  // and never read
  auto until = std::chrono::steady_clock::now() + 10s;
  while (probe.ended == 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
  CHECK(probe.ended == 1);
  CHECK(probe.write_failed);
}
