// Staff authentication for handlers: the session cookie, roles (viewer < staff < admin) and the
// CSRF check on every state-changing call. Returns either the session or the response to send.
#pragma once
#include <variant>

#include "server/app.hpp"

namespace md::server {

enum class role { viewer = 1, staff = 2, admin = 3 };
std::optional<role> parse_role(std::string_view text);

struct staff_session {
  std::string token;
  std::int64_t user_id = 0;
  role user_role = role::viewer;
  std::string csrf_token;
  std::string actor() const { return "user:" + std::to_string(user_id); }
};

inline constexpr std::string_view session_cookie_name = "md_session";

// 401 without a live session; 403 below the needed role or, for anything but GET/HEAD, without
// a matching X-CSRF-Token header.
awaitable<std::variant<staff_session, http_response>> require_session(app_context& app, request_context& ctx,
                                                                      role needed);

std::string session_cookie(const app_context& app, std::string_view token);
std::string expired_session_cookie(const app_context& app);

}  // namespace md::server
