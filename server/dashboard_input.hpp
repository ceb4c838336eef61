// The staff dashboard's inputs, checked: the case list's query parameters and a note's text.
// Pure functions (no I/O); errors name the field and never echo the value given.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "core/errors.hpp"
#include "store/case_store.hpp"

namespace md::server {

// GET /api/v1/cases: status, open, topic, region, medium, assignee (me | none | a user id; me is
// session_user_id), sort (recent | urgency), limit, before. An empty value counts as not given;
// unknown parameters are ignored.
std::variant<store::case_filter, field_error> parse_case_filter(const std::map<std::string, std::string>& params,
                                                                std::int64_t session_user_id);

// Free text from a client with surrounding white space removed: 1 to max_characters characters
// (code points; the JSON parser has already refused invalid UTF-8). `what` ends the messages:
// "<field> is required: <what>".
std::variant<std::string, field_error> trimmed_text(std::string_view text, std::string_view field,
                                                    std::size_t max_characters, std::string_view what);

inline constexpr std::size_t max_note_characters = 5000;
// A note's text: 1 to 5000 characters.
std::variant<std::string, field_error> note_text(std::string_view text);

}  // namespace md::server
