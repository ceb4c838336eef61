// The case lifecycle: the statuses a case can be in and which changes between them are allowed.
// One table serves the API's validation, the store's checks and the dashboard's menus.
#pragma once
#include <optional>
#include <span>
#include <string_view>

namespace md {

enum class case_status { new_, triaged, offered, accepted, fulfilled, no_match, declined, withdrawn };

std::string_view to_string(case_status s);
std::optional<case_status> parse_case_status(std::string_view text);
std::span<const case_status> all_case_statuses();
bool is_open(case_status s);
bool transition_allowed(case_status from, case_status to);

enum class priority { urgent = 1, high = 2, normal = 3, low = 4 };
std::string_view to_string(priority p);
std::optional<priority> parse_priority(std::string_view text);

}  // namespace md
