// Issue 8's inputs (see coverage_input.hpp).
#include "server/coverage_input.hpp"

#include <algorithm>
#include <array>
#include <boost/url/parse.hpp>

#include "server/dashboard_input.hpp"

namespace md::server {
namespace {

constexpr std::array<std::string_view, 3> scopes = {"national", "local", "international"};
constexpr std::array<std::string_view, 5> media = {"tv", "radio", "print", "online", "podcast"};
constexpr std::array<std::string_view, 3> tones = {"positive", "balanced", "negative"};
constexpr std::array<std::string_view, 10> coverage_fields = {
    "outlet_name", "outlet_scope", "medium", "appeared_on", "link", "headline", "lived_experience_quoted",
    "spokesperson_id", "first_time", "tone"};

template <std::size_t n>
std::optional<std::string> one_of(const boost::json::value* v, const std::array<std::string_view, n>& allowed) {
  if (!v || !v->is_string()) return std::nullopt;
  std::string_view s = v->get_string();
  if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) return std::nullopt;
  return std::string{s};
}

// A public web address: absolute http or https with a host, no white space, at most 2000 bytes.
bool is_web_link(std::string_view s) {
  if (s.empty() || s.size() > 2000) return false;
  auto url = boost::urls::parse_uri(s);  // a fragment (#section) is allowed
  if (!url) return false;
  auto scheme = url->scheme();
  return (scheme == "http" || scheme == "https") && !url->encoded_host().empty();
}

}  // namespace

std::variant<store::coverage_input, field_error> parse_coverage(const boost::json::object& body,
                                                                std::chrono::year_month_day today) {
  for (auto& [key, value] : body)
    if (std::find(coverage_fields.begin(), coverage_fields.end(), std::string_view{key}) == coverage_fields.end())
      return field_error{std::string{key}, "not a coverage field"};
  store::coverage_input in;

  auto* name = body.if_contains("outlet_name");
  auto outlet = name && name->is_string()
                    ? trimmed_text(name->get_string(), "outlet_name", 200, "the outlet's name (up to 200 characters)")
                    : field_error{"outlet_name", "outlet_name is required: the outlet's name (up to 200 characters)"};
  if (auto* e = std::get_if<field_error>(&outlet)) return *e;
  in.outlet_name = std::get<std::string>(outlet);

  auto scope = one_of(body.if_contains("outlet_scope"), scopes);
  if (!scope) return field_error{"outlet_scope", "outlet_scope is required: national, local or international"};
  in.outlet_scope = *scope;
  auto medium = one_of(body.if_contains("medium"), media);
  if (!medium) return field_error{"medium", "medium is required: tv, radio, print, online or podcast"};
  in.medium = *medium;

  auto* date = body.if_contains("appeared_on");
  auto appeared = date && date->is_string() ? parse_iso_date(date->get_string()) : std::nullopt;
  if (!appeared) return field_error{"appeared_on", "appeared_on is required: the date it appeared, YYYY-MM-DD"};
  if (std::chrono::sys_days{*appeared} > std::chrono::sys_days{today} + std::chrono::days{1})
    return field_error{"appeared_on", "appeared_on is in the future: give the date the piece appeared"};
  in.appeared_on = *appeared;

  if (auto* link = body.if_contains("link"); link && !link->is_null()) {
    if (!link->is_string() || !is_web_link(link->get_string()))
      return field_error{"link", "link must be the piece's web address (http or https, up to 2000 characters) or null"};
    in.link = std::string(link->get_string());
  }
  if (auto* headline = body.if_contains("headline"); headline && !headline->is_null()) {
    auto checked = headline->is_string()
                       ? trimmed_text(headline->get_string(), "headline", 300, "the piece's headline (up to 300 characters) or null")
                       : field_error{"headline", "headline must be text (up to 300 characters) or null"};
    if (auto* e = std::get_if<field_error>(&checked)) return *e;
    in.headline = std::get<std::string>(checked);
  }

  auto* quoted = body.if_contains("lived_experience_quoted");
  if (!quoted || !quoted->is_bool())
    return field_error{"lived_experience_quoted", "lived_experience_quoted is required: true or false"};
  in.lived_experience_quoted = quoted->get_bool();

  if (auto* id = body.if_contains("spokesperson_id"); id && !id->is_null()) {
    if (!id->is_int64() || id->get_int64() <= 0)
      return field_error{"spokesperson_id", "spokesperson_id must be a spokesperson's id or null"};
    in.spokesperson_id = id->get_int64();
  }
  if (auto* first = body.if_contains("first_time"); first && !first->is_null()) {
    if (!first->is_bool()) return field_error{"first_time", "first_time must be true or false"};
    in.first_time = first->get_bool();
  }
  if (in.first_time && !in.spokesperson_id)
    return field_error{"first_time", "first_time needs spokesperson_id: whose first time it was"};

  auto tone = one_of(body.if_contains("tone"), tones);
  if (!tone) return field_error{"tone", "tone is required: positive, balanced or negative"};
  in.tone = *tone;
  return in;
}

std::variant<store::aftercare_state, field_error> parse_aftercare_state(std::string_view text) {
  if (text.empty() || text == "open") return store::aftercare_state::open;
  if (text == "done") return store::aftercare_state::done;
  if (text == "all") return store::aftercare_state::all;
  return field_error{"state", "state must be open, done or all"};
}

}  // namespace md::server
