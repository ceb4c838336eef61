// The dashboard's inputs (see dashboard_input.hpp).
#include "server/dashboard_input.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "core/case_ref.hpp"

namespace md::server {
namespace {

// Taxonomy ids as the API takes them: short, lower-case, no punctuation but _ and -.
bool is_slug(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

constexpr std::string_view media[] = {"tv", "radio", "print", "online", "podcast"};

// A user's id in the query: 1 to 18 digits (as ids in paths), not 0.
std::optional<std::int64_t> parse_user_id(std::string_view text) {
  std::int64_t id = 0;
  if (text.size() > 18 || text.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  std::from_chars(text.data(), text.data() + text.size(), id);
  return id > 0 ? std::optional{id} : std::nullopt;
}

}  // namespace

std::variant<store::case_filter, field_error> parse_case_filter(const std::map<std::string, std::string>& params,
                                                                std::int64_t session_user_id) {
  store::case_filter filter;
  auto given = [&](std::string_view name) -> const std::string* {
    auto it = params.find(std::string{name});
    return it == params.end() || it->second.empty() ? nullptr : &it->second;
  };
  if (auto* v = given("status")) {
    filter.status = parse_case_status(*v);
    if (!filter.status)
      return field_error{"status",
                         "status must be one of new, triaged, offered, accepted, fulfilled, no_match, declined, withdrawn"};
  }
  if (auto* v = given("open")) {
    if (*v != "1" && *v != "0") return field_error{"open", "open must be 1 (only open cases) or 0"};
    filter.open_only = *v == "1";
    if (filter.open_only && filter.status) return field_error{"open", "open=1 cannot be combined with status"};
  }
  if (auto* v = given("topic")) {
    if (!is_slug(*v)) return field_error{"topic", "topic must be a topic id (a-z, 0-9, _ or -, up to 64 characters)"};
    filter.topic = *v;
  }
  if (auto* v = given("region")) {
    if (!is_slug(*v)) return field_error{"region", "region must be a region id (a-z, 0-9, _ or -, up to 64 characters)"};
    filter.region = *v;
  }
  if (auto* v = given("medium")) {
    if (std::find(std::begin(media), std::end(media), *v) == std::end(media))
      return field_error{"medium", "medium must be one of tv, radio, print, online, podcast"};
    filter.medium = *v;
  }
  if (auto* v = given("assignee")) {
    if (*v == "me") filter.assignee_id = session_user_id;
    else if (*v == "none") filter.unassigned = true;
    else if (auto id = parse_user_id(*v)) filter.assignee_id = *id;
    else return field_error{"assignee", "assignee must be me, none or a user's id"};
  }
  if (auto* v = given("sort")) {
    if (*v == "urgency") filter.sort = store::case_filter::order::urgency;
    else if (*v != "recent") return field_error{"sort", "sort must be recent or urgency"};
  }
  if (auto* v = given("limit")) {
    int limit = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), limit);
    if (ec != std::errc{} || p != v->data() + v->size() || limit < 1 || limit > 5000)
      return field_error{"limit", "limit must be an integer from 1 to 5000"};
    filter.limit = limit;
  }
  if (auto* v = given("before")) {
    if (filter.sort == store::case_filter::order::urgency)
      return field_error{"before", "before pages the recent order only; sort=urgency has no paging"};
    if (!parse_case_ref(*v)) return field_error{"before", "before must be a case reference such as MD-2026-000123"};
    filter.before_ref = *v;
  }
  return filter;
}

std::variant<std::string, field_error> trimmed_text(std::string_view text, std::string_view field,
                                                    std::size_t max_characters, std::string_view what) {
  constexpr std::string_view space = " \t\r\n\f\v";
  auto first = text.find_first_not_of(space);
  if (first == std::string_view::npos) return field_error{std::string{field}, fmt::format("{} is required: {}", field, what)};
  text = text.substr(first, text.find_last_not_of(space) - first + 1);
  // Characters, not bytes: every byte that does not continue a UTF-8 sequence starts one.
  auto characters = std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; });
  if (static_cast<std::size_t>(characters) > max_characters)
    return field_error{std::string{field}, fmt::format("{} is too long: at most {} characters", field, max_characters)};
  return std::string{text};
}

std::variant<std::string, field_error> note_text(std::string_view text) {
  return trimmed_text(text, "text", max_note_characters, "the note (up to 5000 characters)");
}

}  // namespace md::server
