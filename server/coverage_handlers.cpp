// Issue 8's case work: coverage logged on a case (POST and GET /api/v1/cases/{ref}/coverage), a
// case the desk opens itself (POST /api/v1/cases: proactive work), and the aftercare check-ins
// with spokespeople who took part (GET /api/v1/aftercare, POST /api/v1/aftercare/{id}/done).
// Thin over server/coverage_input and store/coverage_store; a piece's link and headline and a
// proactive case's summary never go into a log or an error message.
#include <boost/json/object.hpp>

#include "core/case_ref.hpp"
#include "core/london_time.hpp"
#include "server/app.hpp"
#include "server/auth.hpp"
#include "server/case_json.hpp"
#include "server/case_write.hpp"
#include "server/coverage_input.hpp"
#include "server/dashboard_input.hpp"
#include "server/http_util.hpp"
#include "server/triage_service.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

json::value alias_json(const std::optional<store::spokesperson_alias>& s) {
  if (!s) return nullptr;
  return json::object{{"id", s->id}, {"alias", s->alias}};
}

json::object coverage_json(const store::coverage_record& v) {
  return {{"id", v.id},
          {"outlet_name", v.outlet_name},
          {"outlet_scope", v.outlet_scope},
          {"medium", v.medium},
          {"appeared_on", v.appeared_on},
          {"link", optional_json(v.link)},
          {"headline", optional_json(v.headline)},
          {"lived_experience_quoted", v.lived_experience_quoted},
          {"spokesperson", alias_json(v.spokesperson)},
          {"first_time", v.first_time},
          {"tone", v.tone},
          {"recorded_by", v.recorded_by},
          {"created_at", v.created_at}};
}

json::object task_json(const store::aftercare_task& t) {
  return {{"id", t.id},
          {"case_ref", t.case_ref},
          {"spokesperson", alias_json(t.spokesperson)},
          {"reason", t.reason},
          {"due_at", t.due_at},
          {"created_at", t.created_at},
          {"done_at", optional_json(t.done_at)},
          {"overdue", t.overdue}};
}

// 201 {"coverage", "aftercare"}: after staff_case_write, 400 (a field), then 404 (the case), then
// 400 (spokesperson_id names nobody), then 410 once the case's personal data was purged.
awaitable<http_response> handle_add_coverage(app_context& app, request_context& ctx) {
  auto found = co_await staff_case_write(app, ctx);
  if (auto* r = std::get_if<http_response>(&found)) co_return std::move(*r);
  auto& write = std::get<case_write>(found);
  auto parsed = parse_coverage(write.body, to_london(now()).date);
  if (auto* e = std::get_if<field_error>(&parsed)) co_return field_error_response(*e);
  auto work = [&app, ref = write.ref, actor = write.session.actor(), input = std::get<store::coverage_input>(parsed)] {
    auto added = app.database.with([&](store::pg_connection& c) {
      return c.transaction([&](store::pg_connection& tx) {
        return store::add_coverage(tx, app.keys, ref, input, actor, app.aftercare_policy());
      });
    });
    if (added.outcome == store::coverage_outcome::added) announce_case_changed(app, ref);
    return added;
  };
  auto added = co_await run_blocking(app.blocking, std::move(work));
  switch (added.outcome) {
    case store::coverage_outcome::unknown_case: co_return error_response(http::status::not_found, "no such case");
    case store::coverage_outcome::unknown_spokesperson:
      co_return field_error_response({"spokesperson_id", "spokesperson_id must be the id of a spokesperson in the registry"});
    case store::coverage_outcome::purged:
      co_return error_response(http::status::gone,
                               "the personal data of this case was erased (an erasure request or the retention period)");
    case store::coverage_outcome::added: break;
  }
  json::value aftercare = nullptr;
  if (added.aftercare) aftercare = task_json(*added.aftercare);
  co_return json_response(http::status::created,
                          json::object{{"coverage", coverage_json(added.coverage)}, {"aftercare", std::move(aftercare)}});
}

// Coverage is published material: every signed-in role may read it.
awaitable<http_response> handle_list_coverage(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  std::string ref{ctx.path_param("ref")};
  if (!parse_case_ref(ref)) co_return error_response(http::status::not_found, "no such case");
  auto work = [&app, ref] {
    return app.database.with([&](store::pg_connection& c) { return store::list_coverage(c, app.keys, ref); });
  };
  auto listed = co_await run_blocking(app.blocking, std::move(work));
  if (!listed) co_return error_response(http::status::not_found, "no such case");
  json::array out;
  for (auto& v : *listed) out.push_back(coverage_json(v));
  co_return json_response(http::status::ok,
                          json::object{{"coverage", std::move(out)}});
}

// 201 {"case"}: the summary (1 to 5000 characters) and the triage fields, each checked against
// the taxonomy exactly as a triage correction is, so the two cannot drift apart.
awaitable<http_response> handle_open_proactive_case(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto body = json_object_body(ctx.request);
  if (auto* r = std::get_if<http_response>(&body)) co_return std::move(*r);
  auto& fields_body = std::get<json::object>(body);
  auto* summary_value = fields_body.if_contains("summary");
  auto summary = summary_value && summary_value->is_string()
                     ? trimmed_text(summary_value->get_string(), "summary", 5000, "the story pitched (up to 5000 characters)")
                     : field_error{"summary", "summary is required: the story pitched (up to 5000 characters)"};
  if (auto* e = std::get_if<field_error>(&summary)) co_return field_error_response(*e);
  fields_body.erase("summary");
  auto work = [&app, actor = std::get<staff_session>(s).actor(), summary = std::get<std::string>(summary),
               fields_body]() -> std::variant<store::case_detail, field_error> {
    auto taxonomy = app.taxonomy.current();
    routing::triage_result fields;
    auto received = now();
    fields.target_at = routing::prioritise(*taxonomy, std::nullopt, {}, {}, false, received).target_at;
    if (!fields_body.empty()) {
      auto set = apply_triage_correction(fields_body, *taxonomy, fields);
      if (auto* e = std::get_if<field_error>(&set)) return *e;
      auto& named = std::get<std::vector<std::string>>(set);
      auto p = routing::prioritise(*taxonomy, fields.deadline, fields.outlet_scope, fields.topics, false, received);
      fields.target_at = p.target_at;
      if (std::find(named.begin(), named.end(), "priority") == named.end()) {
        fields.priority_score = p.score;
        fields.priority_level = p.level;
      }
    }
    auto ref = app.database.with([&](store::pg_connection& c) {
      return c.transaction(
          [&](store::pg_connection& tx) { return store::open_proactive_case(tx, app.keys, summary, fields, actor); });
    });
    announce_case_changed(app, ref);
    return app.database.with([&](store::pg_connection& c) { return *store::find_case(c, app.keys, ref); });
  };
  auto opened = co_await run_blocking(app.blocking, std::move(work));
  if (auto* e = std::get_if<field_error>(&opened)) co_return field_error_response(*e);
  co_return json_response(http::status::created,
                          json::object{{"case", case_detail_json(std::get<store::case_detail>(opened))}});
}

// Staff and admins: the tasks name spokespeople (by alias) and the cases they took part in.
awaitable<http_response> handle_list_aftercare(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto state = parse_aftercare_state(query_params(ctx.request.target())["state"]);
  if (auto* e = std::get_if<field_error>(&state)) co_return field_error_response(*e);
  auto work = [&app, state = std::get<store::aftercare_state>(state)] {
    return app.database.with([&](store::pg_connection& c) { return store::list_aftercare(c, state, now()); });
  };
  auto listed = co_await run_blocking(app.blocking, std::move(work));
  json::array tasks;
  for (auto& t : listed.tasks) tasks.push_back(task_json(t));
  co_return json_response(http::status::ok,
                          json::object{{"tasks", std::move(tasks)}, {"open", listed.open}, {"overdue", listed.overdue}});
}

awaitable<http_response> handle_complete_aftercare(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto id = ctx.id_param("id");
  if (!id) co_return error_response(http::status::not_found, "no such aftercare task");
  auto work = [&app, task_id = *id, actor = std::get<staff_session>(s).actor()] {
    auto task = app.database.with([&](store::pg_connection& c) {
      return c.transaction(
          [&](store::pg_connection& tx) { return store::complete_aftercare(tx, task_id, actor, now()); });
    });
    if (task) announce_case_changed(app, task->case_ref);
    return task;
  };
  auto task = co_await run_blocking(app.blocking, std::move(work));
  if (!task) co_return error_response(http::status::not_found, "no such aftercare task");
  co_return json_response(http::status::ok, json::object{{"task", task_json(*task)}});
}

}  // namespace

void add_coverage_routes(router& r, app_context& app) {
  r.add(http::verb::post, "/api/v1/cases/{ref}/coverage", [&app](request_context& c) { return handle_add_coverage(app, c); });
  r.add(http::verb::get, "/api/v1/cases/{ref}/coverage", [&app](request_context& c) { return handle_list_coverage(app, c); });
  r.add(http::verb::post, "/api/v1/cases", [&app](request_context& c) { return handle_open_proactive_case(app, c); });
  r.add(http::verb::get, "/api/v1/aftercare", [&app](request_context& c) { return handle_list_aftercare(app, c); });
  r.add(http::verb::post, "/api/v1/aftercare/{id}/done",
        [&app](request_context& c) { return handle_complete_aftercare(app, c); });
}

}  // namespace md::server
