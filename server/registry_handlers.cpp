// The registry API: partners, spokespeople and their consents (roles: viewer reads, staff
// writes, admin archives), deliberate reveals of personal data recorded in the reveal audit,
// and the audit itself for admins; consents coming to an end; and journalists' subject access
// and erasure by email. Bodies are checked by registry_service (the same rules as the CSV
// import); the stores write each change with its registry_events row.
#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/time.hpp"
#include "server/app.hpp"
#include "server/auth.hpp"
#include "server/http_util.hpp"
#include "server/registry_service.hpp"
#include "server/case_json.hpp"
#include "store/registry_store.hpp"
#include "store/retention_store.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

json::array strings(const std::vector<std::string>& items) {
  json::array out;
  for (auto& s : items) out.emplace_back(s);
  return out;
}

json::value optional_number(const std::optional<std::int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); }

json::object partner_json(const store::partner_record& p) {
  return {{"id", p.id},
          {"key", p.key},
          {"name", p.name},
          {"contact", json::object{{"name_set", p.has_contact_name}, {"email_set", p.has_contact_email}}},
          {"regions", strings(p.regions)},
          {"topics", strings(p.topics)},
          {"languages", strings(p.languages)},
          {"away_until", optional_json(p.away_until)},
          {"capacity", optional_number(p.capacity)},
          {"created_at", p.created_at},
          {"updated_at", p.updated_at},
          {"archived_at", optional_json(p.archived_at)}};
}

json::object consent_json(const store::consent_record& c) {
  return {{"id", c.id},
          {"media", strings(c.media)},
          {"identification", c.identification},
          {"topics", strings(c.topics)},
          {"excluded_outlets", strings(c.excluded_outlets)},
          {"granted_at", c.granted_at},
          {"expires_at", optional_json(c.expires_at)},
          {"withdrawn_at", optional_json(c.withdrawn_at)},
          {"state", c.state},
          {"recorded_by", c.recorded_by},
          {"evidence_set", c.has_evidence},
          {"created_at", c.created_at}};
}

json::object spokesperson_json(const store::spokesperson_record& s) {
  return {{"id", s.id},
          {"key", optional_json(s.key)},
          {"partner_id", optional_number(s.partner_id)},
          {"alias", s.alias},
          {"personal", json::object{{"full_name_set", s.has_full_name},
                                    {"email_set", s.has_email},
                                    {"phone_set", s.has_phone},
                                    {"story_notes_set", s.has_story_notes}}},
          {"regions", strings(s.regions)},
          {"topics", strings(s.topics)},
          {"languages", strings(s.languages)},
          {"max_per_month", optional_number(s.max_per_month)},
          {"created_at", s.created_at},
          {"updated_at", s.updated_at},
          {"erased_at", optional_json(s.erased_at)}};
}

// A reveal needs a reason: why this person's data must be seen now.
std::variant<std::string, http_response> reveal_reason(const request_context& ctx) {
  auto body = json_object_body(ctx.request);
  if (auto* r = std::get_if<http_response>(&body)) return std::move(*r);
  auto& o = std::get<json::object>(body);
  auto it = o.find("reason");
  if (it == o.end() || !it->value().is_string() ||
      it->value().get_string().find_first_not_of(" \t\r\n") == std::string::npos || it->value().get_string().size() > 500)
    return field_error_response({"reason", "reason is required (up to 500 characters): why you need to see it"});
  return std::string{it->value().get_string()};
}

// Runs work(connection) on the blocking pool. Callers name the lambda first and pass it moved
// (GCC 12: no class-type temporary inside a co_await expression, see net.hpp).
template <class Work>
auto in_database(app_context& app, Work&& work) {
  return run_blocking(app.blocking, [&app, work = std::forward<Work>(work)] {
    return app.database.with([&](store::pg_connection& c) { return work(c); });
  });
}

http_response not_found(std::string_view what) { return error_response(http::status::not_found, what); }

// ---- creating and changing (one handler for partners and spokespeople) ----

using save_outcome = std::variant<std::int64_t, field_error, http_response>;

struct partner_kind {
  using record = store::partner_record;
  static constexpr const char* name = "partner";
  static constexpr role remover = role::admin;  // archives; the partner's history stays
  static std::optional<record> find(store::pg_connection& c, std::int64_t id) { return store::find_partner(c, id); }
  static bool editable(const record&) { return true; }
  static json::object to_json(const record& r) { return partner_json(r); }
  static void remove(store::pg_connection& tx, std::int64_t id, const std::string& actor) {
    store::archive_partner(tx, id, actor);
  }
  static constexpr std::initializer_list<const char*> personal_fields = {"contact_name", "contact_email"};
  static std::optional<json::object> open_personal(store::pg_connection& c, const crypto::keyring& keys, std::int64_t id) {
    auto contact = store::open_partner_contact(c, keys, id);
    if (!contact) return std::nullopt;
    return json::object{{"contact", json::object{{"name", optional_json(contact->name)},
                                                 {"email", optional_json(contact->email)}}}};
  }
  static save_outcome save(store::pg_connection& tx, app_context& app, std::optional<std::int64_t> id,
                           const record* current, const json::object& body, const std::string& actor) {
    auto input = partner_input_from(body, *app.taxonomy.current(), current);
    if (auto* e = std::get_if<field_error>(&input)) return *e;
    auto& in = std::get<store::partner_input>(input);
    if (auto other = store::find_partner_id_by_key(tx, in.key); other && other != id)
      return error_response(http::status::conflict, "key: another partner has this key");
    if (!id) return store::save_partner(tx, app.keys, in, actor).first;
    store::update_partner(tx, app.keys, *id, in, actor);
    return *id;
  }
};

struct spokesperson_kind {
  using record = store::spokesperson_record;
  static constexpr const char* name = "spokesperson";
  // Erasure: the person's data key is destroyed, so everything sealed under it, in any copy,
  // is unreadable; their consents are withdrawn. Erasing twice changes nothing.
  static constexpr role remover = role::admin;
  static std::optional<record> find(store::pg_connection& c, std::int64_t id) { return store::find_spokesperson(c, id); }
  static bool editable(const record& r) { return !r.erased_at; }
  static json::object to_json(const record& r) { return spokesperson_json(r); }
  static void remove(store::pg_connection& tx, std::int64_t id, const std::string& actor) {
    store::erase_spokesperson(tx, id, actor);
  }
  static constexpr std::initializer_list<const char*> personal_fields = {"full_name", "email", "phone", "story_notes"};
  static std::optional<json::object> open_personal(store::pg_connection& c, const crypto::keyring& keys, std::int64_t id) {
    auto p = store::open_spokesperson(c, keys, id);
    if (!p) return std::nullopt;
    return json::object{{"personal", json::object{{"full_name", optional_json(p->full_name)},
                                                  {"email", optional_json(p->email)},
                                                  {"phone", optional_json(p->phone)},
                                                  {"story_notes", optional_json(p->story_notes)}}}};
  }
  static save_outcome save(store::pg_connection& tx, app_context& app, std::optional<std::int64_t> id,
                           const record* current, const json::object& body, const std::string& actor) {
    auto input = spokesperson_input_from(body, *app.taxonomy.current(), current);
    if (auto* e = std::get_if<field_error>(&input)) return *e;
    auto& in = std::get<store::spokesperson_input>(input);
    if (in.partner_id && !store::find_partner(tx, *in.partner_id)) return field_error{"partner_id", "no partner has this id"};
    if (auto other = in.key ? store::find_spokesperson_id_by_key(tx, *in.key) : std::nullopt; other && other != id)
      return error_response(http::status::conflict, "key: another spokesperson has this key");
    if (!id) return store::save_spokesperson(tx, app.keys, in, actor).first;
    store::update_spokesperson(tx, app.keys, *id, in, actor);
    return *id;
  }
};

// POST creates (201; 409 when the key is taken); PATCH /{id} changes the fields given.
template <class Kind>
awaitable<http_response> handle_save(app_context& app, request_context& ctx, bool creating) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto body = json_object_body(ctx.request);
  if (auto* r = std::get_if<http_response>(&body)) co_return std::move(*r);
  const auto missing = fmt::format("no such {}", Kind::name);
  std::optional<std::int64_t> id;
  if (!creating && !(id = ctx.id_param("id"))) co_return not_found(missing);
  auto actor = std::get<staff_session>(s).actor();
  using outcome = std::variant<typename Kind::record, field_error, http_response>;
  auto work = [&app, id, actor, &missing, body = std::move(std::get<json::object>(body))](store::pg_connection& c) -> outcome {
    return c.transaction([&](store::pg_connection& tx) -> outcome {
      std::optional<typename Kind::record> current;
      if (id && (!(current = Kind::find(tx, *id)) || !Kind::editable(*current))) return not_found(missing);
      auto saved = Kind::save(tx, app, id, current ? &*current : nullptr, body, actor);
      if (auto* e = std::get_if<field_error>(&saved)) return *e;
      if (auto* r = std::get_if<http_response>(&saved)) return std::move(*r);
      return *Kind::find(tx, std::get<std::int64_t>(saved));
    });
  };
  auto result = co_await in_database(app, std::move(work));
  if (auto* e = std::get_if<field_error>(&result)) co_return field_error_response(*e);
  if (auto* r = std::get_if<http_response>(&result)) co_return std::move(*r);
  co_return json_response(creating ? http::status::created : http::status::ok,
                          json::object{{Kind::name, Kind::to_json(std::get<typename Kind::record>(result))}});
}

// DELETE /{id}: archive a partner, erase a spokesperson.
template <class Kind>
awaitable<http_response> handle_remove(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, Kind::remover);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  const auto missing = fmt::format("no such {}", Kind::name);
  auto id = ctx.id_param("id");
  if (!id) co_return not_found(missing);
  auto actor = std::get<staff_session>(s).actor();
  auto removed_work = [id = *id, actor](store::pg_connection& c) {
    return c.transaction([&](store::pg_connection& tx) {
      Kind::remove(tx, id, actor);
      return Kind::find(tx, id);
    });
  };
  auto removed = co_await in_database(app, std::move(removed_work));
  if (!removed) co_return not_found(missing);
  co_return json_response(http::status::ok, json::object{{Kind::name, Kind::to_json(*removed)}});
}

// POST /{id}/reveal: the personal fields, with a reason, recorded in the reveal audit in the
// same transaction (nothing is shown if the record cannot be written).
template <class Kind>
awaitable<http_response> handle_reveal(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto reason = reveal_reason(ctx);
  if (auto* r = std::get_if<http_response>(&reason)) co_return std::move(*r);
  const auto missing = fmt::format("no such {}", Kind::name);
  auto id = ctx.id_param("id");
  if (!id) co_return not_found(missing);
  auto user = std::get<staff_session>(s).user_id;
  auto revealed_work = [&app, id = *id, user, reason = std::get<std::string>(reason)](store::pg_connection& c) {
    return c.transaction([&](store::pg_connection& tx) {
      auto personal = Kind::open_personal(tx, app.keys, id);
      if (personal)
        store::record_reveal(tx, app.keys, user, fmt::format("{}:{}", Kind::name, id),
                             std::vector<std::string>(Kind::personal_fields.begin(), Kind::personal_fields.end()),
                             reason);
      return personal;
    });
  };
  auto revealed = co_await in_database(app, std::move(revealed_work));
  if (!revealed) co_return not_found(missing);
  co_return json_response(http::status::ok, *revealed);
}

// ---- partners ----

awaitable<http_response> handle_list_partners(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  bool archived = query_params(ctx.request.target())["archived"] == "true";
  auto partners_work = [archived](store::pg_connection& c) { return store::list_partners(c, archived); };
  auto partners = co_await in_database(app, std::move(partners_work));
  json::array out;
  for (auto& p : partners) out.push_back(partner_json(p));
  co_return json_response(http::status::ok, json::object{{"partners", std::move(out)}});
}

awaitable<http_response> handle_get_partner(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto id = ctx.id_param("id");
  if (!id) co_return not_found("no such partner");
  auto partner_work = [id = *id](store::pg_connection& c) { return store::find_partner(c, id); };
  auto partner = co_await in_database(app, std::move(partner_work));
  if (!partner) co_return not_found("no such partner");
  co_return json_response(http::status::ok, json::object{{"partner", partner_json(*partner)}});
}

// ---- spokespeople ----

awaitable<http_response> handle_list_spokespeople(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto params = query_params(ctx.request.target());
  std::optional<std::int64_t> partner;
  if (auto& p = params["partner_id"]; !p.empty()) {
    if (p.size() > 18 || p.find_first_not_of("0123456789") != std::string::npos)
      co_return field_error_response({"partner_id", "partner_id must be a partner's id"});
    partner = std::stoll(p);
  }
  auto people_work = [partner](store::pg_connection& c) { return store::list_spokespeople(c, partner); };
  auto people = co_await in_database(app, std::move(people_work));
  json::array out;
  for (auto& p : people) out.push_back(spokesperson_json(p));
  co_return json_response(http::status::ok, json::object{{"spokespeople", std::move(out)}});
}

awaitable<http_response> handle_get_spokesperson(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto id = ctx.id_param("id");
  if (!id) co_return not_found("no such spokesperson");
  auto found_work = [id = *id](store::pg_connection& c) {
    return std::pair{store::find_spokesperson(c, id), store::list_consents(c, id)};
  };
  auto found = co_await in_database(app, std::move(found_work));
  if (!found.first) co_return not_found("no such spokesperson");
  auto out = spokesperson_json(*found.first);
  json::array consents;
  for (auto& c : found.second) consents.push_back(consent_json(c));
  out["consents"] = std::move(consents);
  co_return json_response(http::status::ok, json::object{{"spokesperson", std::move(out)}});
}

// A subject access request (admin, with a reason, recorded): everything held about the person.
awaitable<http_response> handle_export_spokesperson(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::admin);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto reason = reveal_reason(ctx);
  if (auto* r = std::get_if<http_response>(&reason)) co_return std::move(*r);
  auto id = ctx.id_param("id");
  if (!id) co_return not_found("no such spokesperson");
  auto user = std::get<staff_session>(s).user_id;
  auto exported_work = [&app, id = *id, user, reason = std::get<std::string>(reason)](store::pg_connection& c) {
    return c.transaction([&](store::pg_connection& tx) -> std::optional<store::spokesperson_export> {
      if (!store::find_spokesperson(tx, id)) return std::nullopt;
      store::record_reveal(tx, app.keys, user, fmt::format("spokesperson:{}", id), {"export"}, reason);
      return store::export_spokesperson(tx, app.keys, id);
    });
  };
  auto exported = co_await in_database(app, std::move(exported_work));
  if (!exported) co_return not_found("no such spokesperson");
  auto person = spokesperson_json(exported->record);
  person.erase("personal");
  person["full_name"] = optional_json(exported->personal.full_name);
  person["email"] = optional_json(exported->personal.email);
  person["phone"] = optional_json(exported->personal.phone);
  person["story_notes"] = optional_json(exported->personal.story_notes);
  json::array consents, history, reveals;
  for (auto& c : exported->consents) {
    auto one = consent_json(c);
    one.erase("evidence_set");
    one["evidence"] = optional_json(exported->evidence[c.id]);
    consents.push_back(std::move(one));
  }
  for (auto& e : exported->history)
    history.push_back(json::object{{"at", e.at}, {"actor", e.actor}, {"kind", e.kind}, {"data", json::parse(e.data_json)}});
  for (auto& r : exported->reveals)
    reveals.push_back(json::object{{"at", r.at}, {"by", fmt::format("user:{}", r.user_id)}, {"fields", strings(r.fields)}});
  co_return json_response(http::status::ok, json::object{{"spokesperson", std::move(person)},
                                                         {"consents", std::move(consents)},
                                                         {"history", std::move(history)},
                                                         {"reveals", std::move(reveals)}});
}

// ---- consents ----

awaitable<http_response> handle_list_consents(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto id = ctx.id_param("id");
  if (!id) co_return not_found("no such spokesperson");
  auto found_work = [id = *id](store::pg_connection& c) {
    return std::pair{store::find_spokesperson(c, id).has_value(), store::list_consents(c, id)};
  };
  auto found = co_await in_database(app, std::move(found_work));
  if (!found.first) co_return not_found("no such spokesperson");
  json::array out;
  for (auto& c : found.second) out.push_back(consent_json(c));
  co_return json_response(http::status::ok, json::object{{"consents", std::move(out)}});
}

awaitable<http_response> handle_record_consent(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto body = json_object_body(ctx.request);
  if (auto* r = std::get_if<http_response>(&body)) co_return std::move(*r);
  auto id = ctx.id_param("id");
  if (!id) co_return not_found("no such spokesperson");
  auto input = consent_input_from(std::get<json::object>(body), *app.taxonomy.current());
  if (auto* e = std::get_if<field_error>(&input)) co_return field_error_response(*e);
  auto actor = std::get<staff_session>(s).actor();
  auto consent_work = [&app, id = *id, actor, in = std::get<store::consent_input>(input)](
                                               store::pg_connection& c) {
    return c.transaction([&](store::pg_connection& tx) -> std::optional<store::consent_record> {
      auto person = store::find_spokesperson(tx, id);
      if (!person || person->erased_at) return std::nullopt;
      auto consent_id = store::record_consent(tx, app.keys, id, in, actor);
      for (auto& c : store::list_consents(tx, id))
        if (c.id == consent_id) return c;
      return std::nullopt;
    });
  };
  auto consent = co_await in_database(app, std::move(consent_work));
  if (!consent) co_return not_found("no such spokesperson");
  co_return json_response(http::status::created, json::object{{"consent", consent_json(*consent)}});
}

// Withdrawal takes effect at once: matching reads only live consents.
awaitable<http_response> handle_withdraw_consent(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::staff);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto id = ctx.id_param("id");
  auto consent_id = ctx.id_param("consent_id");
  if (!id || !consent_id) co_return not_found("no such consent");
  auto actor = std::get<staff_session>(s).actor();
  auto consent_work = [id = *id, consent_id = *consent_id, actor](store::pg_connection& c) {
    return c.transaction([&](store::pg_connection& tx) -> std::optional<store::consent_record> {
      store::withdraw_consent(tx, id, consent_id, actor);  // a second withdrawal changes nothing
      for (auto& c : store::list_consents(tx, id))
        if (c.id == consent_id) return c;
      return std::nullopt;
    });
  };
  auto consent = co_await in_database(app, std::move(consent_work));
  if (!consent) co_return not_found("no such consent");
  co_return json_response(http::status::ok, json::object{{"consent", consent_json(*consent)}});
}

// ---- the reveal audit ----

awaitable<http_response> handle_list_reveals(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::admin);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto params = query_params(ctx.request.target());
  std::optional<std::string> before;
  if (auto& b = params["before"]; !b.empty()) {
    auto t = parse_iso8601(b);
    if (!t) co_return field_error_response({"before", "before must be an ISO 8601 time"});
    before = format_iso8601(*t);  // UTC with Z: PostgreSQL reads it the same whatever its time zone
  }
  std::optional<std::string> before_id;
  if (auto& b = params["before_id"]; !b.empty()) {
    if (b.size() > 64 || b.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
                             std::string::npos)
      co_return field_error_response({"before_id", "before_id must be the id of an audit entry"});
    before_id = b;
  }
  auto entries_work = [&app, before, before_id](store::pg_connection& c) {
    return store::list_reveals(c, app.keys, 200, before, before_id);
  };
  auto entries = co_await in_database(app, std::move(entries_work));
  json::array out;
  for (auto& e : entries)
    out.push_back(json::object{{"id", e.id},
                               {"at", e.at},
                               {"user_id", e.user_id},
                               {"subject", e.subject},
                               {"fields", strings(e.fields)},
                               {"reason", e.reason}});
  co_return json_response(http::status::ok, json::object{{"reveals", std::move(out)}});
}

// ---- journalists, found by email: subject access and erasure (admin, with a reason) ----

struct journalist_request {
  std::string email, reason;
};

// {"email", "reason"}: the address is read from the body (never the URL, which logs keep).
std::variant<journalist_request, http_response> read_journalist_request(const request_context& ctx) {
  auto reason = reveal_reason(ctx);
  if (auto* r = std::get_if<http_response>(&reason)) return std::move(*r);
  auto body = json_object_body(ctx.request);
  auto& o = std::get<json::object>(body);  // reveal_reason has checked it is an object
  auto it = o.find("email");
  if (it == o.end() || !it->value().is_string() || it->value().get_string().size() > 320 ||
      it->value().get_string().find('@') == json::string::npos)
    return field_error_response({"email", "email is required: the journalist's email address"});
  return journalist_request{std::string{it->value().get_string()}, std::get<std::string>(reason)};
}

// Everything held about one journalist: their cases, requests, messages and the desk's notes, opened.
awaitable<http_response> handle_export_journalist(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::admin);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto request = read_journalist_request(ctx);
  if (auto* r = std::get_if<http_response>(&request)) co_return std::move(*r);
  auto user = std::get<staff_session>(s).user_id;
  auto exported_work = [&app, user, in = std::get<journalist_request>(request)](store::pg_connection& c) {
    return c.transaction([&](store::pg_connection& tx) {
      store::record_reveal(tx, app.keys, user, store::journalist_subject(app.keys, in.email), {"export"}, in.reason);
      return store::export_journalist(tx, app.keys, in.email);
    });
  };
  auto exported = co_await in_database(app, std::move(exported_work));
  json::array cases;
  for (auto& jc : exported) {
    auto one = case_summary_json(jc.summary);
    one.erase("assignee");  // which staff member handles it is the desk's, not the journalist's, data
    json::value request_value = nullptr;
    if (jc.request) {
      json::error_code ec;
      auto document = json::parse(*jc.request, ec);
      request_value = ec ? json::value(*jc.request) : std::move(document);
    }
    one["request"] = std::move(request_value);
    json::array messages;
    for (auto& m : jc.messages)
      messages.push_back(json::object{
          {"at", m.at}, {"direction", m.direction}, {"source", m.source}, {"text", optional_json(m.text)}});
    one["messages"] = std::move(messages);
    json::array notes;
    for (auto& n : jc.notes)
      notes.push_back(json::object{{"id", n.id}, {"at", n.at}, {"text", optional_json(n.text)}, {"purged", n.purged}});
    one["notes"] = std::move(notes);
    cases.push_back(std::move(one));
  }
  co_return json_response(http::status::ok, json::object{{"journalist", json::object{{"cases", std::move(cases)}}}});
}

// Erases the journalist's personal data on every case; the cases stay, anonymous.
awaitable<http_response> handle_erase_journalist(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::admin);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto request = read_journalist_request(ctx);
  if (auto* r = std::get_if<http_response>(&request)) co_return std::move(*r);
  auto actor = std::get<staff_session>(s).actor();
  auto user = std::get<staff_session>(s).user_id;
  auto erased_work = [&app, actor, user, in = std::get<journalist_request>(request)](store::pg_connection& c) {
    return c.transaction([&](store::pg_connection& tx) {
      // The reason (staff's words) is kept sealed in the audit, beside the erasure's history.
      store::record_reveal(tx, app.keys, user, store::journalist_subject(app.keys, in.email), {"erasure"}, in.reason);
      return store::erase_journalist(tx, app.keys, in.email, actor);
    });
  };
  auto erased = co_await in_database(app, std::move(erased_work));
  co_return json_response(http::status::ok,
                          json::object{{"erased", json::object{{"cases", strings(erased.refs)}, {"messages", erased.messages}}}});
}

// ---- consents coming to an end ----

awaitable<http_response> handle_expiring_consents(app_context& app, request_context& ctx) {
  auto s = co_await require_session(app, ctx, role::viewer);
  if (auto* r = std::get_if<http_response>(&s)) co_return std::move(*r);
  auto params = query_params(ctx.request.target());
  std::int64_t within_days = app.config.consent.reminder_days > 0 ? app.config.consent.reminder_days : 14;
  if (auto& d = params["within_days"]; !d.empty()) {
    if (d.size() > 3 || d.find_first_not_of("0123456789") != std::string::npos || std::stoi(d) < 1 || std::stoi(d) > 365)
      co_return field_error_response({"within_days", "within_days must be a whole number of days from 1 to 365"});
    within_days = std::stoi(d);
  }
  auto expiring_work = [within_days](store::pg_connection& c) {
    return store::list_expiring_consents(c, now(), within_days);
  };
  auto expiring = co_await in_database(app, std::move(expiring_work));
  json::array out;
  for (auto& e : expiring)
    out.push_back(json::object{{"consent_id", e.consent_id},
                               {"spokesperson", json::object{{"id", e.spokesperson_id}, {"alias", e.alias}}},
                               {"expires_at", e.expires_at},
                               {"reminded_at", optional_json(e.reminded_at)}});
  co_return json_response(http::status::ok, json::object{{"within_days", within_days}, {"consents", std::move(out)}});
}

}  // namespace

void add_registry_routes(router& r, app_context& app) {
  r.add(http::verb::get, "/api/v1/partners", [&app](request_context& c) { return handle_list_partners(app, c); });
  r.add(http::verb::post, "/api/v1/partners", [&app](request_context& c) { return handle_save<partner_kind>(app, c, true); });
  r.add(http::verb::get, "/api/v1/partners/{id}", [&app](request_context& c) { return handle_get_partner(app, c); });
  r.add(http::verb::patch, "/api/v1/partners/{id}",
        [&app](request_context& c) { return handle_save<partner_kind>(app, c, false); });
  r.add(http::verb::delete_, "/api/v1/partners/{id}",
        [&app](request_context& c) { return handle_remove<partner_kind>(app, c); });
  r.add(http::verb::post, "/api/v1/partners/{id}/reveal",
        [&app](request_context& c) { return handle_reveal<partner_kind>(app, c); });
  r.add(http::verb::get, "/api/v1/spokespeople", [&app](request_context& c) { return handle_list_spokespeople(app, c); });
  r.add(http::verb::post, "/api/v1/spokespeople",
        [&app](request_context& c) { return handle_save<spokesperson_kind>(app, c, true); });
  r.add(http::verb::get, "/api/v1/spokespeople/{id}",
        [&app](request_context& c) { return handle_get_spokesperson(app, c); });
  r.add(http::verb::patch, "/api/v1/spokespeople/{id}",
        [&app](request_context& c) { return handle_save<spokesperson_kind>(app, c, false); });
  r.add(http::verb::post, "/api/v1/spokespeople/{id}/reveal",
        [&app](request_context& c) { return handle_reveal<spokesperson_kind>(app, c); });
  r.add(http::verb::delete_, "/api/v1/spokespeople/{id}",
        [&app](request_context& c) { return handle_remove<spokesperson_kind>(app, c); });
  r.add(http::verb::post, "/api/v1/spokespeople/{id}/export",
        [&app](request_context& c) { return handle_export_spokesperson(app, c); });
  r.add(http::verb::get, "/api/v1/spokespeople/{id}/consents",
        [&app](request_context& c) { return handle_list_consents(app, c); });
  r.add(http::verb::post, "/api/v1/spokespeople/{id}/consents",
        [&app](request_context& c) { return handle_record_consent(app, c); });
  r.add(http::verb::post, "/api/v1/spokespeople/{id}/consents/{consent_id}/withdraw",
        [&app](request_context& c) { return handle_withdraw_consent(app, c); });
  r.add(http::verb::get, "/api/v1/audit/reveals", [&app](request_context& c) { return handle_list_reveals(app, c); });
  r.add(http::verb::get, "/api/v1/consents/expiring",
        [&app](request_context& c) { return handle_expiring_consents(app, c); });
  r.add(http::verb::post, "/api/v1/journalists/export",
        [&app](request_context& c) { return handle_export_journalist(app, c); });
  r.add(http::verb::post, "/api/v1/journalists/erase",
        [&app](request_context& c) { return handle_erase_journalist(app, c); });
}

}  // namespace md::server
