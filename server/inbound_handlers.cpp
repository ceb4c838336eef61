// Email providers' inbound webhooks: Postmark (JSON, HTTP Basic auth) and Mailgun routes (signed
// form posts). Each post becomes an "email" intake holding an RFC 5322 message, answered only once Redis has it.
#include <spdlog/spdlog.h>

#include <cctype>

#include "crypto/primitives.hpp"
#include "intake/webhook.hpp"
#include "mail/multipart_form.hpp"
#include "mail/provider_messages.hpp"
#include "server/app.hpp"
#include "server/http_util.hpp"
#include "server/intake_append.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

http_response queued_response(const queue::append_outcome& outcome) {
  auto r = json_response(http::status::ok, json::object{{"intake_id", outcome.intake_id}, {"status", "queued"}});
  if (outcome.result == queue::append_outcome::status::replayed) r.set("Idempotent-Replayed", "true");
  return r;
}

http_response unavailable_response() {
  auto r = error_response(http::status::service_unavailable, "the request queue is unavailable; retry later");
  r.set(http::field::retry_after, "5");
  return r;
}

// Seals the message as an email intake and appends it; the caller answers from the outcome.
awaitable<queue::append_outcome> append_email(app_context& app, const std::string& raw, time_point received,
                                              const std::string& idempotency_key) {
  auto record = intake::make_intake_record(app.keys, intake::intake_source::email, raw, to_unix_ms(received));
  queue::append_request append{std::move(record), idempotency_key};
  auto outcome = co_await async_append(app, std::move(append));
  app.metrics.intake_ack_seconds.observe(std::chrono::duration<double>(now() - received).count());
  if (outcome.result == queue::append_outcome::status::unavailable) ++app.metrics.intakes_unavailable;
  co_return outcome;
}

// Postmark retries anything but 200 for about ten hours, except 403, which stops it: so 403 is
// the answer for a post that can never be accepted, and 401 (retried) for wrong credentials.
awaitable<http_response> handle_postmark(app_context& app, request_context& ctx) {
  auto received = now();
  const auto& token = app.config.inbound.postmark_token;
  if (token.empty()) co_return error_response(http::status::not_found, "not found");  // not configured
  if (!mail::postmark_authorized(ctx.request[http::field::authorization], token)) {
    auto r = error_response(http::status::unauthorized, "authentication required");
    // Some HTTP clients send the URL's credentials only after a challenge.
    r.set(http::field::www_authenticate, "Basic realm=\"MediaDesk inbound\", charset=\"UTF-8\"");
    co_return r;
  }
  auto converted = mail::message_from_postmark(ctx.request.body(), received);
  if (auto* e = std::get_if<field_error>(&converted)) {
    spdlog::warn("POST /api/v1/inbound/postmark: refused, field {}", e->field);
    co_return json_response(http::status::forbidden, json::object{{"error", e->message}, {"field", e->field}});
  }
  auto& message = std::get<mail::provider_message>(converted);
  // Postmark's MessageID is the same on every retry of one inbound message: a retry after a lost
  // answer gets the first intake back instead of a second copy.
  std::string key = message.provider_id.empty() ? std::string{} : "postmark:" + message.provider_id;
  if (!intake::valid_idempotency_key(key)) key.clear();
  auto outcome = co_await append_email(app, message.raw, received, key);
  if (outcome.result == queue::append_outcome::status::unavailable) co_return unavailable_response();
  co_return queued_response(outcome);
}

// Mailgun retries anything but 200 and 406 for eight hours: 406 for a post that can never be
// accepted, 401 for a bad signature, 503 while Redis is down.
awaitable<http_response> handle_mailgun(app_context& app, request_context& ctx) {
  auto received = now();
  const auto& signing_key = app.config.inbound.mailgun_signing_key;
  if (signing_key.empty()) co_return error_response(http::status::not_found, "not found");  // not configured

  std::string content_type{ctx.request[http::field::content_type]};
  std::string lowered = content_type;
  for (auto& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::variant<mail::form_data, mail::form_error> parsed = mail::form_error::missing_boundary;
  if (lowered.starts_with("multipart/form-data")) {
    parsed = mail::parse_multipart_form(content_type, ctx.request.body());
  } else if (lowered.starts_with("application/x-www-form-urlencoded")) {
    parsed = mail::parse_urlencoded_form(ctx.request.body());
  } else {
    co_return error_response(http::status::not_acceptable,
                             "Content-Type must be multipart/form-data or application/x-www-form-urlencoded");
  }
  if (auto* e = std::get_if<mail::form_error>(&parsed))
    co_return error_response(http::status::not_acceptable, mail::describe(*e));
  auto& form = std::get<mail::form_data>(parsed);

  auto token = std::string{form.value("token")};
  auto verdict = mail::verify_mailgun_signature(form.value("timestamp"), token, form.value("signature"), signing_key,
                                                received, std::chrono::seconds(app.config.webhook.replay_window_s));
  if (verdict != mail::mailgun_signature_verdict::ok) {
    spdlog::warn("POST /api/v1/inbound/mailgun: {}", mail::describe(verdict));
    co_return error_response(http::status::unauthorized, mail::describe(verdict));
  }
  auto converted = mail::message_from_mailgun(form, received);
  if (auto* e = std::get_if<field_error>(&converted))
    co_return json_response(http::status::not_acceptable, json::object{{"error", e->message}, {"field", e->field}});
  auto& message = std::get<mail::provider_message>(converted);

  // A signed post is good for the whole replay window, so each token is accepted once: claimed
  // (SET NX) for longer than a timestamp stays acceptable, and released if the append fails, so
  // that Mailgun's retry of the same post is not mistaken for a replay.
  auto token_key = app.redis_keys.rate_limit("mailgun-token", crypto::to_hex(crypto::token_hash(token)));
  auto ttl = std::to_string(2 * app.config.webhook.replay_window_s + 60);
  auto claim = [&app, token_key, ttl]() -> bool {
    return app.redis.with([&](queue::redis_connection& c) {
      auto r = c.command({"SET", token_key, "1", "NX", "EX", ttl});
      if (queue::is_error(r.get())) throw unavailable_error("redis refused the mailgun token claim");
      return r->type != REDIS_REPLY_NIL;
    });
  };
  bool fresh = false;
  bool unavailable = false;
  try {
    fresh = co_await run_blocking(app.blocking, std::move(claim));
  } catch (const unavailable_error& e) {
    spdlog::warn("POST /api/v1/inbound/mailgun: {}", e.what());
    unavailable = true;
  }
  if (unavailable) co_return unavailable_response();
  if (!fresh) co_return error_response(http::status::not_acceptable, "this token was already used (replay)");

  const std::string no_idempotency_key;  // named: no temporaries inside co_await (net.hpp)
  auto outcome = co_await append_email(app, message.raw, received, no_idempotency_key);
  if (outcome.result == queue::append_outcome::status::unavailable) {
    auto release = [&app, token_key] {
      try {
        app.redis.with([&](queue::redis_connection& c) { c.command({"DEL", token_key}); });
      } catch (const unavailable_error&) {
      }
    };
    co_await run_blocking(app.blocking, std::move(release));
    co_return unavailable_response();
  }
  co_return queued_response(outcome);
}

}  // namespace

void add_inbound_routes(router& r, app_context& app) {
  r.add(http::verb::post, "/api/v1/inbound/postmark", [&app](request_context& c) { return handle_postmark(app, c); });
  r.add(http::verb::post, "/api/v1/inbound/mailgun", [&app](request_context& c) { return handle_mailgun(app, c); });
  // Mailgun posts the raw message (body-mime) to forward() URLs that end in "mime".
  r.add(http::verb::post, "/api/v1/inbound/mailgun/mime",
        [&app](request_context& c) { return handle_mailgun(app, c); });
}

}  // namespace md::server
