// Registry request bodies to store inputs (see registry_service.hpp).
#include "server/registry_service.hpp"

#include <fmt/format.h>

#include "core/time.hpp"
#include "routing/registry_import.hpp"

namespace md::server {
namespace json = boost::json;
namespace {

constexpr std::string_view known_partner_fields[] = {"key",       "name",       "contact_name", "contact_email", "regions",
                                                     "topics",    "languages",  "away_until",   "capacity"};
constexpr std::string_view known_spokesperson_fields[] = {
    "key", "partner_id", "alias", "full_name", "email", "phone", "story_notes", "regions", "topics", "languages",
    "max_per_month"};
constexpr std::string_view known_consent_fields[] = {"media",      "identification", "topics",  "excluded_outlets",
                                                     "granted_at", "expires_at",     "evidence"};

std::optional<field_error> unknown_field(const json::object& body, std::span<const std::string_view> known) {
  for (auto& [name, value] : body)
    if (std::find(known.begin(), known.end(), std::string_view(name)) == known.end())
      return field_error{std::string(name), fmt::format("{} is not a field here", std::string_view(name))};
  return std::nullopt;
}

// A text field: absent → nullopt (leave as is); null → "" (clear); a string → checked as the
// import checks that column. Personal values never appear in the messages (the checks say so).
std::variant<std::optional<std::string>, field_error> text_field(const json::object& body, std::string_view name,
                                                                 const routing::taxonomy& taxonomy) {
  auto it = body.find(name);
  if (it == body.end()) return std::optional<std::string>{};
  if (it->value().is_null()) return std::optional<std::string>{std::string{}};
  if (!it->value().is_string()) return field_error{std::string(name), fmt::format("{} must be a string", name)};
  auto checked = routing::check_registry_field(name, it->value().get_string(), taxonomy);
  if (checked.problem) return field_error{std::string(name), *checked.problem};
  return std::optional<std::string>{std::move(checked.value)};
}

std::variant<std::optional<std::vector<std::string>>, field_error> list_field(const json::object& body,
                                                                              std::string_view name,
                                                                              const routing::taxonomy& taxonomy) {
  auto it = body.find(name);
  if (it == body.end()) return std::optional<std::vector<std::string>>{};
  std::vector<std::string> items;
  if (!it->value().is_null()) {
    if (!it->value().is_array() || it->value().get_array().size() > 200)
      return field_error{std::string(name), fmt::format("{} must be a list of up to 200 strings", name)};
    for (auto& v : it->value().get_array()) {
      if (!v.is_string()) return field_error{std::string(name), fmt::format("{} must be a list of strings", name)};
      items.emplace_back(v.get_string());
    }
  }
  auto checked = routing::check_registry_list(name, items, taxonomy);
  if (auto* problem = std::get_if<std::string>(&checked)) return field_error{std::string(name), *problem};
  return std::optional<std::vector<std::string>>{std::get<std::vector<std::string>>(std::move(checked))};
}

// A whole number in [low, high], or null (-1: clear).
std::variant<std::optional<std::int64_t>, field_error> number_field(const json::object& body, std::string_view name,
                                                                    std::int64_t low, std::int64_t high) {
  auto it = body.find(name);
  if (it == body.end()) return std::optional<std::int64_t>{};
  if (it->value().is_null()) return std::optional<std::int64_t>{-1};
  if (!it->value().is_int64() || it->value().get_int64() < low || it->value().get_int64() > high)
    return field_error{std::string(name), fmt::format("{} must be a whole number from {} to {}, or null", name, low, high)};
  return std::optional<std::int64_t>{it->value().get_int64()};
}

// An ISO 8601 time, or null ("": clear).
std::variant<std::optional<std::string>, field_error> time_field(const json::object& body, std::string_view name) {
  auto it = body.find(name);
  if (it == body.end()) return std::optional<std::string>{};
  if (it->value().is_null()) return std::optional<std::string>{std::string{}};
  if (!it->value().is_string() || !parse_iso8601(it->value().get_string()))
    return field_error{std::string(name), fmt::format("{} must be an ISO 8601 time such as 2026-12-01T09:00:00Z", name)};
  return std::optional<std::string>{format_iso8601(*parse_iso8601(it->value().get_string()))};
}

#define MD_TAKE(var, expr)                                  \
  auto var##_result = (expr);                               \
  if (auto* e = std::get_if<field_error>(&var##_result)) return *e; \
  auto var = std::get<0>(std::move(var##_result))

}  // namespace

std::variant<store::partner_input, field_error> partner_input_from(const json::object& body,
                                                                   const routing::taxonomy& taxonomy,
                                                                   const store::partner_record* current) {
  if (auto e = unknown_field(body, known_partner_fields)) return *e;
  MD_TAKE(key, text_field(body, "key", taxonomy));
  MD_TAKE(name, text_field(body, "name", taxonomy));
  MD_TAKE(contact_name, text_field(body, "contact_name", taxonomy));
  MD_TAKE(contact_email, text_field(body, "contact_email", taxonomy));
  MD_TAKE(regions, list_field(body, "regions", taxonomy));
  MD_TAKE(topics, list_field(body, "topics", taxonomy));
  MD_TAKE(languages, list_field(body, "languages", taxonomy));
  MD_TAKE(away_until, time_field(body, "away_until"));
  MD_TAKE(capacity, number_field(body, "capacity", 0, 1000));
  store::partner_input in;
  if (current) {
    in.key = current->key, in.name = current->name, in.regions = current->regions, in.topics = current->topics;
    in.languages = current->languages;
    in.away_until = current->away_until.value_or("");
    in.capacity = current->capacity.value_or(-1);
  }
  if (key) in.key = *key;
  if (name) in.name = *name;
  if (in.key.empty()) return field_error{"key", "key is required: letters, digits, _ . - (up to 64)"};
  if (in.name.empty()) return field_error{"name", "name is required"};
  // The contact's email is where offers go: a partner without one could never be asked.
  if (!current && (!contact_email || contact_email->empty()))
    return field_error{"contact_email", "contact_email is required"};
  if (current && contact_email && contact_email->empty())
    return field_error{"contact_email", "contact_email cannot be cleared: offers go there"};
  in.contact_name = contact_name;
  in.contact_email = contact_email;
  if (regions) in.regions = *regions;
  if (topics) in.topics = *topics;
  if (languages) in.languages = *languages;
  if (away_until) in.away_until = *away_until;
  if (capacity) in.capacity = *capacity;
  return in;
}

std::variant<store::spokesperson_input, field_error> spokesperson_input_from(const json::object& body,
                                                                             const routing::taxonomy& taxonomy,
                                                                             const store::spokesperson_record* current) {
  if (auto e = unknown_field(body, known_spokesperson_fields)) return *e;
  MD_TAKE(key, text_field(body, "key", taxonomy));
  MD_TAKE(partner_id, number_field(body, "partner_id", 1, std::numeric_limits<std::int64_t>::max()));
  MD_TAKE(alias, text_field(body, "alias", taxonomy));
  MD_TAKE(full_name, text_field(body, "full_name", taxonomy));
  MD_TAKE(email, text_field(body, "email", taxonomy));
  MD_TAKE(phone, text_field(body, "phone", taxonomy));
  MD_TAKE(story_notes, text_field(body, "story_notes", taxonomy));
  MD_TAKE(regions, list_field(body, "regions", taxonomy));
  MD_TAKE(topics, list_field(body, "topics", taxonomy));
  MD_TAKE(languages, list_field(body, "languages", taxonomy));
  MD_TAKE(max_per_month, number_field(body, "max_per_month", 0, 100));
  store::spokesperson_input in;
  if (current) {
    in.key = current->key, in.partner_id = current->partner_id, in.alias = current->alias;
    in.regions = current->regions, in.topics = current->topics, in.languages = current->languages;
    in.max_per_month = current->max_per_month.value_or(-1);
  }
  if (key) in.key = key->empty() ? std::nullopt : std::optional<std::string>(*key);
  if (partner_id) in.partner_id = *partner_id < 0 ? std::nullopt : std::optional<std::int64_t>(*partner_id);
  if (alias) in.alias = *alias;
  if (in.alias.empty()) return field_error{"alias", "alias is required: the name shown instead of the person's own"};
  in.full_name = full_name, in.email = email, in.phone = phone, in.story_notes = story_notes;
  if (regions) in.regions = *regions;
  if (topics) in.topics = *topics;
  if (languages) in.languages = *languages;
  if (max_per_month) in.max_per_month = *max_per_month;
  return in;
}

std::variant<store::consent_input, field_error> consent_input_from(const json::object& body,
                                                                   const routing::taxonomy& taxonomy) {
  if (auto e = unknown_field(body, known_consent_fields)) return *e;
  MD_TAKE(media, list_field(body, "media", taxonomy));
  MD_TAKE(identification, text_field(body, "identification", taxonomy));
  MD_TAKE(topics, list_field(body, "topics", taxonomy));
  MD_TAKE(granted_at, time_field(body, "granted_at"));
  MD_TAKE(expires_at, time_field(body, "expires_at"));
  store::consent_input in;
  if (!media || media->empty()) return field_error{"media", "media is required: one or more of tv, radio, print, online, podcast"};
  if (!identification || identification->empty())
    return field_error{"identification", "identification is required: named, first_name or anonymous"};
  in.media = *media;
  in.identification = *identification;
  in.topics = topics.value_or(std::vector<std::string>{});
  in.granted_at = granted_at && !granted_at->empty() ? *granted_at : format_iso8601(now());
  if (expires_at && !expires_at->empty()) {
    if (*parse_iso8601(*expires_at) <= *parse_iso8601(in.granted_at))
      return field_error{"expires_at", "expires_at must be after granted_at"};
    in.expires_at = *expires_at;
  }
  if (auto it = body.find("excluded_outlets"); it != body.end() && !it->value().is_null()) {
    if (!it->value().is_array() || it->value().get_array().size() > 200)
      return field_error{"excluded_outlets", "excluded_outlets must be a list of outlet names"};
    for (auto& v : it->value().get_array()) {
      if (!v.is_string() || !taxonomy.find_outlet(v.get_string()))
        return field_error{"excluded_outlets",
                           "excluded_outlets must name outlets as config/taxonomy/outlets.toml spells them"};
      in.excluded_outlets.emplace_back(v.get_string());
    }
  }
  if (auto it = body.find("evidence"); it != body.end() && !it->value().is_null()) {
    if (!it->value().is_string() || it->value().get_string().size() > 4000)
      return field_error{"evidence", "evidence must be text of up to 4000 characters (how consent was given)"};
    in.evidence = std::string(it->value().get_string());
  }
  return in;
}

}  // namespace md::server
