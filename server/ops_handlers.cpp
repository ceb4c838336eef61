// Operations endpoints: /healthz (the process is up), /readyz (PostgreSQL and Redis answer),
// /metrics (Prometheus text, including the intake stream's length, pending and dead letters).
#include <fmt/format.h>

#include "queue/intake_consumer.hpp"
#include "server/app.hpp"
#include "server/http_util.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

awaitable<http_response> handle_readyz(app_context& app) {
  auto work = [&app] {
    bool pg = false, redis = false;
    try {
      pg = app.database.with([](store::pg_connection& c) { return c.exec("SELECT 1").rows() == 1; });
    } catch (const std::exception&) {
    }
    try {
      redis = app.redis.with([](queue::redis_connection& c) { return queue::text_of(c.command({"PING"}).get()) == "PONG"; });
    } catch (const std::exception&) {
    }
    return std::pair{pg, redis};
  };
  auto [postgresql_ok, redis_ok] = co_await run_blocking(app.blocking, std::move(work));
  bool ready = postgresql_ok && redis_ok;
  co_return json_response(ready ? http::status::ok : http::status::service_unavailable,
                          json::object{{"status", ready ? "ready" : "not ready"},
                                       {"postgresql", postgresql_ok ? "ok" : "unavailable"},
                                       {"redis", redis_ok ? "ok" : "unavailable"}});
}

awaitable<http_response> handle_metrics(app_context& app) {
  auto text = app.metrics.render();
  auto work = [&app]() -> std::optional<queue::stream_stats> {
    try {
      return app.redis.with([&](queue::redis_connection& c) { return queue::read_stream_stats(c, app.redis_keys); });
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };
  auto stats = co_await run_blocking(app.blocking, std::move(work));
  text += fmt::format("# TYPE mediadesk_redis_up gauge\nmediadesk_redis_up {}\n", stats ? 1 : 0);
  if (stats)
    text += fmt::format(
        "# HELP mediadesk_intake_stream_length Intakes in the stream (queued or in flight).\n"
        "# TYPE mediadesk_intake_stream_length gauge\nmediadesk_intake_stream_length {}\n"
        "# HELP mediadesk_intake_pending Intakes delivered to a worker and not yet acknowledged.\n"
        "# TYPE mediadesk_intake_pending gauge\nmediadesk_intake_pending {}\n"
        "# HELP mediadesk_intake_dead_letters Intakes in the dead-letter stream.\n"
        "# TYPE mediadesk_intake_dead_letters gauge\nmediadesk_intake_dead_letters {}\n",
        stats->length, stats->pending, stats->dead_letters);
  http_response r{http::status::ok, 11};
  r.set(http::field::content_type, "text/plain; version=0.0.4");
  r.body() = std::move(text);
  co_return r;
}

}  // namespace

void add_ops_routes(router& r, app_context& app) {
  r.add(http::verb::get, "/healthz", [](request_context&) -> awaitable<http_response> {
    co_return json_response(http::status::ok, json::object{{"status", "up"}});
  });
  r.add(http::verb::get, "/readyz", [&app](request_context&) { return handle_readyz(app); });
  r.add(http::verb::get, "/metrics", [&app](request_context&) { return handle_metrics(app); });
  // The benchmark's baseline: same server, same connection handling, no Redis, no sealing.
  if (app.config.http.benchmark_route)
    r.add(http::verb::post, "/bench/trivial", [](request_context&) -> awaitable<http_response> {
      co_return json_response(http::status::accepted, json::object{{"status", "ok"}});
    });
}

}  // namespace md::server
