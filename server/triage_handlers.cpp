// Staff work on triage: correct a case's triage fields (each change a timeline event; corrected
// fields survive re-triage), re-triage a case with the current taxonomy, and triage's accuracy
// in use (the share of fields staff corrected).
#include <boost/json/serialize.hpp>

#include "core/case_ref.hpp"
#include "server/app.hpp"
#include "server/auth.hpp"
#include "server/case_json.hpp"
#include "server/http_util.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

// Priority and target follow the fields they depend on (deadline, outlet, topics) when one of
// them changed; a priority staff set, now or before, stays.
void reprioritise(const routing::taxonomy& taxonomy, const store::case_triage& before, store::case_triage& c,
                  bool priority_set_now) {
  auto& f = c.fields;
  bool deadline_changed = f.deadline != before.fields.deadline;
  bool inputs_changed = deadline_changed || f.outlet_scope != before.fields.outlet_scope || f.topics != before.fields.topics;
  if (!inputs_changed) return;
  auto p = routing::prioritise(taxonomy, f.deadline, f.outlet_scope, f.topics, false, c.received_at);
  if (deadline_changed) f.target_at = p.target_at;
  bool priority_set_by_staff =
      priority_set_now ||
      std::find(c.corrected_fields.begin(), c.corrected_fields.end(), "priority") != c.corrected_fields.end();
  if (!priority_set_by_staff) {
    f.priority_score = p.score;
    f.priority_level = p.level;
  }
}

void add_corrected(std::vector<std::string>& corrected, const std::vector<store::triage_change>& changes) {
  for (auto& c : changes)
    if (std::find(corrected.begin(), corrected.end(), c.field) == corrected.end()) corrected.push_back(c.field);
}

using case_or_error = std::variant<store::case_detail, field_error, std::monostate>;  // monostate: no such case

http_response answer(const case_or_error& outcome) {
  if (auto* e = std::get_if<field_error>(&outcome)) return field_error_response(*e);
  if (std::holds_alternative<std::monostate>(outcome)) return error_response(http::status::not_found, "no such case");
  return json_response(http::status::ok, json::object{{"case", case_detail_json(std::get<store::case_detail>(outcome))}});
}

awaitable<http_response> handle_correct_triage(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto body = json_object_body(ctx.request);
  if (auto* r = std::get_if<http_response>(&body)) co_return std::move(*r);
  std::string ref{ctx.path_param("ref")};
  if (!parse_case_ref(ref)) co_return error_response(http::status::not_found, "no such case");
  auto actor = std::get<staff_session>(s).actor();
  auto work = [&app, ref, actor, correction = std::move(std::get<json::object>(body))]() -> case_or_error {
    auto taxonomy = app.taxonomy.current();
    return app.database.with([&](store::pg_connection& c) -> case_or_error {
      auto outcome = c.transaction([&](store::pg_connection& tx) -> case_or_error {
        auto current = store::lock_case_triage(tx, ref);
        if (!current) return std::monostate{};
        auto updated = *current;
        auto set = apply_triage_correction(correction, *taxonomy, updated.fields);
        if (auto* e = std::get_if<field_error>(&set)) return *e;
        auto& fields_set = std::get<std::vector<std::string>>(set);
        auto changes = triage_changes(current->fields, updated.fields);
        // Only real changes count as corrections; confirming a value leaves it triage's own.
        std::erase_if(changes, [&](auto& change) {
          return std::find(fields_set.begin(), fields_set.end(), change.field) == fields_set.end();
        });
        add_corrected(updated.corrected_fields, changes);
        bool priority_set = std::find(fields_set.begin(), fields_set.end(), "priority") != fields_set.end();
        reprioritise(*taxonomy, *current, updated, priority_set);
        store::save_case_triage(tx, updated, changes, actor, "triage_corrected", {});
        return store::case_detail{};
      });
      if (!std::holds_alternative<store::case_detail>(outcome)) return outcome;
      return *store::find_case(c, app.keys, ref);
    });
  };
  co_return answer(co_await run_blocking(app.blocking, std::move(work)));
}

awaitable<http_response> handle_retriage(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  std::string ref{ctx.path_param("ref")};
  if (!parse_case_ref(ref)) co_return error_response(http::status::not_found, "no such case");
  auto actor = std::get<staff_session>(s).actor();
  auto work = [&app, ref, actor]() -> case_or_error {
    auto taxonomy = app.taxonomy.current();
    return app.database.with([&](store::pg_connection& c) -> case_or_error {
      auto found = c.transaction([&](store::pg_connection& tx) -> bool {
        auto current = store::lock_case_triage(tx, ref);
        if (!current) return false;
        if (current->source == "staff") return true;  // a pitch, not a request: staff set its fields
        std::string document;
        try {
          document = store::open_case_request(tx, app.keys, ref);
        } catch (const store::personal_data_purged&) {
          return true;  // nothing left to triage: the case stays as it is (its detail says why)
        }
        auto text = text_of_document(current->source, document);
        auto fresh = routing::triage(*taxonomy, text ? text->input() : routing::triage_input{}, current->received_at);
        // Fields staff corrected keep their values; the rest take the new triage.
        auto updated = *current;
        auto corrected = [&](std::string_view field) {
          return std::find(current->corrected_fields.begin(), current->corrected_fields.end(), field) !=
                 current->corrected_fields.end();
        };
        auto& f = updated.fields;
        if (!corrected("topics")) f.topics = fresh.topics;
        if (!corrected("regions")) f.regions = fresh.regions;
        if (!corrected("medium")) f.medium = fresh.medium;
        if (!corrected("outlet")) f.outlet_name = fresh.outlet_name, f.outlet_scope = fresh.outlet_scope;
        if (!corrected("deadline")) f.deadline = fresh.deadline;
        if (!corrected("needs")) f.needs = fresh.needs;
        if (!corrected("deadline")) f.target_at = fresh.target_at;
        if (!corrected("priority")) {
          if (corrected("deadline") || corrected("outlet") || corrected("topics")) {
            auto p = routing::prioritise(*taxonomy, f.deadline, f.outlet_scope, f.topics, false, current->received_at);
            f.priority_score = p.score;
            f.priority_level = p.level;
          } else {
            f.priority_score = fresh.priority_score;  // the fresh score also saw urgent words
            f.priority_level = fresh.priority_level;
          }
        }
        auto changes = triage_changes(current->fields, updated.fields);
        store::save_case_triage(tx, updated, changes, actor, "retriaged",
                                json::serialize(routing::explain_json(fresh.explain)));
        return true;
      });
      if (!found) return std::monostate{};
      return *store::find_case(c, app.keys, ref);
    });
  };
  co_return answer(co_await run_blocking(app.blocking, std::move(work)));
}

awaitable<http_response> handle_triage_accuracy(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto work = [&app] {
    return app.database.with([](store::pg_connection& c) { return store::read_triage_accuracy(c); });
  };
  auto accuracy = co_await run_blocking(app.blocking, std::move(work));
  json::object fields;
  std::int64_t corrected_total = 0;
  for (auto name : triage_field_names) {
    std::int64_t corrected = 0;
    for (auto& [field, count] : accuracy.corrected_by_field)
      if (field == name) corrected = count;
    corrected_total += corrected;
    double share = accuracy.cases ? static_cast<double>(corrected) / static_cast<double>(accuracy.cases) : 0.0;
    fields[name] = json::object{{"corrected", corrected}, {"share_corrected", share}, {"accuracy", 1.0 - share}};
  }
  auto all_fields = accuracy.cases * static_cast<std::int64_t>(std::size(triage_field_names));
  double share = all_fields ? static_cast<double>(corrected_total) / static_cast<double>(all_fields) : 0.0;
  co_return json_response(http::status::ok, json::object{{"cases", accuracy.cases},
                                                         {"fields", std::move(fields)},
                                                         {"share_of_fields_corrected", share},
                                                         {"accuracy", 1.0 - share}});
}

// The taxonomy's ids and labels, for the dashboard's filters and the triage form.
awaitable<http_response> handle_taxonomy(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto taxonomy = app.taxonomy.current();
  json::array topics, regions, languages;
  for (auto& t : taxonomy->topics) topics.push_back(json::object{{"id", t.id}, {"label", t.label}});
  for (auto& r : taxonomy->regions)
    regions.push_back(json::object{{"id", r.id}, {"label", r.name}, {"level", r.level}});
  for (auto& l : taxonomy->languages) languages.push_back(json::object{{"id", l.id}, {"label", l.label}});
  co_return json_response(http::status::ok,
                          json::object{{"topics", std::move(topics)},
                                       {"regions", std::move(regions)},
                                       {"languages", std::move(languages)},
                                       {"media", json::array{"tv", "radio", "print", "online", "podcast"}}});
}

}  // namespace

void add_triage_routes(router& r, app_context& app) {
  r.add(http::verb::patch, "/api/v1/cases/{ref}/triage", [&app](request_context& c) { return handle_correct_triage(app, c); });
  r.add(http::verb::post, "/api/v1/cases/{ref}/retriage", [&app](request_context& c) { return handle_retriage(app, c); });
  r.add(http::verb::get, "/api/v1/triage/accuracy", [&app](request_context& c) { return handle_triage_accuracy(app, c); });
  r.add(http::verb::get, "/api/v1/taxonomy", [&app](request_context& c) { return handle_taxonomy(app, c); });
}

}  // namespace md::server
