// Session and role checks (see auth.hpp).
#include "server/auth.hpp"

#include <fmt/format.h>

#include "crypto/primitives.hpp"
#include "server/http_util.hpp"

namespace md::server {

std::optional<role> parse_role(std::string_view text) {
  if (text == "viewer") return role::viewer;
  if (text == "staff") return role::staff;
  if (text == "admin") return role::admin;
  return std::nullopt;
}

awaitable<std::variant<staff_session, http_response>> require_session(app_context& app, request_context& ctx,
                                                                      role needed) {
  auto token = cookie_value(ctx.request, session_cookie_name);
  if (!token || token->empty() || token->size() > 100)
    co_return error_response(http::status::unauthorized, "log in first");
  auto timeouts = app.session_timeouts();
  auto work = [&app, t = *token, timeouts] {
    return app.database.with([&](store::pg_connection& c) { return store::find_session(c, t, timeouts); });
  };
  auto found = co_await run_blocking(app.blocking, std::move(work));
  if (!found) co_return error_response(http::status::unauthorized, "your session has ended; log in again");
  staff_session s{*token, found->user_id, parse_role(found->role).value_or(role::viewer), found->csrf_token};
  auto method = ctx.request.method();
  if (method != http::verb::get && method != http::verb::head &&
      !crypto::equal_constant_time(ctx.request["X-CSRF-Token"], s.csrf_token))
    co_return error_response(http::status::forbidden, "missing or wrong X-CSRF-Token header");
  if (static_cast<int>(s.user_role) < static_cast<int>(needed))
    co_return error_response(http::status::forbidden, "your role does not allow this");
  co_return s;
}

std::string session_cookie(const app_context& app, std::string_view token) {
  return fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}", session_cookie_name, token,
                     app.config.session.absolute_timeout_hours * 3600,
                     app.config.session.secure_cookie ? "; Secure" : "");
}

std::string expired_session_cookie(const app_context& app) {
  return fmt::format("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}", session_cookie_name,
                     app.config.session.secure_cookie ? "; Secure" : "");
}

}  // namespace md::server
