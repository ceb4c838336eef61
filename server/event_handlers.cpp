// GET /api/v1/events: the dashboard's live feed as server-sent events, for any logged-in role.
// It sends only what the hub lets through (types, refs, counts), never personal data.
#include <algorithm>

#include "server/app.hpp"
#include "server/auth.hpp"
#include "server/event_stream.hpp"
#include "server/http_util.hpp"

namespace md::server {
namespace {

using steady = std::chrono::steady_clock;

// `retry` is how long the browser's EventSource waits before it reconnects.
constexpr std::string_view hello_frame = "retry: 3000\nevent: hello\ndata: {}\n\n";
// A comment line now and then, so that proxies and the browser see the stream alive.
constexpr std::string_view keep_alive_frame = ": keep-alive\n\n";
constexpr auto keep_alive_interval = std::chrono::seconds(15);

// Until the lifetime is over (the browser reconnects and its session is checked again), the
// client is gone, or the server shuts down.
awaitable<void> write_events(app_context& app, std::shared_ptr<event_subscription> subscription,
                             response_stream& out) {
  auto end = steady::now() + std::chrono::seconds(app.config.http.event_stream_max_s);
  subscription->set_wake(out.notifier());
  std::string text{hello_frame};
  std::size_t events = 0;
  bool resync = false;
  auto next_keep_alive = steady::now();
  for (;;) {
    if (!text.empty()) {
      bool written = co_await out.write(text);
      if (!written) co_return;
      app.metrics.events_delivered += events;
      if (resync) ++app.metrics.event_resyncs;
      next_keep_alive = steady::now() + keep_alive_interval;
      text.clear();
    }
    auto now = steady::now();
    if (now >= end || out.closing()) co_return;
    auto batch = subscription->take();
    resync = batch.resync;
    events = batch.frames.size();
    if (resync) text = resync_frame;
    for (auto& frame : batch.frames) text += *frame;
    if (!text.empty()) continue;
    if (now >= next_keep_alive) text = keep_alive_frame;
    else {
      auto until = std::min(end, next_keep_alive);
      co_await out.wait(until);
    }
  }
}

awaitable<http_response> handle_events(app_context& app, request_context& ctx) {
  auto session = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&session)) co_return std::move(*r);
  auto subscription = app.events.subscribe();
  if (!subscription) {
    auto r = error_response(http::status::service_unavailable, "too many live-feed streams; retry later");
    r.set(http::field::retry_after, "10");
    co_return r;
  }
  http_response r{http::status::ok, 11};
  r.set(http::field::content_type, "text/event-stream");
  r.set(http::field::cache_control, "no-store");
  r.set("X-Accel-Buffering", "no");  // nginx: pass each event on at once
  // Not a coroutine itself: the writer's state lives in write_events' frame, not in this closure.
  ctx.stream = [&app, subscription](response_stream& out) { return write_events(app, subscription, out); };
  co_return r;
}

}  // namespace

void add_event_routes(router& r, app_context& app) {
  r.add(http::verb::get, "/api/v1/events", [&app](request_context& ctx) { return handle_events(app, ctx); });
}

}  // namespace md::server
