// The offer flow (see offer_service.hpp).
#include "server/offer_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/errors.hpp"
#include "core/london_time.hpp"
#include "crypto/primitives.hpp"
#include "server/case_mail.hpp"
#include "store/match_store.hpp"
#include "store/outbound_store.hpp"
#include "store/registry_store.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

// A link that would expire sooner than this is given this long anyway: a partner needs a few
// minutes to read and answer, even when the deadline is close.
constexpr auto shortest_offer = std::chrono::minutes(10);
constexpr std::int64_t longest_offer_minutes = 7 * 24 * 60;

mail_context mail_of(const offer_deps& d) { return {d.config, d.keys, d.redis_keys}; }

std::string joined(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string respond_link(const settings& config, std::string_view token) {
  return fmt::format("{}/respond/{}", config.public_base_url(), token);
}

// Where the partner's contact is; nullopt without an email address.
struct partner_contact_address {
  std::string name, email, partner_name;
};
std::optional<partner_contact_address> contact_of(store::pg_connection& tx, const crypto::keyring& keys,
                                                  std::int64_t partner_id) {
  auto partner = store::find_partner(tx, partner_id);
  auto contact = store::open_partner_contact(tx, keys, partner_id);
  if (!partner || !contact || !contact->email || contact->email->empty()) return std::nullopt;
  return partner_contact_address{contact->name.value_or(""), *contact->email, partner->name};
}

std::string greeting(const std::string& name) { return name.empty() ? "Hello," : fmt::format("Dear {},", name); }

}  // namespace

std::string london_text(time_point t) {
  auto l = to_london(t);
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto weekday = std::chrono::weekday{std::chrono::sys_days{l.date}}.c_encoding();
  return fmt::format("{} {} {} {:02}:{:02}", days[weekday], static_cast<unsigned>(l.date.day()),
                     months[static_cast<unsigned>(l.date.month()) - 1], l.hour, l.minute);
}

routing::match_request match_request_of(const store::case_summary& c) {
  routing::match_request r;
  r.topics = c.topics;
  r.regions = c.regions;
  r.medium = c.medium.value_or("");
  r.outlet_name = c.outlet_name.value_or("");
  json::error_code ec;
  auto needs = json::parse(c.needs_json, ec);
  if (!ec && needs.is_object()) {
    auto& o = needs.as_object();
    if (auto* v = o.if_contains("identification"); v && v->is_string()) r.identification = v->get_string();
    if (auto* v = o.if_contains("languages"); v && v->is_array())
      for (auto& language : v->get_array())
        if (language.is_string()) r.languages.emplace_back(language.get_string());
  }
  if (c.deadline) r.deadline = parse_iso8601(*c.deadline);
  return r;
}

std::optional<case_matches> matches_for_case(store::pg_connection& c, const offer_deps& deps, std::string_view ref,
                                             time_point now, bool with_exclusions, std::size_t limit) {
  auto detail = store::find_case(c, ref);
  if (!detail) return std::nullopt;
  routing::matcher matcher(deps.taxonomy, store::load_match_registry(c, now));
  routing::match_options options;
  options.with_exclusions = with_exclusions;
  options.limit = limit;
  options.exclusion_limit = std::max<std::size_t>(options.exclusion_limit, limit);
  auto result = matcher.find(match_request_of(detail->summary), now, options);
  // Already offered on this case: not offered twice, and staff see why it is not listed.
  auto& registry = matcher.registry();
  auto offered = [&](const routing::match& m) -> const store::offer_summary* {
    for (auto& o : detail->offers) {
      if (m.spokesperson ? (o.spokesperson_id == registry.spokespeople[*m.spokesperson].id)
                         : (!o.spokesperson_id && o.partner_id == registry.partners[m.partner].id))
        return &o;
    }
    return nullptr;
  };
  std::vector<routing::match> kept;
  for (auto& m : result.matches) {
    if (auto* o = offered(m)) {
      if (with_exclusions)
        result.excluded.push_back({m.spokesperson ? std::nullopt : std::optional<std::size_t>{m.partner}, m.spokesperson,
                                   {fmt::format("already offered on this case ({})", o->state)}});
      continue;
    }
    kept.push_back(std::move(m));
  }
  result.matches = std::move(kept);
  return case_matches{std::move(*detail), std::move(matcher), std::move(result)};
}

offer_brief brief_of(const routing::taxonomy& taxonomy, const store::case_summary& c) {
  offer_brief b;
  b.outlet = c.outlet_name.value_or("an outlet not yet known");
  if (c.outlet_scope) b.outlet += fmt::format(" ({})", *c.outlet_scope);
  b.medium = c.medium.value_or("not said");
  std::vector<std::string> topics, places;
  for (auto& id : c.topics)
    if (auto i = taxonomy.find_topic(id)) topics.push_back(taxonomy.topics[*i].label);
  for (auto& id : c.regions)
    if (auto i = taxonomy.find_region(id)) places.push_back(taxonomy.regions[*i].name);
  b.topics = topics.empty() ? "not said" : joined(topics);
  b.places = places.empty() ? "not said" : joined(places);
  b.deadline = c.deadline ? (parse_iso8601(*c.deadline) ? london_text(*parse_iso8601(*c.deadline)) + " (London time)"
                                                         : *c.deadline)
                          : "none given";
  std::vector<std::string> asked;
  json::error_code ec;
  auto needs = json::parse(c.needs_json, ec);
  if (!ec && needs.is_object()) {
    auto& o = needs.as_object();
    auto text_of = [&](std::string_view key) -> std::string {
      auto* v = o.if_contains(key);
      return v && v->is_string() ? std::string{v->get_string()} : std::string{};
    };
    if (auto* v = o.if_contains("lived_experience"); v && v->is_bool() && v->get_bool()) asked.push_back("lived experience");
    if (auto a = text_of("appearance"); a == "on_camera") asked.push_back("on camera");
    else if (a == "voice_only") asked.push_back("voice only");
    if (auto i = text_of("identification"); i == "named") asked.push_back("named, on the record");
    else if (i == "anonymous") asked.push_back("anonymous is fine");
    if (auto* v = o.if_contains("languages"); v && v->is_array())
      for (auto& language : v->get_array())
        if (language.is_string()) {
          auto i = taxonomy.find_language(language.get_string());
          asked.push_back(i ? taxonomy.languages[*i].label : std::string{language.get_string()});
        }
  }
  b.asked = asked.empty() ? "a spokesperson on the topic" : joined(asked, "; ");
  return b;
}

namespace {
thread_local publish_after_commit* pending_publishes = nullptr;
}  // namespace

publish_after_commit::publish_after_commit(queue::redis_connection& redis, const queue::redis_keys& keys)
    : redis_(redis), keys_(keys) {
  pending_publishes = this;
}

publish_after_commit::~publish_after_commit() { pending_publishes = nullptr; }

void publish_after_commit::note(std::string_view ref) {
  if (std::find(refs_.begin(), refs_.end(), ref) == refs_.end()) refs_.emplace_back(ref);
}

void publish_after_commit::commit() {
  pending_publishes = nullptr;
  for (auto& ref : refs_) publish_case_changed(redis_, keys_, ref);
  refs_.clear();
}

void publish_case_changed(queue::redis_connection& redis, const queue::redis_keys& keys, std::string_view ref) {
  if (pending_publishes) {
    pending_publishes->note(ref);
    return;
  }
  try {
    redis.command({"PUBLISH", keys.events_channel(),
                   json::serialize(json::object{{"type", "case_changed"}, {"ref", ref}})});
  } catch (const std::exception& e) {
    spdlog::debug("case {}: change not published: {}", ref, e.what());
  }
}

std::variant<offer_sent, offer_refused> send_offer(store::pg_connection& tx, queue::redis_connection& redis,
                                                   const offer_deps& deps, const offer_request& request, time_point now) {
  if (tx.exec("SELECT 1 FROM cases WHERE ref = $1 FOR UPDATE", {store::text(request.ref)}).rows() == 0)
    return offer_refused{404, "", "no such case"};
  // Every candidate, not only the first page: staff may choose one further down the list.
  auto found = matches_for_case(tx, deps, request.ref, now, true, std::numeric_limits<std::size_t>::max());
  if (!found) return offer_refused{404, "", "no such case"};
  const auto* detail = &found->case_detail;
  auto status = parse_case_status(detail->summary.status);
  if (!status || !is_open(*status))
    return offer_refused{409, "", fmt::format("the case is {}: offers are only sent on open cases", detail->summary.status)};
  if (detail->personal_data_purged_at)
    return offer_refused{409, "", "the case's personal data was erased: no offer can be made"};

  auto& registry = found->matcher.registry();
  auto partner = std::find_if(registry.partners.begin(), registry.partners.end(),
                              [&](auto& p) { return p.id == request.partner_id; });
  if (partner == registry.partners.end()) return offer_refused{400, "partner_id", "no such partner"};
  auto partner_index = static_cast<std::size_t>(partner - registry.partners.begin());
  std::optional<std::size_t> person_index;
  if (request.spokesperson_id) {
    auto person = std::find_if(registry.spokespeople.begin(), registry.spokespeople.end(),
                               [&](auto& s) { return s.id == *request.spokesperson_id; });
    if (person == registry.spokespeople.end()) return offer_refused{400, "spokesperson_id", "no such spokesperson"};
    if (person->partner != partner_index)
      return offer_refused{400, "spokesperson_id", "this spokesperson is not one of this partner's"};
    person_index = static_cast<std::size_t>(person - registry.spokespeople.begin());
  }

  // The hard rules, as matching applies them now: consent above all.
  auto& result = found->result;
  auto match = std::find_if(result.matches.begin(), result.matches.end(), [&](auto& m) {
    return m.partner == partner_index && m.spokesperson == person_index;
  });
  if (match == result.matches.end()) {
    for (auto& e : result.excluded) {
      bool same = person_index ? e.spokesperson == person_index : (!e.spokesperson && e.partner == partner_index);
      if (same) return offer_refused{409, "", "not allowed now: " + joined(e.reasons, "; ")};
    }
    return offer_refused{409, "", "not among this case's matches: check the case's topics and regions"};
  }

  auto contact = contact_of(tx, deps.keys, request.partner_id);
  if (!contact) return offer_refused{409, "", "the partner has no contact email"};

  time_point expires_at = now + std::chrono::minutes(deps.config.offers.default_expiry_minutes);
  auto deadline = detail->summary.deadline ? parse_iso8601(*detail->summary.deadline) : std::nullopt;
  if (deadline) expires_at = std::min(expires_at, *deadline - std::chrono::minutes(deps.config.offers.deadline_margin_minutes));
  if (request.expires_in_minutes) {
    if (*request.expires_in_minutes < 1 || *request.expires_in_minutes > longest_offer_minutes)
      return offer_refused{400, "expires_in_minutes", "expires_in_minutes must be from 1 to 10080"};
    expires_at = now + std::chrono::minutes(*request.expires_in_minutes);
  } else {
    expires_at = std::max(expires_at, now + shortest_offer);
  }
  expires_at = std::chrono::time_point_cast<std::chrono::milliseconds>(expires_at);

  auto token = crypto::random_token(32);
  auto id = store::create_offer(tx,
                                {request.ref, request.partner_id, request.spokesperson_id, match->consent_id, expires_at,
                                 match->score, request.actor},
                                crypto::token_hash(token));
  if (!id) return offer_refused{404, "", "no such case"};

  auto brief = brief_of(*deps.taxonomy, detail->summary);
  std::string who = person_index ? fmt::format(" Your spokesperson {} is a good fit.", registry.spokespeople[*person_index].alias)
                                 : std::string{};
  auto body = fmt::format(
      "{greeting}\n\n"
      "The media desk has a journalist's request that {partner} may be able to help with.{who}\n\n"
      "Outlet: {outlet}\nMedium: {medium}\nTopics: {topics}\nPlaces: {places}\nDeadline: {deadline}\n"
      "What is asked: {asked}\n\n"
      "Please answer by {expires} (London time), with one click:\n{link}\n\n"
      "The page shows the request with two buttons, Accept and Decline; nothing happens until you\n"
      "press one. If you accept, we send you the journalist's contact details. The link works once.\n\n"
      "With thanks,\nThe media desk\n",
      fmt::arg("greeting", greeting(contact->name)), fmt::arg("partner", contact->partner_name), fmt::arg("who", who),
      fmt::arg("outlet", brief.outlet), fmt::arg("medium", brief.medium), fmt::arg("topics", brief.topics),
      fmt::arg("places", brief.places), fmt::arg("deadline", brief.deadline), fmt::arg("asked", brief.asked),
      fmt::arg("expires", london_text(expires_at)), fmt::arg("link", respond_link(deps.config, token)));
  queue_plain_mail(redis, mail_of(deps),
                   {contact->name, contact->email,
                    fmt::format("Media request {}: can you help by {}?", request.ref, london_text(expires_at)), body,
                    "offer", request.ref});
  publish_case_changed(redis, deps.redis_keys, request.ref);
  return offer_sent{*id, expires_at};
}

bool release_contact(store::pg_connection& tx, queue::redis_connection& redis, const offer_deps& deps,
                     std::string_view ref, std::int64_t offer_id, std::string_view actor) {
  auto r = tx.exec(R"sql(
SELECT o.partner_id, s.alias, c.id FROM offers o JOIN cases c ON c.id = o.case_id
LEFT JOIN spokespeople s ON s.id = o.spokesperson_id
WHERE o.id = $1 AND c.ref = $2 AND o.state = 'accepted'
  AND NOT EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id AND e.kind = 'contact_released'
                  AND e.data->>'offer_id' = $1::text)
FOR UPDATE OF o)sql",
                   {store::number(offer_id), store::text(ref)});
  if (r.rows() == 0) return false;
  auto partner_id = r.get_int(0, 0);
  auto alias = r.get_optional(0, 1);
  auto contact = contact_of(tx, deps.keys, partner_id);
  std::optional<store::case_document> document;
  try {
    document = store::open_case_document(tx, deps.keys, ref);
  } catch (const store::personal_data_purged&) {
    return false;  // erased: there is nothing left to pass on
  }
  auto journalist = document ? correspondent_of(*document) : std::nullopt;
  auto detail = store::find_case(tx, ref);
  if (!contact || !journalist || !detail) return false;

  auto brief = brief_of(*deps.taxonomy, detail->summary);
  auto to_partner = fmt::format(
      "{greeting}\n\n"
      "Thank you for accepting the request {ref}. Please contact the journalist directly:\n\n"
      "Name: {name}\nEmail: {email}\nPhone: {phone}\nOutlet: {outlet}\nDeadline: {deadline}\n\n"
      "Before any interview, agree with your spokesperson how they wish to be identified, and\n"
      "tell the journalist. If anything changes, reply to this email.\n\n"
      "With thanks,\nThe media desk\n",
      fmt::arg("greeting", greeting(contact->name)), fmt::arg("ref", ref),
      fmt::arg("name", journalist->name.empty() ? "not given" : journalist->name), fmt::arg("email", journalist->address),
      fmt::arg("phone", journalist->phone.empty() ? "not given" : journalist->phone), fmt::arg("outlet", brief.outlet),
      fmt::arg("deadline", brief.deadline));
  queue_plain_mail(redis, mail_of(deps),
                   {contact->name, contact->email, fmt::format("Contact details for media request {}", ref), to_partner,
                    "contact_details", std::string{ref}});

  auto to_journalist = fmt::format(
      "Hello{name},\n\n"
      "Good news about your request: {partner} can help{who}. They will contact you directly,\n"
      "at this address, as soon as they can.\n\n"
      "With best wishes,\nThe media desk\n",
      fmt::arg("name", journalist->name.empty() ? "" : " " + journalist->name), fmt::arg("partner", contact->partner_name),
      fmt::arg("who", alias ? fmt::format(" (spokesperson {})", *alias) : std::string{}));
  write_to_journalist(tx, redis, mail_of(deps), ref, *journalist, to_journalist, "offer_accepted", actor,
                      "journalist_told");
  tx.exec("INSERT INTO case_events (case_id, actor, kind, data) VALUES ($1, $2, 'contact_released', $3::jsonb)",
          {store::number(r.get_int(0, 2)), store::text(actor),
           store::text(fmt::format(R"({{"offer_id":{},"partner_id":{}}})", offer_id, partner_id))});
  return true;
}

void after_accept(store::pg_connection& tx, queue::redis_connection& redis, const offer_deps& deps,
                  std::string_view ref, std::int64_t offer_id) {
  if (deps.config.offers.release_contact == "on_accept") {
    if (!release_contact(tx, redis, deps, ref, offer_id, "system:offers"))
      spdlog::warn("case {}: offer {} accepted but the contact details could not be sent (no address?)", ref, offer_id);
  } else {
    tx.exec(R"sql(
INSERT INTO case_events (case_id, actor, kind, data)
SELECT id, 'system:offers', 'contact_release_pending', jsonb_build_object('offer_id', $2::bigint) FROM cases WHERE ref = $1)sql",
            {store::text(ref), store::number(offer_id)});
  }
  publish_case_changed(redis, deps.redis_keys, ref);
}

void after_close(store::pg_connection& tx, queue::redis_connection& redis, const offer_deps& deps,
                 const store::closed_offer& closed, time_point now) {
  publish_case_changed(redis, deps.redis_keys, closed.ref);
  if (!closed.case_waterfall) return;
  // Offer down the list: the best match not offered yet, unless an offer is open or accepted.
  auto busy = tx.exec("SELECT 1 FROM offers o JOIN cases c ON c.id = o.case_id WHERE c.ref = $1 "
                      "AND o.state IN ('sent', 'accepted') LIMIT 1",
                      {store::text(closed.ref)});
  if (busy.rows() > 0) return;
  auto found = matches_for_case(tx, deps, closed.ref, now, false, 20);
  if (!found) return;
  auto& registry = found->matcher.registry();
  for (auto& m : found->result.matches) {
    offer_request next{closed.ref, registry.partners[m.partner].id,
                       m.spokesperson ? std::optional<std::int64_t>{registry.spokespeople[*m.spokesperson].id}
                                      : std::nullopt,
                       std::nullopt, "system:waterfall"};
    auto sent = send_offer(tx, redis, deps, next, now);
    if (std::holds_alternative<offer_sent>(sent)) {
      spdlog::info("case {}: waterfall offered the next candidate (offer {})", closed.ref, std::get<offer_sent>(sent).id);
      return;
    }
  }
  tx.exec(R"sql(
INSERT INTO case_events (case_id, actor, kind) SELECT id, 'system:waterfall', 'waterfall_exhausted' FROM cases WHERE ref = $1)sql",
          {store::text(closed.ref)});
}

void tell_partner_withdrawn(store::pg_connection& tx, queue::redis_connection& redis, const offer_deps& deps,
                            const store::closed_offer& closed) {
  publish_case_changed(redis, deps.redis_keys, closed.ref);
  auto contact = contact_of(tx, deps.keys, closed.partner_id);
  if (!contact) return;
  auto body = fmt::format(
      "{}\n\nThe media desk has withdrawn its offer for request {}: {}.\n"
      "The link in our earlier email no longer works. Nothing else is needed from you.\n\n"
      "With thanks,\nThe media desk\n",
      greeting(contact->name), closed.ref, closed.reason);
  queue_plain_mail(redis, mail_of(deps),
                   {contact->name, contact->email, fmt::format("Offer withdrawn: media request {}", closed.ref), body,
                    "offer_withdrawn", closed.ref});
}

}  // namespace md::server
