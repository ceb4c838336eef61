// Matches, offers and the case's progress over HTTP. Staff (session): GET
// /api/v1/cases/{ref}/matches, POST /api/v1/cases/{ref}/offers, withdrawing an offer, releasing
// contact details, the case's waterfall switch, status changes. Partners (no log-in, the link's token is the only credential): GET
// /respond/{token} shows the offer, POST answers it. Thin: the rules live in offer_service and
// the stores.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>

#include "core/case_ref.hpp"
#include "crypto/primitives.hpp"
#include "mail/multipart_form.hpp"
#include "server/app.hpp"
#include "server/auth.hpp"
#include "server/html_page.hpp"
#include "server/http_util.hpp"
#include "server/offer_service.hpp"
#include "store/match_store.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

constexpr std::size_t max_decline_reason_bytes = 1000;

offer_deps deps_of(app_context& app) { return {app.config, app.keys, app.taxonomy.current(), app.redis_keys}; }

// Runs work(transaction, redis) on the blocking pool; dashboards hear of the changes once the
// transaction has committed, never before (they reload on the event).
template <class Work>
auto in_transaction(app_context& app, Work&& work) {
  return run_blocking(app.blocking, [&app, work = std::forward<Work>(work)] {
    return app.database.with([&](store::pg_connection& c) {
      return app.redis.with([&](queue::redis_connection& redis) {
        publish_after_commit publishes(redis, app.redis_keys);
        auto result = c.transaction([&](store::pg_connection& tx) { return work(tx, redis); });
        publishes.commit();
        return result;
      });
    });
  });
}

std::optional<std::int64_t> optional_int_field(const json::object& o, std::string_view key, bool& bad) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() < (1ull << 62)) return static_cast<std::int64_t>(v->get_uint64());
  bad = true;
  return std::nullopt;
}

http_response refused_response(const offer_refused& r) {
  if (r.status == 400) return field_error_response({r.field, r.message});
  return error_response(static_cast<http::status>(r.status), r.message);
}

// ---- staff ----

awaitable<http_response> handle_matches(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  std::string ref{ctx.path_param("ref")};
  if (!parse_case_ref(ref)) co_return error_response(http::status::not_found, "no such case");
  auto work = [&app, ref]() -> std::optional<json::object> {
    return app.database.with([&](store::pg_connection& c) -> std::optional<json::object> {
      auto found = matches_for_case(c, deps_of(app), ref, now(), true, 50);
      if (!found) return std::nullopt;
      auto& registry = found->matcher.registry();
      auto partner_json = [&](std::size_t i) {
        return json::object{{"id", registry.partners[i].id}, {"name", registry.partners[i].name}};
      };
      auto person_json = [&](std::optional<std::size_t> i) -> json::value {
        if (!i) return nullptr;
        return json::object{{"id", registry.spokespeople[*i].id}, {"alias", registry.spokespeople[*i].alias}};
      };
      auto reasons_json = [](const std::vector<std::string>& reasons) { return json::array(reasons.begin(), reasons.end()); };
      json::array matches, excluded;
      for (auto& m : found->result.matches)
        matches.push_back(json::object{{"partner", partner_json(m.partner)},
                                       {"spokesperson", person_json(m.spokesperson)},
                                       {"score", std::round(m.score * 1000) / 1000},
                                       {"reasons", reasons_json(m.reasons)}});
      for (auto& e : found->result.excluded) {
        auto partner = e.partner ? e.partner : (e.spokesperson ? registry.spokespeople[*e.spokesperson].partner : std::nullopt);
        excluded.push_back(json::object{{"partner", partner ? json::value(partner_json(*partner)) : json::value(nullptr)},
                                        {"spokesperson", person_json(e.spokesperson)},
                                        {"reasons", reasons_json(e.reasons)}});
      }
      return json::object{{"matches", std::move(matches)}, {"excluded", std::move(excluded)}};
    });
  };
  auto out = co_await run_blocking(app.blocking, std::move(work));
  if (!out) co_return error_response(http::status::not_found, "no such case");
  co_return json_response(http::status::ok, *out);
}

awaitable<http_response> handle_send_offer(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto body = json_object_body(ctx.request);
  if (auto* r = std::get_if<http_response>(&body)) co_return std::move(*r);
  auto& o = std::get<json::object>(body);
  std::string ref{ctx.path_param("ref")};
  if (!parse_case_ref(ref)) co_return error_response(http::status::not_found, "no such case");
  bool bad = false;
  offer_request request{ref, 0, std::nullopt, std::nullopt, std::get<staff_session>(s).actor()};
  auto partner_id = optional_int_field(o, "partner_id", bad);
  if (bad || !partner_id) co_return field_error_response({"partner_id", "partner_id is required: the partner's id"});
  request.partner_id = *partner_id;
  request.spokesperson_id = optional_int_field(o, "spokesperson_id", bad);
  if (bad) co_return field_error_response({"spokesperson_id", "spokesperson_id must be a spokesperson's id or null"});
  request.expires_in_minutes = optional_int_field(o, "expires_in_minutes", bad);
  if (bad) co_return field_error_response({"expires_in_minutes", "expires_in_minutes must be from 1 to 10080"});
  auto work = [&app, request](store::pg_connection& tx, queue::redis_connection& redis) {
    return send_offer(tx, redis, deps_of(app), request, now());
  };
  auto outcome = co_await in_transaction(app, std::move(work));
  if (auto* refused = std::get_if<offer_refused>(&outcome)) co_return refused_response(*refused);
  auto& sent = std::get<offer_sent>(outcome);
  co_return json_response(http::status::created,
                          json::object{{"offer", json::object{{"id", sent.id},
                                                              {"state", "sent"},
                                                              {"expires_at", format_iso8601(sent.expires_at)}}}});
}

// /api/v1/cases/{ref}/offers/{id}/...: the staff member's actor, the case and the offer, or the
// answer to give (no session, wrong role, malformed ref or id).
struct offer_target {
  std::string ref;
  std::int64_t id = 0;
  std::string actor;
};
awaitable<std::variant<offer_target, http_response>> staff_offer_target(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  std::string ref{ctx.path_param("ref")};
  auto id = ctx.id_param("id");
  if (!parse_case_ref(ref) || !id) co_return error_response(http::status::not_found, "no such offer");
  co_return offer_target{ref, *id, std::get<staff_session>(s).actor()};
}

awaitable<http_response> handle_withdraw_offer(app_context& app, request_context& ctx) {
  auto found = co_await staff_offer_target(app, ctx);
  if (auto* r = std::get_if<http_response>(&found)) co_return std::move(*r);
  auto target = std::get<offer_target>(found);
  // The worker tells the partner, as for every withdrawal (store::take_withdrawal_notices).
  auto work = [&app, target](store::pg_connection& tx, queue::redis_connection& redis) {
    auto closed = store::withdraw_offer(tx, target.ref, target.id, target.actor);
    if (closed) publish_case_changed(redis, app.redis_keys, target.ref);
    return closed.has_value();
  };
  if (!co_await in_transaction(app, std::move(work)))
    co_return error_response(http::status::conflict, "no open offer with this id on this case");
  co_return json_response(http::status::ok,
                          json::object{{"offer", json::object{{"id", target.id}, {"state", "withdrawn"}}}});
}

awaitable<http_response> handle_release_contact(app_context& app, request_context& ctx) {
  auto found = co_await staff_offer_target(app, ctx);
  if (auto* r = std::get_if<http_response>(&found)) co_return std::move(*r);
  auto target = std::get<offer_target>(found);
  auto work = [&app, target](store::pg_connection& tx, queue::redis_connection& redis) {
    bool released = release_contact(tx, redis, deps_of(app), target.ref, target.id, target.actor);
    if (released) publish_case_changed(redis, app.redis_keys, target.ref);
    return released;
  };
  if (!co_await in_transaction(app, std::move(work)))
    co_return error_response(http::status::conflict,
                             "no accepted offer with this id whose contact details are still to be sent");
  co_return json_response(http::status::ok, json::object{{"released", true}});
}

awaitable<http_response> handle_waterfall(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto body = json_object_body(ctx.request);
  if (auto* r = std::get_if<http_response>(&body)) co_return std::move(*r);
  auto* on = std::get<json::object>(body).if_contains("on");
  if (!on || !on->is_bool()) co_return field_error_response({"on", "on is required: true or false"});
  std::string ref{ctx.path_param("ref")};
  if (!parse_case_ref(ref)) co_return error_response(http::status::not_found, "no such case");
  auto actor = std::get<staff_session>(s).actor();
  auto work = [&app, ref, on = on->get_bool(), actor](store::pg_connection& tx, queue::redis_connection& redis) {
    bool found = store::set_case_waterfall(tx, ref, on, actor);
    if (found) publish_case_changed(redis, app.redis_keys, ref);
    return found;
  };
  if (!co_await in_transaction(app, std::move(work))) co_return error_response(http::status::not_found, "no such case");
  co_return json_response(http::status::ok, json::object{{"waterfall", on->get_bool()}});
}

// POST /api/v1/cases/{ref}/status {"status"}: a case moves along its lifecycle; closing it
// withdraws its open offers (the worker tells the partners).
awaitable<http_response> handle_change_status(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto body = json_object_body(ctx.request);
  if (auto* r = std::get_if<http_response>(&body)) co_return std::move(*r);
  auto* field = std::get<json::object>(body).if_contains("status");
  auto to = field && field->is_string() ? parse_case_status(field->get_string()) : std::nullopt;
  if (!to)
    co_return field_error_response(
        {"status", "status must be one of new, triaged, offered, accepted, fulfilled, no_match, declined, withdrawn"});
  std::string ref{ctx.path_param("ref")};
  if (!parse_case_ref(ref)) co_return error_response(http::status::not_found, "no such case");
  auto actor = std::get<staff_session>(s).actor();
  auto work = [&app, ref, to = *to, actor](store::pg_connection& tx, queue::redis_connection& redis) {
    auto changed = store::change_case_status(tx, ref, to, actor);
    if (changed.outcome == store::status_change::changed) {
      if (!is_open(to)) store::withdraw_case_offers(tx, changed.case_id, "the case was closed", actor);
      publish_case_changed(redis, app.redis_keys, ref);
    }
    return changed;
  };
  auto changed = co_await in_transaction(app, std::move(work));
  switch (changed.outcome) {
    case store::status_change::unknown_case: co_return error_response(http::status::not_found, "no such case");
    case store::status_change::not_allowed:
      co_return error_response(http::status::conflict,
                               fmt::format("a case cannot move from {} to {}", changed.from, to_string(*to)));
    default: break;
  }
  co_return json_response(http::status::ok, json::object{{"status", to_string(*to)}, {"from", changed.from}});
}

// ---- the partner's link ----

http_response respond_page(app_context& app, http::status status, std::string_view title, std::string_view notice,
                           json::object offer = {}) {
  json::object context{{"title", title}};
  if (!notice.empty()) context["notice"] = notice;
  if (!offer.empty()) context["offer"] = std::move(offer);
  return html_page(app, "respond.html", status, std::move(context));
}

struct page_outcome {
  http::status status;
  std::string title, notice;
  json::object offer;
};

page_outcome not_found_page() {
  return {http::status::not_found, "Link not recognised",
          "This link is not valid. Please use the link exactly as it is in the email, or contact the media desk.",
          {}};
}

// The page for an offer that can no longer be answered, or nullopt if it can.
std::optional<page_outcome> closed_page(const store::offer_view& view, time_point at) {
  auto& o = view.offer;
  if (o.state == "accepted" || o.state == "declined")
    return page_outcome{http::status::gone, "Already answered",
                        fmt::format("This offer was already {}. Thank you. The link works only once.", o.state), {}};
  if (o.state == "withdrawn")
    return page_outcome{http::status::gone, "Offer withdrawn", "The media desk has withdrawn this offer. Nothing is needed from you.", {}};
  auto expires = parse_iso8601(o.expires_at);
  if (o.state == "expired" || (expires && *expires <= at))
    return page_outcome{http::status::gone, "This offer has expired",
                        "The time to answer this offer has passed, so the desk may have asked someone else. If you can "
                        "still help, please contact the media desk directly.",
                        {}};
  return std::nullopt;
}

awaitable<http_response> handle_show_offer(app_context& app, request_context& ctx) {
  std::string token{ctx.path_param("token")};
  if (!crypto::plausible_token(token)) {  // as issued: random_token(32)
    auto p = not_found_page();
    co_return respond_page(app, p.status, p.title, p.notice);
  }
  auto work = [&app, hash = crypto::token_hash(token)]() -> page_outcome {
    return app.database.with([&](store::pg_connection& c) -> page_outcome {
      auto view = store::find_offer_by_token(c, hash, false);
      if (!view) return not_found_page();
      if (auto closed = closed_page(*view, now())) return *closed;
      auto taxonomy = app.taxonomy.current();
      auto brief = brief_of(*taxonomy, view->case_fields);
      json::object offer{{"partner", view->offer.partner_name}, {"ref", view->case_fields.ref},
                         {"outlet", brief.outlet},             {"medium", brief.medium},
                         {"topics", brief.topics},             {"places", brief.places},
                         {"deadline", brief.deadline},         {"asked", brief.asked}};
      if (auto expires = parse_iso8601(view->offer.expires_at)) offer["expires"] = london_text(*expires);
      if (view->offer.spokesperson_alias) offer["alias"] = *view->offer.spokesperson_alias;
      return {http::status::ok, "Can you help with this media request?", "", std::move(offer)};
    });
  };
  auto p = co_await run_blocking(app.blocking, std::move(work));
  co_return respond_page(app, p.status, p.title, p.notice, std::move(p.offer));
}

awaitable<http_response> handle_answer_offer(app_context& app, request_context& ctx) {
  std::string token{ctx.path_param("token")};
  if (!crypto::plausible_token(token)) {  // as issued: random_token(32)
    auto p = not_found_page();
    co_return respond_page(app, p.status, p.title, p.notice);
  }
  std::string content_type{ctx.request[http::field::content_type]};
  auto parsed = mail::parse_urlencoded_form(ctx.request.body());
  auto* form = std::get_if<mail::form_data>(&parsed);
  std::string action = form ? std::string{form->value("action")} : std::string{};
  std::string reason = form ? std::string{form->value("reason")} : std::string{};
  if (!content_type.starts_with("application/x-www-form-urlencoded") || (action != "accept" && action != "decline"))
    co_return respond_page(app, http::status::bad_request, "Answer not understood",
                           "Please use the Accept or Decline button on the offer page.");
  if (reason.size() > max_decline_reason_bytes) reason.resize(max_decline_reason_bytes);

  auto work = [&app, hash = crypto::token_hash(token), action, reason](store::pg_connection& tx,
                                                                        queue::redis_connection& redis) -> page_outcome {
    auto at = now();
    auto view = store::find_offer_by_token(tx, hash, true);
    if (!view) return not_found_page();
    if (auto closed = closed_page(*view, at)) return *closed;
    auto deps = deps_of(app);
    auto& ref = view->case_fields.ref;
    if (action == "accept") {
      // Consent is checked again at the moment of acceptance: it may have lapsed since the offer.
      if (view->offer.spokesperson_id) {
        auto registry = store::load_match_registry(tx, at);
        for (auto& person : registry.spokespeople) {
          if (person.id != *view->offer.spokesperson_id) continue;
          auto consent = routing::covering_consent(person, match_request_of(view->case_fields), at);
          if (auto* why = std::get_if<std::string>(&consent)) {
            if (auto closed = store::withdraw_offer(tx, ref, view->offer.id, "system:offers", "consent no longer holds"))
              after_close(tx, redis, deps, *closed, at);
            spdlog::info("case {}: offer {} could not be accepted: {}", ref, view->offer.id, *why);
            return {http::status::gone, "This offer can no longer be accepted",
                    "The spokesperson's consent no longer covers this request, so the desk has withdrawn the offer. "
                    "Please contact the media desk if you think this is wrong.",
                    {}};
          }
        }
      }
      store::answer_offer(tx, app.keys, view->offer.id, store::offer_answer::accept, "", app.aftercare_policy());
      after_accept(tx, redis, deps, ref, view->offer.id);
      return {http::status::ok, "Thank you: accepted",
              "We are emailing you the journalist's contact details now. Please get in touch with them directly.", {}};
    }
    store::answer_offer(tx, app.keys, view->offer.id, store::offer_answer::decline, reason, app.aftercare_policy());
    auto waterfall = tx.exec("SELECT waterfall FROM cases WHERE ref = $1", {store::text(ref)});
    after_close(tx, redis, deps, {view->offer.id, view->offer.partner_id, ref, waterfall.get_bool(0, 0), "declined"}, at);
    return {http::status::ok, "Thank you: declined", "Thank you for letting us know. Nothing else is needed.", {}};
  };
  auto p = co_await in_transaction(app, std::move(work));
  co_return respond_page(app, p.status, p.title, p.notice);
}

}  // namespace

void add_offer_routes(router& r, app_context& app) {
  r.add(http::verb::get, "/api/v1/cases/{ref}/matches", [&app](request_context& c) { return handle_matches(app, c); });
  r.add(http::verb::post, "/api/v1/cases/{ref}/offers", [&app](request_context& c) { return handle_send_offer(app, c); });
  r.add(http::verb::post, "/api/v1/cases/{ref}/offers/{id}/withdraw",
        [&app](request_context& c) { return handle_withdraw_offer(app, c); });
  r.add(http::verb::post, "/api/v1/cases/{ref}/offers/{id}/release",
        [&app](request_context& c) { return handle_release_contact(app, c); });
  r.add(http::verb::put, "/api/v1/cases/{ref}/waterfall", [&app](request_context& c) { return handle_waterfall(app, c); });
  r.add(http::verb::post, "/api/v1/cases/{ref}/status", [&app](request_context& c) { return handle_change_status(app, c); });
  r.add(http::verb::get, "/respond/{token}", [&app](request_context& c) { return handle_show_offer(app, c); });
  r.add(http::verb::post, "/respond/{token}", [&app](request_context& c) { return handle_answer_offer(app, c); });
}

}  // namespace md::server
