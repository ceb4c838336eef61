// The staff API: log-in and sessions, the case list and case detail, intake status, and the
// deliberate reveal of a request's personal data (recorded on the case's timeline).
#include <boost/json/parse.hpp>
#include <array>
#include <charconv>

#include "core/case_ref.hpp"
#include "crypto/primitives.hpp"
#include "queue/rate_limit.hpp"
#include "server/auth.hpp"
#include "server/case_json.hpp"
#include "server/dashboard_input.hpp"
#include "server/http_util.hpp"
#include "store/case_store.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

std::optional<std::string> string_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return std::nullopt;
  return std::string{it->value().get_string()};
}


// Who is logged in, as the log-in and GET /api/v1/session answer it. The label is the user's own
// email address: sent to them, never logged.
json::object session_json(std::string_view csrf, std::string_view role, std::int64_t user_id, std::string_view label) {
  return {{"csrf", csrf}, {"role", role}, {"user_id", user_id}, {"label", label}};
}

awaitable<http_response> handle_login(app_context& app, request_context& ctx) {
  auto body = json_object_body(ctx.request);
  if (auto* r = std::get_if<http_response>(&body)) co_return std::move(*r);
  auto& o = std::get<json::object>(body);
  auto email = string_field(o, "email");
  auto password = string_field(o, "password");
  if (!email || email->empty() || email->size() > 320) co_return field_error_response({"email", "email is required"});
  if (!password || password->empty() || password->size() > 1024)
    co_return field_error_response({"password", "password is required"});

  // Failed attempts are counted per client address and per account (under the email's blind
  // index), in Redis so that every serve process shares them: one address guessing many accounts
  // meets the first limit, many addresses guessing one account the second.
  std::array<std::pair<std::string, std::int64_t>, 2> limiters{
      std::pair{app.redis_keys.rate_limit("login", client_network(ctx.remote.address(), ctx.request)),
                app.config.session.login_attempts_per_15_minutes},
      std::pair{app.sender_rate_key("login", *email), app.config.session.login_attempts_per_account_per_15_minutes}};
  struct login_result {
    bool limited = false;
    std::optional<std::string> token;
    std::string csrf, role, label;
    std::int64_t user_id = 0;
  };
  auto work = [&app, &limiters, email = *email, password = *password]() -> login_result {
    // If Redis is down the limiter is skipped rather than locking staff out.
    auto limited = [&] {
      try {
        return app.redis.with([&](queue::redis_connection& c) {
          for (auto& [key, limit] : limiters) {
            auto r = c.command({"GET", key});
            auto text = queue::text_of(r.get());
            std::int64_t n = 0;
            std::from_chars(text.data(), text.data() + text.size(), n);
            if (n >= limit) return true;
          }
          return false;
        });
      } catch (const unavailable_error&) {
        return false;
      }
    }();
    if (limited) return {true, std::nullopt, {}, {}, {}, 0};
    auto user = app.database.with(
        [&](store::pg_connection& c) { return store::find_user_by_email(c, app.keys, email); });
    // Verify against a fixed hash when the user is unknown, so timing does not tell who exists.
    static const std::string decoy = crypto::hash_password(crypto::random_token(16));
    bool ok = crypto::verify_password(user ? user->password_hash : decoy, password) && user && !user->disabled;
    if (!ok) {
      try {
        app.redis.with([&](queue::redis_connection& c) {
          // A fixed 15-minute window from the first failure (EXPIRE on every failure would slide).
          for (auto& [key, limit] : limiters) queue::count_in_window(c, key, std::chrono::minutes(15));
        });
      } catch (const unavailable_error&) {
      }
      return {};
    }
    login_result out;
    out.csrf = crypto::random_token(24);
    out.role = user->role;
    out.user_id = user->id;
    app.database.with([&](store::pg_connection& c) {
      out.token = store::create_session(c, user->id, out.csrf, app.session_timeouts());
      out.label = store::staff_label(c, app.keys, user->id);
    });
    return out;
  };
  auto result = co_await run_blocking(app.blocking, std::move(work));
  if (result.limited) {
    auto r = error_response(http::status::too_many_requests, "too many failed log-ins; try again later");
    r.set(http::field::retry_after, "900");
    co_return r;
  }
  if (!result.token) co_return error_response(http::status::unauthorized, "wrong email or password");
  auto r = json_response(http::status::ok, session_json(result.csrf, result.role, result.user_id, result.label));
  r.set(http::field::set_cookie, session_cookie(app, *result.token));
  co_return r;
}

awaitable<http_response> handle_logout(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto token = std::get<staff_session>(s).token;
  auto work = [&app, token] {
    app.database.with([&](store::pg_connection& c) { store::delete_session(c, token); });
  };
  co_await run_blocking(app.blocking, std::move(work));
  auto r = json_response(http::status::ok, json::object{{"status", "logged out"}});
  r.set(http::field::set_cookie, expired_session_cookie(app));
  co_return r;
}

awaitable<http_response> handle_session(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto& session = std::get<staff_session>(s);
  std::string_view role_name = session.user_role == role::admin ? "admin"
                               : session.user_role == role::staff ? "staff"
                                                                  : "viewer";
  auto work = [&app, user_id = session.user_id] {
    return app.database.with([&](store::pg_connection& c) { return store::staff_label(c, app.keys, user_id); });
  };
  auto label = co_await run_blocking(app.blocking, std::move(work));
  co_return json_response(http::status::ok, session_json(session.csrf_token, role_name, session.user_id, label));
}

awaitable<http_response> handle_list_cases(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto parsed = parse_case_filter(query_params(ctx.request.target()), std::get<staff_session>(s).user_id);
  if (auto* e = std::get_if<field_error>(&parsed)) co_return field_error_response(*e);
  auto work = [&app, filter = std::get<store::case_filter>(parsed)] {
    return app.database.with([&](store::pg_connection& c) { return store::list_cases(c, app.keys, filter); });
  };
  auto page = co_await run_blocking(app.blocking, std::move(work));
  json::array cases;
  for (auto& c : page.cases) cases.push_back(case_summary_json(c));
  json::object counts;
  for (auto& [status, n] : page.counts) counts[to_string(status)] = n;
  // total stays the last key, as before counts existed: simple clients read it from the end.
  co_return json_response(http::status::ok, json::object{{"cases", std::move(cases)},
                                                         {"counts", std::move(counts)},
                                                         {"total", page.total}});
}

awaitable<http_response> handle_get_case(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  std::string ref{ctx.path_param("ref")};
  if (!parse_case_ref(ref)) co_return error_response(http::status::not_found, "no such case");
  auto work = [&app, ref] {
    return app.database.with([&](store::pg_connection& c) { return store::find_case(c, app.keys, ref); });
  };
  auto detail = co_await run_blocking(app.blocking, std::move(work));
  if (!detail) co_return error_response(http::status::not_found, "no such case");
  co_return json_response(http::status::ok, json::object{{"case", case_detail_json(*detail)}});
}

awaitable<http_response> handle_reveal_request(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto body = json_object_body(ctx.request);
  if (auto* r = std::get_if<http_response>(&body)) co_return std::move(*r);
  auto reason = string_field(std::get<json::object>(body), "reason");
  if (!reason || reason->find_first_not_of(" \t\r\n") == std::string::npos || reason->size() > 500)
    co_return field_error_response({"reason", "reason is required (up to 500 characters): why you need to see it"});
  std::string ref{ctx.path_param("ref")};
  if (!parse_case_ref(ref)) co_return error_response(http::status::not_found, "no such case");
  auto user_id = std::get<staff_session>(s).user_id;
  // A purged case answers 410 (nullopt inside the optional), an unknown one 404 (nullopt).
  auto work = [&app, ref, user_id, reason = *reason]() -> std::optional<std::optional<std::string>> {
    try {
      return app.database.with([&](store::pg_connection& c) {
        return c.transaction([&](store::pg_connection& tx) {
          auto revealed = store::reveal_case_request(tx, app.keys, ref, user_id, reason);
          return revealed ? std::optional<std::optional<std::string>>{std::move(revealed)} : std::nullopt;
        });
      });
    } catch (const store::personal_data_purged&) {
      return std::optional<std::string>{};
    }
  };
  auto outcome = co_await run_blocking(app.blocking, std::move(work));
  if (!outcome) co_return error_response(http::status::not_found, "no such case");
  if (!*outcome)
    co_return error_response(http::status::gone,
                             "the personal data of this case was erased (an erasure request or the retention period)");
  auto& plaintext = *outcome;
  json::error_code ec;
  auto document = json::parse(*plaintext, ec);
  co_return json_response(http::status::ok,
                          json::object{{"request", ec ? json::value(*plaintext) : std::move(document)}});
}

awaitable<http_response> handle_intake_status(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  std::string id{ctx.path_param("id")};
  if (!crypto::is_valid_intake_id(id)) co_return error_response(http::status::not_found, "no such intake");
  auto work = [&app, id]() -> std::optional<store::intake_state> {
    auto stored = app.database.with([&](store::pg_connection& c) { return store::find_intake(c, id); });
    if (stored) return stored;
    // Not in PostgreSQL yet: queued if Redis still marks it as accepted.
    bool seen = app.redis.with([&](queue::redis_connection& c) {
      auto r = c.command({"EXISTS", app.redis_keys.intake_seen(id)});
      return r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    });
    if (seen) return store::intake_state{"queued", std::nullopt, std::nullopt};
    return std::nullopt;
  };
  auto state = co_await run_blocking(app.blocking, std::move(work));
  if (!state) co_return error_response(http::status::not_found, "no such intake");
  co_return json_response(http::status::ok,
                          json::object{{"intake_id", id}, {"status", state->status},
                                       {"case", optional_json(state->case_ref)}, {"error", optional_json(state->error)}});
}

}  // namespace

void add_staff_routes(router& r, app_context& app) {
  r.add(http::verb::post, "/api/v1/login", [&app](request_context& c) { return handle_login(app, c); });
  r.add(http::verb::post, "/api/v1/logout", [&app](request_context& c) { return handle_logout(app, c); });
  r.add(http::verb::get, "/api/v1/session", [&app](request_context& c) { return handle_session(app, c); });
  r.add(http::verb::get, "/api/v1/cases", [&app](request_context& c) { return handle_list_cases(app, c); });
  r.add(http::verb::get, "/api/v1/cases/{ref}", [&app](request_context& c) { return handle_get_case(app, c); });
  r.add(http::verb::post, "/api/v1/cases/{ref}/reveal",
        [&app](request_context& c) { return handle_reveal_request(app, c); });
  r.add(http::verb::get, "/api/v1/intake/{id}", [&app](request_context& c) { return handle_intake_status(app, c); });
}

}  // namespace md::server
