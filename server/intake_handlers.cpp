// The webhook door: POST /api/v1/requests. Checks the signature, validates the body, seals it,
// and answers 202 only once Redis has acknowledged the append (group-committed by the Redis appender).
#include "intake/webhook.hpp"
#include "queue/rate_limit.hpp"
#include "server/app.hpp"
#include "server/http_util.hpp"
#include "server/intake_append.hpp"

namespace md::server {
namespace {

awaitable<http_response> handle_webhook(app_context& app, request_context& ctx) {
  auto received = now();
  auto& request = ctx.request;
  auto verdict = intake::verify_signature(request["X-Signature"], request.body(), app.config.webhook.secret, received,
                                          std::chrono::seconds(app.config.webhook.replay_window_s));
  if (verdict != intake::signature_verdict::ok) {
    auto limit = app.config.inbound.webhook_bad_signatures_per_ip_per_hour;
    auto count = [&app, key = app.redis_keys.rate_limit("webhook-bad", client_network(ctx.remote.address(), request))] {
      try {
        return app.redis.with(
            [&](queue::redis_connection& c) { return queue::count_in_window(c, key, std::chrono::hours(1)); });
      } catch (const unavailable_error&) {
        return queue::window_count{};  // not counted: the 401 stands on its own
      }
    };
    queue::window_count counted;
    if (limit > 0) counted = co_await run_blocking(app.blocking, std::move(count));
    if (counted.count > limit) {
      auto r = error_response(http::status::too_many_requests,
                              "too many requests with a bad signature from this address; check the webhook secret "
                              "and the clock, then retry later");
      r.set(http::field::retry_after, std::to_string(std::max<std::int64_t>(1, counted.ttl_seconds)));
      co_return r;
    }
    co_return error_response(http::status::unauthorized, intake::describe(verdict));
  }
  auto validated = intake::validate_webhook_body(request.body());
  if (auto* e = std::get_if<field_error>(&validated)) co_return field_error_response(*e);
  std::string idempotency_key{request["Idempotency-Key"]};
  if (request.find("Idempotency-Key") != request.end() && !intake::valid_idempotency_key(idempotency_key))
    co_return field_error_response(
        {"Idempotency-Key", "Idempotency-Key must be 1 to 200 visible ASCII characters"});

  auto record = intake::make_intake_record(app.keys, intake::intake_source::webhook, request.body(),
                                           to_unix_ms(received));
  queue::append_request append{.record = std::move(record), .idempotency_key = std::move(idempotency_key)};
  // The signed message is a key too, whatever Idempotency-Key comes with it (that header is not
  // signed). A signature is good for the whole window, so a captured post replayed, or the
  // sender's retry after a lost answer, would otherwise be a second request: it gets the first
  // intake back instead. Kept for as long as the signature could still be accepted (t may be
  // ahead of our clock).
  append.signed_message_key = *intake::signed_message_key(request["X-Signature"], request.body());
  append.signed_message_ttl = std::chrono::seconds(2 * app.config.webhook.replay_window_s + 60);
  if (auto limit = app.config.inbound.webhook_requests_per_sender_per_hour; limit > 0) {
    append.sender_rate_key =
        app.sender_rate_key("webhook", std::get<intake::validated_request>(validated).request.journalist.email);
    append.sender_limit = limit;
  }
  auto outcome = co_await async_append(app, std::move(append));
  app.metrics.intake_ack_seconds.observe(std::chrono::duration<double>(now() - received).count());
  if (outcome.result == queue::append_outcome::status::limited) {
    auto r = json_response(http::status::too_many_requests,
                           boost::json::object{{"error",
                                                "too many requests for this journalist's email address this hour; "
                                                "nothing was queued, retry later"},
                                               {"field", "journalist.email"}});
    r.set(http::field::retry_after, std::to_string(outcome.retry_after_s));
    co_return r;
  }
  if (outcome.result == queue::append_outcome::status::unavailable) {
    ++app.metrics.intakes_unavailable;
    auto r = error_response(http::status::service_unavailable, "the request queue is unavailable; retry later");
    r.set(http::field::retry_after, "5");
    co_return r;
  }
  auto r = json_response(http::status::accepted,
                         boost::json::object{{"intake_id", outcome.intake_id}, {"status", "queued"}});
  if (outcome.result == queue::append_outcome::status::replayed) r.set("Idempotent-Replayed", "true");
  co_return r;
}

}  // namespace

void add_intake_routes(router& r, app_context& app) {
  r.add(http::verb::post, "/api/v1/requests", [&app](request_context& ctx) { return handle_webhook(app, ctx); });
}

}  // namespace md::server
