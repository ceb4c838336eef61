// What every staff change to one case starts and ends with, shared by the dashboard's handlers:
// the session, CSRF, the ref and the JSON body checked first; dashboards told after the commit.
#pragma once
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <variant>

#include "server/app.hpp"
#include "server/auth.hpp"

namespace md::server {

// A staff member's change to one case (PUT or POST /api/v1/cases/{ref}/...): the session (staff
// or admin, CSRF checked), the ref and the JSON body; or the answer to give (401, 403, 400 for a
// body that is not a JSON object, 404 for a malformed ref).
struct case_write {
  staff_session session;
  std::string ref;
  boost::json::object body;
};
awaitable<std::variant<case_write, http_response>> staff_case_write(app_context& app, request_context& ctx);

// After the commit, dashboards hear of the change. Losing it is harmless (a dashboard reloads
// anyway), so Redis being down must not fail a change already made.
void announce_case_changed(app_context& app, const std::string& ref);

}  // namespace md::server
