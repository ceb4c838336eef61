// Lifecycle table for cases (see case_status.hpp).
#include "core/case_status.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace md {
namespace {

constexpr std::array<std::pair<case_status, std::string_view>, 8> status_names{{
    {case_status::new_, "new"},
    {case_status::triaged, "triaged"},
    {case_status::offered, "offered"},
    {case_status::accepted, "accepted"},
    {case_status::fulfilled, "fulfilled"},
    {case_status::no_match, "no_match"},
    {case_status::declined, "declined"},
    {case_status::withdrawn, "withdrawn"},
}};

constexpr std::array<case_status, 8> statuses{case_status::new_,     case_status::triaged,  case_status::offered,
                                              case_status::accepted, case_status::fulfilled, case_status::no_match,
                                              case_status::declined, case_status::withdrawn};

// from -> to pairs the desk may make. Closed cases can be reopened to "triaged" by staff.
constexpr std::array<std::pair<case_status, case_status>, 22> transitions{{
    {case_status::new_, case_status::triaged},        {case_status::new_, case_status::declined},
    {case_status::new_, case_status::withdrawn},      {case_status::new_, case_status::no_match},
    {case_status::triaged, case_status::offered},     {case_status::triaged, case_status::no_match},
    {case_status::triaged, case_status::declined},    {case_status::triaged, case_status::withdrawn},
    {case_status::offered, case_status::accepted},    {case_status::offered, case_status::triaged},
    {case_status::offered, case_status::no_match},    {case_status::offered, case_status::withdrawn},
    {case_status::offered, case_status::declined},    {case_status::accepted, case_status::fulfilled},
    {case_status::accepted, case_status::offered},    {case_status::accepted, case_status::withdrawn},
    {case_status::accepted, case_status::no_match},   {case_status::fulfilled, case_status::triaged},
    {case_status::no_match, case_status::triaged},    {case_status::declined, case_status::triaged},
    {case_status::withdrawn, case_status::triaged},   {case_status::new_, case_status::offered},
}};

}  // namespace

std::string_view to_string(case_status s) {
  for (auto& [value, name] : status_names)
    if (value == s) return name;
  return "unknown";
}

std::optional<case_status> parse_case_status(std::string_view text) {
  for (auto& [value, name] : status_names)
    if (name == text) return value;
  return std::nullopt;
}

std::span<const case_status> all_case_statuses() { return statuses; }

bool is_open(case_status s) {
  return s == case_status::new_ || s == case_status::triaged || s == case_status::offered ||
         s == case_status::accepted;
}

bool transition_allowed(case_status from, case_status to) {
  return std::find(transitions.begin(), transitions.end(), std::pair{from, to}) != transitions.end();
}

std::string_view to_string(priority p) {
  switch (p) {
    case priority::urgent: return "urgent";
    case priority::high: return "high";
    case priority::normal: return "normal";
    case priority::low: return "low";
  }
  return "normal";
}

std::optional<priority> parse_priority(std::string_view text) {
  for (auto p : {priority::urgent, priority::high, priority::normal, priority::low})
    if (to_string(p) == text) return p;
  return std::nullopt;
}

}  // namespace md
