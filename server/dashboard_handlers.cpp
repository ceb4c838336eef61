// The staff dashboard's own calls: assigning a case (PUT /api/v1/cases/{ref}/assignee), internal
// notes (GET and POST /api/v1/cases/{ref}/notes) and the staff list (GET /api/v1/users). Thin over
// store/case_store, store/note_store and store/user_store; a note's text and staff emails are
// personal data, so they never go into a log or an error message.
#include <boost/json/object.hpp>

#include "core/case_ref.hpp"
#include "server/app.hpp"
#include "server/auth.hpp"
#include "server/case_json.hpp"
#include "server/case_write.hpp"
#include "server/dashboard_input.hpp"
#include "server/http_util.hpp"
#include "server/offer_service.hpp"
#include "store/note_store.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

json::value assignee_json(const std::optional<store::labelled_user>& u) {
  return u ? json::value(labelled_user_json(*u)) : json::value(nullptr);
}

// PUT {"user_id": id | null}: after staff_case_write, 400 (user_id), then 404 (the case), then
// 400 (a user who cannot be assigned: unknown, disabled or a viewer).
awaitable<http_response> handle_assign(app_context& app, request_context& ctx) {
  auto found = co_await staff_case_write(app, ctx);
  if (auto* r = std::get_if<http_response>(&found)) co_return std::move(*r);
  auto& write = std::get<case_write>(found);
  auto* field = write.body.if_contains("user_id");
  if (!field || !(field->is_null() || (field->is_int64() && field->get_int64() > 0)))
    co_return field_error_response({"user_id", "user_id is required: a user's id, or null for nobody"});
  std::optional<std::int64_t> user_id;
  if (!field->is_null()) user_id = field->get_int64();
  auto work = [&app, ref = write.ref, user_id, actor = write.session.actor()] {
    auto result = app.database.with([&](store::pg_connection& c) {
      return c.transaction(
          [&](store::pg_connection& tx) { return store::assign_case(tx, app.keys, ref, user_id, actor); });
    });
    if (result.outcome == store::assignment::changed) announce_case_changed(app, ref);
    return result;
  };
  auto result = co_await run_blocking(app.blocking, std::move(work));
  switch (result.outcome) {
    case store::assignment::unknown_case: co_return error_response(http::status::not_found, "no such case");
    case store::assignment::user_not_assignable:
      co_return field_error_response(
          {"user_id", "user_id must be the id of a staff member or admin whose account is not disabled"});
    default: break;
  }
  co_return json_response(http::status::ok, json::object{{"assignee", assignee_json(result.assignee)}});
}

json::object note_json(const store::case_note& n) {
  return {{"id", n.id}, {"at", n.at}, {"author", labelled_user_json(n.author)}};
}

// POST {"text"}: after staff_case_write, 400 (text), then 404 (the case), then 410 once the case's
// personal data was purged (a note added afterwards would outlive every purge).
awaitable<http_response> handle_add_note(app_context& app, request_context& ctx) {
  auto found = co_await staff_case_write(app, ctx);
  if (auto* r = std::get_if<http_response>(&found)) co_return std::move(*r);
  auto& write = std::get<case_write>(found);
  auto* field = write.body.if_contains("text");
  auto checked = field && field->is_string()
                     ? note_text(field->get_string())
                     : field_error{"text", "text is required: the note (up to 5000 characters)"};
  if (auto* e = std::get_if<field_error>(&checked)) co_return field_error_response(*e);
  struct outcome {
    enum { unknown_case, purged, added } what = unknown_case;
    store::case_note note;
  };
  auto work = [&app, ref = write.ref, user_id = write.session.user_id, text = std::get<std::string>(checked)] {
    outcome out;
    try {
      auto note = app.database.with([&](store::pg_connection& c) {
        return c.transaction(
            [&](store::pg_connection& tx) { return store::add_case_note(tx, app.keys, ref, user_id, text); });
      });
      if (!note) return out;
      out = {outcome::added, std::move(*note)};
    } catch (const store::personal_data_purged&) {
      out.what = outcome::purged;
      return out;
    }
    announce_case_changed(app, ref);
    return out;
  };
  auto result = co_await run_blocking(app.blocking, std::move(work));
  if (result.what == outcome::unknown_case) co_return error_response(http::status::not_found, "no such case");
  if (result.what == outcome::purged)
    co_return error_response(http::status::gone,
                             "the personal data of this case was erased (an erasure request or the retention period)");
  co_return json_response(http::status::created, json::object{{"note", note_json(result.note)}});
}

// Staff and admins only: notes may hold personal details, which viewers do not see.
awaitable<http_response> handle_list_notes(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  std::string ref{ctx.path_param("ref")};
  if (!parse_case_ref(ref)) co_return error_response(http::status::not_found, "no such case");
  auto work = [&app, ref] {
    return app.database.with([&](store::pg_connection& c) { return store::list_case_notes(c, app.keys, ref); });
  };
  auto notes = co_await run_blocking(app.blocking, std::move(work));
  if (!notes) co_return error_response(http::status::not_found, "no such case");
  json::array out;
  for (auto& n : *notes) {
    auto one = note_json(n);
    one["text"] = optional_json(n.text);
    one["purged"] = n.purged;
    out.push_back(std::move(one));
  }
  co_return json_response(http::status::ok, json::object{{"notes", std::move(out)}});
}

// Who a case can be shown as assigned to, or filtered by: every user not disabled.
awaitable<http_response> handle_list_users(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto work = [&app] {
    return app.database.with([&](store::pg_connection& c) { return store::list_staff(c, app.keys); });
  };
  auto users = co_await run_blocking(app.blocking, std::move(work));
  json::array out;
  for (auto& u : users) out.push_back(json::object{{"id", u.id}, {"label", u.label}, {"role", u.role}});
  co_return json_response(http::status::ok, json::object{{"users", std::move(out)}});
}

}  // namespace

awaitable<std::variant<case_write, http_response>> staff_case_write(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto body = json_object_body(ctx.request);
  if (auto* r = std::get_if<http_response>(&body)) co_return std::move(*r);
  case_write out{std::get<staff_session>(s), std::string{ctx.path_param("ref")}, std::move(std::get<json::object>(body))};
  if (!parse_case_ref(out.ref)) co_return error_response(http::status::not_found, "no such case");
  co_return out;
}

void announce_case_changed(app_context& app, const std::string& ref) {
  try {
    app.redis.with([&](queue::redis_connection& redis) { publish_case_changed(redis, app.redis_keys, ref); });
  } catch (const unavailable_error&) {
  }
}

void add_dashboard_routes(router& r, app_context& app) {
  r.add(http::verb::put, "/api/v1/cases/{ref}/assignee", [&app](request_context& c) { return handle_assign(app, c); });
  r.add(http::verb::get, "/api/v1/cases/{ref}/notes", [&app](request_context& c) { return handle_list_notes(app, c); });
  r.add(http::verb::post, "/api/v1/cases/{ref}/notes", [&app](request_context& c) { return handle_add_note(app, c); });
  r.add(http::verb::get, "/api/v1/users", [&app](request_context& c) { return handle_list_users(app, c); });
}

}  // namespace md::server
